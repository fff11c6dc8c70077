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
    /* activation quantizers by partner type (q8_0, q8_1, q8_K): the reference's bits, faster */
    void (*quantize_q8_0)(const float *x, void *y, int64_t n);
    void (*quantize_q8_1)(const float *x, void *y, int64_t n);
    void (*quantize_q8_K)(const float *x, void *y, int64_t n);
};

const struct spc_ops *spc__ops(void);

void spc__silu_mul_avx2(float *g, const float *u, size_t n);
float spc__exp_sum_avx2(float *x, int n, float max);
void spc__rmsnorm_avx2(float *out, const float *x, const float *w, int n, float eps);
void spc__rotate_avx2(float *a, float *b, const float *cos, const float *sin, int n);
void spc__quantize_q8_0_avx2(const float *x, void *y, int64_t n);
void spc__quantize_q8_1_avx2(const float *x, void *y, int64_t n);
void spc__quantize_q8_K_avx2(const float *x, void *y, int64_t n);
float spc__dot_f32_f16_avx2(const float *q, const uint16_t *k, int n);
float spc__dot_f32_f32_avx2(const float *q, const float *k, int n);
void spc__axpy_f16_avx2(float *out, float a, const uint16_t *v, int n);
void spc__axpy_f32_avx2(float *out, float a, const float *v, int n);

#endif
