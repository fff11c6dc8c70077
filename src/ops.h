/*
 * ops.h: the inner loops of the forward pass besides the matmul: SiLU-gate, and the attention
 * dot products and weighted sums over an f16 or f32 KV cache. Each has a scalar version (ops.c)
 * and SIMD versions (simd/ops_*.c); spc__ops() returns the set chosen once for this CPU. A set is
 * used for every position, so bit-identity across batch sizes holds whichever set runs.
 * Depends on: base.
 */
#ifndef SPC_OPS_H
#define SPC_OPS_H

#include "base.h"

struct spc_ops {
    void (*silu_mul)(float *g, const float *u, size_t n);            /* g = silu(g) * u */
    float (*exp_sum)(float *x, int n, float max);                    /* x = exp(x - max); returns the sum */
    /* out = x / rms(x) * w, the sum of squares in double */
    void (*rmsnorm)(float *out, const float *x, const float *w, int n, float eps);
    /* (a, b) = (a cos - b sin, a sin + b cos) elementwise: the NEOX RoPE rotation of one head */
    void (*rotate)(float *a, float *b, const float *cos, const float *sin, int n);
    float (*dot_f16)(const float *q, const uint16_t *k, int n);      /* sum q[i] * half(k[i]) */
    float (*dot_f32)(const float *q, const float *k, int n);
    void (*axpy_f16)(float *out, float a, const uint16_t *v, int n); /* out += a * half(v) */
    void (*axpy_f32)(float *out, float a, const float *v, int n);
    /* Attention over keys for the nq heads that share a KV head (query j at q + j * hd; key s at
     * kv + keys[s] * stride bytes): sc[j * ss + s] = dot(q_j, key s), and out_j (out + j * hd) +=
     * sum over s in order of p[j * ss + s] * value s. Per query the arithmetic is exactly that of
     * dot_f16 / axpy_f16 (so results do not depend on nq); the key and value rows are converted
     * once for all nq. */
    void (*att_dot_f16)(const float *q, int nq, int hd, const uint8_t *kv, size_t stride, const int32_t *keys, int nk,
                        float *sc, size_t ss);
    void (*att_axpy_f16)(float *out, int nq, int hd, const float *p, size_t ss, const uint8_t *kv, size_t stride,
                         const int32_t *keys, int nk);
    /* x[i] *= scale; returns the largest x[i] */
    float (*scale_max)(float *x, int n, float scale);
    /* y[i] = the float value of half(x[i] * a), rounded to nearest even like spc__f32_to_f16 */
    void (*round_f16)(float *y, const float *x, int n, float a);
    void (*to_f16)(uint16_t *y, const float *x, int n);              /* y[i] = half(x[i]) */
    /* activation quantizers by partner type (q8_0, q8_1, q8_K): the reference's bits, faster */
    void (*quantize_q8_0)(const float *x, void *y, int64_t n);
    void (*quantize_q8_1)(const float *x, void *y, int64_t n);
    void (*quantize_q8_K)(const float *x, void *y, int64_t n);
    void (*quantize_q8_1i)(const float *x, void *y, int64_t n);    /* q8_1 with the integer sum (quant.h) */
};

const struct spc_ops *spc__ops(void);

void spc__silu_mul_avx2(float *g, const float *u, size_t n);
float spc__exp_sum_avx2(float *x, int n, float max);
void spc__rmsnorm_avx2(float *out, const float *x, const float *w, int n, float eps);
void spc__rotate_avx2(float *a, float *b, const float *cos, const float *sin, int n);
void spc__quantize_q8_0_avx2(const float *x, void *y, int64_t n);
void spc__quantize_q8_1_avx2(const float *x, void *y, int64_t n);
void spc__quantize_q8_1i_avx2(const float *x, void *y, int64_t n);
void spc__quantize_q8_K_avx2(const float *x, void *y, int64_t n);
float spc__dot_f32_f16_avx2(const float *q, const uint16_t *k, int n);
float spc__dot_f32_f32_avx2(const float *q, const float *k, int n);
void spc__axpy_f16_avx2(float *out, float a, const uint16_t *v, int n);
void spc__axpy_f32_avx2(float *out, float a, const float *v, int n);
float spc__scale_max_avx2(float *x, int n, float scale);
void spc__round_f16_avx2(float *y, const float *x, int n, float a);
void spc__to_f16_avx2(uint16_t *y, const float *x, int n);
void spc__att_dot_f16_avx2(const float *q, int nq, int hd, const uint8_t *kv, size_t stride, const int32_t *keys, int nk,
                           float *sc, size_t ss);
void spc__att_axpy_f16_avx2(float *out, int nq, int hd, const float *p, size_t ss, const uint8_t *kv, size_t stride,
                            const int32_t *keys, int nk);
void spc__att_axpy_f16_avx512(float *out, int nq, int hd, const float *p, size_t ss, const uint8_t *kv, size_t stride,
                              const int32_t *keys, int nk);

#endif
