/*
 * quant_avx2.c: AVX2/FMA dot products of one weight row against up to SPC_MAXP activation rows
 * (its partner type: q8_0, q8_1, q8_K or f32), and of 16 interleaved rows (quant.h's x16 layouts,
 * read as two halves of 8 rows) against up to 8. Compiled with -mavx2 -mfma -mf16c and only called
 * after kernels.c has checked the CPU.
 *
 * Each weight block is unpacked once and then multiplied into every activation row, so a
 * verification batch of k+1 positions costs little more memory traffic than one position.
 * Bit-identity: the instructions applied for activation row p are the same whatever np is (each
 * row has its own accumulators, combined in block order), so a position's result does not depend
 * on how many positions share the call. Integer products are exact; blocks are accumulated in
 * float vector lanes, so results agree with the scalar reference (quant.c) to rounding.
 * Depends on: quant.h (block layouts), kernels.h (SPC_MAXP).
 */
#include "ops.h"
#include "simd_common.h"

static inline float hsum_f32(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

static inline __m256i mul_sum_us8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
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
    v = _mm256_or_si256(v, _mm256_set1_epi64x((long long)0x7fbfdfeff7fbfdfe));
    return _mm256_cmpeq_epi8(v, _mm256_set1_epi64x(-1));
}

#define F16(x) spc__f16_to_f32(x)
#define YROW(T, p) ((const T *)((const uint8_t *)y + (size_t)(p) * ys))

/* ---- float rows ---- */

/* Float weights: one row at a time, with the attention dot products of ops_avx2.c (the same loop). */
static inline __attribute__((always_inline)) void f32_body(int n, const void *xv, const void *y, size_t ys, int np, float *s, size_t ss) {
    for (int p = 0; p < np; p++) s[p * ss] = spc__dot_f32_f32_avx2(YROW(float, p), xv, n);
}

static inline __attribute__((always_inline)) void f16_body(int n, const void *xv, const void *y, size_t ys, int np, float *s, size_t ss) {
    for (int p = 0; p < np; p++) s[p * ss] = spc__dot_f32_f16_avx2(YROW(float, p), xv, n);
}

/* bf16 weights against bf16 activations (both widened to f32 by a shift: exact), 8 lanes per row. */
static inline __m256 bf16x8(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}
static inline __attribute__((always_inline)) void bf16_body(int n, const void *xv, const void *y, size_t ys, int np, float *s, size_t ss) {
    const uint16_t *x = xv;
    __m256 acc[SPC_MAXP];
    _Pragma("GCC unroll 8")
    for (int p = 0; p < np; p++) acc[p] = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 xv8 = bf16x8(x + i);
        _Pragma("GCC unroll 8")
        for (int p = 0; p < np; p++) acc[p] = _mm256_fmadd_ps(xv8, bf16x8(YROW(uint16_t, p) + i), acc[p]);
    }
    _Pragma("GCC unroll 8")
    for (int p = 0; p < np; p++) {
        float t = hsum_f32(acc[p]);
        for (int k = i; k < n; k++) t += spc__bf16_to_f32(x[k]) * spc__bf16_to_f32(YROW(uint16_t, p)[k]);
        s[p * ss] = t;
    }
}

/* ---- 32-value blocks: x unpacked to signed bytes once, then multiplied into every row ---- */

/* Signed x (|x| <= 127 or a -16..15 / -8..7 range) against q8_0 rows. */
static inline __attribute__((always_inline)) void dot_signed_block(__m256i q, float dx, const void *y, size_t ys, int b, int np, __m256 *acc) {
    __m256i ax = _mm256_sign_epi8(q, q);
    _Pragma("GCC unroll 8")
    for (int p = 0; p < np; p++) {
        const struct block_q8_0 *yb = YROW(struct block_q8_0, p) + b;
        __m256i sy = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)yb->qs), q);
        __m256 d = _mm256_set1_ps(dx * F16(yb->d));
        acc[p] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(mul_sum_us8(ax, sy)), acc[p]);
    }
}

static inline __attribute__((always_inline)) void finish(const __m256 *acc, int np, float *s, size_t ss) {
    _Pragma("GCC unroll 8")
    for (int p = 0; p < np; p++) s[p * ss] = hsum_f32(acc[p]);
}

static inline __attribute__((always_inline)) void q8_0_body(int n, const void *xv, const void *y, size_t ys, int np, float *s, size_t ss) {
    const struct block_q8_0 *x = xv;
    __m256 acc[SPC_MAXP];
    _Pragma("GCC unroll 8")
    for (int p = 0; p < np; p++) acc[p] = _mm256_setzero_ps();
    for (int b = 0; b < n / QK; b++)
        dot_signed_block(_mm256_loadu_si256((const __m256i *)x[b].qs), F16(x[b].d), y, ys, b, np, acc);
    finish(acc, np, s, ss);
}

static inline __attribute__((always_inline)) void q4_0_body(int n, const void *xv, const void *y, size_t ys, int np, float *s, size_t ss) {
    const struct block_q4_0 *x = xv;
    __m256 acc[SPC_MAXP];
    _Pragma("GCC unroll 8")
    for (int p = 0; p < np; p++) acc[p] = _mm256_setzero_ps();
    for (int b = 0; b < n / QK; b++)
        dot_signed_block(_mm256_sub_epi8(nibbles(x[b].qs), _mm256_set1_epi8(8)), F16(x[b].d), y, ys, b, np, acc);
    finish(acc, np, s, ss);
}

static inline __attribute__((always_inline)) void q5_0_body(int n, const void *xv, const void *y, size_t ys, int np, float *s, size_t ss) {
    const struct block_q5_0 *x = xv;
    __m256 acc[SPC_MAXP];
    _Pragma("GCC unroll 8")
    for (int p = 0; p < np; p++) acc[p] = _mm256_setzero_ps();
    for (int b = 0; b < n / QK; b++) {
        uint32_t qh;
        memcpy(&qh, x[b].qh, 4);
        /* value = nibble | (bit ? 0 : 0xf0) as int8, i.e. (nibble | bit << 4) - 16 */
        __m256i hi = _mm256_andnot_si256(bits_to_bytes(qh), _mm256_set1_epi8((char)0xf0));
        dot_signed_block(_mm256_or_si256(nibbles(x[b].qs), hi), F16(x[b].d), y, ys, b, np, acc);
    }
    finish(acc, np, s, ss);
}

/* q4_1, and q5_1 (q5: the fifth bit from qh), against q8_1: d * sum(q y) + m * s per block. */
static inline __attribute__((always_inline)) void q41_body(int n, const void *xv, const void *y, size_t ys, int np, float *s,
                                                           size_t ss, bool q5) {
    __m256 acc[SPC_MAXP];
    float summ[SPC_MAXP];
    _Pragma("GCC unroll 8")
    for (int p = 0; p < np; p++) {
        acc[p] = _mm256_setzero_ps();
        summ[p] = 0;
    }
    for (int b = 0; b < n / QK; b++) {
        const struct block_q4_1 *x4 = (const struct block_q4_1 *)xv + b;
        const struct block_q5_1 *x5 = (const struct block_q5_1 *)xv + b;
        __m256i q = nibbles(q5 ? x5->qs : x4->qs);
        if (q5) {
            uint32_t qh;
            memcpy(&qh, x5->qh, 4);
            q = _mm256_or_si256(q, _mm256_and_si256(bits_to_bytes(qh), _mm256_set1_epi8(0x10)));
        }
        float dx = F16(q5 ? x5->d : x4->d), mx = F16(q5 ? x5->m : x4->m);
        _Pragma("GCC unroll 8")
        for (int p = 0; p < np; p++) {
            const struct block_q8_1 *yb = YROW(struct block_q8_1, p) + b;
            __m256i prod = mul_sum_us8(q, _mm256_loadu_si256((const __m256i *)yb->qs));
            acc[p] = _mm256_fmadd_ps(_mm256_set1_ps(dx * F16(yb->d)), _mm256_cvtepi32_ps(prod), acc[p]);
            summ[p] += mx * F16(yb->s);
        }
    }
    _Pragma("GCC unroll 8")
    for (int p = 0; p < np; p++) s[p * ss] = hsum_f32(acc[p]) + summ[p];
}
static inline __attribute__((always_inline)) void q4_1_body(int n, const void *x, const void *y, size_t ys, int np, float *s, size_t ss) {
    q41_body(n, x, y, ys, np, s, ss, false);
}
static inline __attribute__((always_inline)) void q5_1_body(int n, const void *x, const void *y, size_t ys, int np, float *s, size_t ss) {
    q41_body(n, x, y, ys, np, s, ss, true);
}


/* 4 activation bytes broadcast to every 32-bit lane */
static inline __attribute__((always_inline)) __m256i bc4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* ---- legacy 4/5-bit quants x16 (quant.h): 32-value blocks, 16 rows interleaved ----
 * The layout the AVX-512 kernels take, read as two halves of 8 rows: a 64-byte chunk holds 4 bytes of
 * each row, so vpmaddubsw of one half against 4 broadcast activation bytes gives 8 rows' partial sums
 * (2 int16 lanes a row). The weights stay unsigned (q4_0: 0..15, q5_0: 0..31, offset 8 or 16, taken
 * off with the activation block's integer sum, q8_1i; q4_1/q5_1: the min times q8_1's s), so no sign
 * trick per activation row; four vpmaddubsw add up in int16 without overflow (4 x 2 x 31 x 128 <
 * 32768) before one vpmaddwd. Per block and activation row: 16 vpmaddubsw for 16 rows against 32 per
 * row in the row kernels' two-instruction dot, and the unpacking is shared by all activation rows. */
static inline __attribute__((always_inline)) void legx16_body(int n, const void *xv, const void *y, size_t ys, int np,
                                                              float *s, size_t ss, int type) {
    const bool has_m = type == SPC_TYPE_Q4_1 || type == SPC_TYPE_Q5_1, q5 = type == SPC_TYPE_Q5_0 || type == SPC_TYPE_Q5_1;
    const int off = type == SPC_TYPE_Q5_0 ? 16 : type == SPC_TYPE_Q4_0 ? 8 : 0;
    const size_t bsz = type == SPC_TYPE_Q4_0 ? sizeof(struct block_q4_0) : type == SPC_TYPE_Q5_0 ? sizeof(struct block_q5_0)
                     : type == SPC_TYPE_Q4_1 ? sizeof(struct block_q4_1) : sizeof(struct block_q5_1);
    const size_t gb = 16 * bsz, hdr = has_m ? 64 : 32, qs = hdr + (q5 ? 64 : 0);
    const uint8_t *x = xv;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m10 = _mm256_set1_epi8(0x10), ones = _mm256_set1_epi16(1);
    __m256 acc[SPC_MAXP][2];
    _Pragma("GCC unroll 8")
    for (int p = 0; p < np; p++) acc[p][0] = acc[p][1] = _mm256_setzero_ps();
    for (int b = 0; b < n / QK; b++, x += gb) {
        for (size_t o = 0; o < gb; o += 64) _mm_prefetch((const char *)x + 8 * gb + o, _MM_HINT_T0);
        __m256i w[2][8];        /* [half][k]: values 4k..4k+3 (k < 4) or 16 + 4(k-4).. of the half's 8 rows */
        _Pragma("GCC unroll 2")
        for (int h = 0; h < 2; h++) {
            __m256i qh = q5 ? _mm256_loadu_si256((const __m256i *)(x + hdr + 32 * h)) : _mm256_setzero_si256();
            _Pragma("GCC unroll 4")
            for (int c = 0; c < 4; c++) {
                __m256i q = _mm256_loadu_si256((const __m256i *)(x + qs + 64 * c + 32 * h));
                w[h][c] = _mm256_and_si256(q, m4);
                w[h][4 + c] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                if (q5) {
                    w[h][c] = _mm256_or_si256(w[h][c], _mm256_and_si256(_mm256_slli_epi16(qh, 4 - c), m10));
                    w[h][4 + c] = _mm256_or_si256(w[h][4 + c], _mm256_and_si256(_mm256_srli_epi16(qh, c), m10));
                }
            }
        }
        const __m256 dv[2] = { _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)x)),
                               _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + 16))) };
        __m256 mv[2] = { _mm256_setzero_ps(), _mm256_setzero_ps() };
        if (has_m) {
            mv[0] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + 32)));
            mv[1] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + 48)));
        }
        _Pragma("GCC unroll 8")
        for (int p = 0; p < np; p++) {
            const struct block_q8_1 *yb = YROW(struct block_q8_1, p) + b;
            __m256i y4[8];
            _Pragma("GCC unroll 8")
            for (int k = 0; k < 8; k++) y4[k] = bc4(yb->qs + 4 * k);
            __m256 dy = _mm256_set1_ps(F16(yb->d));
            __m256i offs = _mm256_setzero_si256();
            if (off) {
                int16_t sum;
                memcpy(&sum, &yb->s, 2);
                offs = _mm256_set1_epi32(off * sum);
            }
            _Pragma("GCC unroll 2")
            for (int h = 0; h < 2; h++) {
                __m256i a = _mm256_add_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(w[h][0], y4[0]), _mm256_maddubs_epi16(w[h][1], y4[1])),
                                             _mm256_add_epi16(_mm256_maddubs_epi16(w[h][2], y4[2]), _mm256_maddubs_epi16(w[h][3], y4[3])));
                __m256i c = _mm256_add_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(w[h][4], y4[4]), _mm256_maddubs_epi16(w[h][5], y4[5])),
                                             _mm256_add_epi16(_mm256_maddubs_epi16(w[h][6], y4[6]), _mm256_maddubs_epi16(w[h][7], y4[7])));
                __m256i t = _mm256_add_epi32(_mm256_madd_epi16(a, ones), _mm256_madd_epi16(c, ones));
                if (off) t = _mm256_sub_epi32(t, offs);
                acc[p][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t), _mm256_mul_ps(dv[h], dy), acc[p][h]);
                if (has_m) acc[p][h] = _mm256_fmadd_ps(mv[h], _mm256_set1_ps(F16(yb->s)), acc[p][h]);
            }
        }
    }
    _Pragma("GCC unroll 8")
    for (int p = 0; p < np; p++) {
        _mm256_storeu_ps(s + p * ss, acc[p][0]);
        _mm256_storeu_ps(s + p * ss + 8, acc[p][1]);
    }
}

#define LEG_BODY(t, T) \
    static inline __attribute__((always_inline)) void t##x16_body(int n, const void *x, const void *y, size_t ys, int np, \
                                                                  float *s, size_t ss) {                              \
        legx16_body(n, x, y, ys, np, s, ss, SPC_TYPE_##T);                                                          \
    }
LEG_BODY(q4_0, Q4_0)
LEG_BODY(q5_0, Q5_0)
LEG_BODY(q4_1, Q4_1)
LEG_BODY(q5_1, Q5_1)

/* ---- k-quants against q8_K ---- */

/* Broadcast int16 scale j (0..7) of a 128-bit lane of 8 scales to a whole ymm. */
static inline __m256i bcast_scale(__m128i sc8, int j) {
    __m128i sh = _mm_set1_epi16((short)(0x0100 + 0x0202 * j));
    __m128i v = _mm_shuffle_epi8(sc8, sh);
    return _mm256_set_m128i(v, v);
}

/* Sum of mins[j] * (bsums[2j] + bsums[2j+1]) as 4 int32 lanes. */
static inline __m128i mins_dot(__m128i mins, const int16_t *bsums) {
    __m256i bs = _mm256_loadu_si256((const __m256i *)bsums);
    __m128i pairs = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
    return _mm_madd_epi16(mins, pairs);
}

/* k-quant super-blocks are unpacked into 8 vectors of 32 unsigned values, each with its int16
   scales (kq), and multiplied into the rows' 8-lane int32 sums. AVX2 has 16 vector
   registers and Zen 2 one integer multiply port, so the layout of the work decides the speed:
   up to KQ_DIRECT rows take each vector as it is unpacked (kq_direct; sums in registers); more rows
   take the whole unpacked block from L1 one row at a time (kq_row), so no row's accumulators spill. */
#define KQ_DIRECT 3

struct kq { __m256i w[8], sc[8]; };

static inline __attribute__((always_inline)) __m256i kq_step(__m256i sumi, __m256i w, __m256i sc, const int8_t *q8) {
    return _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(w, _mm256_loadu_si256((const __m256i *)q8)), sc));
}

/* Vector j of block b (just unpacked) into rows 0..np-1, when np <= KQ_DIRECT. */
static inline __attribute__((always_inline)) void kq_direct(const struct kq *k, int j, const void *y, size_t ys, int b, int np,
                                                            __m256i *sumi) {
    _Pragma("GCC unroll 4")
    for (int p = 0; p < np; p++) sumi[p] = kq_step(sumi[p], k->w[j], k->sc[j], YROW(struct block_q8_K, p)[b].qs + 32 * j);
}

/* The whole unpacked block into one row's sums (np > KQ_DIRECT). */
static inline __attribute__((always_inline)) __m256i kq_row(const struct kq *k, __m256i sumi, const int8_t *q8) {
    _Pragma("GCC unroll 8")
    for (int j = 0; j < 8; j++) sumi = kq_step(sumi, k->w[j], k->sc[j], q8 + 32 * j);
    return sumi;
}

/* q4_K and q5_K: d * sum(scale_j q y) - dmin * sum(min_j bsum_j), per row. */
static inline __attribute__((always_inline)) void dot_kx(int n, const void *xv, const void *y, size_t ys, int np, float *s, size_t ss, bool q5) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    __m256 acc[SPC_MAXP];
    __m256i sumi[SPC_MAXP];
    struct kq k;
    _Pragma("GCC unroll 8")
    for (int p = 0; p < np; p++) acc[p] = _mm256_setzero_ps();
    const size_t bs = q5 ? sizeof(struct block_q5_K) : sizeof(struct block_q4_K);
    for (int b = 0; b < n / QK_K; b++) {
        const uint8_t *xb = (const uint8_t *)xv + (size_t)b * bs;
        const struct block_q4_K *x4 = (const void *)xb;
        const struct block_q5_K *x5 = (const void *)xb;
        uint16_t hd = q5 ? x5->d : x4->d, hm = q5 ? x5->dmin : x4->dmin;
        const uint8_t *qs = q5 ? x5->qs : x4->qs;
        __m256i sm = spc__scales_mins_k4(q5 ? x5->scales : x4->scales);
        __m128i sc8 = _mm256_castsi256_si128(sm), mins = _mm256_extracti128_si256(sm, 1);
        __m256i hb = q5 ? _mm256_loadu_si256((const __m256i *)x5->qh) : _mm256_setzero_si256();
        _Pragma("GCC unroll 8")
        for (int p = 0; p < np; p++) sumi[p] = _mm256_setzero_si256();
        _Pragma("GCC unroll 4")
        for (int g = 0; g < 4; g++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * g));
            __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            if (q5) {
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * g), one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * g + 1), one), 4));
            }
            k.w[2 * g] = lo;
            k.w[2 * g + 1] = hi;
            k.sc[2 * g] = bcast_scale(sc8, 2 * g);
            k.sc[2 * g + 1] = bcast_scale(sc8, 2 * g + 1);
            if (np <= KQ_DIRECT) {
                kq_direct(&k, 2 * g, y, ys, b, np, sumi);
                kq_direct(&k, 2 * g + 1, y, ys, b, np, sumi);
            }
        }
        float dx = F16(hd), mx = F16(hm);
        _Pragma("GCC unroll 8")
        for (int p = 0; p < np; p++) {
            const struct block_q8_K *yb = YROW(struct block_q8_K, p) + b;
            if (np > KQ_DIRECT) sumi[p] = kq_row(&k, sumi[p], yb->qs);
            acc[p] = _mm256_fmadd_ps(_mm256_set1_ps(yb->d * dx), _mm256_cvtepi32_ps(sumi[p]), acc[p]);
            acc[p] = _mm256_fmadd_ps(_mm256_set1_ps(-yb->d * mx),
                                     _mm256_cvtepi32_ps(_mm256_zextsi128_si256(mins_dot(mins, yb->bsums))), acc[p]);
        }
    }
    finish(acc, np, s, ss);
}

static inline __attribute__((always_inline)) void q4_K_body(int n, const void *x, const void *y, size_t ys, int np, float *s, size_t ss) {
    dot_kx(n, x, y, ys, np, s, ss, false);
}

static inline __attribute__((always_inline)) void q5_K_body(int n, const void *x, const void *y, size_t ys, int np, float *s, size_t ss) {
    dot_kx(n, x, y, ys, np, s, ss, true);
}

/* q6_K: d * sum(scale_j (q - 32) y); the -32 offset as -32 * sum_j scale_j * bsum_j. Vector j holds
   values 128h + 32k .. +32 (j = 4h + k), whose two halves have scales 8h+2k and 8h+2k+1. */
static inline __attribute__((always_inline)) void q6_K_body(int n, const void *xv, const void *y, size_t ys, int np, float *s, size_t ss) {
    const struct block_q6_K *x = xv;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(3);
    __m256 acc[SPC_MAXP];
    __m256i sumi[SPC_MAXP];
    struct kq k;
    _Pragma("GCC unroll 8")
    for (int p = 0; p < np; p++) acc[p] = _mm256_setzero_ps();
    for (int b = 0; b < n / QK_K; b++) {
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[b].scales));
        _Pragma("GCC unroll 8")
        for (int p = 0; p < np; p++)
            sumi[p] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(sc16,
                                            _mm256_loadu_si256((const __m256i *)YROW(struct block_q8_K, p)[b].bsums)), 5));
        _Pragma("GCC unroll 2")
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = x[b].ql + 64 * h, *qh = x[b].qh + 32 * h;
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql), l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i hh = _mm256_loadu_si256((const __m256i *)qh);
            __m256i *q = k.w + 4 * h;
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hh, m2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 2), m2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 4), m2), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 6), m2), 4));
            _Pragma("GCC unroll 4")
            for (int kk = 0; kk < 4; kk++) {
                int j = 8 * h + 2 * kk;
                k.sc[4 * h + kk] = _mm256_set_m128i(_mm_set1_epi16(x[b].scales[j + 1]), _mm_set1_epi16(x[b].scales[j]));
                if (np <= KQ_DIRECT) kq_direct(&k, 4 * h + kk, y, ys, b, np, sumi);
            }
        }
        float dx = F16(x[b].d);
        _Pragma("GCC unroll 8")
        for (int p = 0; p < np; p++) {
            const struct block_q8_K *yb = YROW(struct block_q8_K, p) + b;
            if (np > KQ_DIRECT) sumi[p] = kq_row(&k, sumi[p], yb->qs);
            acc[p] = _mm256_fmadd_ps(_mm256_set1_ps(dx * yb->d), _mm256_cvtepi32_ps(sumi[p]), acc[p]);
        }
    }
    finish(acc, np, s, ss);
}

/* ---- k-quants x16 (quant.h): 16 interleaved rows, read as two halves of 8 ----
 * As the legacy x16 kernels: vpmaddubsw of a half's chunk (4 bytes of each of 8 rows) against 4
 * broadcast activation bytes, the int16 sums of a sub-block added up while they cannot overflow, then
 * one vpmaddwd against the sub-block's scale held twice in each row's 32-bit lane, which both widens
 * and scales. q4_K/q5_K's mins, and q6_K's -32 offset, come off per block with vpmaddwd of
 * (scale, scale) pairs against the activation's bsum pairs. Exact integer sums per block, float per
 * block, per activation row independent of np. */

/* Scale (mins = 0) or min (mins = 1) j of half h's 8 rows, twice in each 32-bit lane (int16 pair),
   from the 12 scale planes of a q4_K/q5_K group. */
static inline __attribute__((always_inline)) __m256i kx16_sm2(const uint8_t *pl, int h, int j, int mins) {
#define PL(k) _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(pl + 16 * (k) + 8 * h)))
    const __m256i m6 = _mm256_set1_epi32(63), m4 = _mm256_set1_epi32(15);
    __m256i v;
    if (j < 4) v = _mm256_and_si256(PL(j + 4 * mins), m6);
    else v = _mm256_or_si256(mins ? _mm256_srli_epi32(PL(j + 4), 4) : _mm256_and_si256(PL(j + 4), m4),
                             _mm256_slli_epi32(_mm256_srli_epi32(PL(j - 4 + 4 * mins), 6), 4));
#undef PL
    return _mm256_or_si256(v, _mm256_slli_epi32(v, 16));
}

/* Bit k of every byte moved to bit 4, the other bits cleared (16-bit shifts: what crosses into the
   neighbouring byte never lands on bit 4). */
static inline __attribute__((always_inline)) __m256i bit_to4(__m256i v, int k) {
    __m256i t = k < 4 ? _mm256_slli_epi16(v, 4 - k) : k > 4 ? _mm256_srli_epi16(v, k - 4) : v;
    return _mm256_and_si256(t, _mm256_set1_epi8(0x10));
}

/* sum over j < 8 of pair[j] . (bsums[2j], bsums[2j+1]) per 32-bit lane: a block's 16 activation
   sums against per-row (a, b) int16 pairs (q4_K/q5_K: (min j, min j); q6_K: (scale 2j, scale 2j+1)) */
static inline __attribute__((always_inline)) __m256i bsum_dot(const __m256i *pair, const int16_t *bsums) {
    __m256i a = _mm256_setzero_si256(), c = a;
    _Pragma("GCC unroll 4")
    for (int j = 0; j < 8; j += 2) {
        a = _mm256_add_epi32(a, _mm256_madd_epi16(pair[j], bc4((const int8_t *)&bsums[2 * j])));
        c = _mm256_add_epi32(c, _mm256_madd_epi16(pair[j + 1], bc4((const int8_t *)&bsums[2 * j + 2])));
    }
    return _mm256_add_epi32(a, c);
}

#define PFD 4           /* groups prefetched ahead */

static inline __attribute__((always_inline)) void kx16_body(int n, const void *xv, const void *y, size_t ys, int np,
                                                            float *s, size_t ss, bool q5) {
    const uint8_t *x = xv;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const size_t gb = 16 * (q5 ? sizeof(struct block_q5_K) : sizeof(struct block_q4_K));
    __m256 acc[SPC_MAXP][2];
    _Pragma("GCC unroll 8")
    for (int p = 0; p < np; p++) acc[p][0] = acc[p][1] = _mm256_setzero_ps();
    for (int b = 0; b < n / QK_K; b++, x += gb) {
        const uint8_t *pl = x + 64;
        __m256i S[SPC_MAXP][2];
        _Pragma("GCC unroll 8")
        for (int p = 0; p < np; p++) S[p][0] = S[p][1] = _mm256_setzero_si256();
        for (int g = 0; g < 4; g++) {
            for (int o = 0; o < (q5 ? 11 : 9); o++)
                _mm_prefetch((const char *)x + PFD * gb + 64 * ((q5 ? 11 : 9) * g + o), _MM_HINT_T0);
            __m256i lo[2][8], hi[2][8];
            _Pragma("GCC unroll 2")
            for (int h = 0; h < 2; h++) {
                _Pragma("GCC unroll 8")
                for (int i = 0; i < 8; i++) {
                    __m256i raw = _mm256_loadu_si256((const __m256i *)(x + 256 + 64 * (8 * g + i) + 32 * h));
                    lo[h][i] = _mm256_and_si256(raw, m4);
                    hi[h][i] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
                    if (q5) {           /* qh byte l: bit 2g for value 64g + l, 2g + 1 for 64g + 32 + l */
                        __m256i qh = _mm256_loadu_si256((const __m256i *)(x + 2304 + 64 * i + 32 * h));
                        lo[h][i] = _mm256_or_si256(lo[h][i], bit_to4(qh, 2 * g));
                        hi[h][i] = _mm256_or_si256(hi[h][i], bit_to4(qh, 2 * g + 1));
                    }
                }
            }
            const __m256i sl[2] = { kx16_sm2(pl, 0, 2 * g, 0), kx16_sm2(pl, 1, 2 * g, 0) };
            const __m256i sh[2] = { kx16_sm2(pl, 0, 2 * g + 1, 0), kx16_sm2(pl, 1, 2 * g + 1, 0) };
            _Pragma("GCC unroll 8")
            for (int p = 0; p < np; p++) {
                const int8_t *q = YROW(struct block_q8_K, p)[b].qs + 64 * g;
                /* int16 sums of 4 chunks (q5: 4 x 2 x 31 x 128 < 32768), or of 8 (q4: 8 x 2 x 15 x 128) */
                __m256i a[2][4];
                _Pragma("GCC unroll 2")
                for (int h = 0; h < 2; h++)
                    for (int k = 0; k < 4; k++) a[h][k] = _mm256_setzero_si256();
                _Pragma("GCC unroll 8")
                for (int i = 0; i < 8; i++) {
                    __m256i yl = bc4(q + 4 * i), yh = bc4(q + 32 + 4 * i);
                    const int k = q5 ? i / 4 : 0;
                    _Pragma("GCC unroll 2")
                    for (int h = 0; h < 2; h++) {
                        a[h][k] = _mm256_add_epi16(a[h][k], _mm256_maddubs_epi16(lo[h][i], yl));
                        a[h][2 + k] = _mm256_add_epi16(a[h][2 + k], _mm256_maddubs_epi16(hi[h][i], yh));
                    }
                }
                _Pragma("GCC unroll 2")
                for (int h = 0; h < 2; h++) {
                    __m256i t = _mm256_add_epi32(_mm256_madd_epi16(a[h][0], sl[h]), _mm256_madd_epi16(a[h][2], sh[h]));
                    if (q5) t = _mm256_add_epi32(t, _mm256_add_epi32(_mm256_madd_epi16(a[h][1], sl[h]), _mm256_madd_epi16(a[h][3], sh[h])));
                    S[p][h] = _mm256_add_epi32(S[p][h], t);
                }
            }
        }
        _Pragma("GCC unroll 2")
        for (int h = 0; h < 2; h++) {
            __m256 dv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + 16 * h)));
            __m256 mv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + 32 + 16 * h)));
            __m256i mn[8];
            _Pragma("GCC unroll 8")
            for (int j = 0; j < 8; j++) mn[j] = kx16_sm2(pl, h, j, 1);
            _Pragma("GCC unroll 8")
            for (int p = 0; p < np; p++) {
                const struct block_q8_K *yb = YROW(struct block_q8_K, p) + b;
                __m256 v = _mm256_fmsub_ps(_mm256_cvtepi32_ps(S[p][h]), dv, _mm256_mul_ps(_mm256_cvtepi32_ps(bsum_dot(mn, yb->bsums)), mv));
                acc[p][h] = _mm256_fmadd_ps(v, _mm256_set1_ps(yb->d), acc[p][h]);
            }
        }
    }
    _Pragma("GCC unroll 8")
    for (int p = 0; p < np; p++) {
        _mm256_storeu_ps(s + p * ss, acc[p][0]);
        _mm256_storeu_ps(s + p * ss + 8, acc[p][1]);
    }
}
static inline __attribute__((always_inline)) void q4_Kx16_body(int n, const void *x, const void *y, size_t ys, int np, float *s, size_t ss) {
    kx16_body(n, x, y, ys, np, s, ss, false);
}
static inline __attribute__((always_inline)) void q5_Kx16_body(int n, const void *x, const void *y, size_t ys, int np, float *s, size_t ss) {
    kx16_body(n, x, y, ys, np, s, ss, true);
}

/* q6_K x16: the 6-bit values unsigned (0..63), two vpmaddubsw per int16 sum (2 x 2 x 63 x 128 <
   32768), one vpmaddwd per sub-block half for its scale, and the -32 offset once per block as
   32 * sum(scale * bsum). */
static inline __attribute__((always_inline)) void q6_Kx16_body(int n, const void *xv, const void *y, size_t ys, int np,
                                                               float *s, size_t ss) {
    const uint8_t *x = xv;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    const size_t gb = 16 * sizeof(struct block_q6_K);
    __m256 acc[SPC_MAXP][2];
    _Pragma("GCC unroll 8")
    for (int p = 0; p < np; p++) acc[p][0] = acc[p][1] = _mm256_setzero_ps();
/* scale k of half hh's 8 rows as int32 lanes */
#define Q6SC(k, hh) _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(x + 32 + 16 * (k) + 8 * (hh))))
    for (int b = 0; b < n / QK_K; b++, x += gb) {
        __m256i S[SPC_MAXP][2];
        _Pragma("GCC unroll 8")
        for (int p = 0; p < np; p++) S[p][0] = S[p][1] = _mm256_setzero_si256();
        /* h: values 128h..128h+127; ii: chunks 4ii..4ii+3 of the l range; ab: ql bytes 0-31 (values
           +0 and +64 after the nibble split) or 32-63 (+32 and +96) */
        for (int h = 0; h < 2; h++)
            for (int ii = 0; ii < 2; ii++)
                for (int ab = 0; ab < 2; ab++) {
                    for (int o = 0; o < 7; o++)
                        _mm_prefetch((const char *)x + PFD * gb + 64 * (28 * h + 14 * ii + 7 * ab + o), _MM_HINT_T0);
                    __m256i lo[2][4], hi[2][4], scl[2], sch[2];
                    const int sbl = 8 * h + 2 * ab + ii, sbh = sbl + 4;
                    _Pragma("GCC unroll 2")
                    for (int r = 0; r < 2; r++) {
                        _Pragma("GCC unroll 4")
                        for (int i = 0; i < 4; i++) {
                            int c = 4 * ii + i;
                            __m256i ql = _mm256_loadu_si256((const __m256i *)(x + 288 + 64 * (16 * h + 8 * ab + c) + 32 * r));
                            __m256i qh = _mm256_loadu_si256((const __m256i *)(x + 2336 + 64 * (8 * h + c) + 32 * r));
                            /* qh bits 0-1 / 2-3 / 4-5 / 6-7: values +0 / +32 / +64 / +96 */
                            __m256i hl = ab ? _mm256_slli_epi16(qh, 2) : _mm256_slli_epi16(qh, 4);
                            __m256i hh = ab ? _mm256_srli_epi16(qh, 2) : qh;
                            lo[r][i] = _mm256_or_si256(_mm256_and_si256(ql, m4), _mm256_and_si256(hl, m30));
                            hi[r][i] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql, 4), m4), _mm256_and_si256(hh, m30));
                        }
                        __m256i a = Q6SC(sbl, r), c = Q6SC(sbh, r);
                        scl[r] = _mm256_or_si256(_mm256_and_si256(a, _mm256_set1_epi32(0xffff)), _mm256_slli_epi32(a, 16));
                        sch[r] = _mm256_or_si256(_mm256_and_si256(c, _mm256_set1_epi32(0xffff)), _mm256_slli_epi32(c, 16));
                    }
                    _Pragma("GCC unroll 8")
                    for (int p = 0; p < np; p++) {
                        const int8_t *q = YROW(struct block_q8_K, p)[b].qs + 128 * h + 32 * ab + 16 * ii;
                        __m256i y0 = bc4(q), y1 = bc4(q + 4), y2 = bc4(q + 8), y3 = bc4(q + 12);
                        __m256i z0 = bc4(q + 64), z1 = bc4(q + 68), z2 = bc4(q + 72), z3 = bc4(q + 76);
                        _Pragma("GCC unroll 2")
                        for (int r = 0; r < 2; r++) {
                            __m256i l01 = _mm256_add_epi16(_mm256_maddubs_epi16(lo[r][0], y0), _mm256_maddubs_epi16(lo[r][1], y1));
                            __m256i l23 = _mm256_add_epi16(_mm256_maddubs_epi16(lo[r][2], y2), _mm256_maddubs_epi16(lo[r][3], y3));
                            __m256i h01 = _mm256_add_epi16(_mm256_maddubs_epi16(hi[r][0], z0), _mm256_maddubs_epi16(hi[r][1], z1));
                            __m256i h23 = _mm256_add_epi16(_mm256_maddubs_epi16(hi[r][2], z2), _mm256_maddubs_epi16(hi[r][3], z3));
                            __m256i t = _mm256_add_epi32(_mm256_add_epi32(_mm256_madd_epi16(l01, scl[r]), _mm256_madd_epi16(l23, scl[r])),
                                                         _mm256_add_epi32(_mm256_madd_epi16(h01, sch[r]), _mm256_madd_epi16(h23, sch[r])));
                            S[p][r] = _mm256_add_epi32(S[p][r], t);
                        }
                    }
                }
        _Pragma("GCC unroll 2")
        for (int r = 0; r < 2; r++) {
            __m256 dv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + 16 * r)));
            __m256i sp[8];
            _Pragma("GCC unroll 8")
            for (int j = 0; j < 8; j++)             /* (scale 2j, scale 2j+1) as two int16 */
                sp[j] = _mm256_or_si256(_mm256_and_si256(Q6SC(2 * j, r), _mm256_set1_epi32(0xffff)), _mm256_slli_epi32(Q6SC(2 * j + 1, r), 16));
            _Pragma("GCC unroll 8")
            for (int p = 0; p < np; p++) {
                const struct block_q8_K *yb = YROW(struct block_q8_K, p) + b;
                __m256i tot = _mm256_sub_epi32(S[p][r], _mm256_slli_epi32(bsum_dot(sp, yb->bsums), 5));
                acc[p][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(tot), _mm256_mul_ps(dv, _mm256_set1_ps(yb->d)), acc[p][r]);
            }
        }
    }
#undef Q6SC
    _Pragma("GCC unroll 8")
    for (int p = 0; p < np; p++) {
        _mm256_storeu_ps(s + p * ss, acc[p][0]);
        _mm256_storeu_ps(s + p * ss + 8, acc[p][1]);
    }
}

SPC_SPECIALIZE(f32, avx2)
SPC_SPECIALIZE(f16, avx2)
SPC_SPECIALIZE(q8_0, avx2)
SPC_SPECIALIZE(q4_0, avx2)
SPC_SPECIALIZE(q5_0, avx2)
SPC_SPECIALIZE(q4_1, avx2)
SPC_SPECIALIZE(q5_1, avx2)
SPC_SPECIALIZE(bf16, avx2)
SPC_SPECIALIZE(q4_K, avx2)
SPC_SPECIALIZE(q5_K, avx2)
SPC_SPECIALIZE(q6_K, avx2)
SPC_SPECIALIZE(q4_0x16, avx2)
SPC_SPECIALIZE(q5_0x16, avx2)
SPC_SPECIALIZE(q4_1x16, avx2)
SPC_SPECIALIZE(q5_1x16, avx2)
SPC_SPECIALIZE(q4_Kx16, avx2)
SPC_SPECIALIZE(q5_Kx16, avx2)
SPC_SPECIALIZE(q6_Kx16, avx2)
