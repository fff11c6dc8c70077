/*
 * dot_lab.c: kernel lab for the matmul dot products (not part of `make all`; `make dev`).
 * For each weight type: checks the chosen kernel against the scalar reference on random data, then
 * times one weight row of n values against np = 1..8 activation rows, over a weight matrix large
 * enough to leave the caches (like a real layer), single-threaded. Prints ns per row, the weight
 * bytes streamed per second, and the cost of np rows relative to one.
 * Usage: build/dev/dot_lab [n] [rows]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernels.h"
#include "quant.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1536, rows = argc > 2 ? atoi(argv[2]) : 8960;
    spc__init_tables();
    const uint32_t types[] = { SPC_TYPE_Q4_0, SPC_TYPE_Q4_1, SPC_TYPE_Q5_0, SPC_TYPE_Q8_0, SPC_TYPE_Q4_K,
                               SPC_TYPE_Q5_K, SPC_TYPE_Q6_K, SPC_TYPE_F16 };
    float *xf = malloc(sizeof *xf * (size_t)n), *yf = malloc(sizeof *yf * (size_t)n * SPC_MAXP);
    unsigned s = 1;
    for (int i = 0; i < n * SPC_MAXP; i++) yf[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    printf("kernels: %s, n=%d, rows=%d\n", spc__kernel_isa(), n, rows);
    printf("| type | ns/row np=1 | GB/s np=1 | np=2 | np=4 | np=8 | np=16 (cost vs np=1; - above the kernel's max) |\n"
           "|---|---|---|---|---|---|---|\n");
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        const struct spc_type_traits *tr = spc__type_traits(types[k]), *vt = spc__type_traits(tr->vec_dot_type);
        size_t rb = spc__row_size(types[k], n), yb = spc__row_size(tr->vec_dot_type, n);
        uint8_t *w = malloc(rb * (size_t)rows), *qy = malloc(yb * SPC_MAXP);
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < n; i++) xf[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
            tr->from_float(xf, w + rb * (size_t)r, n);
        }
        for (int p = 0; p < SPC_MAXP; p++) vt->from_float(yf + (size_t)p * n, qy + yb * (size_t)p, n);
        spc_dot_fn dot = spc__dot(types[k]);
        float out[SPC_MAXP], ref;
        dot(n, w, qy, yb, 1, out, 1);
        tr->vec_dot(n, &ref, w, qy);
        double diff = (double)out[0] - ref;
        double t[SPC_MAXP + 1] = { 0 };
        for (int np = 1; np <= spc__dot_maxp(types[k]); np *= 2) {
            double best = 1e9;
            for (int rep = 0; rep < 5; rep++) {
                double t0 = now();
                for (int r = 0; r < rows; r++) dot(n, w + rb * (size_t)r, qy, yb, np, out, 1);
                double dt = now() - t0;
                if (dt < best) best = dt;
            }
            t[np] = best / rows;
        }
        printf("| %s | %.1f | %.1f | %.2f | %.2f | %.2f | ", tr->name, t[1] * 1e9, rb / t[1] / 1e9, t[2] / t[1], t[4] / t[1],
               t[8] / t[1]);
        if (t[16] > 0) printf("%.2f |", t[16] / t[1]);
        else printf("- |");
        printf("  (kernel - reference on row 0: %.2g)\n", diff);
        free(w);
        free(qy);
    }
    free(xf);
    free(yf);
    return 0;
}
