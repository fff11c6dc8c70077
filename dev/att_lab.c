/*
 * att_lab.c: kernel lab for the attention inner loops (not part of `make all`; `make dev`).
 * Times spc_ops att_dot_f16 + att_axpy_f16 for one KV head: nq query rows against nk keys of an f16
 * cache laid out like the forward pass's (rows of n_kv heads x hd), single-threaded, and prints ns
 * per (query, key) pair for each part. With n_layers > 1 each timed pass walks that many separate
 * caches in turn, as a decoding step does, so the rows come from memory rather than from cache;
 * n_kv = 1 lays one head's rows back to back (the forward pass's layout), n_kv > 1 interleaves the
 * heads in each row (the layout before it). HUGE=1 in the environment asks for huge pages.
 * Usage: build/dev/att_lab [nk] [nq] [hd] [n_kv] [n_layers]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
    int nl = argc > 5 ? atoi(argv[5]) : 1;
    const struct spc_ops *ops = spc__ops();
    size_t stride = (size_t)nkv * hd * 2, ss = (size_t)nk + 64;
    uint16_t *kv = aligned_alloc(2u << 20, (stride * nk * nl + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1));
    if (getenv("HUGE")) madvise(kv, stride * nk * nl, MADV_HUGEPAGE);
    float *q = malloc(sizeof *q * (size_t)nq * hd), *sc = malloc(sizeof *sc * ss * nq);
    float *out = malloc(sizeof *out * (size_t)nq * hd);
    int32_t *keys = malloc(sizeof *keys * (size_t)nk);
    unsigned s = 1;
    for (size_t i = 0; i < stride / 2 * nk * nl; i++) kv[i] = spc__f32_to_f16((float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f);
    for (int i = 0; i < nq * hd; i++) q[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    for (int i = 0; i < nk; i++) keys[i] = i;
    double td = 1e9, ta = 1e9;
    for (int r = 0; r < 7; r++) {
        double d = 0, a = 0;
        for (int l = 0; l < nl; l++) {
            const uint8_t *base = (const uint8_t *)kv + stride * nk * l;
            double t0 = now();
            ops->att_dot_f16(q, nq, hd, base, stride, keys, nk, sc, ss);
            double t1 = now();
            for (int j = 0; j < nq; j++)
                for (int k = 0; k < nk; k++) sc[(size_t)j * ss + k] = 1.0f / (float)nk;
            memset(out, 0, sizeof *out * (size_t)nq * hd);
            /* the values: another layer's rows, as the V cache is apart from the K cache */
            const uint8_t *vbase = (const uint8_t *)kv + stride * nk * ((l + nl / 2) % nl);
            double t2 = now();
            ops->att_axpy_f16(out, nq, hd, sc, ss, vbase, stride, keys, nk);
            double t3 = now();
            d += t1 - t0;
            a += t3 - t2;
        }
        if (d / nl < td) td = d / nl;
        if (a / nl < ta) ta = a / nl;
    }
    double pairs = (double)nq * nk;
    printf("nk=%d nq=%d hd=%d: dot %.2f ns/pair (%.1f GFLOP/s), axpy %.2f ns/pair (%.1f GFLOP/s)\n", nk, nq, hd,
           td * 1e9 / pairs, 2 * pairs * hd / td * 1e-9, ta * 1e9 / pairs, 2 * pairs * hd / ta * 1e-9);
    return 0;
}
