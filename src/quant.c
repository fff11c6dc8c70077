/*
 * quant.c: the traits table and scalar reference kernels for every supported tensor type.
 * These are the oracle: plain loops written to mirror the block layouts (see quant.h and
 * FORMATS.md). Dot products accumulate integer products exactly within a block and combine
 * blocks in float in block order, so a dot is a pure function of its two rows.
 * Depends on: base.
 */
#include "quant.h"

#include <math.h>

#define F16(x) spc__f16_to_f32(x)

static int nearest_int(float f) { return (int)lrintf(f); }

/* ---- float types ---- */

static void f32_to_float(const void *x, float *y, int64_t n) { memcpy(y, x, (size_t)n * 4); }
static void f32_from_float(const float *x, void *y, int64_t n) { memcpy(y, x, (size_t)n * 4); }
static void f16_to_float(const void *x, float *y, int64_t n) {
    const uint16_t *h = x;
    for (int64_t i = 0; i < n; i++) y[i] = F16(h[i]);
}
static void f16_from_float(const float *x, void *y, int64_t n) {
    uint16_t *h = y;
    for (int64_t i = 0; i < n; i++) h[i] = spc__f32_to_f16(x[i]);
}
static void bf16_to_float(const void *x, float *y, int64_t n) {
    const uint16_t *h = x;
    for (int64_t i = 0; i < n; i++) y[i] = spc__bf16_to_f32(h[i]);
}
static void bf16_from_float(const float *x, void *y, int64_t n) {
    uint16_t *h = y;
    for (int64_t i = 0; i < n; i++) h[i] = spc__f32_to_bf16(x[i]);
}

static void dot_f32(int n, float *s, const void *xv, const void *yv) {
    const float *x = xv, *y = yv;
    float acc = 0;
    for (int i = 0; i < n; i++) acc += x[i] * y[i];
    *s = acc;
}
static void dot_f16(int n, float *s, const void *xv, const void *yv) {
    const uint16_t *x = xv;
    const float *y = yv;
    float acc = 0;
    for (int i = 0; i < n; i++) acc += F16(x[i]) * y[i];
    *s = acc;
}
/* bf16 weights take bf16 activations (as ggml does): each product is exact in f32 */
static void dot_bf16(int n, float *s, const void *xv, const void *yv) {
    const uint16_t *x = xv, *y = yv;
    float acc = 0;
    for (int i = 0; i < n; i++) acc += spc__bf16_to_f32(x[i]) * spc__bf16_to_f32(y[i]);
    *s = acc;
}

/* ---- legacy 32-value quants ---- */

static void q4_0_to_float(const void *xv, float *y, int64_t n) {
    const struct block_q4_0 *x = xv;
    for (int64_t b = 0; b < n / QK; b++, y += QK) {
        float d = F16(x[b].d);
        for (int j = 0; j < QK / 2; j++) {
            y[j] = ((x[b].qs[j] & 0xf) - 8) * d;
            y[j + QK / 2] = ((x[b].qs[j] >> 4) - 8) * d;
        }
    }
}
static void q4_1_to_float(const void *xv, float *y, int64_t n) {
    const struct block_q4_1 *x = xv;
    for (int64_t b = 0; b < n / QK; b++, y += QK) {
        float d = F16(x[b].d), m = F16(x[b].m);
        for (int j = 0; j < QK / 2; j++) {
            y[j] = (x[b].qs[j] & 0xf) * d + m;
            y[j + QK / 2] = (x[b].qs[j] >> 4) * d + m;
        }
    }
}
static inline uint32_t load_qh(const uint8_t *qh) {
    uint32_t v;
    memcpy(&v, qh, 4);
    return v;
}
static void q5_0_to_float(const void *xv, float *y, int64_t n) {
    const struct block_q5_0 *x = xv;
    for (int64_t b = 0; b < n / QK; b++, y += QK) {
        float d = F16(x[b].d);
        uint32_t qh = load_qh(x[b].qh);
        for (int j = 0; j < QK / 2; j++) {
            int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            y[j] = (((x[b].qs[j] & 0xf) | h0) - 16) * d;
            y[j + QK / 2] = (((x[b].qs[j] >> 4) | h1) - 16) * d;
        }
    }
}
static void q5_1_to_float(const void *xv, float *y, int64_t n) {
    const struct block_q5_1 *x = xv;
    for (int64_t b = 0; b < n / QK; b++, y += QK) {
        float d = F16(x[b].d), m = F16(x[b].m);
        uint32_t qh = load_qh(x[b].qh);
        for (int j = 0; j < QK / 2; j++) {
            int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            y[j] = ((x[b].qs[j] & 0xf) | h0) * d + m;
            y[j + QK / 2] = ((x[b].qs[j] >> 4) | h1) * d + m;
        }
    }
}
static void q8_0_to_float(const void *xv, float *y, int64_t n) {
    const struct block_q8_0 *x = xv;
    for (int64_t b = 0; b < n / QK; b++, y += QK) {
        float d = F16(x[b].d);
        for (int j = 0; j < QK; j++) y[j] = x[b].qs[j] * d;
    }
}
static void q8_1_to_float(const void *xv, float *y, int64_t n) {
    const struct block_q8_1 *x = xv;
    for (int64_t b = 0; b < n / QK; b++, y += QK) {
        float d = F16(x[b].d);
        for (int j = 0; j < QK; j++) y[j] = x[b].qs[j] * d;
    }
}

void spc__quantize_q8_0(const float *x, void *yv, int64_t n) {
    struct block_q8_0 *y = yv;
    for (int64_t b = 0; b < n / QK; b++, x += QK) {
        float amax = 0;
        for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127, id = d ? 1.0f / d : 0.0f;
        y[b].d = spc__f32_to_f16(d);
        for (int j = 0; j < QK; j++) y[b].qs[j] = (int8_t)nearest_int(x[j] * id);
    }
}
void spc__quantize_q8_1(const float *x, void *yv, int64_t n) {
    struct block_q8_1 *y = yv;
    for (int64_t b = 0; b < n / QK; b++, x += QK) {
        float amax = 0;
        for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127, id = d ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < QK; j++) {
            y[b].qs[j] = (int8_t)nearest_int(x[j] * id);
            sum += y[b].qs[j];
        }
        y[b].d = spc__f32_to_f16(d);
        y[b].s = spc__f32_to_f16(sum * d);
    }
}

void spc__quantize_q8_1i(const float *x, void *yv, int64_t n) {
    struct block_q8_1 *y = yv;
    spc__quantize_q8_1(x, yv, n);
    for (int64_t b = 0; b < n / QK; b++) {
        int sum = 0;
        for (int j = 0; j < QK; j++) sum += y[b].qs[j];
        int16_t s16 = (int16_t)sum;
        memcpy(&y[b].s, &s16, 2);
    }
}

static void dot_q4_0_q8_0(int n, float *s, const void *xv, const void *yv) {
    const struct block_q4_0 *x = xv;
    const struct block_q8_0 *y = yv;
    float sum = 0;
    for (int b = 0; b < n / QK; b++) {
        int si = 0;
        for (int j = 0; j < QK / 2; j++)
            si += ((x[b].qs[j] & 0xf) - 8) * y[b].qs[j] + ((x[b].qs[j] >> 4) - 8) * y[b].qs[j + QK / 2];
        sum += si * (F16(x[b].d) * F16(y[b].d));
    }
    *s = sum;
}
static void dot_q4_1_q8_1(int n, float *s, const void *xv, const void *yv) {
    const struct block_q4_1 *x = xv;
    const struct block_q8_1 *y = yv;
    float sum = 0;
    for (int b = 0; b < n / QK; b++) {
        int si = 0;
        for (int j = 0; j < QK / 2; j++)
            si += (x[b].qs[j] & 0xf) * y[b].qs[j] + (x[b].qs[j] >> 4) * y[b].qs[j + QK / 2];
        sum += si * (F16(x[b].d) * F16(y[b].d)) + F16(x[b].m) * F16(y[b].s);
    }
    *s = sum;
}
static void dot_q5_0_q8_0(int n, float *s, const void *xv, const void *yv) {
    const struct block_q5_0 *x = xv;
    const struct block_q8_0 *y = yv;
    float sum = 0;
    for (int b = 0; b < n / QK; b++) {
        uint32_t qh = load_qh(x[b].qh);
        int si = 0;
        for (int j = 0; j < QK / 2; j++) {
            int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            si += (((x[b].qs[j] & 0xf) | h0) - 16) * y[b].qs[j] +
                  (((x[b].qs[j] >> 4) | h1) - 16) * y[b].qs[j + QK / 2];
        }
        sum += si * (F16(x[b].d) * F16(y[b].d));
    }
    *s = sum;
}
static void dot_q5_1_q8_1(int n, float *s, const void *xv, const void *yv) {
    const struct block_q5_1 *x = xv;
    const struct block_q8_1 *y = yv;
    float sum = 0;
    for (int b = 0; b < n / QK; b++) {
        uint32_t qh = load_qh(x[b].qh);
        int si = 0;
        for (int j = 0; j < QK / 2; j++) {
            int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            si += ((x[b].qs[j] & 0xf) | h0) * y[b].qs[j] + ((x[b].qs[j] >> 4) | h1) * y[b].qs[j + QK / 2];
        }
        sum += si * (F16(x[b].d) * F16(y[b].d)) + F16(x[b].m) * F16(y[b].s);
    }
    *s = sum;
}
static void dot_q8_0_q8_0(int n, float *s, const void *xv, const void *yv) {
    const struct block_q8_0 *x = xv;
    const struct block_q8_0 *y = yv;
    float sum = 0;
    for (int b = 0; b < n / QK; b++) {
        int si = 0;
        for (int j = 0; j < QK; j++) si += x[b].qs[j] * y[b].qs[j];
        sum += si * (F16(x[b].d) * F16(y[b].d));
    }
    *s = sum;
}

/* ---- k-quants ---- */

static inline void scale_min_k4(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* Unpacks a q4_K/q5_K block to 256 small integers (0..15 or 0..31) in value order. */
static void unpack_q4_K(const struct block_q4_K *x, uint8_t *q) {
    for (int g = 0; g < 4; g++)
        for (int l = 0; l < 32; l++) {
            q[64 * g + l] = x->qs[32 * g + l] & 0xf;
            q[64 * g + 32 + l] = x->qs[32 * g + l] >> 4;
        }
}
static void unpack_q5_K(const struct block_q5_K *x, uint8_t *q) {
    for (int g = 0; g < 4; g++)
        for (int l = 0; l < 32; l++) {
            q[64 * g + l] = (x->qs[32 * g + l] & 0xf) | (((x->qh[l] >> (2 * g)) & 1) << 4);
            q[64 * g + 32 + l] = (x->qs[32 * g + l] >> 4) | (((x->qh[l] >> (2 * g + 1)) & 1) << 4);
        }
}
/* Unpacks a q6_K block to 256 signed values in -32..31, in value order. */
static void unpack_q6_K(const struct block_q6_K *x, int8_t *q) {
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = x->ql + 64 * h, *qh = x->qh + 32 * h;
        int8_t *o = q + 128 * h;
        for (int l = 0; l < 32; l++) {
            o[l] = (int8_t)(((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32);
            o[l + 32] = (int8_t)(((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32);
            o[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
            o[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
        }
    }
}

/* Dequantizes one q4_K/q5_K block from its unpacked values q (0..15 or 0..31). */
static void kx_to_float(const uint8_t *q, const uint8_t *scales, uint16_t d16, uint16_t dmin16, float *y) {
    float d = F16(d16), dmin = F16(dmin16);
    for (int j = 0; j < 8; j++) {
        int sc, m;
        scale_min_k4(j, scales, &sc, &m);
        float d1 = d * sc, m1 = dmin * m;
        for (int l = 0; l < 32; l++) y[32 * j + l] = d1 * q[32 * j + l] - m1;
    }
}
static void q4_K_to_float(const void *xv, float *y, int64_t n) {
    const struct block_q4_K *x = xv;
    uint8_t q[QK_K];
    for (int64_t b = 0; b < n / QK_K; b++, y += QK_K) {
        unpack_q4_K(&x[b], q);
        kx_to_float(q, x[b].scales, x[b].d, x[b].dmin, y);
    }
}
static void q5_K_to_float(const void *xv, float *y, int64_t n) {
    const struct block_q5_K *x = xv;
    uint8_t q[QK_K];
    for (int64_t b = 0; b < n / QK_K; b++, y += QK_K) {
        unpack_q5_K(&x[b], q);
        kx_to_float(q, x[b].scales, x[b].d, x[b].dmin, y);
    }
}
static void q6_K_to_float(const void *xv, float *y, int64_t n) {
    const struct block_q6_K *x = xv;
    int8_t q[QK_K];
    for (int64_t b = 0; b < n / QK_K; b++, y += QK_K) {
        float d = F16(x[b].d);
        unpack_q6_K(&x[b], q);
        for (int i = 0; i < QK_K; i++) y[i] = d * x[b].scales[i / 16] * q[i];
    }
}
static void q8_K_to_float(const void *xv, float *y, int64_t n) {
    const struct block_q8_K *x = xv;
    for (int64_t b = 0; b < n / QK_K; b++, y += QK_K)
        for (int i = 0; i < QK_K; i++) y[i] = x[b].d * x[b].qs[i];
}

void spc__quantize_q8_K(const float *x, void *yv, int64_t n) {
    struct block_q8_K *y = yv;
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        float max = 0, amax = 0;
        for (int j = 0; j < QK_K; j++) {
            float ax = fabsf(x[j]);
            if (ax > amax) { amax = ax; max = x[j]; }
        }
        if (amax == 0) {
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; j++) {
            int v = nearest_int(iscale * x[j]);
            y[b].qs[j] = (int8_t)(v > 127 ? 127 : v);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            int sum = 0;
            for (int i = 0; i < 16; i++) sum += y[b].qs[16 * j + i];
            y[b].bsums[j] = (int16_t)sum;
        }
        y[b].d = 1 / iscale;
    }
}

/* One q4_K/q5_K block (unpacked values q) against a q8_K block: exact integer sums, then floats. */
static float kx_dot_block(const uint8_t *q, const uint8_t *scales, uint16_t d16, uint16_t dmin16,
                          const struct block_q8_K *y) {
    int32_t sumi = 0, summ = 0;
    for (int j = 0; j < 8; j++) {
        int sc, m, dot = 0;
        scale_min_k4(j, scales, &sc, &m);
        for (int l = 0; l < 32; l++) dot += q[32 * j + l] * y->qs[32 * j + l];
        sumi += sc * dot;
        summ += m * (y->bsums[2 * j] + y->bsums[2 * j + 1]);
    }
    return y->d * F16(d16) * sumi - y->d * F16(dmin16) * summ;
}
static void dot_q4_K_q8_K(int n, float *s, const void *xv, const void *yv) {
    const struct block_q4_K *x = xv;
    const struct block_q8_K *y = yv;
    uint8_t q[QK_K];
    float sum = 0;
    for (int b = 0; b < n / QK_K; b++) {
        unpack_q4_K(&x[b], q);
        sum += kx_dot_block(q, x[b].scales, x[b].d, x[b].dmin, &y[b]);
    }
    *s = sum;
}
static void dot_q5_K_q8_K(int n, float *s, const void *xv, const void *yv) {
    const struct block_q5_K *x = xv;
    const struct block_q8_K *y = yv;
    uint8_t q[QK_K];
    float sum = 0;
    for (int b = 0; b < n / QK_K; b++) {
        unpack_q5_K(&x[b], q);
        sum += kx_dot_block(q, x[b].scales, x[b].d, x[b].dmin, &y[b]);
    }
    *s = sum;
}
static void dot_q6_K_q8_K(int n, float *s, const void *xv, const void *yv) {
    const struct block_q6_K *x = xv;
    const struct block_q8_K *y = yv;
    int8_t q[QK_K];
    float sum = 0;
    for (int b = 0; b < n / QK_K; b++) {
        unpack_q6_K(&x[b], q);
        int32_t sumi = 0;
        for (int g = 0; g < 16; g++) {
            int dot = 0;
            for (int l = 0; l < 16; l++) dot += q[16 * g + l] * y[b].qs[16 * g + l];
            sumi += x[b].scales[g] * dot;
        }
        sum += F16(x[b].d) * y[b].d * sumi;
    }
    *s = sum;
}

/* ---- reference quantizers for weight types (test data; round to nearest, not optimal) ---- */

static void quant_q4_0(const float *x, void *yv, int64_t n) {
    struct block_q4_0 *y = yv;
    for (int64_t b = 0; b < n / QK; b++, x += QK) {
        float amax = 0, max = 0;
        for (int j = 0; j < QK; j++)
            if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
        float d = max / -8, id = d ? 1.0f / d : 0;
        y[b].d = spc__f32_to_f16(d);
        for (int j = 0; j < QK / 2; j++) {
            int a = nearest_int(x[j] * id) + 8, c = nearest_int(x[j + 16] * id) + 8;
            a = a < 0 ? 0 : a > 15 ? 15 : a;
            c = c < 0 ? 0 : c > 15 ? 15 : c;
            y[b].qs[j] = (uint8_t)(a | (c << 4));
        }
    }
}
static void minmax(const float *x, int n, float *mn, float *mx) {
    *mn = x[0];
    *mx = x[0];
    for (int j = 1; j < n; j++) {
        *mn = fminf(*mn, x[j]);
        *mx = fmaxf(*mx, x[j]);
    }
}
static void quant_q4_1(const float *x, void *yv, int64_t n) {
    struct block_q4_1 *y = yv;
    for (int64_t b = 0; b < n / QK; b++, x += QK) {
        float mn, mx;
        minmax(x, QK, &mn, &mx);
        float d = (mx - mn) / 15, id = d ? 1.0f / d : 0;
        y[b].d = spc__f32_to_f16(d);
        y[b].m = spc__f32_to_f16(mn);
        for (int j = 0; j < QK / 2; j++) {
            int a = nearest_int((x[j] - mn) * id), c = nearest_int((x[j + 16] - mn) * id);
            a = a < 0 ? 0 : a > 15 ? 15 : a;
            c = c < 0 ? 0 : c > 15 ? 15 : c;
            y[b].qs[j] = (uint8_t)(a | (c << 4));
        }
    }
}
static void quant_q5_0(const float *x, void *yv, int64_t n) {
    struct block_q5_0 *y = yv;
    for (int64_t b = 0; b < n / QK; b++, x += QK) {
        float amax = 0, max = 0;
        for (int j = 0; j < QK; j++)
            if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
        float d = max / -16, id = d ? 1.0f / d : 0;
        y[b].d = spc__f32_to_f16(d);
        uint32_t qh = 0;
        for (int j = 0; j < QK / 2; j++) {
            int a = nearest_int(x[j] * id) + 16, c = nearest_int(x[j + 16] * id) + 16;
            a = a < 0 ? 0 : a > 31 ? 31 : a;
            c = c < 0 ? 0 : c > 31 ? 31 : c;
            y[b].qs[j] = (uint8_t)((a & 0xf) | ((c & 0xf) << 4));
            qh |= ((uint32_t)(a >> 4) << j) | ((uint32_t)(c >> 4) << (j + 16));
        }
        memcpy(y[b].qh, &qh, 4);
    }
}
static void quant_q5_1(const float *x, void *yv, int64_t n) {
    struct block_q5_1 *y = yv;
    for (int64_t b = 0; b < n / QK; b++, x += QK) {
        float mn, mx;
        minmax(x, QK, &mn, &mx);
        float d = (mx - mn) / 31, id = d ? 1.0f / d : 0;
        y[b].d = spc__f32_to_f16(d);
        y[b].m = spc__f32_to_f16(mn);
        uint32_t qh = 0;
        for (int j = 0; j < QK / 2; j++) {
            int a = nearest_int((x[j] - mn) * id), c = nearest_int((x[j + 16] - mn) * id);
            a = a < 0 ? 0 : a > 31 ? 31 : a;
            c = c < 0 ? 0 : c > 31 ? 31 : c;
            y[b].qs[j] = (uint8_t)((a & 0xf) | ((c & 0xf) << 4));
            qh |= ((uint32_t)(a >> 4) << j) | ((uint32_t)(c >> 4) << (j + 16));
        }
        memcpy(y[b].qh, &qh, 4);
    }
}
/* Shared by q4_K and q5_K: per sub-block scale and min in 6 bits, levels 0..nmax. */
static void quant_kx(const float *x, int nmax, uint16_t *dd, uint16_t *dm, uint8_t *scales, uint8_t *q) {
    float sc[8], mn[8], maxsc = 0, maxmn = 0;
    for (int j = 0; j < 8; j++) {
        float lo, hi;
        minmax(x + 32 * j, 32, &lo, &hi);
        lo = fminf(lo, 0);
        sc[j] = (hi - lo) / nmax;
        mn[j] = -lo;
        maxsc = fmaxf(maxsc, sc[j]);
        maxmn = fmaxf(maxmn, mn[j]);
    }
    float d = maxsc / 63, dmin = maxmn / 63;
    *dd = spc__f32_to_f16(d);
    *dm = spc__f32_to_f16(dmin);
    d = spc__f16_to_f32(*dd);
    dmin = spc__f16_to_f32(*dm);
    memset(scales, 0, 12);
    for (int j = 0; j < 8; j++) {
        int ls = d ? nearest_int(sc[j] / d) : 0, lm = dmin ? nearest_int(mn[j] / dmin) : 0;
        ls = ls > 63 ? 63 : ls;
        lm = lm > 63 ? 63 : lm;
        if (j < 4) {
            scales[j] |= (uint8_t)ls;
            scales[j + 4] |= (uint8_t)lm;
        } else {
            scales[j + 4] = (uint8_t)((ls & 0xf) | ((lm & 0xf) << 4));
            scales[j - 4] |= (uint8_t)((ls >> 4) << 6);
            scales[j] |= (uint8_t)((lm >> 4) << 6);
        }
        float step = d * ls, off = dmin * lm;
        for (int l = 0; l < 32; l++) {
            int v = step ? nearest_int((x[32 * j + l] + off) / step) : 0;
            q[32 * j + l] = (uint8_t)(v < 0 ? 0 : v > nmax ? nmax : v);
        }
    }
}
static void quant_q4_K(const float *x, void *yv, int64_t n) {
    struct block_q4_K *y = yv;
    uint8_t q[QK_K];
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        quant_kx(x, 15, &y[b].d, &y[b].dmin, y[b].scales, q);
        for (int g = 0; g < 4; g++)
            for (int l = 0; l < 32; l++)
                y[b].qs[32 * g + l] = (uint8_t)(q[64 * g + l] | (q[64 * g + 32 + l] << 4));
    }
}
static void quant_q5_K(const float *x, void *yv, int64_t n) {
    struct block_q5_K *y = yv;
    uint8_t q[QK_K];
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        quant_kx(x, 31, &y[b].d, &y[b].dmin, y[b].scales, q);
        memset(y[b].qh, 0, sizeof y[b].qh);
        for (int g = 0; g < 4; g++)
            for (int l = 0; l < 32; l++) {
                uint8_t lo = q[64 * g + l], hi = q[64 * g + 32 + l];
                y[b].qs[32 * g + l] = (uint8_t)((lo & 0xf) | ((hi & 0xf) << 4));
                y[b].qh[l] |= (uint8_t)(((lo >> 4) << (2 * g)) | ((hi >> 4) << (2 * g + 1)));
            }
    }
}
static void quant_q6_K(const float *x, void *yv, int64_t n) {
    struct block_q6_K *y = yv;
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        float sc[16], maxsc = 0;
        for (int g = 0; g < 16; g++) {
            float amax = 0;
            for (int l = 0; l < 16; l++) amax = fmaxf(amax, fabsf(x[16 * g + l]));
            sc[g] = amax / 31;
            maxsc = fmaxf(maxsc, sc[g]);
        }
        float d = maxsc / 127;
        y[b].d = spc__f32_to_f16(d);
        d = spc__f16_to_f32(y[b].d);
        uint8_t q[QK_K];
        for (int g = 0; g < 16; g++) {
            int ls = d ? nearest_int(sc[g] / d) : 0;
            y[b].scales[g] = (int8_t)(ls > 127 ? 127 : ls);
            float step = d * y[b].scales[g];
            for (int l = 0; l < 16; l++) {
                int v = step ? nearest_int(x[16 * g + l] / step) : 0;
                q[16 * g + l] = (uint8_t)((v < -32 ? -32 : v > 31 ? 31 : v) + 32);
            }
        }
        for (int h = 0; h < 2; h++) {
            uint8_t *ql = y[b].ql + 64 * h, *qh = y[b].qh + 32 * h;
            const uint8_t *o = q + 128 * h;
            for (int l = 0; l < 32; l++) {
                ql[l] = (uint8_t)((o[l] & 0xf) | ((o[l + 64] & 0xf) << 4));
                ql[l + 32] = (uint8_t)((o[l + 32] & 0xf) | ((o[l + 96] & 0xf) << 4));
                qh[l] = (uint8_t)((o[l] >> 4) | ((o[l + 32] >> 4) << 2) | ((o[l + 64] >> 4) << 4) |
                                  ((o[l + 96] >> 4) << 6));
            }
        }
    }
}

/* ---- traits ---- */

#define T(id) [SPC_TYPE_##id]
static const struct spc_type_traits g_traits[SPC_TYPE_COUNT] = {
    T(F32)  = { "f32", 1, 4, true, SPC_TYPE_F32, f32_to_float, f32_from_float, dot_f32 },
    T(F16)  = { "f16", 1, 2, true, SPC_TYPE_F32, f16_to_float, f16_from_float, dot_f16 },
    T(BF16) = { "bf16", 1, 2, true, SPC_TYPE_BF16, bf16_to_float, bf16_from_float, dot_bf16 },
    T(Q4_0) = { "q4_0", QK, 18, true, SPC_TYPE_Q8_0, q4_0_to_float, quant_q4_0, dot_q4_0_q8_0 },
    T(Q4_1) = { "q4_1", QK, 20, true, SPC_TYPE_Q8_1, q4_1_to_float, quant_q4_1, dot_q4_1_q8_1 },
    T(Q5_0) = { "q5_0", QK, 22, true, SPC_TYPE_Q8_0, q5_0_to_float, quant_q5_0, dot_q5_0_q8_0 },
    T(Q5_1) = { "q5_1", QK, 24, true, SPC_TYPE_Q8_1, q5_1_to_float, quant_q5_1, dot_q5_1_q8_1 },
    T(Q8_0) = { "q8_0", QK, 34, true, SPC_TYPE_Q8_0, q8_0_to_float, spc__quantize_q8_0, dot_q8_0_q8_0 },
    T(Q8_1) = { "q8_1", QK, 36, false, SPC_TYPE_Q8_1, q8_1_to_float, spc__quantize_q8_1, NULL },
    T(Q2_K) = { "q2_K", QK_K, 84, false, 0, NULL, NULL, NULL },
    T(Q3_K) = { "q3_K", QK_K, 110, false, 0, NULL, NULL, NULL },
    T(Q4_K) = { "q4_K", QK_K, 144, true, SPC_TYPE_Q8_K, q4_K_to_float, quant_q4_K, dot_q4_K_q8_K },
    T(Q5_K) = { "q5_K", QK_K, 176, true, SPC_TYPE_Q8_K, q5_K_to_float, quant_q5_K, dot_q5_K_q8_K },
    T(Q6_K) = { "q6_K", QK_K, 210, true, SPC_TYPE_Q8_K, q6_K_to_float, quant_q6_K, dot_q6_K_q8_K },
    T(Q8_K) = { "q8_K", QK_K, 292, false, SPC_TYPE_Q8_K, q8_K_to_float, spc__quantize_q8_K, NULL },
    [16] = { "iq2_xxs", QK_K, 66, false, 0, NULL, NULL, NULL },
    [17] = { "iq2_xs", QK_K, 74, false, 0, NULL, NULL, NULL },
    [18] = { "iq3_xxs", QK_K, 98, false, 0, NULL, NULL, NULL },
    [19] = { "iq1_s", QK_K, 50, false, 0, NULL, NULL, NULL },
    [20] = { "iq4_nl", QK, 18, false, 0, NULL, NULL, NULL },
    [21] = { "iq3_s", QK_K, 110, false, 0, NULL, NULL, NULL },
    [22] = { "iq2_s", QK_K, 82, false, 0, NULL, NULL, NULL },
    [23] = { "iq4_xs", QK_K, 136, false, 0, NULL, NULL, NULL },
    [24] = { "i8", 1, 1, false, 0, NULL, NULL, NULL },
    [25] = { "i16", 1, 2, false, 0, NULL, NULL, NULL },
    [26] = { "i32", 1, 4, false, 0, NULL, NULL, NULL },
    [27] = { "i64", 1, 8, false, 0, NULL, NULL, NULL },
    [28] = { "f64", 1, 8, false, 0, NULL, NULL, NULL },
    [29] = { "iq1_m", QK_K, 56, false, 0, NULL, NULL, NULL },
    [34] = { "tq1_0", QK_K, 54, false, 0, NULL, NULL, NULL },
    [35] = { "tq2_0", QK_K, 66, false, 0, NULL, NULL, NULL },
};
#undef T

const struct spc_type_traits *spc__type_traits(uint32_t type) {
    if (type >= SPC_TYPE_COUNT || !g_traits[type].name) return NULL;
    return &g_traits[type];
}

const char *spc_type_name(uint32_t type) {
    const struct spc_type_traits *t = spc__type_traits(type);
    return t ? t->name : "?";
}

void spc__quantize_ref(uint32_t type, const float *x, void *y, int64_t n) {
    g_traits[type].from_float(x, y, n);
}

/* ---- 16-row interleaved layouts (see quant.h) ----
 * A type's x16 group is its block fields, one after the other in the order listed here, each
 * spread over the 16 rows in chunks: chunk j of row r of a field lands at field start + j * 16 * cs
 * + r * cs (cs = 2: f16 values side by side; 1: byte planes; 4: 4-byte chunks, 64 bytes per j). */

enum { XF_NONE, XF_FLIP, XF_Q5BITS };   /* per chunk: xor 0x80 each byte; re-order q5 high bits */
struct x16_field { uint8_t blk, len, cs, xf; };     /* offset in the block, bytes, chunk size */
struct x16_layout { int n; struct x16_field f[5]; };

static const struct x16_layout *x16_layout(uint32_t type) {
    static const struct x16_layout q4_0 = { 2, { { 0, 2, 2, 0 }, { 2, 16, 4, 0 } } };
    static const struct x16_layout q4_1 = { 3, { { 0, 2, 2, 0 }, { 2, 2, 2, 0 }, { 4, 16, 4, 0 } } };
    static const struct x16_layout q5_0 = { 3, { { 0, 2, 2, 0 }, { 2, 4, 4, XF_Q5BITS }, { 6, 16, 4, 0 } } };
    static const struct x16_layout q5_1 = { 4, { { 0, 2, 2, 0 }, { 2, 2, 2, 0 }, { 4, 4, 4, XF_Q5BITS }, { 8, 16, 4, 0 } } };
    static const struct x16_layout q8_0 = { 2, { { 0, 2, 2, 0 }, { 2, 32, 4, XF_FLIP } } };
    static const struct x16_layout q4_K = { 4, { { 0, 2, 2, 0 }, { 2, 2, 2, 0 }, { 4, 12, 1, 0 }, { 16, 128, 4, 0 } } };
    static const struct x16_layout q5_K = { 5, { { 0, 2, 2, 0 }, { 2, 2, 2, 0 }, { 4, 12, 1, 0 }, { 48, 128, 4, 0 },
                                                 { 16, 32, 4, 0 } } };
    static const struct x16_layout q6_K = { 4, { { 208, 2, 2, 0 }, { 192, 16, 1, 0 }, { 0, 128, 4, 0 }, { 128, 64, 4, 0 } } };
    switch (type) {
    case SPC_TYPE_Q4_0: return &q4_0;
    case SPC_TYPE_Q4_1: return &q4_1;
    case SPC_TYPE_Q5_0: return &q5_0;
    case SPC_TYPE_Q5_1: return &q5_1;
    case SPC_TYPE_Q8_0: return &q8_0;
    case SPC_TYPE_Q4_K: return &q4_K;
    case SPC_TYPE_Q5_K: return &q5_K;
    case SPC_TYPE_Q6_K: return &q6_K;
    default: return NULL;
    }
}

/* q5_0/q5_1's high bits, re-ordered so that chunk c's are one shift away: byte j of a row's word
   holds in bit c the high bit of value 4c + j and in bit 4 + c that of value 16 + 4c + j. */
static uint32_t q5x_bits(uint32_t qh, bool back) {
    uint32_t o = 0;
    for (int j = 0; j < 4; j++)
        for (int c = 0; c < 4; c++) {
            const int from[2] = { 4 * c + j, 16 + 4 * c + j }, to[2] = { 8 * j + c, 8 * j + 4 + c };
            for (int h = 0; h < 2; h++) o |= ((qh >> (back ? to[h] : from[h])) & 1u) << (back ? from[h] : to[h]);
        }
    return o;
}

/* n chunks of cs bytes from sp to d (steps in bytes), with the field's transform; inlined with
   constant cs and xf so each case is a plain copy loop (repacking runs over every weight at load). */
static inline __attribute__((always_inline)) void move_chunks(uint8_t *d, const uint8_t *sp, int n, int cs, size_t dstep,
                                                              size_t sstep, int xf, bool back) {
    for (int j = 0; j < n; j++, d += dstep, sp += sstep) {
        memcpy(d, sp, (size_t)cs);
        if (xf == XF_FLIP) {
            for (int k = 0; k < cs; k++) d[k] ^= 0x80;
        } else if (xf == XF_Q5BITS) {
            uint32_t w;
            memcpy(&w, d, 4);
            w = q5x_bits(w, back);
            memcpy(d, &w, 4);
        }
    }
}

/* Moves row r's block between the file's layout (blk) and its place in an x16 group (grp). */
static void x16_move(const struct x16_layout *L, uint8_t *grp, uint8_t *blk, int r, bool to_group) {
    size_t at = 0;
    for (int i = 0; i < L->n; i++) {
        const struct x16_field *f = &L->f[i];
        const int cs = f->cs, n = f->len / cs;
        uint8_t *g = grp + at + (size_t)r * cs, *b = blk + f->blk;
        uint8_t *d = to_group ? g : b;
        const uint8_t *sp = to_group ? b : g;
        const size_t dstep = to_group ? (size_t)16 * cs : (size_t)cs, sstep = to_group ? (size_t)cs : (size_t)16 * cs;
        if (f->xf == XF_FLIP) move_chunks(d, sp, n, 4, dstep, sstep, XF_FLIP, !to_group);
        else if (f->xf == XF_Q5BITS) move_chunks(d, sp, n, 4, dstep, sstep, XF_Q5BITS, !to_group);
        else if (cs == 4) move_chunks(d, sp, n, 4, dstep, sstep, XF_NONE, false);
        else if (cs == 2) move_chunks(d, sp, n, 2, dstep, sstep, XF_NONE, false);
        else move_chunks(d, sp, n, 1, dstep, sstep, XF_NONE, false);
        at += (size_t)16 * f->len;
    }
}

void spc__repack_x16(uint32_t type, void *dst, const void *src, int64_t n) {
    const struct x16_layout *L = x16_layout(type);
    const struct spc_type_traits *t = spc__type_traits(type);
    const int64_t nb = n / t->blck;
    for (int64_t b = 0; b < nb; b++)
        for (int r = 0; r < 16; r++)
            x16_move(L, (uint8_t *)dst + (size_t)b * 16 * t->type_size,
                     (uint8_t *)(uintptr_t)src + ((size_t)r * nb + b) * t->type_size, r, true);
}

void spc__row_x16(uint32_t type, void *dst, const void *src, int r, int64_t n) {
    const struct x16_layout *L = x16_layout(type);
    const struct spc_type_traits *t = spc__type_traits(type);
    for (int64_t b = 0; b < n / t->blck; b++)
        x16_move(L, (uint8_t *)(uintptr_t)src + (size_t)b * 16 * t->type_size, (uint8_t *)dst + (size_t)b * t->type_size, r,
                 false);
}
