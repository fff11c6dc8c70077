/*
 * quant_avx512.c: AVX-512 (F, BW, VL) dot products for the k-quants that carry most of the weights
 * of Q4_K_M models (q4_K, q6_K) against q8_K activation rows. Same contract as quant_avx2.c: one
 * weight row against up to SPC_MAXP activation rows, each weight block unpacked once, the
 * instructions applied to row p independent of np (bit-identity), exact integer products and float
 * accumulation in vector lanes.
 *
 * The unpacking puts 64 consecutive values in one register (for q4_K the low and high nibbles of a
 * 32-byte group are the values 64g..64g+31 and 64g+32..64g+63), so each activation row is read with
 * plain 64-byte loads and costs one load and one vpdpbusd per 64 values; two such sums are packed
 * to int16 and one vpdpwssd applies the sub-block scales (6 multiplies per 256 values, against 8
 * for vpmaddubsw + vpdpwssd; the multiply ports are what bounds a batch: dev/mm_lab.c).
 * Depends on: quant.h (block layouts), kernels.h (SPC_MAXP).
 */
#include "simd_common.h"

#define F16(x) spc__f16_to_f32(x)
#define YROW(T, p) ((const T *)((const uint8_t *)y + (size_t)(p) * ys))
#ifndef PFD
#define PFD 4      /* prefetch distance in 16-row blocks (dev/mm_lab.c) */
#endif
#define AI static inline __attribute__((always_inline))

AI float hsum512(__m512 v) { return _mm512_reduce_add_ps(v); }

AI void q4_K_body(int n, const void *xv, const void *y, size_t ys, int np, float *s, size_t ss) {
    const struct block_q4_K *x = xv;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m512 acc[SPC_MAXP];
    _Pragma("GCC unroll 16")
    for (int p = 0; p < np; p++) acc[p] = _mm512_setzero_ps();
    for (int b = 0; b < n / QK_K; b++) {
        __m256i sm = spc__scales_mins_k4(x[b].scales);                 /* sc0..7, m0..7 as int16 */
        __m512i sm512 = _mm512_castsi256_si512(sm);
        /* scales for packs(a, b) of two groups' vpdpbusd sums: in each 128-bit lane L, int16 0-3 come
           from a's int32 lanes 4L..4L+3, 4-7 from b's; lanes 0-7 of a group are its low sub-block */
        __m512i sc[2];
        _Pragma("GCC unroll 2")
        for (int h = 0; h < 2; h++) {
            const short a = (short)(4 * h);
            __m512i idx = _mm512_set_epi16(a + 3, a + 3, a + 3, a + 3, a + 1, a + 1, a + 1, a + 1, a + 3, a + 3, a + 3, a + 3,
                                           a + 1, a + 1, a + 1, a + 1, a + 2, a + 2, a + 2, a + 2, a, a, a, a, a + 2, a + 2,
                                           a + 2, a + 2, a, a, a, a);
            sc[h] = _mm512_permutexvar_epi16(idx, sm512);
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
        _Pragma("GCC unroll 16")
        for (int p = 0; p < np; p++) {
            const struct block_q8_K *yb = YROW(struct block_q8_K, p) + b;
            /* vpdpbusd sums of 4 products (|.| <= 4 * 15 * 128, fits int16), packed to int16 and
               scaled per sub-block with vpdpwssd: exact integers, as the reference */
            __m512i d[4];
            _Pragma("GCC unroll 4")
            for (int g = 0; g < 4; g++)
                d[g] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[g], _mm512_loadu_si512((const void *)(yb->qs + 64 * g)));
            __m512i sumi = _mm512_dpwssd_epi32(_mm512_setzero_si512(), sc[0], _mm512_packs_epi32(d[0], d[1]));
            sumi = _mm512_dpwssd_epi32(sumi, sc[1], _mm512_packs_epi32(d[2], d[3]));
            /* the mins term, 8 lanes, rides in the lower half of the same accumulator */
            __m256i summ = _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)yb->bsums));
            acc[p] = _mm512_fmadd_ps(_mm512_set1_ps(yb->d * dx), _mm512_cvtepi32_ps(sumi), acc[p]);
            acc[p] = _mm512_fmadd_ps(_mm512_set1_ps(-yb->d * mx), _mm512_cvtepi32_ps(_mm512_zextsi256_si512(summ)), acc[p]);
        }
    }
    _Pragma("GCC unroll 16")
    for (int p = 0; p < np; p++) s[p * ss] = hsum512(acc[p]);
}


AI void q6_K_body(int n, const void *xv, const void *y, size_t ys, int np, float *s, size_t ss) {
    const struct block_q6_K *x = xv;
    const __m512i m4 = _mm512_set1_epi8(0x0f), m2 = _mm512_set1_epi8(3);
    __m512 acc[SPC_MAXP];
    _Pragma("GCC unroll 16")
    for (int p = 0; p < np; p++) acc[p] = _mm512_setzero_ps();
    for (int b = 0; b < n / QK_K; b++) {
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[b].scales));
        __m512i sc512 = _mm512_castsi256_si512(sc16);
        /* q[k] holds values 64k..64k+63, sub-blocks 4k..4k+3 in its int32 lanes 4j..4j+3 after vpdpbusd;
           packs(d[2h], d[2h+1]) puts, in 128-bit lane L, sub-block 8h+L in int16 0-3, 8h+4+L in 4-7 */
        __m512i sc[2], q[4];
        _Pragma("GCC unroll 2")
        for (int h = 0; h < 2; h++) {
            const short a = (short)(8 * h);
            __m512i idx = _mm512_set_epi16(a + 7, a + 7, a + 7, a + 7, a + 3, a + 3, a + 3, a + 3, a + 6, a + 6, a + 6, a + 6,
                                           a + 2, a + 2, a + 2, a + 2, a + 5, a + 5, a + 5, a + 5, a + 1, a + 1, a + 1, a + 1,
                                           a + 4, a + 4, a + 4, a + 4, a, a, a, a);
            sc[h] = _mm512_permutexvar_epi16(idx, sc512);
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
        _Pragma("GCC unroll 16")
        for (int p = 0; p < np; p++) {
            const struct block_q8_K *yb = YROW(struct block_q8_K, p) + b;
            /* the -32 offset: -32 * sum_g scale_g * bsum_g */
            __m256i corr = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)yb->bsums));
            __m512i sumi = _mm512_castsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 5)));
            sumi = _mm512_inserti64x4(sumi, _mm256_setzero_si256(), 1);
            /* vpdpbusd sums of 4 products (|.| <= 4 * 63 * 128 < 32768), packed and scaled as in q4_K */
            __m512i d[4];
            _Pragma("GCC unroll 4")
            for (int k = 0; k < 4; k++)
                d[k] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[k], _mm512_loadu_si512((const void *)(yb->qs + 64 * k)));
            sumi = _mm512_dpwssd_epi32(sumi, sc[0], _mm512_packs_epi32(d[0], d[1]));
            sumi = _mm512_dpwssd_epi32(sumi, sc[1], _mm512_packs_epi32(d[2], d[3]));
            acc[p] = _mm512_fmadd_ps(_mm512_set1_ps(dx * yb->d), _mm512_cvtepi32_ps(sumi), acc[p]);
        }
    }
    _Pragma("GCC unroll 16")
    for (int p = 0; p < np; p++) s[p * ss] = hsum512(acc[p]);
}

/* ---- 32-value blocks, two per 512-bit register ----
 * A pair of weight blocks is unpacked to 64 signed (or, for q4_1, unsigned) bytes; each activation
 * row's pair of q8 blocks is loaded into one register and multiplied with vpdpbusd (the signed
 * case through |x| and sign(y, x)). Lanes 0-7 belong to the first block, 8-15 to the second, and
 * a vector of the two blocks' scales turns them into floats. Odd block counts end with the AVX2
 * kernel's single-block step done in 512-bit lanes with the upper half zero. */

AI __m512i pair256(__m256i a, __m256i b) { return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1); }

AI __m256i nib256(const uint8_t *qs) {
    __m128i b = _mm_loadu_si128((const __m128i *)qs);
    __m128i lo = _mm_and_si128(b, _mm_set1_epi8(0x0f)), hi = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0f));
    return _mm256_set_m128i(hi, lo);
}

AI __m256i bits_bytes256(uint32_t bits) {
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), shuf);
    v = _mm256_or_si256(v, _mm256_set1_epi64x((long long)0x7fbfdfeff7fbfdfe));
    return _mm256_cmpeq_epi8(v, _mm256_set1_epi64x(-1));
}

AI __m512 pair_scale(float a, float b) {
    return _mm512_castsi512_ps(pair256(_mm256_castps_si256(_mm256_set1_ps(a)), _mm256_castps_si256(_mm256_set1_ps(b))));
}

/* Signed weight bytes q (two blocks, scales dxa, dxb) against q8_0 blocks b, b+1 of every row; when
   single, only block b (upper lanes zero). */
AI void signed_pair(__m512i q, float dxa, float dxb, const void *y, size_t ys, int b, bool single, int np,
                    __m512 *acc) {
    __m512i ax = _mm512_abs_epi8(q);
    __mmask64 neg = _mm512_movepi8_mask(q);
    _Pragma("GCC unroll 16")
    for (int p = 0; p < np; p++) {
        const struct block_q8_0 *yb = YROW(struct block_q8_0, p) + b;
        __m256i ya = _mm256_loadu_si256((const __m256i *)yb[0].qs);
        __m256i yb2 = single ? _mm256_setzero_si256() : _mm256_loadu_si256((const __m256i *)yb[1].qs);
        __m512i yv = pair256(ya, yb2);
        __m512i sy = _mm512_mask_sub_epi8(yv, neg, _mm512_setzero_si512(), yv);   /* y * sign(x) */
        __m512i dp = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ax, sy);
        __m512 sc = pair_scale(dxa * F16(yb[0].d), single ? 0.0f : dxb * F16(yb[1].d));
        acc[p] = _mm512_fmadd_ps(sc, _mm512_cvtepi32_ps(dp), acc[p]);
    }
}

AI void finish512(const __m512 *acc, int np, float *s, size_t ss) {
    _Pragma("GCC unroll 16")
    for (int p = 0; p < np; p++) s[p * ss] = hsum512(acc[p]);
}

AI void q8_0_body(int n, const void *xv, const void *y, size_t ys, int np, float *s, size_t ss) {
    const struct block_q8_0 *x = xv;
    int nb = n / QK;
    __m512 acc[SPC_MAXP];
    _Pragma("GCC unroll 16")
    for (int p = 0; p < np; p++) acc[p] = _mm512_setzero_ps();
    int b = 0;
    for (; b + 1 < nb; b += 2) {
        __m512i q = pair256(_mm256_loadu_si256((const __m256i *)x[b].qs), _mm256_loadu_si256((const __m256i *)x[b + 1].qs));
        signed_pair(q, F16(x[b].d), F16(x[b + 1].d), y, ys, b, false, np, acc);
    }
    if (b < nb)
        signed_pair(pair256(_mm256_loadu_si256((const __m256i *)x[b].qs), _mm256_setzero_si256()), F16(x[b].d), 0, y, ys,
                    b, true, np, acc);
    finish512(acc, np, s, ss);
}

AI __m256i q5_0_bytes(const struct block_q5_0 *xb) {
    uint32_t qh;
    memcpy(&qh, xb->qh, 4);
    __m256i hi = _mm256_andnot_si256(bits_bytes256(qh), _mm256_set1_epi8((char)0xf0));
    return _mm256_or_si256(nib256(xb->qs), hi);
}

AI void q5_0_body(int n, const void *xv, const void *y, size_t ys, int np, float *s, size_t ss) {
    const struct block_q5_0 *x = xv;
    int nb = n / QK;
    __m512 acc[SPC_MAXP];
    _Pragma("GCC unroll 16")
    for (int p = 0; p < np; p++) acc[p] = _mm512_setzero_ps();
    int b = 0;
    for (; b + 1 < nb; b += 2)
        signed_pair(pair256(q5_0_bytes(&x[b]), q5_0_bytes(&x[b + 1])), F16(x[b].d), F16(x[b + 1].d), y, ys, b, false,
                    np, acc);
    if (b < nb) signed_pair(pair256(q5_0_bytes(&x[b]), _mm256_setzero_si256()), F16(x[b].d), 0, y, ys, b, true, np, acc);
    finish512(acc, np, s, ss);
}

AI void q4_1_pair(const struct block_q4_1 *x, const void *y, size_t ys, int b, bool single, int np, __m512 *acc) {
    __m512i q = pair256(nib256(x[b].qs), single ? _mm256_setzero_si256() : nib256(x[b + 1].qs));
    float dxa = F16(x[b].d), mxa = F16(x[b].m), dxb = single ? 0 : F16(x[b + 1].d), mxb = single ? 0 : F16(x[b + 1].m);
    _Pragma("GCC unroll 16")
    for (int p = 0; p < np; p++) {
        const struct block_q8_1 *yb = YROW(struct block_q8_1, p) + b;
        __m512i yv = pair256(_mm256_loadu_si256((const __m256i *)yb[0].qs),
                             single ? _mm256_setzero_si256() : _mm256_loadu_si256((const __m256i *)yb[1].qs));
        __m512i dp = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, yv);
        __m512 sc = pair_scale(dxa * F16(yb[0].d), single ? 0.0f : dxb * F16(yb[1].d));
        /* the min terms m*s ride in lane 0 of the same accumulator */
        float ms = mxa * F16(yb[0].s) + (single ? 0.0f : mxb * F16(yb[1].s));
        acc[p] = _mm512_add_ps(acc[p], _mm512_fmadd_ps(sc, _mm512_cvtepi32_ps(dp), _mm512_castps128_ps512(_mm_set_ss(ms))));
    }
}

AI void q4_1_body(int n, const void *xv, const void *y, size_t ys, int np, float *s, size_t ss) {
    const struct block_q4_1 *x = xv;
    int nb = n / QK;
    __m512 acc[SPC_MAXP];
    _Pragma("GCC unroll 16")
    for (int p = 0; p < np; p++) acc[p] = _mm512_setzero_ps();
    int b = 0;
    for (; b + 1 < nb; b += 2) q4_1_pair(x, y, ys, b, false, np, acc);
    if (b < nb) q4_1_pair(x, y, ys, b, true, np, acc);
    finish512(acc, np, s, ss);
}


/* ---- q4_Kx16: 16 interleaved rows (quant.h) against np activation rows ----
 * Rows live in lanes: a 64-byte chunk holds 4 packed bytes of each of the 16 rows; its low nibbles
 * against 4 broadcast activation bytes give, with one vpdpbusd, 4 products for every row. Per
 * sub-block the sums are scaled with one vpmulld (int32: a sub-block sum reaches 60960), the mins
 * ride in vpdpwssd against the activation's bsums, and each block ends with two conversions and
 * two FMAs for 16 rows at once (the row-at-a-time kernel spends that per row). Exact integer sums,
 * float per block, per activation row independent of np. */

/* Scale (mins = 0) or min (mins = 1) j of the 16 rows as int32 lanes, from the 12 planes. */
AI __m512i kx16_sm(const uint8_t *pl, int j, int mins) {
#define PL(k) _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(pl + 16 * (k))))
    const __m512i m6 = _mm512_set1_epi32(63), m4 = _mm512_set1_epi32(15);
    if (j < 4) return _mm512_and_si512(PL(j + 4 * mins), m6);
    __m512i lo = mins ? _mm512_srli_epi32(PL(j + 4), 4) : _mm512_and_si512(PL(j + 4), m4);
    return _mm512_or_si512(lo, _mm512_slli_epi32(_mm512_srli_epi32(PL(j - 4 + 4 * mins), 6), 4));
#undef PL
}

AI __m512i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* Bit k of every byte moved to bit 4, the other bits cleared (16-bit shifts: what crosses into the
   neighbouring byte never lands on bit 4). */
AI __m512i bit_to4(__m512i v, int k) {
    __m512i t = k < 4 ? _mm512_slli_epi16(v, 4 - k) : k > 4 ? _mm512_srli_epi16(v, k - 4) : v;
    return _mm512_and_si512(t, _mm512_set1_epi8(0x10));
}

/* q4_K x16, and q5_K x16 (q5: the fifth bit from the qh chunks after the q4_K layout). */
AI void kx16_body(int n, const void *xv, const void *y, size_t ys, int np, float *s, size_t ss, bool q5) {
    const uint8_t *x = xv;
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const size_t gb = 16 * (q5 ? sizeof(struct block_q5_K) : sizeof(struct block_q4_K));
    /* the float sums live in memory: touched once per block, they would only crowd the registers
       the integer loop needs (16 weight vectors and one int32 sum per activation row) */
    __m512 acc[SPC_MAXP];
    _Pragma("GCC unroll 16")
    for (int p = 0; p < np; p++) acc[p] = _mm512_setzero_ps();
    const int nb = n / QK_K;
    for (int b = 0; b < nb; b++, x += gb) {
        const uint8_t *pl = x + 64;
        __m512i S[SPC_MAXP];
        _Pragma("GCC unroll 16")
        for (int p = 0; p < np; p++) S[p] = _mm512_setzero_si512();
        for (int g = 0; g < 4; g++) {
            /* the hardware prefetcher alone leaves the loads exposed once the loop is compute-heavy
               (dev/mm_lab.c: 2.4x slower at 16 rows than with this, a quarter of a block a step) */
            for (int o = 0; o < (q5 ? 11 : 9); o++)
                _mm_prefetch((const char *)x + PFD * gb + 64 * ((q5 ? 11 : 9) * g + o), _MM_HINT_T0);
            __m512i lo[8], hi[8];
            _Pragma("GCC unroll 8")
            for (int i = 0; i < 8; i++) {
                __m512i raw = _mm512_loadu_si512((const void *)(x + 256 + 64 * (8 * g + i)));
                lo[i] = _mm512_and_si512(raw, m4);
                hi[i] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
                if (q5) {               /* qh byte l: bit 2g for value 64g + l, 2g + 1 for 64g + 32 + l */
                    __m512i qh = _mm512_loadu_si512((const void *)(x + 2304 + 64 * i));
                    lo[i] = _mm512_or_si512(lo[i], bit_to4(qh, 2 * g));
                    hi[i] = _mm512_or_si512(hi[i], bit_to4(qh, 2 * g + 1));
                }
            }
            __m512i sl = kx16_sm(pl, 2 * g, 0), sh = kx16_sm(pl, 2 * g + 1, 0);
            _Pragma("GCC unroll 16")
            for (int p = 0; p < np; p++) {
                const int8_t *q = YROW(struct block_q8_K, p)[b].qs + 64 * g;
                __m512i t0 = _mm512_setzero_si512(), t1 = t0, t2 = t0, t3 = t0;
                _Pragma("GCC unroll 4")
                for (int i = 0; i < 8; i += 2) {
                    t0 = _mm512_dpbusd_epi32(t0, lo[i], bcast4(q + 4 * i));
                    t1 = _mm512_dpbusd_epi32(t1, lo[i + 1], bcast4(q + 4 * i + 4));
                    t2 = _mm512_dpbusd_epi32(t2, hi[i], bcast4(q + 32 + 4 * i));
                    t3 = _mm512_dpbusd_epi32(t3, hi[i + 1], bcast4(q + 36 + 4 * i));
                }
                S[p] = _mm512_add_epi32(S[p], _mm512_add_epi32(_mm512_mullo_epi32(_mm512_add_epi32(t0, t1), sl),
                                                               _mm512_mullo_epi32(_mm512_add_epi32(t2, t3), sh)));
            }
        }
        __m512 dv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)x));
        __m512 mv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + 32)));
        __m512i mn[8];
        _Pragma("GCC unroll 8")
        for (int j = 0; j < 8; j++) {
            __m512i m = kx16_sm(pl, j, 1);
            mn[j] = _mm512_or_si512(m, _mm512_slli_epi32(m, 16));       /* (m, m) as two int16 */
        }
        _Pragma("GCC unroll 16")
        for (int p = 0; p < np; p++) {
            const struct block_q8_K *yb = YROW(struct block_q8_K, p) + b;
            __m512i M0 = _mm512_setzero_si512(), M1 = M0;
            _Pragma("GCC unroll 4")
            for (int j = 0; j < 8; j += 2) {
                M0 = _mm512_dpwssd_epi32(M0, mn[j], bcast4((const int8_t *)&yb->bsums[2 * j]));
                M1 = _mm512_dpwssd_epi32(M1, mn[j + 1], bcast4((const int8_t *)&yb->bsums[2 * j + 2]));
            }
            __m512 v = _mm512_fmsub_ps(_mm512_cvtepi32_ps(S[p]), dv, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(M0, M1)), mv));
            acc[p] = _mm512_fmadd_ps(v, _mm512_set1_ps(yb->d), acc[p]);
        }
    }
    _Pragma("GCC unroll 16")
    for (int p = 0; p < np; p++) _mm512_storeu_ps(s + p * ss, acc[p]);
}
AI void q4_Kx16_body(int n, const void *x, const void *y, size_t ys, int np, float *s, size_t ss) {
    kx16_body(n, x, y, ys, np, s, ss, false);
}
AI void q5_Kx16_body(int n, const void *x, const void *y, size_t ys, int np, float *s, size_t ss) {
    kx16_body(n, x, y, ys, np, s, ss, true);
}

/* q6_K x16 (quant.h): the 6-bit values unsigned (0..63) in vpdpbusd, one vpmulld per 16-value
 * sub-block for its scale, and the -32 offset applied once per block as 32 * sum(scale * bsum) with
 * vpdpwssd on (scale, scale') pairs against the activation's bsum pairs. */
AI void q6_Kx16_body(int n, const void *xv, const void *y, size_t ys, int np, float *s, size_t ss) {
    const uint8_t *x = xv;
    const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
    const size_t gb = 16 * sizeof(struct block_q6_K);
    __m512 acc[SPC_MAXP];
    _Pragma("GCC unroll 16")
    for (int p = 0; p < np; p++) acc[p] = _mm512_setzero_ps();
    const int nb = n / QK_K;
#define Q6SC(k) _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(x + 32 + 16 * (k))))
    for (int b = 0; b < nb; b++, x += gb) {
        __m512i S[SPC_MAXP];
        _Pragma("GCC unroll 16")
        for (int p = 0; p < np; p++) S[p] = _mm512_setzero_si512();
        /* h: values 128h..128h+127; ii: chunks 4ii..4ii+3 of the l range; ab: ql bytes 0-31 (values
           +0 and +64 after the nibble split) or 32-63 (+32 and +96) */
        for (int h = 0; h < 2; h++)
            for (int ii = 0; ii < 2; ii++)
                for (int ab = 0; ab < 2; ab++) {
                    for (int o = 0; o < 7; o++)
                        _mm_prefetch((const char *)x + PFD * gb + 64 * (28 * h + 14 * ii + 7 * ab + o), _MM_HINT_T0);
                    __m512i lo[4], hi[4];
                    _Pragma("GCC unroll 4")
                    for (int i = 0; i < 4; i++) {
                        int c = 4 * ii + i;
                        __m512i ql = _mm512_loadu_si512((const void *)(x + 288 + 64 * (16 * h + 8 * ab + c)));
                        __m512i qh = _mm512_loadu_si512((const void *)(x + 2336 + 64 * (8 * h + c)));
                        /* qh bits 0-1 / 2-3 / 4-5 / 6-7: values +0 / +32 / +64 / +96 */
                        __m512i hl = ab ? _mm512_slli_epi16(qh, 2) : _mm512_slli_epi16(qh, 4);
                        __m512i hh = ab ? _mm512_srli_epi16(qh, 2) : qh;
                        lo[i] = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_and_si512(hl, m30));
                        hi[i] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), _mm512_and_si512(hh, m30));
                    }
                    /* sub-blocks of the low and high values */
                    const int sbl = 8 * h + 2 * ab + ii, sbh = sbl + 4;
                    __m512i scl = Q6SC(sbl), sch = Q6SC(sbh);
                    _Pragma("GCC unroll 16")
                    for (int p = 0; p < np; p++) {
                        const int8_t *q = YROW(struct block_q8_K, p)[b].qs + 128 * h + 32 * ab + 16 * ii;
                        __m512i t0 = _mm512_setzero_si512(), t1 = t0, t2 = t0, t3 = t0;
                        t0 = _mm512_dpbusd_epi32(t0, lo[0], bcast4(q));
                        t1 = _mm512_dpbusd_epi32(t1, lo[1], bcast4(q + 4));
                        t2 = _mm512_dpbusd_epi32(t2, hi[0], bcast4(q + 64));
                        t3 = _mm512_dpbusd_epi32(t3, hi[1], bcast4(q + 68));
                        t0 = _mm512_dpbusd_epi32(t0, lo[2], bcast4(q + 8));
                        t1 = _mm512_dpbusd_epi32(t1, lo[3], bcast4(q + 12));
                        t2 = _mm512_dpbusd_epi32(t2, hi[2], bcast4(q + 72));
                        t3 = _mm512_dpbusd_epi32(t3, hi[3], bcast4(q + 76));
                        S[p] = _mm512_add_epi32(S[p], _mm512_add_epi32(_mm512_mullo_epi32(_mm512_add_epi32(t0, t1), scl),
                                                                       _mm512_mullo_epi32(_mm512_add_epi32(t2, t3), sch)));
                    }
                }
        __m512 dv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)x));
        __m512i sp[8];
        _Pragma("GCC unroll 8")
        for (int j = 0; j < 8; j++)             /* (scale 2j, scale 2j+1) as two int16 */
            sp[j] = _mm512_or_si512(_mm512_and_si512(Q6SC(2 * j), _mm512_set1_epi32(0xffff)), _mm512_slli_epi32(Q6SC(2 * j + 1), 16));
        _Pragma("GCC unroll 16")
        for (int p = 0; p < np; p++) {
            const struct block_q8_K *yb = YROW(struct block_q8_K, p) + b;
            __m512i C0 = _mm512_setzero_si512(), C1 = C0;
            _Pragma("GCC unroll 4")
            for (int j = 0; j < 8; j += 2) {
                C0 = _mm512_dpwssd_epi32(C0, sp[j], bcast4((const int8_t *)&yb->bsums[2 * j]));
                C1 = _mm512_dpwssd_epi32(C1, sp[j + 1], bcast4((const int8_t *)&yb->bsums[2 * j + 2]));
            }
            __m512i tot = _mm512_sub_epi32(S[p], _mm512_slli_epi32(_mm512_add_epi32(C0, C1), 5));
            acc[p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(tot), _mm512_mul_ps(dv, _mm512_set1_ps(yb->d)), acc[p]);
        }
    }
#undef Q6SC
    _Pragma("GCC unroll 16")
    for (int p = 0; p < np; p++) _mm512_storeu_ps(s + p * ss, acc[p]);
}

/* ---- legacy quants x16 (quant.h): 32-value blocks, 16 rows in lanes ----
 * Unsigned weight bytes in vpdpbusd against 4 broadcast activation bytes; the weights' offset
 * (128 for q8_0 stored + 128, 16 for q5_0) comes off with the activation block's integer sum
 * (q8_1i), q4_1's min with q8_1's s. Per block and activation row: 8 vpdpbusd for 16 rows, then
 * one conversion and one or two FMAs. */

/* sum over k of w[k] . (4 activation bytes 4k..4k+3), 16 lanes (exact int32) */
AI __m512i dot8x16(const __m512i *w, const int8_t *q) {
    __m512i t0 = _mm512_setzero_si512(), t1 = t0;
    _Pragma("GCC unroll 4")
    for (int k = 0; k < 8; k += 2) {
        t0 = _mm512_dpbusd_epi32(t0, w[k], bcast4(q + 4 * k));
        t1 = _mm512_dpbusd_epi32(t1, w[k + 1], bcast4(q + 4 * k + 4));
    }
    return _mm512_add_epi32(t0, t1);
}

/* One kernel for the five legacy types (type is a constant after inlining). Block column layout
   (quant.h): the f16 fields (d, and m for q4_1/q5_1) of the 16 rows, q5's re-ordered high bits,
   then the quants in chunks of 64 bytes; w[k] holds values 4k..4k+3 of every row (for the nibble
   types the low nibbles of chunk k are values 4k.., the high ones 16 + 4k..). */
AI void legx16_body(int n, const void *xv, const void *y, size_t ys, int np, float *s, size_t ss, int type) {
    const bool q8 = type == SPC_TYPE_Q8_0, has_m = type == SPC_TYPE_Q4_1 || type == SPC_TYPE_Q5_1,
               q5 = type == SPC_TYPE_Q5_0 || type == SPC_TYPE_Q5_1;
    /* the weights' offset, removed with the activation block's integer sum (q8_1i) */
    const int off = type == SPC_TYPE_Q8_0 ? 128 : type == SPC_TYPE_Q5_0 ? 16 : type == SPC_TYPE_Q4_0 ? 8 : 0;
    const size_t bsz = q8 ? sizeof(struct block_q8_0) : type == SPC_TYPE_Q4_0 ? sizeof(struct block_q4_0)
                     : type == SPC_TYPE_Q5_0 ? sizeof(struct block_q5_0) : type == SPC_TYPE_Q4_1 ? sizeof(struct block_q4_1)
                     : sizeof(struct block_q5_1);
    const size_t gb = 16 * bsz, hdr = has_m ? 64 : 32, qs = hdr + (q5 ? 64 : 0);
    const uint8_t *x = xv;
    const __m512i m4 = _mm512_set1_epi8(0x0f), m10 = _mm512_set1_epi8(0x10);
    __m512 acc[SPC_MAXP];
    _Pragma("GCC unroll 16")
    for (int p = 0; p < np; p++) acc[p] = _mm512_setzero_ps();
    for (int b = 0; b < n / QK; b++, x += gb) {
        for (size_t o = 0; o < gb; o += 64) _mm_prefetch((const char *)x + 8 * gb + o, _MM_HINT_T0);
        __m512i w[8];
        if (q8) {
            _Pragma("GCC unroll 8")
            for (int k = 0; k < 8; k++) w[k] = _mm512_loadu_si512((const void *)(x + qs + 64 * k));
        } else {
            /* q5: byte j of a row's high-bit word holds in bit c the bit of value 4c+j, in bit 4+c
               that of 16+4c+j */
            __m512i qh = q5 ? _mm512_loadu_si512((const void *)(x + hdr)) : _mm512_setzero_si512();
            _Pragma("GCC unroll 4")
            for (int c = 0; c < 4; c++) {
                __m512i q = _mm512_loadu_si512((const void *)(x + qs + 64 * c));
                w[c] = _mm512_and_si512(q, m4);
                w[4 + c] = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
                if (q5) {
                    w[c] = _mm512_or_si512(w[c], _mm512_and_si512(_mm512_slli_epi16(qh, 4 - c), m10));
                    w[4 + c] = _mm512_or_si512(w[4 + c], _mm512_and_si512(_mm512_srli_epi16(qh, c), m10));
                }
            }
        }
        __m512 dv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)x));
        __m512 mv = has_m ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + 32))) : _mm512_setzero_ps();
        _Pragma("GCC unroll 16")
        for (int p = 0; p < np; p++) {
            const struct block_q8_1 *yb = YROW(struct block_q8_1, p) + b;
            __m512i t = dot8x16(w, yb->qs);
            if (off) {
                int16_t sum;
                memcpy(&sum, &yb->s, 2);
                t = _mm512_sub_epi32(t, _mm512_set1_epi32(off * sum));
            }
            acc[p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), _mm512_mul_ps(dv, _mm512_set1_ps(F16(yb->d))), acc[p]);
            if (has_m) acc[p] = _mm512_fmadd_ps(mv, _mm512_set1_ps(F16(yb->s)), acc[p]);
        }
    }
    _Pragma("GCC unroll 16")
    for (int p = 0; p < np; p++) _mm512_storeu_ps(s + p * ss, acc[p]);
}

#define LEG_BODY(t, T) \
    AI void t##x16_body(int n, const void *x, const void *y, size_t ys, int np, float *s, size_t ss) { \
        legx16_body(n, x, y, ys, np, s, ss, SPC_TYPE_##T);                                             \
    }
LEG_BODY(q8_0, Q8_0)
LEG_BODY(q4_0, Q4_0)
LEG_BODY(q5_0, Q5_0)
LEG_BODY(q4_1, Q4_1)
LEG_BODY(q5_1, Q5_1)

/* ---- float rows: 16 lanes per activation row, then one horizontal sum ---- */
AI __m512 float16(const void *x, int i, bool half) {
    return half ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)x + i)))
                : _mm512_loadu_ps((const float *)x + i);
}
AI void float_body(int n, const void *x, const void *y, size_t ys, int np, float *s, size_t ss, bool half) {
    __m512 acc[SPC_MAXP];
    _Pragma("GCC unroll 16")
    for (int p = 0; p < np; p++) acc[p] = _mm512_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 xv16 = float16(x, i, half);
        _Pragma("GCC unroll 16")
        for (int p = 0; p < np; p++) acc[p] = _mm512_fmadd_ps(xv16, _mm512_loadu_ps(YROW(float, p) + i), acc[p]);
    }
    _Pragma("GCC unroll 16")
    for (int p = 0; p < np; p++) {
        float t = hsum512(acc[p]);
        for (int k = i; k < n; k++)
            t += (half ? F16(((const uint16_t *)x)[k]) : ((const float *)x)[k]) * YROW(float, p)[k];
        s[p * ss] = t;
    }
}
AI void f32_body(int n, const void *x, const void *y, size_t ys, int np, float *s, size_t ss) {
    float_body(n, x, y, ys, np, s, ss, false);
}
AI void f16_body(int n, const void *x, const void *y, size_t ys, int np, float *s, size_t ss) {
    float_body(n, x, y, ys, np, s, ss, true);
}

SPC_SPECIALIZE16(f32, avx512)
SPC_SPECIALIZE16(f16, avx512)

/* bf16 against bf16 activations with AVX512_BF16's vdpbf16ps (pairs of exact products summed in
   f32); compiled for that extension only here, called only where the CPU has it. */
#pragma GCC push_options
#pragma GCC target("avx512bf16")
AI void bf16_body(int n, const void *xv, const void *y, size_t ys, int np, float *s, size_t ss) {
    const uint16_t *x = xv;
    __m512 acc[SPC_MAXP];
    _Pragma("GCC unroll 16")
    for (int p = 0; p < np; p++) acc[p] = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512bh xv32 = (__m512bh)_mm512_loadu_si512((const void *)(x + i));
        _Pragma("GCC unroll 16")
        for (int p = 0; p < np; p++)
            acc[p] = _mm512_dpbf16_ps(acc[p], xv32, (__m512bh)_mm512_loadu_si512((const void *)(YROW(uint16_t, p) + i)));
    }
    _Pragma("GCC unroll 16")
    for (int p = 0; p < np; p++) {
        float t = hsum512(acc[p]);
        for (int k = i; k < n; k++) t += spc__bf16_to_f32(x[k]) * spc__bf16_to_f32(YROW(uint16_t, p)[k]);
        s[p * ss] = t;
    }
}
SPC_SPECIALIZE16(bf16, avx512bf16)
#pragma GCC pop_options

SPC_SPECIALIZE(q4_0x16, avx512)
SPC_SPECIALIZE(q5_1x16, avx512)
SPC_SPECIALIZE(q5_Kx16, avx512)
SPC_SPECIALIZE(q8_0x16, avx512)
SPC_SPECIALIZE(q5_0x16, avx512)
SPC_SPECIALIZE(q4_1x16, avx512)
SPC_SPECIALIZE16(q4_K, avx512)
SPC_SPECIALIZE(q6_Kx16, avx512)
SPC_SPECIALIZE(q4_Kx16, avx512)
SPC_SPECIALIZE16(q6_K, avx512)
SPC_SPECIALIZE(q8_0, avx512)
SPC_SPECIALIZE(q5_0, avx512)
SPC_SPECIALIZE(q4_1, avx512)
