/*
 * ops.c: scalar versions of the forward pass's inner loops and the choice of the set to use (see
 * ops.h). Depends on: base.
 */
#include "ops.h"

#include "quant.h"

#include <math.h>
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

static struct spc_ops g_ops = { silu_mul_ref, exp_sum_ref, rmsnorm_ref, rotate_ref, dot_f16_ref, dot_f32_ref, axpy_f16_ref, axpy_f32_ref,
                                spc__quantize_q8_0, spc__quantize_q8_1, spc__quantize_q8_K };
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void choose(void) {
#if defined(__x86_64__)
    const struct spc_cpu *cpu = spc__cpu();
    if (cpu->avx2 && cpu->fma && cpu->f16c)
        g_ops = (struct spc_ops){ spc__silu_mul_avx2, spc__exp_sum_avx2, spc__rmsnorm_avx2, spc__rotate_avx2,
                                  spc__dot_f32_f16_avx2, spc__dot_f32_f32_avx2,
                                  spc__axpy_f16_avx2, spc__axpy_f32_avx2, spc__quantize_q8_0_avx2,
                                  spc__quantize_q8_1_avx2, spc__quantize_q8_K_avx2 };
#endif
}

const struct spc_ops *spc__ops(void) {
    pthread_once(&g_once, choose);
    return &g_ops;
}
