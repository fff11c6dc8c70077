/*
 * spec.c: the draft-verify loop behind spc_gen_* (see specula.h), shared by the CLI, the bench and
 * later the server.
 *
 * State between steps: hist[0..n_hist) is the committed history (prompt + emitted tokens). The
 * target's KV cache holds hist[0..n_hist-1); the last token is "pending": its logits have not been
 * computed yet. A step forwards [pending, d1..dk] in one pass with logits at every position;
 * position i's logits judge draft d(i+1). Verification keeps a prefix d1..dm and the target's own
 * token at position m (the bonus), so a step commits 1..k+1 tokens, and the KV cache is truncated
 * to hist + d1..dm (the bonus is the next pending token). Plain decoding is the same step with
 * k = 0, so `none` and every drafter share one code path, and a position's logits do not depend on
 * the batch around it (forward.c's bit-identity), which makes greedy speculation lossless.
 *
 * Stochastic verification (Leviathan et al. 2023, Chen et al. 2023): draft x with drafter
 * probability q(x) is accepted with probability min(1, p(x)/q(x)), p being the target's final
 * distribution from the same sampler settings; on rejection the token is drawn from
 * normalize(max(0, p - q)). A drafter without a distribution has q one-hot at x.
 *
 * Token trees: a drafter may propose a tree (parent indices) instead of a chain. The pass then
 * evaluates every node with attention to its ancestors only (spc_batch.parent), verification walks
 * from the root taking the child that equals the target's token (greedy argmax, or a token sampled
 * from p: tree drafts are deterministic, so following the sampled token is exact), and the KV of
 * the accepted path is compacted into the committed prefix (spc_kv_compact).
 *
 * Nothing is allocated inside spc_gen_run's loop: buffers are sized in spc_gen_new (per context
 * length) and at the start of a request (the text buffer).
 * Depends on: base, model, sampler, vocab, spec.h drafters.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "model.h"
#include "spec.h"

#define COST_FORGET 0.998   /* the verification cost model's forgetting per pass */

static const char *const g_method_names[SPC_SPEC_NMETHODS] = { "none", "draft", "pld", "ngram", "selfspec", "memory" };

static const char *const g_policy_names[] = { "fixed", "threshold", "adaptive" };

int spc_draft_policy_from_name(const char *name) {
    for (int i = 0; name && i < 3; i++)
        if (!strcmp(name, g_policy_names[i])) return i;
    return -1;
}

const char *spc_draft_policy_name(int policy) {
    return policy >= 0 && policy < 3 ? g_policy_names[policy] : "?";
}

int spc_spec_method_from_name(const char *name) {
    for (int i = 0; name && i < SPC_SPEC_NMETHODS; i++)
        if (!strcmp(name, g_method_names[i])) return i;
    return -1;
}

const char *spc_spec_method_name(int method) {
    return method >= 0 && method < SPC_SPEC_NMETHODS ? g_method_names[method] : "?";
}

double spc__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int spc__forward_tokens(struct spc_ctx *ctx, const int32_t *t, int n, int n_batch) {
    int last = 0;
    for (int at = 0; at < n; at += n_batch) {
        struct spc_batch b = { .n = n - at < n_batch ? n - at : n_batch, .token = t + at };
        int st = spc_forward(ctx, &b);
        if (st) return st;
        last = b.n - 1;
    }
    return last;
}

struct spc_gen_params spc_gen_default_params(void) {
    struct spc_gen_params p = { 0 };
    p.method = SPC_SPEC_NONE;
    p.draft_max = 8;
    p.draft_min = 1;
    p.draft_p_min = 0.5f;
    p.adaptive = 1;
    p.ctx = spc_ctx_default_params();
    p.sampling = spc_sampler_default_params();
    p.sampling.temp = 0;
    p.lookup_min = 2;
    p.lookup_max = 4;
    p.ngram_min_count = 1;
    p.ngram_min_share = 0.5f;
    p.skip_layers = "auto";
    p.draft_policy = SPC_POLICY_ADAPTIVE;
    p.draft_threshold = 0.3f;
    p.memory_max = 200000;
    p.memory_sources = 7;
    p.draft_tree = 1;
    p.draft_kv = SPC_DRAFT_KV_FULL;
    p.draft_sinks = 4;
    p.draft_window = 1024;
    p.draft_memory = 512;
    /* 16k, 4 documents, share of full's acceptance: full prefill 2 65%, 8 88%; sparse prefill 8 84%,
       16 91%, 32 94% (bench/results/2026-12-02zz-masw-sparse-prefill.md, ...zzb-masw-refresh16.md) */
    p.draft_refresh = 16;
    /* 0.2: at 16k on 4 documents, with the AVX2 x16 kernels (a re-forwarded 0.5b position ~4 ms),
       masw kept all of its acceptance without a limit (167/499, 101% of full's) at the drafting
       call's 2k time (70.2 -> 69.4 ms; no limit 68.1 -> 87.5 ms, +28%; 0.15: 162/519, +2%;
       bench/results/2026-12-03zzg-masw-x16-refresh-share.md). Before those kernels (9 ms a
       position) 0.15 had kept only 61% of full's (2026-12-02zzc-masw-refresh-share.md) */
    p.draft_refresh_share = 0.2f;
    p.draft_store = 2048;
    p.draft_prefill = SPC_DRAFT_PREFILL_SPARSE;
    return p;
}

struct spc_gen {
    const struct spc_model *m;
    struct spc_gen_params p;
    const struct spc_vocab *v;
    int n_vocab, n_ctx;
    struct spc_ctx *ctx;
    bool own_ctx;
    struct spc_sampler *smp;
    struct spc__drafter *dr;

    int32_t *hist;              /* n_ctx + 1 */
    int n_hist;
    int32_t *batch_tok;         /* draft_max + 1 */
    uint8_t *batch_logits;
    int32_t draft[SPC_SPEC_KMAX];
    struct spc__qdist q[SPC_SPEC_KMAX];
    int32_t parent[SPC_SPEC_KMAX];      /* the drafter's tree (-1: child of the pending token) */
    int32_t bparent[SPC_SPEC_KMAX + 1]; /* the same as batch indices */
    int32_t path[SPC_SPEC_KMAX + 1];    /* batch indices of the root and the accepted tree nodes */
    uint8_t depth[SPC_SPEC_KMAX];
    float *pdense;              /* n_vocab: p for the residual distribution */
    int32_t commit[SPC_SPEC_KMAX + 1];

    /* adaptive draft length: the verification cost model, fitted over the generator's life (all
       requests) with forgetting */
    struct spc__cost cost;
    long acc_n, chk_n;                  /* accepted drafts, drafts reached */
    double draft_s;                     /* drafting time, per drafted token */
    long draft_n;

    char *text;                 /* emitted text of the current request */
    size_t text_cap;
    int max_piece;
    struct spc_gen_stats st;
};

static void gen_free_parts(struct spc_gen *g) {
    if (g->dr) g->dr->vt->free(g->dr);
    spc_sampler_free(g->smp);
    if (g->own_ctx) spc_ctx_free(g->ctx);
    spc__free(g->hist);
    spc__free(g->batch_tok);
    spc__free(g->batch_logits);
    spc__free(g->pdense);
    spc__free(g->text);
}

void spc_gen_free(struct spc_gen *g) {
    if (!g) return;
    gen_free_parts(g);
    spc__free(g);
}

int spc_gen_new(struct spc_gen **out, const struct spc_model *m, const struct spc_gen_params *p) {
    if (!out || !m || !p) return spc__err(SPC_ERR_INVALID, "gen: bad arguments");
    *out = NULL;
    if (p->method < 0 || p->method >= SPC_SPEC_NMETHODS)
        return spc__err(SPC_ERR_INVALID, "gen: unknown speculation method %d", p->method);
    if (p->draft_max < 1 || p->draft_max > SPC_SPEC_KMAX)
        return spc__err(SPC_ERR_INVALID, "gen: draft_max must be 1..%d (got %d)", SPC_SPEC_KMAX, p->draft_max);
    if (p->draft_min < 0 || p->draft_min > p->draft_max)
        return spc__err(SPC_ERR_INVALID, "gen: draft_min must be 0..draft_max (got %d)", p->draft_min);
    if (p->draft_kv < SPC_DRAFT_KV_FULL || p->draft_kv > SPC_DRAFT_KV_MASW)
        return spc__err(SPC_ERR_INVALID, "gen: unknown drafter KV policy %d", p->draft_kv);
    if (p->draft_kv == SPC_DRAFT_KV_MASW && (p->draft_memory < 0 || p->draft_memory > (1 << 24)))
        return spc__err(SPC_ERR_INVALID, "gen: bad drafter memory %d (want 0..%d)", p->draft_memory, 1 << 24);
    if (p->draft_kv == SPC_DRAFT_KV_MASW && (p->draft_refresh < 0 || p->draft_refresh > (1 << 24)))
        return spc__err(SPC_ERR_INVALID, "gen: bad drafter refresh %d (want 0..%d)", p->draft_refresh, 1 << 24);
    if (p->draft_kv == SPC_DRAFT_KV_MASW && p->draft_score != SPC_DRAFT_SCORE_MASS && p->draft_score != SPC_DRAFT_SCORE_PEAK)
        return spc__err(SPC_ERR_INVALID, "gen: bad drafter score %d (want mass 0 or peak 1)", p->draft_score);
    if (p->draft_kv == SPC_DRAFT_KV_MASW && p->draft_prefill != SPC_DRAFT_PREFILL_FULL && p->draft_prefill != SPC_DRAFT_PREFILL_SPARSE)
        return spc__err(SPC_ERR_INVALID, "gen: bad drafter prefill %d (want full 0 or sparse 1)", p->draft_prefill);
    if (p->draft_kv == SPC_DRAFT_KV_MASW && !(p->draft_refresh_share >= 0 && p->draft_refresh_share <= 1))
        return spc__err(SPC_ERR_INVALID, "gen: bad drafter refresh share %g (want 0..1)", (double)p->draft_refresh_share);
    if (p->draft_kv == SPC_DRAFT_KV_MASW && (p->draft_store < 0 || p->draft_store > (1 << 24)))
        return spc__err(SPC_ERR_INVALID, "gen: bad drafter store %d (want 0..%d)", p->draft_store, 1 << 24);
    if (p->draft_kv != SPC_DRAFT_KV_FULL && (p->draft_sinks < 0 || p->draft_window < 64))
        return spc__err(SPC_ERR_INVALID, "gen: the drafter's window needs sinks >= 0 and a window >= 64 (got %d, %d)",
                        p->draft_sinks, p->draft_window);
    if (p->method == SPC_SPEC_DRAFT && !p->draft_model)
        return spc__err(SPC_ERR_INVALID, "gen: method 'draft' needs a draft model");
    struct spc_gen *g = spc__calloc(1, sizeof *g);
    if (!g) return spc__err(SPC_ERR_NOMEM, "gen: out of memory");
    g->m = m;
    g->p = *p;
    g->v = spc_model_vocab(m);
    g->n_vocab = spc_model_n_vocab(m);
    struct spc_ctx_params cp = p->ctx;
    if (cp.n_ctx <= 0 || cp.n_ctx > spc_model_n_ctx_train(m)) cp.n_ctx = spc_model_n_ctx_train(m);
    if (cp.n_logits < p->draft_max + 1) cp.n_logits = p->draft_max + 1;
    if (cp.n_batch < p->draft_max + 1) cp.n_batch = p->draft_max + 1;
    if (p->method == SPC_SPEC_SELFSPEC && cp.n_logits < SPC__CALIB_MAX) cp.n_logits = SPC__CALIB_MAX;
    cp.n_seq = 1;
    g->p.ctx = cp;
    g->n_ctx = cp.n_ctx;
    int st = SPC_OK;
    if (p->target_ctx) {
        g->ctx = p->target_ctx;
        g->n_ctx = spc_ctx_n_ctx(g->ctx);
        int need = p->method == SPC_SPEC_SELFSPEC && SPC__CALIB_MAX > p->draft_max + 1 ? SPC__CALIB_MAX : p->draft_max + 1;
        if (spc__ctx_n_logits(g->ctx) < need || spc__ctx_n_batch(g->ctx) < need)
            st = spc__err(SPC_ERR_INVALID, "gen: the given context allows %d logits per pass; %d needed",
                          spc__ctx_n_logits(g->ctx), need);
    } else {
        st = spc_ctx_new(&g->ctx, m, &cp);
        g->own_ctx = true;
    }
    g->p.ctx.n_batch = g->ctx ? spc__ctx_n_batch(g->ctx) : cp.n_batch;
    if (!st) st = spc_sampler_new(&g->smp, &p->sampling, g->n_vocab);
    if (st) {
        spc_gen_free(g);
        return st;
    }
    g->hist = spc__calloc((size_t)g->n_ctx + 1, sizeof *g->hist);
    g->batch_tok = spc__calloc((size_t)p->draft_max + 1, sizeof *g->batch_tok);
    g->batch_logits = spc__calloc((size_t)cp.n_batch, 1);
    g->pdense = spc__calloc((size_t)g->n_vocab, sizeof *g->pdense);
    if (!g->hist || !g->batch_tok || !g->batch_logits || !g->pdense) {
        spc_gen_free(g);
        return spc__err(SPC_ERR_NOMEM, "gen: out of memory");
    }
    /* the longest piece a token can print, to size the text buffer of a request */
    char buf[8];
    for (int t = 0; t < spc_vocab_n_tokens(g->v); t++) {
        int k = spc_token_to_piece(g->v, t, 0, buf, sizeof buf);
        if (k > g->max_piece) g->max_piece = k;
    }
    if (g->max_piece < 4) g->max_piece = 4;
    struct spc__draft_cfg dc = { &g->p, m, g->ctx, g->n_ctx };
    switch (p->method) {
    case SPC_SPEC_DRAFT: st = spc__drafter_model_new(&g->dr, &dc, false); break;
    case SPC_SPEC_SELFSPEC: st = spc__drafter_model_new(&g->dr, &dc, true); break;
    case SPC_SPEC_PLD: st = spc__drafter_pld_new(&g->dr, &dc); break;
    case SPC_SPEC_NGRAM: st = spc__drafter_ngram_new(&g->dr, &dc); break;
    case SPC_SPEC_MEMORY: st = spc__drafter_memory_new(&g->dr, &dc); break;
    default: st = SPC_OK;
    }
    if (st) {
        spc_gen_free(g);
        return st;
    }
    if (g->dr) g->dr->gen = g;
    *out = g;
    return SPC_OK;
}

struct spc_ctx *spc_gen_ctx(struct spc_gen *g) { return g ? g->ctx : NULL; }

const char *spc_gen_drafter_info(struct spc_gen *g) {
    return g && g->dr && g->dr->vt->describe ? g->dr->vt->describe(g->dr) : "";
}

void spc_gen_forget_drafter_cache(struct spc_gen *g) {
    if (g && g->dr && g->dr->vt->forget) g->dr->vt->forget(g->dr);
}

int spc_gen_save(struct spc_gen *g) {
    if (!g) return spc__err(SPC_ERR_INVALID, "gen: NULL");
    return g->dr && g->dr->vt->save ? g->dr->vt->save(g->dr) : SPC_OK;
}

void spc_gen_stats(const struct spc_gen *g, struct spc_gen_stats *out) {
    if (!g || !out) return;
    *out = g->st;
    if (g->dr) out->n_reforward = g->dr->rf_n, out->t_reforward = g->dr->rf_s;
}

/* p(x) from the sampler's sorted sparse distribution. */
static float dist_prob(const int32_t *ids, const float *probs, int n, int32_t x) {
    for (int i = 0; i < n; i++)
        if (ids[i] == x) return probs[i];
    return 0;
}

/* Draws from normalize(max(0, p - q)); p given sparse (ids/probs/n), q sparse or one-hot at x. */
static int32_t sample_residual(struct spc_gen *g, const int32_t *ids, const float *probs, int n,
                               const struct spc__qdist *q, int32_t x) {
    for (int i = 0; i < n; i++) g->pdense[ids[i]] = probs[i];
    if (q->n > 0)
        for (int i = 0; i < q->n; i++) {
            float r = g->pdense[q->ids[i]] - q->probs[i];
            g->pdense[q->ids[i]] = r > 0 ? r : 0;
        }
    else
        g->pdense[x] = 0;           /* p(x) - 1 <= 0 */
    double total = 0;
    for (int i = 0; i < n; i++) total += g->pdense[ids[i]];
    int32_t pick = ids[0];
    if (total > 0) {
        double u = spc_sampler_uniform(g->smp) * total, c = 0;
        for (int i = 0; i < n; i++) {
            float r = g->pdense[ids[i]];
            if (r <= 0) continue;
            pick = ids[i];
            c += r;
            if (u < c) break;
        }
    }
    for (int i = 0; i < n; i++) g->pdense[ids[i]] = 0;     /* leave pdense all zero */
    if (q->n > 0)
        for (int i = 0; i < q->n; i++) g->pdense[q->ids[i]] = 0;
    return pick;
}

/* Verifies k drafts against the logits of the last forward pass (rows 0..k). Returns the number
 * accepted, m, and the token the target adds after them in *bonus. */
static int verify(struct spc_gen *g, int k, int32_t *bonus) {
    if (g->p.sampling.temp <= 0) {
        for (int i = 0; i <= k; i++) {
            int32_t a = spc_argmax(spc_ctx_logits(g->ctx, i), g->n_vocab);
            if (i == k || a != g->draft[i]) {
                *bonus = a;
                return i;
            }
        }
    }
    for (int i = 0; i <= k; i++) {
        const float *lg = spc_ctx_logits(g->ctx, i);
        if (i == k) {
            *bonus = spc_sampler_sample(g->smp, lg);
            return k;
        }
        const int32_t *ids;
        const float *probs;
        int n;
        spc_sampler_dist(g->smp, lg, &ids, &probs, &n);
        int32_t x = g->draft[i];
        float px = dist_prob(ids, probs, n, x);
        float qx = g->q[i].n > 0 ? dist_prob(g->q[i].ids, g->q[i].probs, g->q[i].n, x) : 1.0f;
        double u = spc_sampler_uniform(g->smp);
        if (qx > 0 && u * qx < px) continue;        /* accepted with probability min(1, p/q) */
        *bonus = sample_residual(g, ids, probs, n, &g->q[i], x);
        return i;
    }
    return 0;   /* unreachable */
}

/* Verifies the token tree draft/parent[0..k) against the last pass (batch index i + 1 is draft i):
 * from the root, the child equal to the target's token is taken (argmax, or a sample of p; tree
 * drafts are one-hot). Returns the path length m with the path's batch indices, root included, in
 * g->path[0..m] (what spc_kv_compact keeps), and the target's token after the path in *bonus.
 * *reached: whether the last node had children. */
static int verify_tree(struct spc_gen *g, int k, int32_t *bonus, bool *reached) {
    int m = 0, cur = -1;
    g->path[0] = 0;
    for (;;) {
        const float *lg = spc_ctx_logits(g->ctx, cur + 1);
        int32_t a = g->p.sampling.temp <= 0 ? spc_argmax(lg, g->n_vocab) : spc_sampler_sample(g->smp, lg);
        int next = -1;
        *reached = false;
        for (int j = cur + 1; j < k; j++)
            if (g->parent[j] == cur) {
                *reached = true;
                if (g->draft[j] == a) {
                    next = j;
                    break;
                }
            }
        if (next < 0) {
            *bonus = a;
            return m;
        }
        g->path[++m] = next + 1;
        cur = next;
    }
}

/* The verification cost model (spc__cost, spec.h). Its features: the weights are read once per pass,
 * each position adds its compute, and each position's attention grows with the context, so
 * v(k) = T(k, d) / T(0, d) rises with d (long documents verify dearer than chat turns). Forgetting
 * (COST_FORGET per pass) lets the fit follow this machine's drift. */
static void cost_features(int k, int d, double *x) {
    x[0] = 1;
    x[1] = k;
    x[2] = d / 1000.0;
    x[3] = k * (d / 1000.0);
}

void spc__cost_add(struct spc__cost *cm, int k, int d, double t) {
    double x[COST_NF];
    cost_features(k, d, x);
    double pred = 0;
    for (int i = 0; i < COST_NF; i++) pred += cm->w[i] * x[i];
    for (int i = 0; i < COST_NF * COST_NF; i++) cm->a[i] *= COST_FORGET;
    for (int i = 0; i < COST_NF; i++) {
        cm->b[i] = COST_FORGET * cm->b[i] + x[i] * t;
        for (int j = 0; j < COST_NF; j++) cm->a[i * COST_NF + j] += x[i] * x[j];
    }
    if (cm->kinds >= 2 && pred > 0) {        /* the correction judges the fit before this pass */
        cm->cor_obs[k] = 0.95 * cm->cor_obs[k] + t;
        cm->cor_pred[k] = 0.95 * cm->cor_pred[k] + pred;
    }
    cm->kinds += cm->pass_n[k]++ == 0;
    /* solve (A + ridge) w = b by Gaussian elimination with partial pivoting; the ridge keeps the
       depth terms defined while every pass so far saw about the same context length */
    double a[COST_NF][COST_NF + 1];
    for (int i = 0; i < COST_NF; i++) {
        for (int j = 0; j < COST_NF; j++) a[i][j] = cm->a[i * COST_NF + j] + (i == j ? 1e-3 * (cm->a[0] + 1) : 0);
        a[i][COST_NF] = cm->b[i];
    }
    for (int c = 0; c < COST_NF; c++) {
        int p = c;
        for (int r = c + 1; r < COST_NF; r++)
            if (fabs(a[r][c]) > fabs(a[p][c])) p = r;
        if (fabs(a[p][c]) < 1e-12) return;          /* keep the last fit */
        for (int j = 0; j <= COST_NF; j++) {
            double tmp = a[c][j];
            a[c][j] = a[p][j];
            a[p][j] = tmp;
        }
        for (int r = 0; r < COST_NF; r++) {
            if (r == c) continue;
            double f = a[r][c] / a[c][c];
            for (int j = c; j <= COST_NF; j++) a[r][j] -= f * a[c][j];
        }
    }
    for (int i = 0; i < COST_NF; i++) cm->w[i] = a[i][COST_NF] / a[i][i];
}

double spc__cost_t(const struct spc__cost *cm, int k, int d) {
    if (cm->kinds < 2) return 0;
    double x[COST_NF], t = 0;
    cost_features(k, d, x);
    for (int i = 0; i < COST_NF; i++) t += cm->w[i] * x[i];
    if (cm->cor_pred[k] > 0) {
        double f = cm->cor_obs[k] / cm->cor_pred[k];
        t *= f < 0.5 ? 0.5 : f > 2 ? 2 : f;
    }
    return t;
}

/* Time of a pass over k + 1 positions relative to one position at the current context length,
 * from the cost model, else a prior. */
static double v_hat(const struct spc_gen *g, int k) {
    int d = spc_kv_len(g->ctx, 0);
    double t0 = spc__cost_t(&g->cost, 0, d), tk = spc__cost_t(&g->cost, k, d);
    if (t0 <= 0 || tk <= 0) return 1 + 0.25 * k;     /* prior, until passes of two sizes are seen */
    return tk / t0 > 1 ? tk / t0 : 1;
}

double spc__gen_v(const struct spc_gen *g, int k) { return v_hat(g, k); }
double spc__gen_t0(const struct spc_gen *g) {
    double t = spc__cost_t(&g->cost, 0, spc_kv_len(g->ctx, 0));
    return t > 0 ? t : 0;
}

/* The draft length that maximizes expected committed tokens per unit of time:
 * E(k) = (1 - a^(k+1)) / (1 - a) tokens for v[k] + c k time (standard model), against resting
 * (one token for 1 + l). */
int spc__best_k(double a, double c, double l, const double *v, int k_max) {
    if (a > 0.99) a = 0.99;
    int best = 0;
    double best_r = 1 / (1 + l), ak = a;
    for (int k = 1; k <= k_max; k++) {
        ak *= a;
        double r = (1 - ak) / (1 - a) / (v[k] + c * k);
        if (r > best_r) {
            best_r = r;
            best = k;
        }
    }
    return best;
}

/* The controller's inputs: acceptance (prior 0.5, weight 4), v(k) from the cost model, c from the
 * drafter's one-token passes (otherwise all drafting time per drafted token). A drafter with a
 * cache of its own does not see the tokens of a step it rests on: it catches them up before its
 * next draft (the exploration steps draft again after any rest), so a rest costs l per token too:
 * its measured catch-up time per token (lag_s / lag_n) relative to a target pass. Without it,
 * resting looked free and a 0.5B drafter of a 1.5B target rested at acceptance up to ~0.55 on a
 * 2-core AVX2 machine, where its catch-up costs l ~ 0.2. */
static int choose_k(const struct spc_gen *g, int k_max) {
    double a = (g->acc_n + 2.0) / (g->chk_n + 4.0);
    double t0 = spc__gen_t0(g);
    double per = g->dr->fwd_n > 0 ? g->dr->fwd_s / g->dr->fwd_n : g->draft_n > 0 ? g->draft_s / g->draft_n : 0;
    double c = t0 > 0 ? per / t0 : 0;
    double l = t0 > 0 && g->dr->lag_n > 0 ? g->dr->lag_s / g->dr->lag_n / t0 : 0;
    double v[SPC_SPEC_KMAX + 1];
    for (int k = 1; k <= k_max; k++) v[k] = v_hat(g, k);
    return spc__best_k(a, c, l, v, k_max);
}

/* One draft-verify step: commits 1..k+1 tokens to g->commit (and hist); returns how many, or a
 * negative status. At most `budget` (>= 1) tokens are wanted. */
static int gen_step(struct spc_gen *g, int budget) {
    int kv = spc_kv_len(g->ctx, 0);
    int k_max = g->p.draft_max;
    if (k_max > budget - 1) k_max = budget - 1;
    if (k_max > g->n_ctx - kv - 1) k_max = g->n_ctx - kv - 1;
    int k = 0;
    if (g->dr && !g->dr->own_k && g->p.adaptive && k_max > 0) {
        int kc = choose_k(g, k_max);
        /* keep exploring: now and then a step drafts one token, so acceptance keeps being measured
           (often while little is known, rarely after) */
        int every = g->chk_n < 64 ? 16 : 64;
        if (kc == 0 && g->st.n_steps % every == every - 1) kc = 1;
        k_max = kc;
    }
    double t0 = spc__now();
    bool tree = false;
    if (g->dr && k_max >= 1 && k_max >= g->p.draft_min) {
        for (int i = 0; i < k_max; i++) {
            g->q[i].n = 0;
            g->parent[i] = i - 1;
        }
        k = g->dr->vt->propose(g->dr, g->hist, g->n_hist, k_max, g->draft, g->q, g->parent);
        if (k < 0) return k;
        if (k > k_max) k = k_max;
        if (k > 0) g->st.n_draft_calls++;
        if (k < g->p.draft_min) k = 0;
        for (int i = 0; i < k; i++) {
            if (g->parent[i] < -1 || g->parent[i] >= i)
                return spc__err(SPC_ERR_INVALID, "gen: the drafter gave draft %d the parent %d", i, g->parent[i]);
            tree |= g->parent[i] != i - 1;
            g->depth[i] = (uint8_t)(g->parent[i] < 0 ? 0 : g->depth[g->parent[i]] + 1);
        }
    }
    double t1 = spc__now();
    g->batch_tok[0] = g->hist[g->n_hist - 1];
    g->bparent[0] = -1;
    for (int i = 0; i < k; i++) {
        g->batch_tok[i + 1] = g->draft[i];
        g->bparent[i + 1] = g->parent[i] + 1;
    }
    for (int i = 0; i <= k; i++) g->batch_logits[i] = 1;
    struct spc_batch b = { .n = k + 1, .token = g->batch_tok, .parent = tree ? g->bparent : NULL, .logits = g->batch_logits };
    int st = spc_forward(g->ctx, &b);
    if (st) return st;
    int32_t bonus;
    int m;
    bool reached = false;
    if (tree) {
        m = verify_tree(g, k, &bonus, &reached);
        for (int i = 0; i < m; i++) g->commit[i] = g->draft[g->path[i + 1] - 1];
        st = spc_kv_compact(g->ctx, 0, kv, g->path, m + 1);
    } else {
        m = verify(g, k, &bonus);
        reached = m < k;
        for (int i = 0; i < m; i++) g->commit[i] = g->draft[i];
        st = spc_kv_truncate(g->ctx, 0, kv + 1 + m);
    }
    if (st) return st;
    double t2 = spc__now();
    g->commit[m] = bonus;
    int nc = m + 1;
    for (int i = 0; i < nc; i++) g->hist[g->n_hist++] = g->commit[i];
    if (g->dr) g->dr->vt->observe(g->dr, g->hist, g->n_hist, k, m);
    double t3 = spc__now();
    struct spc_gen_stats *s = &g->st;
    s->n_steps++;
    s->n_drafted += k;
    s->n_accepted += m;
    s->n_checked += m + reached;
    s->n_tree_steps += tree;
    for (int i = 0; i < k; i++) s->drafted_at[g->depth[i]]++;
    for (int i = 0; i < m; i++) s->accepted_at[i]++;
    s->passes_by_k[k]++;
    s->verify_s_by_k[k] += t2 - t1;
    spc__cost_add(&g->cost, k, kv, t2 - t1);
    g->acc_n += m;
    g->chk_n += m + reached;
    if (k > 0) {
        g->draft_s += t1 - t0;
        g->draft_n += k;
    }
    s->t_draft += (t1 - t0) + (t3 - t2);
    s->t_verify += t2 - t1;
    return nc;
}

/* Length of the longest suffix of s[0..n) that is a proper prefix of a stop string. */
static size_t stop_holdback(const char *s, size_t n, const char *const *stop, int n_stop) {
    size_t best = 0;
    for (int j = 0; j < n_stop; j++) {
        size_t L = strlen(stop[j]);
        for (size_t h = L > 1 ? L - 1 : 0; h > best; h--)
            if (h <= n && !memcmp(s + n - h, stop[j], h)) {
                best = h;
                break;
            }
    }
    return best;
}

/* Hands text[emitted..safe) to the callback; returns the new emitted mark. */
static size_t emit(struct spc_gen *g, spc_piece_fn cb, void *ud, size_t emitted, size_t safe, const char **stop,
                   bool *done) {
    if (safe <= emitted) return emitted;
    if (cb && cb(g->text + emitted, safe - emitted, ud)) {
        *stop = "callback";
        *done = true;
    }
    return safe;
}

int spc_gen_run(struct spc_gen *g, const struct spc_gen_request *rq, spc_piece_fn cb, void *ud,
                struct spc_gen_result *res) {
    if (!g || !rq || !res) return spc__err(SPC_ERR_INVALID, "gen: bad arguments");
    memset(res, 0, sizeof *res);
    if (!rq->prompt || rq->n_prompt < 1) return spc__err(SPC_ERR_INVALID, "gen: the prompt is empty");
    if (rq->n_predict < 0) return spc__err(SPC_ERR_INVALID, "gen: n_predict < 0");
    if (rq->n_stop < 0 || (rq->n_stop > 0 && !rq->stop)) return spc__err(SPC_ERR_INVALID, "gen: bad stop strings");
    for (int j = 0; j < rq->n_stop; j++)
        if (!rq->stop[j] || !rq->stop[j][0]) return spc__err(SPC_ERR_INVALID, "gen: empty stop string");
    for (int i = 0; i < rq->n_prompt; i++)
        if (rq->prompt[i] < 0 || rq->prompt[i] >= g->n_vocab)
            return spc__err(SPC_ERR_INVALID, "gen: prompt token %d is out of range", rq->prompt[i]);
    if (rq->n_prompt >= g->n_ctx)
        return spc__err(SPC_ERR_CONTEXT, "gen: the prompt has %d tokens; the context holds %d (prompt and output)",
                        rq->n_prompt, g->n_ctx);
    memset(&g->st, 0, sizeof g->st);
    double t_start = spc__now();
    /* setup for this request: the text buffer, the drafter */
    int room = g->n_ctx - rq->n_prompt;
    int n_max = rq->n_predict < room ? rq->n_predict : room;
    size_t need = (size_t)(n_max + 1) * (size_t)g->max_piece + 64;
    if (need > g->text_cap) {
        char *t = spc__realloc(g->text, need);
        if (!t) return spc__err(SPC_ERR_NOMEM, "gen: out of memory");
        g->text = t;
        g->text_cap = need;
    }
    memcpy(g->hist, rq->prompt, sizeof *g->hist * (size_t)rq->n_prompt);
    g->n_hist = rq->n_prompt;
    int st = g->dr ? g->dr->vt->reset(g->dr, g->hist, g->n_hist, g->n_ctx + 1) : SPC_OK;
    if (st) return st;
    /* prompt caching: the KV of the longest common prefix with what the cache holds is kept (after
       the drafter's reset: the selfspec search runs on the target's context) */
    int keep = 0, kv = spc_kv_len(g->ctx, 0);
    const int32_t *cached = spc_kv_tokens(g->ctx, 0), *cpos = spc_kv_positions(g->ctx, 0);
    while (keep < kv && keep < rq->n_prompt - 1 && cached[keep] == rq->prompt[keep] && cpos[keep] == keep) keep++;
    if ((st = spc_kv_truncate(g->ctx, 0, keep))) return st;
    if (g->dr) {                /* one-time drafter setup (the selfspec search) is not request time */
        g->st.t_setup = g->dr->t_extra;
        t_start += g->dr->t_extra;
        g->dr->t_extra = 0;
    }
    /* prefill all but the last prompt token: the first step computes its logits with the drafts
       (a model drafter prefilled its own cache in reset: both count as prompt time) */
    if (rq->n_prompt - 1 > keep) {
        int li = spc__forward_tokens(g->ctx, rq->prompt + keep, rq->n_prompt - 1 - keep, g->p.ctx.n_batch);
        if (li < 0) return li;
    }
    if (g->dr && g->dr->vt->prefilled && (st = g->dr->vt->prefilled(g->dr, g->hist, g->n_hist))) return st;
    g->st.n_prompt = rq->n_prompt;
    g->st.n_prompt_cached = keep;
    g->st.t_prompt = spc__now() - t_start;

    struct spc_detok dt;
    spc_detok_init(&dt, g->v, 0);
    size_t len = 0, emitted = 0;
    size_t max_stop = 0;
    for (int j = 0; j < rq->n_stop; j++)
        if (strlen(rq->stop[j]) > max_stop) max_stop = strlen(rq->stop[j]);
    int n_gen = 0;
    const int32_t *out_tokens = g->hist + rq->n_prompt;
    const char *stop = "length";
    bool done = n_max == 0;
    if (rq->n_predict > room && n_max == 0) stop = "context";
    while (!done) {
        int budget = n_max - n_gen;
        if (spc_kv_len(g->ctx, 0) + 1 > g->n_ctx) { stop = "context"; break; }
        int nc = gen_step(g, budget);
        if (nc < 0) return nc;
        int base = g->n_hist - nc;
        for (int i = 0; i < nc && !done; i++) {
            int32_t t = g->hist[base + i];
            if (spc_vocab_is_eog(g->v, t)) {
                stop = "eog";
                done = true;
                break;
            }
            n_gen++;
            int k = spc_detok_push(&dt, t, g->text + len, (int)(g->text_cap - len - 1));
            if (k > 0) {
                size_t from = len > max_stop ? len - max_stop : 0;
                len += (size_t)k;
                for (int j = 0; j < rq->n_stop && !done; j++) {
                    size_t L = strlen(rq->stop[j]);
                    for (size_t at = from; at + L <= len; at++)
                        if (!memcmp(g->text + at, rq->stop[j], L)) {
                            len = at;           /* the output ends before the stop string */
                            stop = "stop";
                            done = true;
                            break;
                        }
                }
            }
            if (!done && n_gen >= n_max) {
                stop = n_max < rq->n_predict ? "context" : "length";
                done = true;
            }
            if (!done) emitted = emit(g, cb, ud, emitted, len - stop_holdback(g->text, len, rq->stop, rq->n_stop), &stop, &done);
        }
        if (done) {
            if (strcmp(stop, "stop") && strcmp(stop, "callback")) {
                int k2 = spc_detok_flush(&dt, g->text + len, (int)(g->text_cap - len - 1));
                if (k2 > 0) len += (size_t)k2;
            }
            if (strcmp(stop, "callback")) emitted = emit(g, cb, ud, emitted, len, &stop, &done);
        }
    }
    g->text[len] = 0;
    g->st.n_gen = n_gen;
    g->st.t_total = spc__now() - t_start;
    struct spc_gen_stats *s = &g->st;
    s->alpha = s->n_drafted ? (double)s->n_accepted / s->n_drafted : 0;
    s->alpha_cond = s->n_checked ? (double)s->n_accepted / s->n_checked : 0;
    s->tau = s->n_steps ? (double)(g->n_hist - rq->n_prompt) / s->n_steps : 0;
    if (g->dr && g->dr->vt->finish) g->dr->vt->finish(g->dr, g->hist, g->n_hist);
    res->tokens = out_tokens;
    res->n_tokens = n_gen;
    res->text = g->text;
    res->text_len = len;
    res->stop = stop;
    return SPC_OK;
}
