/*
 * ops.c: scalar versions of the forward pass's inner loops and the choice of the set to use (see
 * ops.h). Depends on: base.
 */
#include "ops.h"

#include "quant.h"

#include <math.h>
#include <stdlib.h>
#include <pthread.h>

static void silu_mul_ref(float *g, const float *u, size_t n) {
    for (size_t i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static float exp_sum_ref(float *x, int n, float max) {
    double sum = 0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    return (float)sum;
}

static void rmsnorm_ref(float *out, const float *x, const float *w, int n, float eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float scale = 1.0f / sqrtf((float)(ss / n) + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

static void rotate_ref(float *a, float *b, const float *cos, const float *sin, int n) {
    for (int i = 0; i < n; i++) {
        float x0 = a[i], x1 = b[i];
        a[i] = x0 * cos[i] - x1 * sin[i];
        b[i] = x0 * sin[i] + x1 * cos[i];
    }
}

static float dot_f16_ref(const float *q, const uint16_t *k, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) s += q[i] * spc__f16_to_f32(k[i]);
    return s;
}

static float dot_f32_ref(const float *q, const float *k, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) s += q[i] * k[i];
    return s;
}

static void axpy_f16_ref(float *out, float a, const uint16_t *v, int n) {
    for (int i = 0; i < n; i++) out[i] += a * spc__f16_to_f32(v[i]);
}

static void axpy_f32_ref(float *out, float a, const float *v, int n) {
    for (int i = 0; i < n; i++) out[i] += a * v[i];
}

static void att_dot_f16_ref(const float *q, int nq, int hd, const uint8_t *kv, size_t stride, const int32_t *keys,
                            int nk, float *sc, size_t ss) {
    for (int s = 0; s < nk; s++)
        for (int j = 0; j < nq; j++)
            sc[(size_t)j * ss + s] = dot_f16_ref(q + (size_t)j * hd, (const uint16_t *)(kv + (size_t)keys[s] * stride), hd);
}

static void att_axpy_f16_ref(float *out, int nq, int hd, const float *p, size_t ss, const uint8_t *kv, size_t stride,
                             const int32_t *keys, int nk) {
    for (int s = 0; s < nk; s++)
        for (int j = 0; j < nq; j++)
            axpy_f16_ref(out + (size_t)j * hd, p[(size_t)j * ss + s], (const uint16_t *)(kv + (size_t)keys[s] * stride), hd);
}

static float scale_max_ref(float *x, int n, float scale) {
    float max = -INFINITY;
    for (int i = 0; i < n; i++) {
        x[i] *= scale;
        if (x[i] > max) max = x[i];
    }
    return max;
}

static void round_f16_ref(float *y, const float *x, int n, float a) {
    for (int i = 0; i < n; i++) y[i] = spc__f16_to_f32(spc__f32_to_f16(x[i] * a));
}

static void to_f16_ref(uint16_t *y, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] = spc__f32_to_f16(x[i]);
}

static struct spc_ops g_ops = { silu_mul_ref, exp_sum_ref, rmsnorm_ref, rotate_ref, dot_f16_ref, dot_f32_ref, axpy_f16_ref,
                                axpy_f32_ref, att_dot_f16_ref, att_axpy_f16_ref, scale_max_ref, round_f16_ref, to_f16_ref,
                                spc__quantize_q8_0, spc__quantize_q8_1,
                                spc__quantize_q8_K, spc__quantize_q8_1i };
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void choose(void) {
#if defined(__x86_64__)
    const struct spc_cpu *cpu = spc__cpu();
    if (cpu->avx2 && cpu->fma && cpu->f16c)
        g_ops = (struct spc_ops){ spc__silu_mul_avx2, spc__exp_sum_avx2, spc__rmsnorm_avx2, spc__rotate_avx2,
                                  spc__dot_f32_f16_avx2, spc__dot_f32_f32_avx2,
                                  spc__axpy_f16_avx2, spc__axpy_f32_avx2, spc__att_dot_f16_avx2,
                                  spc__att_axpy_f16_avx2, spc__scale_max_avx2, spc__round_f16_avx2,
                                  spc__to_f16_avx2, spc__quantize_q8_0_avx2,
                                  spc__quantize_q8_1_avx2, spc__quantize_q8_K_avx2, spc__quantize_q8_1i_avx2 };
    if (cpu->avx2 && cpu->fma && cpu->f16c && cpu->avx512f && cpu->avx512vl && !getenv("SPECULA_NO_AVX512_ATT")) {
        g_ops.att_axpy_f16 = spc__att_axpy_f16_avx512;
    }
#endif
}

const struct spc_ops *spc__ops(void) {
    pthread_once(&g_once, choose);
    return &g_ops;
}
