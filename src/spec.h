/*
 * spec.h: the drafter interface shared by the speculative decoding loop (spec.c) and the drafters
 * (draft_model.c: a standalone draft model and self-speculation; draft_lookup.c: prompt lookup
 * and n-gram tables). Internal: the public face is spc_gen_* in specula.h.
 *
 * A drafter sees the whole committed history (prompt + output) at every call and may keep state
 * between calls (a KV cache, count tables); observe() tells it what verification kept, reset()
 * starts a new request. Drafters do not own the thread pool of the target (their contexts have
 * their own), and allocate only when they are created or reset for a request.
 * Depends on: base, model (spc_ctx), sampler.
 */
#ifndef SPC_SPEC_H
#define SPC_SPEC_H

#include <stdio.h>

#include "base.h"

/* A draft position's distribution q, sparse: ids/probs of n tokens (probs sum to 1), or n == 0
 * for a drafter without one (q is one-hot at the drafted token). */
struct spc__qdist {
    const int32_t *ids;
    const float *probs;
    int n;
};

struct spc__drafter;
struct spc__drafter_vt {
    /* Proposes up to k_max (>= 1) tokens to follow hist[0..n_hist); returns how many (0..k_max)
     * or a negative status. q[i] describes draft i (left n == 0 when the drafter has none).
     * parent[i] comes filled as a chain (i - 1); a drafter may propose a token tree instead by
     * writing parent[i] in -1..i-1 (-1: draft i follows hist directly; siblings are distinct
     * tokens). Tree drafts carry no q (one-hot): verification walks the tree with the target's
     * own choice at each node, which is exact for deterministic drafts. */
    int (*propose)(struct spc__drafter *d, const int32_t *hist, int n_hist, int k_max, int32_t *out,
                   struct spc__qdist *q, int32_t *parent);
    /* The last proposal's n_drafted tokens (tree nodes) were verified, n_accepted of them kept (the
     * accepted path); hist[0..n_hist) is the new committed history (the accepted drafts and the
     * target's bonus token appended). */
    void (*observe)(struct spc__drafter *d, const int32_t *hist, int n_hist, int n_drafted, int n_accepted);
    /* A new request begins with hist[0..n_hist) (the prompt); capacity for n_max history tokens. */
    int (*reset)(struct spc__drafter *d, const int32_t *hist, int n_hist, int n_max);
    /* Called when a request ends with its full history (n-gram memories learn from it). */
    void (*finish)(struct spc__drafter *d, const int32_t *hist, int n_hist);
    /* Writes what must persist across runs (the n-gram cache); NULL when nothing does. */
    int (*save)(struct spc__drafter *d);
    /* A short description of the drafter's configuration (e.g. the layers self-speculation skips). */
    const char *(*describe)(struct spc__drafter *d);
    void (*free)(struct spc__drafter *d);
    /* Optional: the target's cache now holds hist[0..n_hist - 1) (the prompt but its last token),
     * called after reset, as prompt time. masw chooses its first chunks here, from the target's
     * attention to the prompt, before its own prefill would evict them. */
    int (*prefilled)(struct spc__drafter *d, const int32_t *hist, int n_hist);
    /* Optional: drops the K/V a model drafter keeps from the last request (its prompt cache), so
     * the next request starts from an empty cache; what lookups learned stays. */
    void (*forget)(struct spc__drafter *d);
};
struct spc__drafter {
    const struct spc__drafter_vt *vt;
    double t_extra;     /* seconds spent outside propose/observe (selfspec search), for the stats */
    double fwd_s;       /* model drafters: time of their one-step forward passes (one drafted */
    double fwd_n;       /* token each), the marginal cost of a draft token, decayed (it follows the
                           context length); 0 for lookups */
    double lag_s;       /* model drafters: time of catching up on history they had not seen (more */
    long lag_n;         /* than the bonus token: after steps drafted by someone else), and its tokens */
    long rf_n;          /* masw draft model: positions re-forwarded this request, and the seconds */
    double rf_s;        /* they added (spc_gen_stats n_reforward, t_reforward; the memory hybrid
                           mirrors its model's, as it does t_extra) */
    bool own_k;         /* the drafter chooses each step's draft length itself (the generator
                           passes K, capped only by the budget and the context) */
    const struct spc_gen *gen;      /* set by the generator: its measured costs (spc__gen_v) */
};

/* The verification cost model: a target pass over k + 1 positions after d cached ones takes
 * T(k, d) = w . (1, k, d, k d) (d in thousands), fitted by least squares with forgetting over the
 * passes seen, with a per-k correction (decayed measured / fitted time) for what a line in k misses.
 * Zero-initialized; spc__cost_t returns 0 until passes of two sizes were seen. */
#define COST_NF 4
struct spc__cost {
    double a[COST_NF * COST_NF], b[COST_NF], w[COST_NF];   /* normal equations (decayed), the fit */
    double cor_obs[SPC_SPEC_KMAX + 1], cor_pred[SPC_SPEC_KMAX + 1];
    int pass_n[SPC_SPEC_KMAX + 1];      /* passes seen per k */
    int kinds;                          /* distinct k seen */
};
void spc__cost_add(struct spc__cost *c, int k, int d, double seconds);
double spc__cost_t(const struct spc__cost *c, int k, int d);

/* The generator's measured cost model, for drafters that choose their own length: v(k), the time
   of a target pass over k + 1 positions relative to one position, and that one-position time in
   seconds (0 until measured). */
double spc__gen_v(const struct spc_gen *g, int k);
double spc__gen_t0(const struct spc_gen *g);
/* The controller's draft length (0: rest) for acceptance a, draft cost c and catch-up cost l per
 * token (both relative to a one-position target pass) and v[1..k_max] (spc.c, choose_k). */
int spc__best_k(double a, double c, double l, const double *v, int k_max);

/* Most calibration tokens of the selfspec search: the target's context must give that many logits. */
#define SPC__CALIB_MAX 64

/* What a drafter is built from: the request-independent part of spc_gen_params. */
struct spc__draft_cfg {
    const struct spc_gen_params *gp;
    const struct spc_model *target;
    struct spc_ctx *target_ctx;     /* selfspec calibration measures the target through it */
    int n_ctx;
};

int spc__drafter_model_new(struct spc__drafter **out, const struct spc__draft_cfg *cfg, bool selfspec);
int spc__drafter_pld_new(struct spc__drafter **out, const struct spc__draft_cfg *cfg);
int spc__drafter_ngram_new(struct spc__drafter **out, const struct spc__draft_cfg *cfg);
int spc__drafter_memory_new(struct spc__drafter **out, const struct spc__draft_cfg *cfg);
/* Writes path through path.tmp and a rename, so a failed write never leaves a half file; write()
   returns false on a short write. Errors name `who`. */
int spc__save_file(const char *path, const char *who, bool (*write)(FILE *f, const void *ud), const void *ud);
/* A corpus file (ngram, memory) as tokens: a token file ("SPCTOK01", u64 n, n int32 ids) or text.
   *toks is allocated; errors name `who` and the path. */
int spc__read_corpus(const struct spc_vocab *v, int n_vocab, const char *path, const char *who, int32_t **toks, int *n);

/* The memory drafter's depth-bounded suffix trie (draft_memory.c), exposed for its property test:
 * every substring of at most SPC__TRIE_D tokens of the appended text (not across breaks) with its
 * occurrences and, for strings shorter than the bound, how many of them a token followed and the
 * most frequent follower. */
#define SPC__TRIE_D 16
struct spc__trie;
struct spc__trie *spc__trie_new(size_t max_nodes);
void spc__trie_free(struct spc__trie *t);
void spc__trie_append(struct spc__trie *t, int32_t tok);
void spc__trie_break(struct spc__trie *t);
int32_t spc__trie_find(const struct spc__trie *t, const int32_t *s, int n);   /* node of s, or -1 */
void spc__trie_counts(const struct spc__trie *t, int32_t node, uint32_t *cnt, uint32_t *followed, int32_t *best_tok);
/* The node of the longest suffix (<= SPC__TRIE_D) of (node's string + tok) in the trie (0: none). */
int32_t spc__trie_step(const struct spc__trie *t, int32_t node, int32_t tok);
int spc__trie_depth(const struct spc__trie *t, int32_t node);

double spc__now(void);
/* Forwards n >= 1 tokens of sequence 0 as chains of at most n_batch; returns the batch index of
 * the last one (whose logits the last call computed) or a negative status. */
int spc__forward_tokens(struct spc_ctx *ctx, const int32_t *t, int n, int n_batch);

#endif
