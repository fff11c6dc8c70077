/*
 * kernels.c: picks, once, the fastest dot-product kernel per tensor type for this CPU. Until a
 * SIMD variant exists for a type (src/simd/), the scalar reference in quant.c is used.
 * Depends on: base, quant.
 */
#include "quant.h"

#include <pthread.h>

static spc_vec_dot_fn g_dot[SPC_TYPE_COUNT];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void choose(void) {
    for (uint32_t t = 0; t < SPC_TYPE_COUNT; t++) {
        const struct spc_type_traits *tr = spc__type_traits(t);
        g_dot[t] = tr ? tr->vec_dot : NULL;
    }
}

spc_vec_dot_fn spc__vec_dot(uint32_t type) {
    pthread_once(&g_once, choose);
    return type < SPC_TYPE_COUNT ? g_dot[type] : NULL;
}
