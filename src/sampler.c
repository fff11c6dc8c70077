/*
 * sampler.c: one sampling pipeline that returns the final distribution, so speculative
 * verification can use the same p the sampler draws from. Order as in llama.cpp's default chain:
 * top-k, top-p and min-p on the untempered softmax, then temperature on what survives.
 * Tokens whose probability relative to the best is below e^-46 (after temperature) are dropped
 * before sorting: below float resolution, so the distribution is unchanged, and sampling stays
 * cheap with vocabularies of 150k tokens. Nothing is allocated after spc_sampler_new.
 * Depends on: base.
 */
#include <math.h>

#include "base.h"

struct spc_sampler {
    struct spc_sampler_params p;
    int n_vocab;
    int32_t *ids;
    float *probs;
    struct spc_rng rng;
};

struct spc_sampler_params spc_sampler_default_params(void) {
    return (struct spc_sampler_params){ .temp = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f, .seed = 42 };
}

int spc_sampler_new(struct spc_sampler **out, const struct spc_sampler_params *p, int n_vocab) {
    if (!out || !p || n_vocab < 1) return spc__err(SPC_ERR_INVALID, "sampler: bad arguments");
    if (!(p->temp == p->temp) || !(p->top_p == p->top_p) || !(p->min_p == p->min_p) || p->min_p > 1)
        return spc__err(SPC_ERR_INVALID, "sampler: invalid parameters");
    struct spc_sampler *s = spc__calloc(1, sizeof *s);
    if (!s) return spc__err(SPC_ERR_NOMEM, "sampler: out of memory");
    s->p = *p;
    s->n_vocab = n_vocab;
    s->ids = spc__calloc((size_t)n_vocab, sizeof *s->ids);
    s->probs = spc__calloc((size_t)n_vocab, sizeof *s->probs);
    if (!s->ids || !s->probs) {
        spc_sampler_free(s);
        return spc__err(SPC_ERR_NOMEM, "sampler: out of memory");
    }
    spc__rng_seed(&s->rng, p->seed);
    *out = s;
    return SPC_OK;
}

void spc_sampler_free(struct spc_sampler *s) {
    if (!s) return;
    spc__free(s->ids);
    spc__free(s->probs);
    spc__free(s);
}


/* Order: higher logit first, lower id first on ties (deterministic). */
static inline bool before(const float *l, int32_t x, int32_t y) { return l[x] > l[y] || (l[x] == l[y] && x < y); }

/* Sift-down for a heap whose root is the element that sorts last. */
static void sift_worst(int32_t *a, int n, int root, const float *l) {
    for (;;) {
        int c = 2 * root + 1;
        if (c >= n) return;
        if (c + 1 < n && before(l, a[c], a[c + 1])) c++;
        if (!before(l, a[root], a[c])) return;
        int32_t t = a[root];
        a[root] = a[c];
        a[c] = t;
        root = c;
    }
}

/* In-place heapsort of ids by `before`: no allocation (glibc's qsort may call malloc). */
static void sort_ids(int32_t *a, int n, const float *l) {
    for (int start = n / 2 - 1, end = n; end > 1;) {
        int root;
        if (start >= 0) root = start--;
        else {
            int32_t t = a[0];
            a[0] = a[--end];
            a[end] = t;
            root = 0;
        }
        for (;;) {          /* sift down: the root is the element that sorts first */
            int c = 2 * root + 1;
            if (c >= end) break;
            if (c + 1 < end && before(l, a[c + 1], a[c])) c++;
            if (!before(l, a[c], a[root])) break;
            int32_t t = a[root];
            a[root] = a[c];
            a[c] = t;
            root = c;
        }
    }
    for (int i = 0, j = n - 1; i < j; i++, j--) {   /* heapsort left the first-sorting element last */
        int32_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* Moves the k ids that sort first to a[0..k), sorted; returns k. A heap of the k best so far with
 * the worst at its root: O(n log k). */
static int select_top(int32_t *a, int n, int k, const float *l) {
    for (int i = k / 2 - 1; i >= 0; i--) sift_worst(a, k, i, l);
    for (int i = k; i < n; i++)
        if (before(l, a[i], a[0])) {
            a[0] = a[i];
            sift_worst(a, k, 0, l);
        }
    sort_ids(a, k, l);
    return k;
}

int spc_sampler_dist(struct spc_sampler *s, const float *logits, const int32_t **ids, const float **probs,
                     int *n_out) {
    const struct spc_sampler_params *p = &s->p;
    if (p->temp <= 0) {
        s->ids[0] = spc_argmax(logits, s->n_vocab);
        s->probs[0] = 1;
        *ids = s->ids;
        *probs = s->probs;
        *n_out = 1;
        return SPC_OK;
    }
    float max = -INFINITY;
    for (int i = 0; i < s->n_vocab; i++)
        if (logits[i] > max) max = logits[i];
    if (!isfinite(max)) return spc__err(SPC_ERR_INVALID, "sampler: logits are not finite");
    float cut = max - 46.0f * (p->temp > 1 ? p->temp : 1);
    int n = 0;
    for (int i = 0; i < s->n_vocab; i++)
        if (logits[i] >= cut) s->ids[n++] = i;
    /* Every filter keeps a prefix of the sorted order, so only a prefix needs sorting: the top k
       (selected with a heap of k), or, without top-k, the tokens that pass min-p. The softmax sum
       that top-p divides by still covers every token that top-k kept. */
    double sum = 0;
    if (p->top_k > 0 && p->top_k < n) {
        n = select_top(s->ids, n, p->top_k, logits);
        for (int i = 0; i < n; i++) sum += expf(logits[s->ids[i]] - max);
    } else {
        for (int i = 0; i < n; i++) sum += expf(logits[s->ids[i]] - max);
        if (p->min_p > 0) {
            int m = 0;
            for (int i = 0; i < n; i++)
                if (expf(logits[s->ids[i]] - max) >= p->min_p) s->ids[m++] = s->ids[i];
            n = m;
        }
        sort_ids(s->ids, n, logits);
    }
    /* softmax at temperature 1 for top-p and min-p */
    for (int i = 0; i < n; i++) s->probs[i] = expf(logits[s->ids[i]] - max);
    if (p->top_p < 1) {
        double cum = 0;
        int keep = n;
        for (int i = 0; i < n; i++) {
            cum += s->probs[i] / sum;
            if (cum >= p->top_p) { keep = i + 1; break; }
        }
        n = keep;
    }
    if (p->min_p > 0) {
        float thr = p->min_p * s->probs[0];
        int keep = 1;
        while (keep < n && s->probs[keep] >= thr) keep++;
        n = keep;
    }
    /* temperature on the survivors */
    sum = 0;
    for (int i = 0; i < n; i++) {
        s->probs[i] = expf((logits[s->ids[i]] - max) / p->temp);
        sum += s->probs[i];
    }
    for (int i = 0; i < n; i++) s->probs[i] = (float)(s->probs[i] / sum);
    *ids = s->ids;
    *probs = s->probs;
    *n_out = n;
    return SPC_OK;
}

double spc_sampler_uniform(struct spc_sampler *s) { return spc__rng_uniform(&s->rng); }

int32_t spc_sampler_sample(struct spc_sampler *s, const float *logits) {
    const int32_t *ids;
    const float *probs;
    int n;
    if (spc_sampler_dist(s, logits, &ids, &probs, &n) != SPC_OK) return spc_argmax(logits, s->n_vocab);
    if (n == 1) return ids[0];
    double u = spc__rng_uniform(&s->rng), cum = 0;
    for (int i = 0; i < n; i++) {
        cum += probs[i];
        if (u < cum) return ids[i];
    }
    return ids[n - 1];
}
