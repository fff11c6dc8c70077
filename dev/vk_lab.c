/*
 * vk_lab.c: lab for the verification cost v(k) at long contexts (not part of `make all`; `make dev`).
 * Loads a saved cache (a prompt cache of `specula bench --long --prompt-cache`, spc_kv_load) or
 * prefills L random tokens, then times forwards of 1..kmax+1 positions after it, each rolled back,
 * the k's interleaved within each round; prints medians and v(k) = ms(k) / ms(0). With ONLY=k in
 * the environment it times that k alone (for perf record).
 * Usage: build/dev/vk_lab MODEL.gguf (CACHE.kv | L) [kmax] [rounds] [threads]
 */
#include <stdio.h>
#include <stdlib.h>

#include "model.h"
#include "spec.h"
#include "specula.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { KMAX = 16 };

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: vk_lab MODEL.gguf (CACHE.kv | L) [kmax] [rounds] [threads]\n");
        return 2;
    }
    char *e;
    long L = strtol(argv[2], &e, 10);
    bool from_file = *e != 0;
    int kmax = argc > 3 ? atoi(argv[3]) : 8, rounds = argc > 4 ? atoi(argv[4]) : 9;
    int only = getenv("ONLY") ? atoi(getenv("ONLY")) : -1;
    if (kmax < 0 || kmax > KMAX || rounds < 1 || rounds > 1000 || (!from_file && (L < 1 || L > 1 << 20))) {
        fprintf(stderr, "vk_lab: kmax 0..%d, rounds 1..1000, L 1..2^20\n", KMAX);
        return 2;
    }
    struct spc_model *m;
    if (spc_model_load(&m, argv[1])) {
        fprintf(stderr, "vk_lab: cannot load %s\n", argv[1]);
        return 1;
    }
    struct spc_ctx_params cp = spc_ctx_default_params();
    cp.n_ctx = spc_model_n_ctx_train(m);
    if (!from_file && cp.n_ctx > L + 256) cp.n_ctx = (int)L + 256;
    cp.n_threads = argc > 5 ? atoi(argv[5]) : 2;
    cp.kv_type = SPC_KV_F16;
    struct spc_ctx *c;
    if (spc_ctx_new(&c, m, &cp)) {
        fprintf(stderr, "vk_lab: cannot make a context: %s\n", spc_errmsg());
        return 1;
    }
    int32_t tok[KMAX + 1];
    srand(1);
    for (int i = 0; i <= KMAX; i++) tok[i] = rand() % 30000 + 100;
    if (from_file) {
        if (spc_kv_load(c, 0, argv[2])) {
            fprintf(stderr, "vk_lab: cannot load the cache %s: %s\n", argv[2], spc_errmsg());
            return 1;
        }
    } else {
        int32_t *t = malloc(sizeof *t * (size_t)L);
        if (!t) return 1;
        for (long i = 0; i < L; i++) t[i] = rand() % 30000 + 100;
        if (spc__forward_tokens(c, t, (int)L, cp.n_batch) < 0) return 1;
        free(t);
    }
    int len = spc_kv_len(c, 0);
    if (len + KMAX + 1 > cp.n_ctx) {
        fprintf(stderr, "vk_lab: the cache of %d positions leaves no room in a context of %d\n", len, cp.n_ctx);
        return 1;
    }
    static double ms[KMAX + 1][1000];
    uint8_t all[KMAX + 1];
    for (int i = 0; i <= KMAX; i++) all[i] = 1;
    for (int r = -1; r < rounds; r++)           /* round -1 warms up */
        for (int k = 0; k <= kmax; k++) {
            if (only >= 0 && k != only) continue;
            struct spc_batch b = { .n = k + 1, .token = tok, .logits = all };
            double t0 = spc__now();
            if (spc_forward(c, &b)) {
                fprintf(stderr, "vk_lab: a forward failed: %s\n", spc_errmsg());
                return 1;
            }
            if (r >= 0) ms[k][r] = (spc__now() - t0) * 1e3;
            if (spc_kv_truncate(c, 0, len)) return 1;
        }
    printf("cache of %d positions, %d threads, medians of %d rounds\n| k | positions | ms | v(k) |\n|---:|---:|---:|---:|\n",
           len, cp.n_threads, rounds);
    double m0 = 0;
    for (int k = 0; k <= kmax; k++) {
        if (only >= 0 && k != only) continue;
        qsort(ms[k], (size_t)rounds, sizeof ms[k][0], cmp);
        double med = ms[k][rounds / 2];
        if (k == 0 || m0 == 0) m0 = med;
        printf("| %d | %d | %.2f | %.3f |\n", k, k + 1, med, med / m0);
    }
    spc_ctx_free(c);
    spc_model_free(m);
    return 0;
}
