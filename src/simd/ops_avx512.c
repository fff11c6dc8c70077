/*
 * ops_avx512.c: AVX-512 version of the grouped attention's value loop (see ops.h for the
 * contract). Output lanes are independent, so 16 at a time do exactly the fma sequence of the AVX2
 * kernel's 8 at a time: the same bits, twice the lanes per instruction (2x on Zen 5 with 54 query
 * rows, dev/att_lab). The score loop stays AVX2: its cost is the per-score reduction, which wider
 * vectors do not shorten (measured slower). Compiled with -mavx512f -mavx512vl (and AVX2/FMA/F16C).
 * Depends on: ops.h.
 */
#include <immintrin.h>

#include "ops.h"

enum { ATT_TILE = 32 };    /* keys per tile, as in ops_avx2.c */

static inline __m512 load_f16x16(const uint16_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }

/* out[j] += p[j][s] v[s] for m queries, keys s0..s1-1, w chunks of 16 lanes at a time (m * w <= 16,
   hd % (16 w) == 0; constants at every call) */
static inline __attribute__((always_inline)) void att_axpy_m(float *out, int m, int w, int hd, const float *p, size_t ss,
                                                            const uint8_t *kv, size_t stride, const int32_t *keys, int s0,
                                                            int s1) {
    for (int i = 0; i < hd; i += 16 * w) {
        __m512 o[16];
#pragma GCC unroll 16
        for (int j = 0; j < m; j++)
#pragma GCC unroll 8
            for (int u = 0; u < w; u++) o[j * w + u] = _mm512_loadu_ps(out + (size_t)j * hd + i + 16 * u);
        for (int s = s0; s < s1; s++) {
            const uint16_t *v = (const uint16_t *)(kv + (size_t)keys[s] * stride) + i;
            __m512 vv[8];
#pragma GCC unroll 8
            for (int u = 0; u < w; u++) vv[u] = load_f16x16(v + 16 * u);
#pragma GCC unroll 16
            for (int j = 0; j < m; j++) {
                __m512 a = _mm512_set1_ps(p[(size_t)j * ss + s]);
#pragma GCC unroll 8
                for (int u = 0; u < w; u++) o[j * w + u] = _mm512_fmadd_ps(a, vv[u], o[j * w + u]);
            }
        }
#pragma GCC unroll 16
        for (int j = 0; j < m; j++)
#pragma GCC unroll 8
            for (int u = 0; u < w; u++) _mm512_storeu_ps(out + (size_t)j * hd + i + 16 * u, o[j * w + u]);
    }
}

void spc__att_axpy_f16_avx512(float *out, int nq, int hd, const float *p, size_t ss, const uint8_t *kv, size_t stride,
                              const int32_t *keys, int nk) {
    if (hd % 64) {
        spc__att_axpy_f16_avx2(out, nq, hd, p, ss, kv, stride, keys, nk);
        return;
    }
    for (int s0 = 0; s0 < nk; s0 += ATT_TILE) {
        int s1 = s0 + ATT_TILE < nk ? s0 + ATT_TILE : nk;
        int j0 = 0;
        for (; j0 + 4 <= nq; j0 += 4)
            att_axpy_m(out + (size_t)j0 * hd, 4, 4, hd, p + (size_t)j0 * ss, ss, kv, stride, keys, s0, s1);
        for (; j0 + 3 <= nq; j0 += 3)
            att_axpy_m(out + (size_t)j0 * hd, 3, 4, hd, p + (size_t)j0 * ss, ss, kv, stride, keys, s0, s1);
        for (; j0 + 2 <= nq; j0 += 2)
            att_axpy_m(out + (size_t)j0 * hd, 2, 4, hd, p + (size_t)j0 * ss, ss, kv, stride, keys, s0, s1);
        for (; j0 < nq; j0++)
            if (hd % 128) att_axpy_m(out + (size_t)j0 * hd, 1, 4, hd, p + (size_t)j0 * ss, ss, kv, stride, keys, s0, s1);
            else att_axpy_m(out + (size_t)j0 * hd, 1, 8, hd, p + (size_t)j0 * ss, ss, kv, stride, keys, s0, s1);
    }
}
