/*
 * mm_lab.c: kernel lab for the threaded matmul (not part of `make all`; `make dev`).
 * Times spc__matmul over q4_K weights for np = 1..16 positions on the pool, twice: "cold" cycles
 * through more weight matrices than the caches hold (as a forward pass does), "hot" repeats one
 * matrix small enough to stay in L2. cold - hot shows how much memory time the kernel fails to
 * hide behind its compute.
 * Usage: build/dev/mm_lab [threads] [type: q4_K|q6_K|q8_0|q5_0] [x16: interleaved rows, where a kernel exists]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "matmul.h"
#include "quant.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int nth = argc > 1 ? atoi(argv[1]) : 2;
    uint32_t type = SPC_TYPE_Q4_K;
    if (argc > 2) {
        for (uint32_t t = 0; t < 40; t++) {
            const struct spc_type_traits *tr = spc__type_traits(t);
            if (tr && tr->name && !strcmp(tr->name, argv[2])) type = t;
        }
    }
    bool x16 = argc > 3 && !strcmp(argv[3], "x16") && spc__dot_x16(type);
    spc__init_tables();
    struct spc_pool *pool;
    if (spc__pool_new(&pool, nth)) return 1;
    const int n = 1536, rows = 8960, nmat = 24, hot_rows = 128;
    size_t rb = spc__row_size(type, n);
    uint8_t *w = malloc(rb * rows * (size_t)nmat);
    float *xf = malloc(sizeof *xf * n);
    unsigned s = 1;
    for (size_t r = 0; r < (size_t)rows * nmat; r++) {
        for (int i = 0; i < n; i++) xf[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
        spc__type_traits(type)->from_float(xf, w + rb * r, n);
    }
    uint8_t *w16 = NULL;
    if (x16) {                          /* a second, interleaved copy, timed beside the first */
        w16 = malloc(rb * rows * (size_t)nmat);
        for (size_t r = 0; r < (size_t)rows * nmat; r += 16) spc__repack_x16(type, w16 + rb * r, w + rb * r, n);
    }
    float *x = malloc(sizeof *x * n * 16), *y = malloc(sizeof *y * (size_t)rows * 16);
    for (int i = 0; i < n * 16; i++) x[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    void *scratch = malloc(spc__matmul_scratch(n, 16));
    printf("%s, %d threads, %d x %d, %s: ms per matrix (cold: %d matrices, %.0f MB; hot: %d rows repeated)%s\n",
           spc__type_traits(type)->name, nth, rows, n, spc__kernel_isa(), nmat, rb * rows * (double)nmat / 1e6, hot_rows,
           x16 ? "; x16: the same weights interleaved in groups of 16 rows, timed alternately" : "");
    printf("| np | cold ms | GB/s | hot ms (scaled) | cold/hot | cold v(np) |%s\n|---|---|---|---|---|---|%s\n",
           x16 ? " x16 cold ms | x16 hot ms | x16 v(np) | rows/x16 |" : "", x16 ? "---|---|---|---|" : "");
    double c1[2] = { 0, 0 };
    for (int np = 1; np <= 16; np++) {
        double cold[2] = { 1e9, 1e9 }, hot[2] = { 1e9, 1e9 };
        for (int rep = 0; rep < 3; rep++)
            for (int v = 0; v < (x16 ? 2 : 1); v++) {
                uint8_t *wv = v ? w16 : w;
                double t0 = now();
                for (int m = 0; m < nmat; m++) {
                    struct spc_w wm = { 0 };
                    wm.type = type; wm.ne0 = n; wm.ne1 = rows; wm.row_bytes = rb; wm.data = wv + rb * rows * (size_t)m; wm.x16 = v;
                    spc__matmul(pool, &wm, x, np, y, scratch);
                }
                double dt = (now() - t0) / nmat;
                if (dt < cold[v]) cold[v] = dt;
                t0 = now();
                int reps = rows / hot_rows * 4;
                for (int m = 0; m < reps; m++) {
                    struct spc_w wm = { 0 };
                    wm.type = type; wm.ne0 = n; wm.ne1 = hot_rows; wm.row_bytes = rb; wm.data = wv; wm.x16 = v;
                    spc__matmul(pool, &wm, x, np, y, scratch);
                }
                dt = (now() - t0) / 4;
                if (dt < hot[v]) hot[v] = dt;
            }
        if (np == 1) c1[0] = cold[0], c1[1] = cold[1];
        printf("| %d | %.3f | %.1f | %.3f | %.2f | %.2f |", np, cold[0] * 1e3, rb * rows / cold[0] / 1e9, hot[0] * 1e3,
               cold[0] / hot[0], cold[0] / c1[0]);
        if (x16) printf(" %.3f | %.3f | %.2f | %.2f |", cold[1] * 1e3, hot[1] * 1e3, cold[1] / c1[1], cold[0] / cold[1]);
        printf("\n");
    }
    spc__pool_free(pool);
    return 0;
}
