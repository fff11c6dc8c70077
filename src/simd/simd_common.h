/*
 * simd_common.h: helpers shared by the SIMD kernel files (included only by the files of src/simd, which are
 * compiled with AVX2 or wider): the q4_K/q5_K scale decoding and the per-row-count specialization.
 * Depends on: quant.h, kernels.h.
 */
#ifndef SPC_SIMD_COMMON_H
#define SPC_SIMD_COMMON_H

#include <immintrin.h>

#include "kernels.h"

/* The 8 6-bit scales and 8 6-bit mins of a q4_K/q5_K block as 16 int16: scales, then mins. */
static inline __m256i spc__scales_mins_k4(const uint8_t *scales) {
    uint32_t u[4];
    memcpy(u, scales, 12);
    const uint32_t m1 = 0x3f3f3f3f, m2 = 0x0f0f0f0f, m3 = 0x03030303;
    u[3] = ((u[2] >> 4) & m2) | (((u[1] >> 6) & m3) << 4);
    uint32_t aux = u[1] & m1;
    u[1] = (u[2] & m2) | (((u[0] >> 6) & m3) << 4);
    u[2] = aux;
    u[0] &= m1;
    return _mm256_cvtepu8_epi16(_mm_set_epi32((int)u[3], (int)u[2], (int)u[1], (int)u[0]));
}

/* Public kernel spc__dot_<t>_<isa> calling <t>_body with np as a constant, one case per row count
   up to 8 (SPC_SPECIALIZE) or 16 (SPC_SPECIALIZE16, for kernels whose accumulators fit 32 zmm
   registers), so the per-row accumulators live in registers and the loops over rows unroll. */
#define SPC_NP_CASE(t, k) case k: t##_body(n, x, y, ys, k, s, ss); break;
#define SPC_NP_CASES_7(t) SPC_NP_CASE(t, 1) SPC_NP_CASE(t, 2) SPC_NP_CASE(t, 3) SPC_NP_CASE(t, 4) \
                          SPC_NP_CASE(t, 5) SPC_NP_CASE(t, 6) SPC_NP_CASE(t, 7)
#define SPC_NP_CASES_15(t) SPC_NP_CASES_7(t) SPC_NP_CASE(t, 8) SPC_NP_CASE(t, 9) SPC_NP_CASE(t, 10) \
                           SPC_NP_CASE(t, 11) SPC_NP_CASE(t, 12) SPC_NP_CASE(t, 13) SPC_NP_CASE(t, 14) \
                           SPC_NP_CASE(t, 15)
#define SPC_SPECIALIZE_MAX(t, isa, CASES, max)                                                     \
    void spc__dot_##t##_##isa(int n, const void *x, const void *y, size_t ys, int np, float *s, size_t ss) { \
        switch (np) {                                                                              \
        CASES(t)                                                                                   \
        default: t##_body(n, x, y, ys, max, s, ss); break;                                         \
        }                                                                                          \
    }
#define SPC_SPECIALIZE(t, isa) SPC_SPECIALIZE_MAX(t, isa, SPC_NP_CASES_7, 8)
#define SPC_SPECIALIZE16(t, isa) SPC_SPECIALIZE_MAX(t, isa, SPC_NP_CASES_15, 16)

#endif
