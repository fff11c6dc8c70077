/*
 * ops_avx2.c: AVX2/FMA/F16C versions of the elementwise and attention inner loops of the forward
 * pass (see ops.h for the contracts and the scalar versions). Compiled with -mavx2 -mfma -mf16c.
 * Depends on: ops.h.
 */
#include <immintrin.h>
#include <math.h>

#include "ops.h"
#include "quant.h"

static inline float hsum(__m256 v) {
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

/* exp(x) for x in the float range: x = k ln2 + r, |r| <= ln2/2, exp(r) by a degree-6 polynomial
   (relative error about 2 ulp); k is applied through the exponent bits. */
static inline __m256 exp256(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.7f));
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

void spc__silu_mul_avx2(float *g, const float *u, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(g + i);
        __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), x));
        __m256 s = _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(s, _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) {
        __m256 x = _mm256_set1_ps(g[i]);
        __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), x));
        g[i] = _mm256_cvtss_f32(_mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e))) * u[i];
    }
}

float spc__exp_sum_avx2(float *x, int n, float max) {
    __m256 vmax = _mm256_set1_ps(max), acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmax));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float sum = hsum(acc);
    for (; i < n; i++) {
        x[i] = _mm256_cvtss_f32(exp256(_mm256_set1_ps(x[i] - max)));
        sum += x[i];
    }
    return sum;
}

void spc__rmsnorm_avx2(float *out, const float *x, const float *w, int n, float eps) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256d lo = _mm256_cvtps_pd(_mm_loadu_ps(x + i)), hi = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4));
        a0 = _mm256_fmadd_pd(lo, lo, a0);
        a1 = _mm256_fmadd_pd(hi, hi, a1);
    }
    __m256d a = _mm256_add_pd(a0, a1);
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
    double ss = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
    for (; i < n; i++) ss += (double)x[i] * x[i];
    float scale = 1.0f / sqrtf((float)(ss / n) + eps);
    __m256 vs = _mm256_set1_ps(scale);
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), _mm256_loadu_ps(w + i)));
    for (; i < n; i++) out[i] = x[i] * scale * w[i];
}

void spc__rotate_avx2(float *a, float *b, const float *cos, const float *sin, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x0 = _mm256_loadu_ps(a + i), x1 = _mm256_loadu_ps(b + i);
        __m256 c = _mm256_loadu_ps(cos + i), s = _mm256_loadu_ps(sin + i);
        _mm256_storeu_ps(a + i, _mm256_sub_ps(_mm256_mul_ps(x0, c), _mm256_mul_ps(x1, s)));
        _mm256_storeu_ps(b + i, _mm256_add_ps(_mm256_mul_ps(x0, s), _mm256_mul_ps(x1, c)));
    }
    for (; i < n; i++) {
        float x0 = a[i], x1 = b[i];
        a[i] = x0 * cos[i] - x1 * sin[i];
        b[i] = x0 * sin[i] + x1 * cos[i];
    }
}

float spc__dot_f32_f16_avx2(const float *q, const uint16_t *k, int n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i))), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i + 8))), a1);
    }
    float s = hsum(_mm256_add_ps(a0, a1));
    for (; i < n; i++) s += q[i] * _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(k[i])));
    return s;
}

float spc__dot_f32_f32_avx2(const float *q, const float *k, int n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(k + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), _mm256_loadu_ps(k + i + 8), a1);
    }
    float s = hsum(_mm256_add_ps(a0, a1));
    for (; i < n; i++) s += q[i] * k[i];
    return s;
}

void spc__axpy_f16_avx2(float *out, float a, const uint16_t *v, int n) {
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(va, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + i))),
                                                  _mm256_loadu_ps(out + i)));
    for (; i < n; i++) out[i] += a * _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(v[i])));
}

void spc__axpy_f32_avx2(float *out, float a, const float *v, int n) {
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(v + i), _mm256_loadu_ps(out + i)));
    for (; i < n; i++) out[i] += a * v[i];
}

float spc__scale_max_avx2(float *x, int n, float scale) {
    __m256 vs = _mm256_set1_ps(scale), mx = _mm256_set1_ps(-INFINITY);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vs);
        _mm256_storeu_ps(x + i, v);
        mx = _mm256_max_ps(mx, v);
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    float max = _mm_cvtss_f32(m4);
    for (; i < n; i++) {
        x[i] *= scale;
        if (x[i] > max) max = x[i];
    }
    return max;
}

/* vcvtps2ph rounds to nearest even, subnormals included: the bits of spc__f32_to_f16 */
void spc__round_f16_avx2(float *y, const float *x, int n, float a) {
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(x + i), va), _MM_FROUND_TO_NEAREST_INT)));
    for (; i < n; i++) y[i] = spc__f16_to_f32(spc__f32_to_f16(x[i] * a));
}

void spc__to_f16_avx2(uint16_t *y, const float *x, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = spc__f32_to_f16(x[i]);
}

enum { ATT_TILE = 32 };    /* keys per tile: 32 rows of a 128-wide head in f16 are 8 KiB */

/* m queries against keys s0..s1-1, w keys at a time (m * w <= 6; both constants at every call, so
   the 2 m w sums stay in registers beside the two converted key halves, and a lone query still has
   independent chains). Each score has the two accumulators and the final reduction of
   spc__dot_f32_f16_avx2, so its bits. */
static inline __attribute__((always_inline)) void att_dot_m(const float *q, int m, int w, int hd, const uint8_t *kv,
                                                           size_t stride, const int32_t *keys, int s0, int s1, float *sc,
                                                           size_t ss) {
    int s = s0;
    for (; s + w <= s1; s += w) {
        const uint16_t *k[4];
        __m256 a0[6], a1[6];
#pragma GCC unroll 4
        for (int u = 0; u < w; u++) k[u] = (const uint16_t *)(kv + (size_t)keys[s + u] * stride);
#pragma GCC unroll 6
        for (int j = 0; j < m * w; j++) a0[j] = a1[j] = _mm256_setzero_ps();
        for (int i = 0; i < hd; i += 16) {
#pragma GCC unroll 4
            for (int u = 0; u < w; u++) {
                __m256 k0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k[u] + i)));
                __m256 k1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k[u] + i + 8)));
#pragma GCC unroll 6
                for (int j = 0; j < m; j++) {
                    a0[u * m + j] = _mm256_fmadd_ps(_mm256_loadu_ps(q + (size_t)j * hd + i), k0, a0[u * m + j]);
                    a1[u * m + j] = _mm256_fmadd_ps(_mm256_loadu_ps(q + (size_t)j * hd + i + 8), k1, a1[u * m + j]);
                }
            }
        }
#pragma GCC unroll 4
        for (int u = 0; u < w; u++)
#pragma GCC unroll 6
            for (int j = 0; j < m; j++) sc[(size_t)j * ss + s + u] = hsum(_mm256_add_ps(a0[u * m + j], a1[u * m + j]));
    }
    for (; s < s1; s++)
        for (int j = 0; j < m; j++)
            sc[(size_t)j * ss + s] = spc__dot_f32_f16_avx2(q + (size_t)j * hd, (const uint16_t *)(kv + (size_t)keys[s] * stride), hd);
}

/* Grouped attention: keys in tiles that every query visits while they are in L1, up to 6 queries
   per pass over a key; the value rows are walked per 16 output lanes with the queries' sums kept
   in registers, fma by fma in the order of spc__axpy_f16_avx2. */
void spc__att_dot_f16_avx2(const float *q, int nq, int hd, const uint8_t *kv, size_t stride, const int32_t *keys, int nk,
                           float *sc, size_t ss) {
    if (hd % 16) {
        for (int s = 0; s < nk; s++)
            for (int j = 0; j < nq; j++)
                sc[(size_t)j * ss + s] = spc__dot_f32_f16_avx2(q + (size_t)j * hd, (const uint16_t *)(kv + (size_t)keys[s] * stride), hd);
        return;
    }
    for (int s0 = 0; s0 < nk; s0 += ATT_TILE) {
        int s1 = s0 + ATT_TILE < nk ? s0 + ATT_TILE : nk;
        for (int j0 = 0, m; j0 < nq; j0 += m) {
            const float *qj = q + (size_t)j0 * hd;
            float *scj = sc + (size_t)j0 * ss;
            switch (m = nq - j0 < 6 ? nq - j0 : 6) {
            case 6: att_dot_m(qj, 6, 1, hd, kv, stride, keys, s0, s1, scj, ss); break;
            case 5: att_dot_m(qj, 5, 1, hd, kv, stride, keys, s0, s1, scj, ss); break;
            case 4: att_dot_m(qj, 4, 1, hd, kv, stride, keys, s0, s1, scj, ss); break;
            case 3: att_dot_m(qj, 3, 2, hd, kv, stride, keys, s0, s1, scj, ss); break;
            case 2: att_dot_m(qj, 2, 3, hd, kv, stride, keys, s0, s1, scj, ss); break;
            default: att_dot_m(qj, 1, 4, hd, kv, stride, keys, s0, s1, scj, ss); break;
            }
        }
    }
}

/* out[j] += p[j][s] v[s] for m queries, keys s0..s1-1, w chunks of 16 lanes at a time (m * w <= 6,
   hd % (16 w) == 0; constants at every call, so the 2 m w sums stay in registers: with 12 of them
   the fma latency is hidden) */
static inline __attribute__((always_inline)) void att_axpy_m(float *out, int m, int w, int hd, const float *p, size_t ss,
                                                            const uint8_t *kv, size_t stride, const int32_t *keys, int s0,
                                                            int s1) {
    for (int i = 0; i < hd; i += 16 * w) {
        __m256 o[6][2];
#pragma GCC unroll 6
        for (int j = 0; j < m; j++)
#pragma GCC unroll 4
            for (int u = 0; u < w; u++) {
                o[j * w + u][0] = _mm256_loadu_ps(out + (size_t)j * hd + i + 16 * u);
                o[j * w + u][1] = _mm256_loadu_ps(out + (size_t)j * hd + i + 16 * u + 8);
            }
        for (int s = s0; s < s1; s++) {
            const uint16_t *v = (const uint16_t *)(kv + (size_t)keys[s] * stride) + i;
            __m256 vv[4][2];
#pragma GCC unroll 4
            for (int u = 0; u < w; u++) {
                vv[u][0] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + 16 * u)));
                vv[u][1] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + 16 * u + 8)));
            }
#pragma GCC unroll 6
            for (int j = 0; j < m; j++) {
                __m256 a = _mm256_broadcast_ss(p + (size_t)j * ss + s);
#pragma GCC unroll 4
                for (int u = 0; u < w; u++) {
                    o[j * w + u][0] = _mm256_fmadd_ps(a, vv[u][0], o[j * w + u][0]);
                    o[j * w + u][1] = _mm256_fmadd_ps(a, vv[u][1], o[j * w + u][1]);
                }
            }
        }
#pragma GCC unroll 6
        for (int j = 0; j < m; j++)
#pragma GCC unroll 4
            for (int u = 0; u < w; u++) {
                _mm256_storeu_ps(out + (size_t)j * hd + i + 16 * u, o[j * w + u][0]);
                _mm256_storeu_ps(out + (size_t)j * hd + i + 16 * u + 8, o[j * w + u][1]);
            }
    }
}

void spc__att_axpy_f16_avx2(float *out, int nq, int hd, const float *p, size_t ss, const uint8_t *kv, size_t stride,
                            const int32_t *keys, int nk) {
    if (hd % 16) {
        for (int s = 0; s < nk; s++)
            for (int j = 0; j < nq; j++)
                spc__axpy_f16_avx2(out + (size_t)j * hd, p[(size_t)j * ss + s], (const uint16_t *)(kv + (size_t)keys[s] * stride), hd);
        return;
    }
    for (int s0 = 0; s0 < nk; s0 += ATT_TILE) {
        int s1 = s0 + ATT_TILE < nk ? s0 + ATT_TILE : nk;
        for (int j0 = 0, m; j0 < nq; j0 += m) {
            float *oj = out + (size_t)j0 * hd;
            const float *pj = p + (size_t)j0 * ss;
            switch (m = nq - j0 < 6 ? nq - j0 : 6) {
            case 6: att_axpy_m(oj, 6, 1, hd, pj, ss, kv, stride, keys, s0, s1); break;
            case 5: att_axpy_m(oj, 5, 1, hd, pj, ss, kv, stride, keys, s0, s1); break;
            case 4: att_axpy_m(oj, 4, 1, hd, pj, ss, kv, stride, keys, s0, s1); break;
            case 3:
                if (hd % 32) att_axpy_m(oj, 3, 1, hd, pj, ss, kv, stride, keys, s0, s1);
                else att_axpy_m(oj, 3, 2, hd, pj, ss, kv, stride, keys, s0, s1);
                break;
            case 2:
                if (hd % 32) att_axpy_m(oj, 2, 1, hd, pj, ss, kv, stride, keys, s0, s1);
                else att_axpy_m(oj, 2, 2, hd, pj, ss, kv, stride, keys, s0, s1);
                break;
            default:
                if (hd % 64) att_axpy_m(oj, 1, 1, hd, pj, ss, kv, stride, keys, s0, s1);
                else att_axpy_m(oj, 1, 4, hd, pj, ss, kv, stride, keys, s0, s1);
                break;
            }
        }
    }
}

/* ---- activation quantizers: the same bits as the scalar references in quant.c ---- */

static inline __m256 abs256(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

static inline float hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* Rounds x*id to nearest-even int8 (x*id is within +-127.5 by construction). */
static inline __m128i round_pack(const float *x, __m256 id, int k) {
    __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k), id));
    __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k + 8), id));
    __m256i w = _mm256_packs_epi32(a, b);                              /* lanes: a0-3 b0-3 a4-7 b4-7 */
    w = _mm256_permute4x64_epi64(w, 0xd8);
    return _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
}

static inline float amax32(const float *x) {
    __m256 m = _mm256_max_ps(_mm256_max_ps(abs256(_mm256_loadu_ps(x)), abs256(_mm256_loadu_ps(x + 8))),
                             _mm256_max_ps(abs256(_mm256_loadu_ps(x + 16)), abs256(_mm256_loadu_ps(x + 24))));
    return hmax(m);
}

void spc__quantize_q8_0_avx2(const float *x, void *yv, int64_t n) {
    struct block_q8_0 *y = yv;
    for (int64_t b = 0; b < n / 32; b++, x += 32) {
        float amax = amax32(x), d = amax / 127, id = d ? 1.0f / d : 0.0f;
        y[b].d = spc__f32_to_f16(d);
        __m256 vid = _mm256_set1_ps(id);
        _mm_storeu_si128((__m128i *)y[b].qs, round_pack(x, vid, 0));
        _mm_storeu_si128((__m128i *)(y[b].qs + 16), round_pack(x, vid, 16));
    }
}

static inline __attribute__((always_inline)) void quantize_q8_1_body(const float *x, void *yv, int64_t n, bool isum) {
    struct block_q8_1 *y = yv;
    for (int64_t b = 0; b < n / 32; b++, x += 32) {
        float amax = amax32(x), d = amax / 127, id = d ? 1.0f / d : 0.0f;
        __m256 vid = _mm256_set1_ps(id);
        __m128i q0 = round_pack(x, vid, 0), q1 = round_pack(x, vid, 16);
        _mm_storeu_si128((__m128i *)y[b].qs, q0);
        _mm_storeu_si128((__m128i *)(y[b].qs + 16), q1);
        __m256i w = _mm256_madd_epi16(_mm256_cvtepi8_epi16(q0), _mm256_set1_epi16(1));
        w = _mm256_add_epi32(w, _mm256_madd_epi16(_mm256_cvtepi8_epi16(q1), _mm256_set1_epi16(1)));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
        int sum = _mm_cvtsi128_si32(s4);
        y[b].d = spc__f32_to_f16(d);
        if (isum) {
            int16_t s16 = (int16_t)sum;
            memcpy(&y[b].s, &s16, 2);
        } else {
            y[b].s = spc__f32_to_f16(sum * d);
        }
    }
}
void spc__quantize_q8_1_avx2(const float *x, void *y, int64_t n) { quantize_q8_1_body(x, y, n, false); }
void spc__quantize_q8_1i_avx2(const float *x, void *y, int64_t n) { quantize_q8_1_body(x, y, n, true); }

void spc__quantize_q8_K_avx2(const float *x, void *yv, int64_t n) {
    struct block_q8_K *y = yv;
    for (int64_t b = 0; b < n / 256; b++, x += 256) {
        __m256 m = _mm256_setzero_ps();
        for (int k = 0; k < 256; k += 8) m = _mm256_max_ps(m, abs256(_mm256_loadu_ps(x + k)));
        float amax = hmax(m);
        if (amax == 0) {
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        float max = 0;                      /* the first element of largest magnitude, with its sign */
        for (int k = 0; k < 256; k += 8) {
            int hit = _mm256_movemask_ps(_mm256_cmp_ps(abs256(_mm256_loadu_ps(x + k)), _mm256_set1_ps(amax), _CMP_EQ_OQ));
            if (hit) {
                max = x[k + __builtin_ctz((unsigned)hit)];
                break;
            }
        }
        const float iscale = -127.f / max;
        __m256 vid = _mm256_set1_ps(iscale);
        for (int k = 0; k < 256; k += 16) {
            /* v = nearest(iscale * x) <= 127.5 rounds to at most 128: clamp to 127 */
            __m256i a = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k), vid)), _mm256_set1_epi32(127));
            __m256i c = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k + 8), vid)), _mm256_set1_epi32(127));
            __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, c), 0xd8);
            __m128i q = _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
            _mm_storeu_si128((__m128i *)(y[b].qs + k), q);
            __m256i s16 = _mm256_madd_epi16(_mm256_cvtepi8_epi16(q), _mm256_set1_epi16(1));
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s16), _mm256_extracti128_si256(s16, 1));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
            y[b].bsums[k / 16] = (int16_t)_mm_cvtsi128_si32(s4);
        }
        y[b].d = 1 / iscale;
    }
}
