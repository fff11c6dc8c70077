/*
 * kernels.c: picks, once, the fastest dot-product kernel per tensor type for this CPU. Until a
 * SIMD variant exists for a type (src/simd/), the scalar reference in quant.c is used.
 * Depends on: base, quant.
 */
#include "quant.h"

#include <pthread.h>

#include "base.h"

#if defined(__x86_64__)
void spc__dot_f32_avx2(int n, float *s, const void *x, const void *y);
void spc__dot_f16_avx2(int n, float *s, const void *x, const void *y);
void spc__dot_q4_0_avx2(int n, float *s, const void *x, const void *y);
void spc__dot_q4_1_avx2(int n, float *s, const void *x, const void *y);
void spc__dot_q5_0_avx2(int n, float *s, const void *x, const void *y);
void spc__dot_q8_0_avx2(int n, float *s, const void *x, const void *y);
void spc__dot_q4_K_avx2(int n, float *s, const void *x, const void *y);
void spc__dot_q5_K_avx2(int n, float *s, const void *x, const void *y);
void spc__dot_q6_K_avx2(int n, float *s, const void *x, const void *y);
#endif

static spc_vec_dot_fn g_dot[SPC_TYPE_COUNT];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void choose(void) {
    for (uint32_t t = 0; t < SPC_TYPE_COUNT; t++) {
        const struct spc_type_traits *tr = spc__type_traits(t);
        g_dot[t] = tr ? tr->vec_dot : NULL;
    }
#if defined(__x86_64__)
    const struct spc_cpu *cpu = spc__cpu();
    if (cpu->avx2 && cpu->fma && cpu->f16c) {
        g_dot[SPC_TYPE_F32] = spc__dot_f32_avx2;
        g_dot[SPC_TYPE_F16] = spc__dot_f16_avx2;
        g_dot[SPC_TYPE_Q4_0] = spc__dot_q4_0_avx2;
        g_dot[SPC_TYPE_Q4_1] = spc__dot_q4_1_avx2;
        g_dot[SPC_TYPE_Q5_0] = spc__dot_q5_0_avx2;
        g_dot[SPC_TYPE_Q8_0] = spc__dot_q8_0_avx2;
        g_dot[SPC_TYPE_Q4_K] = spc__dot_q4_K_avx2;
        g_dot[SPC_TYPE_Q5_K] = spc__dot_q5_K_avx2;
        g_dot[SPC_TYPE_Q6_K] = spc__dot_q6_K_avx2;
    }
#endif
}

spc_vec_dot_fn spc__vec_dot(uint32_t type) {
    pthread_once(&g_once, choose);
    return type < SPC_TYPE_COUNT ? g_dot[type] : NULL;
}
