/*
 * x16_lab.c: lab for the interleaved (x16) kernels (not part of `make all`; `make dev`).
 * For each type with an x16 kernel on this CPU: 128 rows of n values (in cache: the kernels'
 * compute, not memory), single-threaded, the row kernel on the file's layout against the x16
 * kernel on the same rows interleaved, for np = 1..8 activation rows; best of 40 rounds. Prints ns
 * per row and activation row, and the ratio (row / x16).
 * Usage: build/dev/x16_lab [n]
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

enum { ROWS = 128, ROUNDS = 40, ITERS = 4 };

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1536;
    if (n <= 0 || n % 32) {
        fprintf(stderr, "x16_lab: n must be a positive multiple of 32 (of 256 for the K-quants)\n");
        return 2;
    }
    spc__init_tables();
    const uint32_t types[] = { SPC_TYPE_Q4_0, SPC_TYPE_Q4_1, SPC_TYPE_Q5_0, SPC_TYPE_Q5_1, SPC_TYPE_Q8_0,
                               SPC_TYPE_Q4_K, SPC_TYPE_Q5_K, SPC_TYPE_Q6_K };
    float *xf = malloc(sizeof *xf * (size_t)n), *out = malloc(sizeof *out * ROWS * 8);
    unsigned s = 1;
    printf("kernels: %s, n=%d, %d rows in cache, 1 thread: ns per row and activation row, row kernel / x16 kernel\n",
           spc__kernel_isa(), n, ROWS);
    printf("| type | np=1 | np=2 | np=3 | np=4 | np=5 | np=6 | np=7 | np=8 |\n|---|---|---|---|---|---|---|---|---|\n");
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        spc_dot_fn d = spc__dot(types[k]), d16 = spc__dot_x16(types[k]);
        const struct spc_type_traits *tr = spc__type_traits(types[k]);
        if (!d16 || n % tr->blck) continue;
        uint32_t vd = tr->vec_dot_type, vd16 = spc__x16_vec_dot_type(types[k]);
        size_t rb = spc__row_size(types[k], n), ys = spc__row_size(vd, n), ys16 = spc__row_size(vd16, n);
        uint8_t *w = malloc(rb * ROWS), *w16 = malloc(rb * ROWS), *y = malloc(ys * 8), *y16 = malloc(ys16 * 8);
        for (int r = 0; r < ROWS; r++) {
            for (int i = 0; i < n; i++) xf[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
            tr->from_float(xf, w + rb * (size_t)r, n);
        }
        for (int r = 0; r < ROWS; r += 16) spc__repack_x16(types[k], w16 + rb * (size_t)r, w + rb * (size_t)r, n);
        for (int p = 0; p < 8; p++) {
            for (int i = 0; i < n; i++) xf[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
            spc__type_traits(vd)->from_float(xf, y + ys * (size_t)p, n);
            spc__x16_quantizer(types[k])(xf, y16 + ys16 * (size_t)p, n);
        }
        printf("| %s |", tr->name);
        for (int np = 1; np <= 8 && np <= spc__dot_maxp_x16(types[k]); np++) {
            double best = 1e9, best16 = 1e9;
            for (int rep = 0; rep < ROUNDS; rep++) {
                double t0 = now();
                for (int it = 0; it < ITERS; it++)
                    for (int r = 0; r < ROWS; r++) d(n, w + rb * (size_t)r, y, ys, np, out + r, ROWS);
                double t1 = now();
                for (int it = 0; it < ITERS; it++)
                    for (int r = 0; r < ROWS; r += 16) d16(n, w16 + rb * (size_t)r, y16, ys16, np, out + r, ROWS);
                double t2 = now();
                if (t1 - t0 < best) best = t1 - t0;
                if (t2 - t1 < best16) best16 = t2 - t1;
            }
            double per = 1e9 / ITERS / ROWS / np;
            printf(" %.1f / %.1f (%.2fx) |", best * per, best16 * per, best / best16);
        }
        printf("\n");
        free(w);
        free(w16);
        free(y);
        free(y16);
    }
    free(xf);
    free(out);
    return 0;
}
