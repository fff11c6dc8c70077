/*
 * quant_avx2.c: AVX2/FMA dot products for every supported weight type against its activation
 * partner (q8_0, q8_1, q8_K, f32). Compiled with -mavx2 -mfma -mf16c and only called after
 * kernels.c has checked the CPU. Integer products are exact; for the k-quants the per-block
 * float combination is written exactly as in the scalar reference (quant.c), so those kernels
 * return the reference's bits; the 32-value types accumulate blocks in vector lanes and agree with
 * the reference to rounding. Each kernel is a pure function of its rows (bit-identity).
 * Depends on: quant.h (block layouts).
 */
#include <immintrin.h>

#include "quant.h"

void spc__dot_f32_avx2(int n, float *s, const void *x, const void *y);
void spc__dot_f16_avx2(int n, float *s, const void *x, const void *y);
void spc__dot_q4_0_avx2(int n, float *s, const void *x, const void *y);
void spc__dot_q4_1_avx2(int n, float *s, const void *x, const void *y);
void spc__dot_q5_0_avx2(int n, float *s, const void *x, const void *y);
void spc__dot_q8_0_avx2(int n, float *s, const void *x, const void *y);
void spc__dot_q4_K_avx2(int n, float *s, const void *x, const void *y);
void spc__dot_q5_K_avx2(int n, float *s, const void *x, const void *y);
void spc__dot_q6_K_avx2(int n, float *s, const void *x, const void *y);

static inline float hsum_f32(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

static inline int hsum_i32(__m256i v) {
    __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
    lo = _mm_add_epi32(lo, hi);
    lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0x4e));
    lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0xb1));
    return _mm_cvtsi128_si32(lo);
}

/* Sum of products of signed bytes x and y as 8 int32 lanes (|x|,|y| <= 127). */
static inline __m256i dot_i8(__m256i x, __m256i y) {
    __m256i ax = _mm256_sign_epi8(x, x), sy = _mm256_sign_epi8(y, x);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1));
}

/* Sum of products of unsigned bytes u (<= 127 per pair sum bound) and signed bytes y, 8 int32 lanes. */
static inline __m256i dot_u8(__m256i u, __m256i y) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, y), _mm256_set1_epi16(1));
}

/* 16 bytes of nibbles -> 32 bytes: low nibbles first, then high nibbles (the q4 value order). */
static inline __m256i nibbles(const uint8_t *qs) {
    __m128i b = _mm_loadu_si128((const __m128i *)qs);
    __m128i lo = _mm_and_si128(b, _mm_set1_epi8(0x0f)), hi = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0f));
    return _mm256_set_m128i(hi, lo);
}

/* 32 bits -> 32 bytes of 0xff where the bit is set. */
static inline __m256i bits_to_bytes(uint32_t bits) {
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), shuf);
    const __m256i mask = _mm256_set1_epi64x((long long)0x7fbfdfeff7fbfdfe);
    v = _mm256_or_si256(v, mask);
    return _mm256_cmpeq_epi8(v, _mm256_set1_epi64x(-1));
}

#define F16(x) spc__f16_to_f32(x)

void spc__dot_f32_avx2(int n, float *s, const void *xv, const void *yv) {
    const float *x = xv, *y = yv;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
    }
    float sum = hsum_f32(_mm256_add_ps(a0, a1));
    for (; i < n; i++) sum += x[i] * y[i];
    *s = sum;
}

void spc__dot_f16_avx2(int n, float *s, const void *xv, const void *yv) {
    const uint16_t *x = xv;
    const float *y = yv;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 x0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
        __m256 x1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i + 8)));
        a0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(y + i + 8), a1);
    }
    float sum = hsum_f32(_mm256_add_ps(a0, a1));
    for (; i < n; i++) sum += F16(x[i]) * y[i];
    *s = sum;
}

void spc__dot_q8_0_avx2(int n, float *s, const void *xv, const void *yv) {
    const struct block_q8_0 *x = xv;
    const struct block_q8_0 *y = yv;
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < n / QK; b++) {
        __m256i p = dot_i8(_mm256_loadu_si256((const __m256i *)x[b].qs), _mm256_loadu_si256((const __m256i *)y[b].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(F16(x[b].d) * F16(y[b].d)), _mm256_cvtepi32_ps(p), acc);
    }
    *s = hsum_f32(acc);
}

void spc__dot_q4_0_avx2(int n, float *s, const void *xv, const void *yv) {
    const struct block_q4_0 *x = xv;
    const struct block_q8_0 *y = yv;
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < n / QK; b++) {
        __m256i q = _mm256_sub_epi8(nibbles(x[b].qs), _mm256_set1_epi8(8));
        __m256i p = dot_i8(q, _mm256_loadu_si256((const __m256i *)y[b].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(F16(x[b].d) * F16(y[b].d)), _mm256_cvtepi32_ps(p), acc);
    }
    *s = hsum_f32(acc);
}

void spc__dot_q4_1_avx2(int n, float *s, const void *xv, const void *yv) {
    const struct block_q4_1 *x = xv;
    const struct block_q8_1 *y = yv;
    __m256 acc = _mm256_setzero_ps();
    float summ = 0;
    for (int b = 0; b < n / QK; b++) {
        __m256i p = dot_u8(nibbles(x[b].qs), _mm256_loadu_si256((const __m256i *)y[b].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(F16(x[b].d) * F16(y[b].d)), _mm256_cvtepi32_ps(p), acc);
        summ += F16(x[b].m) * F16(y[b].s);
    }
    *s = hsum_f32(acc) + summ;
}

void spc__dot_q5_0_avx2(int n, float *s, const void *xv, const void *yv) {
    const struct block_q5_0 *x = xv;
    const struct block_q8_0 *y = yv;
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < n / QK; b++) {
        uint32_t qh;
        memcpy(&qh, x[b].qh, 4);
        /* value = nibble | (bit ? 0 : 0xf0) as int8, i.e. (nibble | bit << 4) - 16 */
        __m256i hi = _mm256_andnot_si256(bits_to_bytes(qh), _mm256_set1_epi8((char)0xf0));
        __m256i q = _mm256_or_si256(nibbles(x[b].qs), hi);
        __m256i p = dot_i8(q, _mm256_loadu_si256((const __m256i *)y[b].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(F16(x[b].d) * F16(y[b].d)), _mm256_cvtepi32_ps(p), acc);
    }
    *s = hsum_f32(acc);
}

static inline void scales_k4(const uint8_t *q, int *sc, int *m) {
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            sc[j] = q[j] & 63;
            m[j] = q[j + 4] & 63;
        } else {
            sc[j] = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
            m[j] = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        }
    }
}

void spc__dot_q4_K_avx2(int n, float *s, const void *xv, const void *yv) {
    const struct block_q4_K *x = xv;
    const struct block_q8_K *y = yv;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    float sum = 0;
    for (int b = 0; b < n / QK_K; b++) {
        int sc[8], m[8];
        scales_k4(x[b].scales, sc, m);
        __m256i acc = _mm256_setzero_si256();
        for (int g = 0; g < 4; g++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * g));
            __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(y[b].qs + 64 * g)));
            __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(y[b].qs + 64 * g + 32)));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(plo, _mm256_set1_epi16((short)sc[2 * g])));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(phi, _mm256_set1_epi16((short)sc[2 * g + 1])));
        }
        int32_t sumi = hsum_i32(acc), summ = 0;
        for (int j = 0; j < 8; j++) summ += m[j] * (y[b].bsums[2 * j] + y[b].bsums[2 * j + 1]);
        sum += y[b].d * F16(x[b].d) * sumi - y[b].d * F16(x[b].dmin) * summ;
    }
    *s = sum;
}

void spc__dot_q5_K_avx2(int n, float *s, const void *xv, const void *yv) {
    const struct block_q5_K *x = xv;
    const struct block_q8_K *y = yv;
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    float sum = 0;
    for (int b = 0; b < n / QK_K; b++) {
        int sc[8], m[8];
        scales_k4(x[b].scales, sc, m);
        __m256i hb = _mm256_loadu_si256((const __m256i *)x[b].qh);
        __m256i acc = _mm256_setzero_si256();
        for (int g = 0; g < 4; g++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * g));
            __m256i hlo = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * g), one), 4);
            __m256i hhi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * g + 1), one), 4);
            __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), hlo);
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), hhi);
            __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(y[b].qs + 64 * g)));
            __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(y[b].qs + 64 * g + 32)));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(plo, _mm256_set1_epi16((short)sc[2 * g])));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(phi, _mm256_set1_epi16((short)sc[2 * g + 1])));
        }
        int32_t sumi = hsum_i32(acc), summ = 0;
        for (int j = 0; j < 8; j++) summ += m[j] * (y[b].bsums[2 * j] + y[b].bsums[2 * j + 1]);
        sum += y[b].d * F16(x[b].d) * sumi - y[b].d * F16(x[b].dmin) * summ;
    }
    *s = sum;
}

void spc__dot_q6_K_avx2(int n, float *s, const void *xv, const void *yv) {
    const struct block_q6_K *x = xv;
    const struct block_q8_K *y = yv;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(3);
    float sum = 0;
    for (int b = 0; b < n / QK_K; b++) {
        __m256i acc = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = x[b].ql + 64 * h, *qh = x[b].qh + 32 * h;
            const int8_t *sc = x[b].scales + 8 * h, *q8 = y[b].qs + 128 * h;
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql), l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i hh = _mm256_loadu_si256((const __m256i *)qh);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hh, m2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 2), m2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 4), m2), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 6), m2), 4));
            for (int k = 0; k < 4; k++) {
                __m256i p = _mm256_maddubs_epi16(q[k], _mm256_loadu_si256((const __m256i *)(q8 + 32 * k)));
                __m256i scv = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, scv));
            }
        }
        int32_t sumi = hsum_i32(acc), corr = 0;
        for (int g = 0; g < 16; g++) corr += x[b].scales[g] * y[b].bsums[g];
        sumi -= 32 * corr;
        sum += F16(x[b].d) * y[b].d * sumi;
    }
    *s = sum;
}
