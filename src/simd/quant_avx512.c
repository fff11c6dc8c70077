/*
 * quant_avx512.c: AVX-512 (F, BW, VL) dot products for the k-quants that carry most of the weights
 * of Q4_K_M models (q4_K, q6_K) against q8_K activation rows. Same contract as quant_avx2.c: one
 * weight row against up to SPC_MAXP activation rows, each weight block unpacked once, the
 * instructions applied to row p independent of np (bit-identity), exact integer products and float
 * accumulation in vector lanes.
 *
 * The unpacking puts 64 consecutive values in one register (for q4_K the low and high nibbles of a
 * 32-byte group are the values 64g..64g+31 and 64g+32..64g+63), so each activation row is read with
 * plain 64-byte loads and costs one load, one vpmaddubsw and one vpdpwssd (the sub-block scale
 * multiply fused with the accumulation) per 64 values.
 * Depends on: quant.h (block layouts), kernels.h (SPC_MAXP).
 */
#include "simd_common.h"

#define F16(x) spc__f16_to_f32(x)
#define YROW(T, p) ((const T *)((const uint8_t *)y + (size_t)(p) * ys))
#define AI static inline __attribute__((always_inline))

AI float hsum512(__m512 v) { return _mm512_reduce_add_ps(v); }

AI void q4_K_body(int n, const void *xv, const void *y, size_t ys, int np, float *s, size_t ss) {
    const struct block_q4_K *x = xv;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m512 acc[SPC_MAXP];
    __m256 accm[SPC_MAXP];
    _Pragma("GCC unroll 8")
    for (int p = 0; p < np; p++) {
        acc[p] = _mm512_setzero_ps();
        accm[p] = _mm256_setzero_ps();
    }
    for (int b = 0; b < n / QK_K; b++) {
        __m256i sm = spc__scales_mins_k4(x[b].scales);                 /* sc0..7, m0..7 as int16 */
        __m512i sm512 = _mm512_castsi256_si512(sm);
        /* per group g: 32 lanes of int16, the first 16 = sc[2g], the next 16 = sc[2g+1] */
        __m512i sc[4];
        _Pragma("GCC unroll 4")
        for (int g = 0; g < 4; g++) {
            __m512i idx = _mm512_inserti64x4(_mm512_set1_epi16((short)(2 * g)),
                                             _mm256_set1_epi16((short)(2 * g + 1)), 1);
            sc[g] = _mm512_permutexvar_epi16(idx, sm512);
        }
        /* mins paired with bsums: m[j] for bsums 2j and 2j+1 */
        const __m256i midx = _mm256_setr_epi16(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
        __m256i mins = _mm256_permutexvar_epi16(midx, sm);
        __m512i q[4];
        _Pragma("GCC unroll 4")
        for (int g = 0; g < 4; g++) {
            __m256i raw = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * g));
            __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
            q[g] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
        }
        float dx = F16(x[b].d), mx = F16(x[b].dmin);
        _Pragma("GCC unroll 8")
        for (int p = 0; p < np; p++) {
            const struct block_q8_K *yb = YROW(struct block_q8_K, p) + b;
            __m512i sumi = _mm512_setzero_si512();
            _Pragma("GCC unroll 4")
            for (int g = 0; g < 4; g++) {
                __m512i yv = _mm512_loadu_si512((const void *)(yb->qs + 64 * g));
                sumi = _mm512_dpwssd_epi32(sumi, sc[g], _mm512_maddubs_epi16(q[g], yv));
            }
            __m256i summ = _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)yb->bsums));
            acc[p] = _mm512_fmadd_ps(_mm512_set1_ps(yb->d * dx), _mm512_cvtepi32_ps(sumi), acc[p]);
            accm[p] = _mm256_fmadd_ps(_mm256_set1_ps(-yb->d * mx), _mm256_cvtepi32_ps(summ), accm[p]);
        }
    }
    _Pragma("GCC unroll 8")
    for (int p = 0; p < np; p++) {
        __m256 m = accm[p];
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        s[p * ss] = hsum512(acc[p]) + _mm_cvtss_f32(h);
    }
}


AI void q6_K_body(int n, const void *xv, const void *y, size_t ys, int np, float *s, size_t ss) {
    const struct block_q6_K *x = xv;
    const __m512i m4 = _mm512_set1_epi8(0x0f), m2 = _mm512_set1_epi8(3);
    __m512 acc[SPC_MAXP];
    _Pragma("GCC unroll 8")
    for (int p = 0; p < np; p++) acc[p] = _mm512_setzero_ps();
    for (int b = 0; b < n / QK_K; b++) {
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[b].scales));
        __m512i sc512 = _mm512_castsi256_si512(sc16);
        /* q[k] holds values 64k..64k+63; its 32 int16 pair lanes take scales 4k..4k+3, 8 lanes each */
        __m512i sc[4], q[4];
        _Pragma("GCC unroll 4")
        for (int k = 0; k < 4; k++) {
            short a = (short)(4 * k);
            __m512i idx = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(_mm_set1_epi16((short)(a + 1)), _mm_set1_epi16(a))),
                                     _mm256_set_m128i(_mm_set1_epi16((short)(a + 3)), _mm_set1_epi16((short)(a + 2))), 1);
            sc[k] = _mm512_permutexvar_epi16(idx, sc512);
        }
        for (int h = 0; h < 2; h++) {
            __m512i ql = _mm512_loadu_si512((const void *)(x[b].ql + 64 * h));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(x[b].qh + 32 * h));
            /* bits for values 0..31 (qh & 3) and 32..63 (qh >> 2 & 3), then 64..95 and 96..127 */
            __m512i h01 = _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1);
            __m512i h23 = _mm512_srli_epi16(h01, 4);
            __m512i lo = _mm512_and_si512(ql, m4), hi = _mm512_and_si512(_mm512_srli_epi16(ql, 4), m4);
            q[2 * h] = _mm512_or_si512(lo, _mm512_slli_epi16(_mm512_and_si512(h01, m2), 4));
            q[2 * h + 1] = _mm512_or_si512(hi, _mm512_slli_epi16(_mm512_and_si512(h23, m2), 4));
        }
        float dx = F16(x[b].d);
        _Pragma("GCC unroll 8")
        for (int p = 0; p < np; p++) {
            const struct block_q8_K *yb = YROW(struct block_q8_K, p) + b;
            /* the -32 offset: -32 * sum_g scale_g * bsum_g */
            __m256i corr = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)yb->bsums));
            __m512i sumi = _mm512_castsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 5)));
            sumi = _mm512_inserti64x4(sumi, _mm256_setzero_si256(), 1);
            _Pragma("GCC unroll 4")
            for (int k = 0; k < 4; k++) {
                __m512i yv = _mm512_loadu_si512((const void *)(yb->qs + 64 * k));
                sumi = _mm512_dpwssd_epi32(sumi, sc[k], _mm512_maddubs_epi16(q[k], yv));
            }
            acc[p] = _mm512_fmadd_ps(_mm512_set1_ps(dx * yb->d), _mm512_cvtepi32_ps(sumi), acc[p]);
        }
    }
    _Pragma("GCC unroll 8")
    for (int p = 0; p < np; p++) s[p * ss] = hsum512(acc[p]);
}

SPC_SPECIALIZE(q4_K, avx512)
SPC_SPECIALIZE(q6_K, avx512)
