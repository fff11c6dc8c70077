/*
 * att_lab.c: kernel lab for the attention inner loops (not part of `make all`; `make dev`).
 * Times spc_ops att_dot_f16 + att_axpy_f16 for one KV head: nq query rows against nk keys of an f16
 * cache laid out like the forward pass's (rows of n_kv heads x hd), single-threaded, and prints ns
 * per (query, key) pair for each part.
 * Usage: build/dev/att_lab [nk] [nq] [hd] [n_kv]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops.h"
#include "quant.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int nk = argc > 1 ? atoi(argv[1]) : 2048, nq = argc > 2 ? atoi(argv[2]) : 54;
    int hd = argc > 3 ? atoi(argv[3]) : 128, nkv = argc > 4 ? atoi(argv[4]) : 2;
    const struct spc_ops *ops = spc__ops();
    size_t stride = (size_t)nkv * hd * 2, ss = (size_t)nk + 64;
    uint16_t *kv = malloc(stride * nk);
    float *q = malloc(sizeof *q * (size_t)nq * hd), *sc = malloc(sizeof *sc * ss * nq);
    float *out = malloc(sizeof *out * (size_t)nq * hd);
    int32_t *keys = malloc(sizeof *keys * (size_t)nk);
    unsigned s = 1;
    for (size_t i = 0; i < stride / 2 * nk; i++) kv[i] = spc__f32_to_f16((float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f);
    for (int i = 0; i < nq * hd; i++) q[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    for (int i = 0; i < nk; i++) keys[i] = i;
    double td = 1e9, ta = 1e9;
    for (int r = 0; r < 7; r++) {
        double t0 = now();
        ops->att_dot_f16(q, nq, hd, (const uint8_t *)kv, stride, keys, nk, sc, ss);
        double t1 = now();
        for (int j = 0; j < nq; j++)
            for (int k = 0; k < nk; k++) sc[(size_t)j * ss + k] = 1.0f / (float)nk;
        memset(out, 0, sizeof *out * (size_t)nq * hd);
        double t2 = now();
        ops->att_axpy_f16(out, nq, hd, sc, ss, (const uint8_t *)kv, stride, keys, nk);
        double t3 = now();
        if (t1 - t0 < td) td = t1 - t0;
        if (t3 - t2 < ta) ta = t3 - t2;
    }
    double pairs = (double)nq * nk;
    printf("nk=%d nq=%d hd=%d: dot %.2f ns/pair (%.1f GFLOP/s), axpy %.2f ns/pair (%.1f GFLOP/s)\n", nk, nq, hd,
           td * 1e9 / pairs, 2 * pairs * hd / td * 1e-9, ta * 1e9 / pairs, 2 * pairs * hd / ta * 1e-9);
    return 0;
}
