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

/* Public kernel spc__dot_<t>_<isa> calling <t>_body with np as a constant, one case per row count,
   so the per-row accumulators live in registers and the loops over rows unroll. */
#define SPC_SPECIALIZE(t, isa)                                                                     \
    void spc__dot_##t##_##isa(int n, const void *x, const void *y, size_t ys, int np, float *s, size_t ss) { \
        switch (np) {                                                                              \
        case 1: t##_body(n, x, y, ys, 1, s, ss); break;                                            \
        case 2: t##_body(n, x, y, ys, 2, s, ss); break;                                            \
        case 3: t##_body(n, x, y, ys, 3, s, ss); break;                                            \
        case 4: t##_body(n, x, y, ys, 4, s, ss); break;                                            \
        case 5: t##_body(n, x, y, ys, 5, s, ss); break;                                            \
        case 6: t##_body(n, x, y, ys, 6, s, ss); break;                                            \
        case 7: t##_body(n, x, y, ys, 7, s, ss); break;                                            \
        default: t##_body(n, x, y, ys, 8, s, ss); break;                                           \
        }                                                                                          \
    }

/* The same with cases up to 16 rows, for kernels whose accumulators fit 32 zmm registers. */
#define SPC_SPECIALIZE16(t, isa)                                                                   \
    void spc__dot_##t##_##isa(int n, const void *x, const void *y, size_t ys, int np, float *s, size_t ss) { \
        switch (np) {                                                                              \
        case 1: t##_body(n, x, y, ys, 1, s, ss); break;                                            \
        case 2: t##_body(n, x, y, ys, 2, s, ss); break;                                            \
        case 3: t##_body(n, x, y, ys, 3, s, ss); break;                                            \
        case 4: t##_body(n, x, y, ys, 4, s, ss); break;                                            \
        case 5: t##_body(n, x, y, ys, 5, s, ss); break;                                            \
        case 6: t##_body(n, x, y, ys, 6, s, ss); break;                                            \
        case 7: t##_body(n, x, y, ys, 7, s, ss); break;                                            \
        case 8: t##_body(n, x, y, ys, 8, s, ss); break;                                            \
        case 9: t##_body(n, x, y, ys, 9, s, ss); break;                                            \
        case 10: t##_body(n, x, y, ys, 10, s, ss); break;                                          \
        case 11: t##_body(n, x, y, ys, 11, s, ss); break;                                          \
        case 12: t##_body(n, x, y, ys, 12, s, ss); break;                                          \
        case 13: t##_body(n, x, y, ys, 13, s, ss); break;                                          \
        case 14: t##_body(n, x, y, ys, 14, s, ss); break;                                          \
        case 15: t##_body(n, x, y, ys, 15, s, ss); break;                                          \
        default: t##_body(n, x, y, ys, 16, s, ss); break;                                          \
        }                                                                                          \
    }

#endif
