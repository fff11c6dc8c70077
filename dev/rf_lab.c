/*
 * rf_lab.c: lab for masw's re-forwarding (not part of `make all`; `make dev`).
 * Prefills a model's cache with L random tokens, evicts positions 512..1023 (as a windowed drafter
 * does), then times three passes, each rolled back after: the catch-up pass over 2 new tokens; the
 * same pass carrying nf evicted positions re-inserted at their own positions (600..600+nf-1, the way
 * a masw drafter brings a retrieved chunk back, spc__ctx_set_next_positions); and nf + 2 consecutive
 * new tokens. Prints medians of 12 rounds and the milliseconds each extra position adds.
 * Usage: build/dev/rf_lab MODEL.gguf [L] [nf] [threads] [logits_vocab]
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

enum { ROUNDS = 12, FIRST = 600 };

/* Seconds of one forward of tok[0..n) (at the given positions, or from position first on), the
   cache rolled back to len slots after; negative on failure. */
static double timed_pass(struct spc_ctx *c, const int32_t *pos, int first, const int32_t *tok, int n, int len) {
    double t0 = spc__now();
    if (pos) spc__ctx_set_next_positions(c, pos);
    else spc__ctx_set_next_pos(c, first);
    struct spc_batch b = { .n = n, .token = tok };
    int st = spc_forward(c, &b);
    double t = spc__now() - t0;
    return st || spc_kv_truncate(c, 0, len) ? -1 : t;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: rf_lab MODEL.gguf [L] [nf] [threads] [logits_vocab]\n");
        return 2;
    }
    int L = argc > 2 ? atoi(argv[2]) : 2200, nf = argc > 3 ? atoi(argv[3]) : 16;
    if (L < 1100 || nf < 1 || nf > 64) {
        fprintf(stderr, "rf_lab: L must be >= 1100 and nf 1..64\n");
        return 2;
    }
    struct spc_model *m;
    if (spc_model_load(&m, argv[1])) {
        fprintf(stderr, "rf_lab: cannot load %s\n", argv[1]);
        return 1;
    }
    struct spc_ctx_params cp = spc_ctx_default_params();
    cp.n_ctx = L + 256;
    cp.n_threads = argc > 4 ? atoi(argv[4]) : 2;
    cp.logits_vocab = argc > 5 ? atoi(argv[5]) : 32768;
    cp.kv_type = SPC_KV_F16;
    struct spc_ctx *c;
    if (spc_ctx_new(&c, m, &cp)) {
        fprintf(stderr, "rf_lab: cannot make a context\n");
        return 1;
    }
    int32_t *t = malloc(sizeof *t * (size_t)(L + 80)), pos[80], tok[80];
    srand(1);
    for (int i = 0; i < L + 80; i++) t[i] = rand() % 30000 + 100;
    if (spc__forward_tokens(c, t, L, cp.n_batch) < 0 || spc_kv_evict(c, 0, 512, 512)) return 1;
    int len = spc_kv_len(c, 0);
    double ta[ROUNDS], tb[ROUNDS], tc[ROUNDS];
    for (int i = 0; i < nf; i++) pos[i] = FIRST + i, tok[i] = t[FIRST + i];
    pos[nf] = L, pos[nf + 1] = L + 1, tok[nf] = t[L], tok[nf + 1] = t[L + 1];
    for (int r = 0; r < ROUNDS; r++) {
        ta[r] = timed_pass(c, NULL, L, t + L, 2, len);
        tb[r] = timed_pass(c, pos, 0, tok, nf + 2, len);
        tc[r] = timed_pass(c, NULL, L, t + L, nf + 2, len);
        if (ta[r] < 0 || tb[r] < 0 || tc[r] < 0) {
            fprintf(stderr, "rf_lab: a forward failed\n");
            return 1;
        }
    }
    qsort(ta, ROUNDS, sizeof *ta, cmp);
    qsort(tb, ROUNDS, sizeof *tb, cmp);
    qsort(tc, ROUNDS, sizeof *tc, cmp);
    double a = ta[ROUNDS / 2], b = tb[ROUNDS / 2], cc = tc[ROUNDS / 2];
    printf("cache of %d slots, %d threads: 2 new tokens %.2f ms | %d re-forwarded + 2: %.2f ms (+%.2f ms a position) | "
           "%d new tokens: %.2f ms (+%.2f ms a position)\n", len, cp.n_threads, a * 1e3, nf, b * 1e3, (b - a) * 1e3 / nf,
           nf + 2, cc * 1e3, (cc - a) * 1e3 / nf);
    free(t);
    spc_ctx_free(c);
    spc_model_free(m);
    return 0;
}
