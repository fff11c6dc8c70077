/*
 * draft_model.c: drafters that run a model autoregressively.
 *
 * draft: a standalone smaller model with a vocabulary compatible with the target's
 * (spc_vocab_check_compatible). selfspec: the target itself with a set of layers skipped, in a
 * context of its own; the set is given ("3,5,7-9") or searched on calibration text ("auto").
 *
 * The drafter's KV cache holds a prefix of the committed history (n_past tokens). propose() first
 * forwards the history it has not seen (the whole prompt at the start of a request, then the
 * bonus token and whatever else verification committed), then drafts one token per pass, greedy
 * or sampled with the target's sampler settings (keeping q for verification), and stops early
 * when the drafted token's probability falls below draft_p_min (llama.cpp's rule). observe()
 * drops the rejected drafts: the valid prefix is min(n_past, n_hist - 1).
 *
 * Drafter KV policy (gp->draft_kv): full keeps every position; window keeps the first
 * gp->draft_sinks positions (attention sinks) and the last gp->draft_window, evicting the middle
 * (spc_kv_evict) whenever the cache exceeds them by WIN_SLACK, also while a long prompt is prefilled
 * in chunks, so the drafter's cache and its per-token attention stay the same size however long the
 * context grows. Kept slots keep their positions and new tokens take their true positions (RoPE
 * consistent with the target's). The cache then holds history tokens [0, sinks) and the recent ones:
 * slot = history index - n_evict past the sinks.
 *
 * The selfspec search (auto): the target's greedy predictions over the calibration text are the
 * reference; each layer is skipped alone and ranked by how often the skipped model still agrees;
 * then the k least harmful layers are skipped together for growing k, and the set with the best
 * expected speedup (1 - a^(K+1)) / ((1 - a)(K c + v(K))) wins, with a the agreement, c the share of
 * the weights still read (the output layer always is) and v(K) measured on the target.
 * Depends on: base, model, sampler, spec.h.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "model.h"
#include "spec.h"

/* masw re-forwarding's time budget: catch-up passes timed by their size (up to K + 1 positions);
   credit held for at most this many calls' income */
enum { RF_BASE_N = SPC_SPEC_KMAX + 2, RF_CREDIT_CALLS = 8 };

struct mdraft {
    struct spc__drafter base;
    const struct spc_gen_params *gp;
    const struct spc_model *m;
    struct spc_ctx *ctx, *target_ctx;
    struct spc_sampler *smp;
    bool sampling, selfspec, searched;
    bool off;                       /* selfspec: no skipped set pays on the calibration text */
    int n_vocab, n_past, n_batch, n_layer;
    int kv_policy, sinks, window;   /* SPC_DRAFT_KV_*; window: positions kept at the start and end */
    bool view;                      /* selfspec: drafts on a view of the target's cache */
    int memory;                     /* masw: positions of retrieved chunks */
    bool peak;                      /* masw: chunks scored by the heads' peak attention (gp->draft_score) */
    int refresh;                    /* masw, own cache: positions re-inserted per catch-up pass (gp->draft_refresh) */
    float rf_share;                 /* masw, own cache: re-forwarding's most time, a share of drafting's (1: no limit) */
    double rf_credit;               /* seconds re-forwarding may take now (income: each call's time x rf_share) */
    double rf_base[RF_BASE_N];      /* seconds of a catch-up pass over n positions with nothing re-forwarded (0: not seen) */
    double rf_call;                 /* seconds re-forwarding added to this call */
    int n_chunk;                    /* masw: chunks of MEM_CHUNK history positions */
    float *score;                   /* masw: per chunk, the target's decayed attention to it */
    float *mass;                    /* masw: the last steps' attention per chunk (scratch) */
    uint8_t *in_mem;                /* masw: per chunk, 1 if retrieved */
    int n_sel;                      /* masw: chunks retrieved now */
    long n_retrieved;               /* masw: chunk retrievals this request (selection changes) */
    int32_t *vslots;                /* view: the target slots the drafter attends to */
    uint8_t *have;                  /* masw, own cache: per history position, 1 if cached (scratch) */
    int32_t *pend;                  /* masw, own cache: positions of retrieved chunks not cached yet, ascending */
    int n_pend;
    int32_t *bpos, *btok;           /* masw, own cache: a catch-up pass's positions and tokens (n_batch) */
    /* masw, own cache: the store, K/V of up to store_cap evicted chunks (the best-scored when they
       went), brought back by copying instead of re-forwarding */
    int store_cap, n_store;
    int32_t *store_chunk;           /* per entry: its chunk (-1: free) */
    int32_t *store_of;              /* per chunk: its entry or -1 */
    uint8_t *store_buf;             /* store_cap x MEM_CHUNK positions of pos_bytes */
    size_t pos_bytes;
    int32_t *slot_of;               /* per history position: its slot or -1 (scratch) */
    long n_restored;                /* positions copied back from the store this request */
    bool sparse;                    /* masw, own cache: the prefill forwards only what is kept (gp->draft_prefill) */
    long n_prefilled;               /* masw, own cache: prompt positions the prefill forwarded this request */
    int view_max;
    int n_evict;                    /* history tokens evicted: slots = n_past - n_evict */
    int chunk;                      /* prefill chunk (window: at most the window) */
    int32_t *qids;                  /* SPC_SPEC_KMAX x n_vocab, sampling only */
    float *qprobs;
    uint8_t *skip;
    uint8_t *prime_kv;              /* masw: the target's K/V of the prompt's last MEM_PRIME positions (md_prefilled) */
    char info[512], desc[640];
};

/* Probability of token x under softmax(logits). */
static float softmax_prob(const float *l, int n, int32_t x) {
    float mx = l[0];
    for (int i = 1; i < n; i++)
        if (l[i] > mx) mx = l[i];
    double s = 0;
    for (int i = 0; i < n; i++) s += expf(l[i] - mx);
    return (float)(exp((double)(l[x] - mx)) / s);
}

#define FWD_DECAY 0.99     /* a draft token's cost: a recent average (the context grows) */
enum { WIN_SLACK = 64 };     /* evict in steps of at least this many positions (one memmove per step) */

/* MASW. The target verifies with its whole cache, so its attention says which stretches of the
   context the next tokens draw on: while a masw drafter is active the target's context sums, per
   chunk of MEM_CHUNK positions, the attention probability every verified position gives it (all
   layers and heads; spc__ctx_att_collect; gp->draft_score peak: each head's largest probability
   in the chunk instead, no better at 16k, zx). The drafter keeps a decayed score per chunk and,
   every step, retrieves the best-scored chunks of the evicted middle (past the sinks, before the window)
   into its memory budget; chunks the target never attends to never come back. The first selection
   is made from the prompt (md_prefilled): the target's attention from the prompt's last MEM_PRIME
   positions, before the draft model's prefill, which then keeps those chunks.
   A draft model's own cache must re-forward a retrieved chunk's positions. Alone, 32 positions are
   a compute-bound pass (on a 2-core AVX2 machine 220 ms for the 0.5b, ten draft tokens' worth); a
   drafter's catch-up pass over the one or two tokens verification committed is bound by reading
   the weights, and a few more positions in it cost little (mm_lab, q8_0: 2 positions 0.98 ms per
   matrix, 4: 1.08). So the retrieved positions ride along, gp->draft_refresh per catch-up pass, and
   the selection holds until they are all in. Before that, the store: when the cache evicts the
   middle, the best-scored chunks going (gp->draft_store positions of them, a fixed budget like the
   cache's) keep their K/V rows, and a retrieved chunk found there is copied back at once (its rows
   carry RoPE at their own positions, which they return to); only chunks the store lost or never
   held are re-forwarded. */
enum { MEM_CHUNK = 32, MEM_PRIME = 8 };
#define MEM_DECAY 0.7f
#define MEM_STICKY 1.25f

/* The history positions [*a, *e) of chunk b within the middle [sinks, w0). */
static void chunk_span(const struct mdraft *md, int b, int w0, int *a, int *e) {
    *a = b * MEM_CHUNK > md->sinks ? b * MEM_CHUNK : md->sinks;
    *e = (b + 1) * MEM_CHUNK < w0 ? (b + 1) * MEM_CHUNK : w0;
}

/* Folds the target's attention since the last call into the scores (decay first) and selects, best
   score first, chunks of the middle [sinks, n - window) into the memory budget. A chunk held already
   ranks as if MEM_STICKY times better (no churn between near-equal chunks). With the drafter's own
   cache (have: per position, cached or not) a round takes at most one chunk that is not all cached,
   and the selection holds while its positions are being re-forwarded (md->n_pend). */
static void mem_select(struct mdraft *md, int n, const uint8_t *have) {
    int got = spc__ctx_att_take(md->target_ctx, md->mass, md->n_chunk);
    for (int b = 0; b < md->n_chunk; b++) md->score[b] = MEM_DECAY * md->score[b] + (b < got ? md->mass[b] : 0);
    if (md->n_pend) return;
    int lo = md->sinks / MEM_CHUNK, hi = (n - md->window) / MEM_CHUNK;    /* whole chunks before the window */
    if (hi > md->n_chunk) hi = md->n_chunk;
    int want = md->memory / MEM_CHUNK, nsel = 0;
    bool missing = false;               /* a chunk to re-forward was taken this round */
    for (int b = 0; b < md->n_chunk; b++) md->mass[b] = md->in_mem[b], md->in_mem[b] = 0;    /* mass: the last selection */
    uint8_t *tried = md->in_mem;        /* 2: considered and passed over this round */
    for (int r = 0; r < want; r++) {    /* want is small (budget / 32): selection by repeated max */
        int best = -1;
        float bs = 0;
        for (int b = lo; b < hi; b++) {
            if (tried[b] || md->score[b] <= 0) continue;
            float sc = md->score[b] * (md->mass[b] ? MEM_STICKY : 1.0f);
            if (best < 0 || sc > bs) best = b, bs = sc;
        }
        if (best < 0) break;
        if (have) {
            int a, e, m = 0;
            chunk_span(md, best, n - md->window, &a, &e);
            for (int i = a; i < e; i++) m += !have[i];
            if (md->store_of && md->store_of[best] >= 0) m = 0;     /* copied back, not re-forwarded */
            if (m && (missing || !md->refresh)) {      /* refresh 0: cached chunks only */
                tried[best] = 2;
                r--;
                continue;
            }
            missing |= m > 0;
        }
        tried[best] = 1;
        nsel++;
        md->n_retrieved += md->mass[best] == 0;
    }
    for (int b = lo; b < hi; b++)
        if (tried[b] == 2) tried[b] = 0;
    md->n_sel = nsel;
}

/* The view of the target's cache (its first n committed positions) for the policy: everything,
   or the sinks, the retrieved chunks and the window, ascending. */
static int view_slots(struct mdraft *md, int n) {
    int k = 0;
    if (md->kv_policy == SPC_DRAFT_KV_FULL || n <= md->sinks + md->window) {
        for (int i = 0; i < n; i++) md->vslots[k++] = i;
        return k;
    }
    for (int i = 0; i < md->sinks; i++) md->vslots[k++] = i;
    int w0 = n - md->window;
    if (md->kv_policy == SPC_DRAFT_KV_MASW)
        for (int b = md->sinks / MEM_CHUNK; b < md->n_chunk && b * MEM_CHUNK < w0; b++) {
            if (!md->in_mem[b]) continue;
            int a, e;
            chunk_span(md, b, w0, &a, &e);
            for (int i = a; i < e; i++) md->vslots[k++] = i;
        }
    for (int i = w0; i < n; i++) md->vslots[k++] = i;
    return k;
}

/* The history positions of chunk b as the store keeps it (a whole chunk past the sinks). */
static void store_span(const struct mdraft *md, int b, int *a, int *e) { chunk_span(md, b, (b + 1) * MEM_CHUNK, a, e); }

/* The positions below n, missing from the cache (md->have), of the retrieved chunks the store holds:
   counted, or (copy) appended from the store at their own positions. Returns the count or a status. */
static int store_restore(struct mdraft *md, const int32_t *hist, int n, bool copy) {
    int got = 0;
    for (int b = md->sinks / MEM_CHUNK; b < md->n_chunk && b * MEM_CHUNK < n - md->window; b++) {
        if (!md->in_mem[b] || md->store_of[b] < 0) continue;
        int a, e;
        store_span(md, b, &a, &e);
        const uint8_t *src = md->store_buf + (size_t)md->store_of[b] * MEM_CHUNK * md->pos_bytes;
        for (int x = a; x < e && x < n; x++) {
            if (md->have[x]) continue;
            got++;
            if (!copy) continue;
            int st = spc__kv_put(md->ctx, 0, src + (size_t)(x - a) * md->pos_bytes, hist[x], x);
            if (st) return st;
            md->have[x] = 1;
            md->n_evict--;
            md->n_restored++;
        }
    }
    return got;
}

/* masw's store, before md_fit evicts the middle [sinks, w0): each chunk about to go whole (not
   retrieved, every position cached, entirely before w0) and ever attended to is kept if the store
   has room or it outscores the worst chunk held (scores as they stand now; the store is small, a
   linear scan). Chunks the target attends to later are then copied back, not re-forwarded. */
static int store_save(struct mdraft *md, int w0) {
    if (!md->store_cap || w0 <= md->sinks) return SPC_OK;
    const int32_t *kp = spc_kv_positions(md->ctx, 0);
    int slots = spc_kv_len(md->ctx, 0);
    for (int i = 0; i < w0; i++) md->slot_of[i] = -1;
    for (int s = 0; s < slots; s++)
        if (kp[s] < w0) md->slot_of[kp[s]] = s;
    for (int b = md->sinks / MEM_CHUNK; b < md->n_chunk && (b + 1) * MEM_CHUNK <= w0; b++) {
        if (md->in_mem[b] || md->store_of[b] >= 0 || md->score[b] <= 0) continue;
        int a, e, x;
        store_span(md, b, &a, &e);
        for (x = a; x < e && md->slot_of[x] >= 0;) x++;
        if (a >= e || x < e) continue;
        int ent = md->n_store;
        if (ent == md->store_cap) {         /* replace the worst chunk not retrieved now */
            ent = -1;
            for (int j = 0; j < md->n_store; j++)
                if (!md->in_mem[md->store_chunk[j]] && (ent < 0 || md->score[md->store_chunk[j]] < md->score[md->store_chunk[ent]]))
                    ent = j;
            if (ent < 0 || md->score[md->store_chunk[ent]] >= md->score[b]) continue;
            md->store_of[md->store_chunk[ent]] = -1;
        } else {
            md->n_store++;
        }
        md->store_chunk[ent] = b;
        md->store_of[b] = ent;
        for (x = a; x < e; x++) {
            int st = spc__kv_get(md->ctx, 0, md->slot_of[x], md->store_buf + ((size_t)ent * MEM_CHUNK + (size_t)(x - a)) * md->pos_bytes);
            if (st) return st;
        }
    }
    return SPC_OK;
}

/* Keeps the drafter's own cache bounded while it holds history [0, at): window evicts the middle
   when the cache holds more than sinks + window + WIN_SLACK; masw evicts, when the cache holds more
   than sinks + window + memory + WIN_SLACK, every position of the middle whose chunk is not
   retrieved (until then dropped chunks stay readable; evicting every step instead moved the whole
   cache each call, 12 MB for the 0.5b); force: evict them now. Slots are in insertion order
   (re-inserted chunks come after the window's older part), so masw evicts runs of slots, last
   first. */
static int md_fit(struct mdraft *md, int at, bool force) {
    int slots = spc_kv_len(md->ctx, 0);
    if (md->kv_policy == SPC_DRAFT_KV_WINDOW) {
        if (slots <= md->sinks + md->window + WIN_SLACK) return SPC_OK;
        int n = slots - md->sinks - md->window;
        md->n_evict += n;
        return spc_kv_evict(md->ctx, 0, md->sinks, n);
    }
    if (md->kv_policy != SPC_DRAFT_KV_MASW || (!force && slots <= md->sinks + md->window + md->memory + WIN_SLACK))
        return SPC_OK;
    const int32_t *kp = spc_kv_positions(md->ctx, 0);
    int w0 = at - md->window;
    int st = store_save(md, w0);
    if (st) return st;
#define EVICTABLE(p) ((p) >= md->sinks && (p) < w0 && !md->in_mem[(p) / MEM_CHUNK])
    for (int s = slots - 1; s >= 0; s--) {
        if (!EVICTABLE(kp[s])) continue;
        int e = s;
        while (s > 0 && EVICTABLE(kp[s - 1])) s--;
        if ((st = spc_kv_evict(md->ctx, 0, s, e - s + 1))) return st;
        md->n_evict += e - s + 1;
    }
#undef EVICTABLE
    return SPC_OK;
}

/* masw with the drafter's own cache (a standalone draft model, which cannot read the target's):
   selects the chunks as above, keeps the cache within its budget (md_fit) and lists the missing
   positions of the chunks retrieved: those of stored chunks are copied back now, the others listed
   (md->pend) for the next catch-up passes to re-insert. The cache holds history [0, n). */
static int mem_refresh(struct mdraft *md, const int32_t *hist, int n) {
    const int32_t *kp = spc_kv_positions(md->ctx, 0);
    int slots = spc_kv_len(md->ctx, 0);
    memset(md->have, 0, (size_t)n);
    for (int s = 0; s < slots; s++)
        if (kp[s] < n) md->have[kp[s]] = 1;
    mem_select(md, n, md->have);
    int st = md_fit(md, n, false);
    if (st) return st;
    int w0 = n - md->window, need = md->store_cap ? store_restore(md, hist, n, false) : 0;
    if (need) {
        /* room first: what the selection dropped goes now rather than at the next slack */
        if (spc_kv_len(md->ctx, 0) + need > md->sinks + md->window + md->memory + WIN_SLACK && (st = md_fit(md, n, true)))
            return st;
        if ((st = store_restore(md, hist, n, true)) < 0) return st;
    }
    md->n_pend = 0;
    for (int b = md->sinks / MEM_CHUNK; b < md->n_chunk && b * MEM_CHUNK < w0; b++) {
        if (!md->in_mem[b]) continue;
        int a, e;
        chunk_span(md, b, w0, &a, &e);
        for (int x = a; x < e; x++)
            if (!md->have[x]) md->pend[md->n_pend++] = x;
    }
    return SPC_OK;
}

/* Forwards hist[from, to) (the cache holds hist[0, from) as its policy keeps it), in chunks that
   leave the windowed cache bounded; returns the last token's logits row or a negative status.
   masw: the first chunk re-inserts up to gp->draft_refresh pending positions ahead of its tokens,
   each run at its own positions, attending to the cached keys of earlier positions
   (spc__ctx_set_next_positions), so RoPE and causality hold. */
static int md_forward_hist(struct mdraft *md, const int32_t *hist, int from, int to) {
    int li = 0;
    for (int at = from; at < to; at += md->chunk) {
        int st = md_fit(md, at, false);
        if (st) return st;
        int n = to - at < md->chunk ? to - at : md->chunk;
        int nf = md->n_pend < md->refresh ? md->n_pend : md->refresh;
        if (nf > md->chunk - n) nf = 0;        /* a pass adds at most a chunk (the cache's headroom) */
        if (md->rf_share < 1 && md->rf_credit <= 0) nf = 0;    /* over its share of the time: later */
        double t0 = spc__now();
        if (nf > 0) {
            for (int i = 0; i < nf; i++) md->bpos[i] = md->pend[i], md->btok[i] = hist[md->pend[i]];
            for (int i = 0; i < n; i++) md->bpos[nf + i] = at + i, md->btok[nf + i] = hist[at + i];
            md->n_pend -= nf;
            memmove(md->pend, md->pend + nf, sizeof *md->pend * (size_t)md->n_pend);
            md->n_evict -= nf;
            md->base.rf_n += nf;
            spc__ctx_set_next_positions(md->ctx, md->bpos);
            struct spc_batch b = { .n = nf + n, .token = md->btok };
            if ((st = spc_forward(md->ctx, &b))) return st;
            li = nf + n - 1;
            /* what the re-forwarded positions added: the pass's time beyond a pass over its n alone */
            double t = spc__now() - t0, base = n < RF_BASE_N && md->rf_base[n] > 0 ? md->rf_base[n] : t * n / (n + nf);
            double extra = t > base ? t - base : 0;
            md->rf_credit -= extra;
            md->rf_call += extra;
            md->base.rf_s += extra;
            continue;
        }
        spc__ctx_set_next_pos(md->ctx, at);      /* history index = position, whatever the slots */
        li = spc__forward_tokens(md->ctx, hist + at, n, md->chunk);
        if (li < 0) return li;
        if (md->kv_policy == SPC_DRAFT_KV_MASW && n == to - from && n < RF_BASE_N) {  /* a catch-up pass, timed for the budget */
            double t = spc__now() - t0;
            md->rf_base[n] = md->rf_base[n] > 0 ? 0.9 * md->rf_base[n] + 0.1 * t : t;
        }
    }
    return li;
}

/* selfspec on a view of the target's cache: the target holds the history but its last token
   (verification forwards that one with the drafts); the drafter's own cache holds only this step's
   tokens, from the first the target does not hold. */
static int view_catch_up(struct mdraft *md, const int32_t *hist, int n_hist) {
    int tl = spc_kv_len(md->target_ctx, 0);
    if (tl > n_hist - 1) tl = n_hist - 1;
    if (n_hist - tl > SPC__CALIB_MAX)
        return spc__err(SPC_ERR_INVALID, "selfspec: %d history tokens are not in the target's cache", n_hist - tl);
    if (md->kv_policy == SPC_DRAFT_KV_MASW) {
        mem_select(md, tl, NULL);
        int st = spc__ctx_att_collect(md->target_ctx, MEM_CHUNK, md->sinks, md->peak);  /* during the verification */
        if (st) return st;
    }
    int nv = view_slots(md, tl);
    int st = spc__ctx_set_view(md->ctx, md->target_ctx, 0, md->vslots, nv);
    if (!st) st = spc_kv_truncate(md->ctx, 0, 0);
    if (st) return st;
    spc__ctx_set_next_pos(md->ctx, tl);
    return spc__forward_tokens(md->ctx, hist + tl, n_hist - tl, md->chunk);
}

static int md_propose(struct spc__drafter *d, const int32_t *hist, int n_hist, int k_max, int32_t *out,
                      struct spc__qdist *q, int32_t *parent) {
    (void)parent;           /* a chain */
    struct mdraft *md = (struct mdraft *)d;
    if (md->off) return 0;
    if (md->n_past > n_hist - 1) md->n_past = n_hist - 1;
    double t_call = spc__now();
    md->rf_call = 0;
    int st = md->view ? SPC_OK : spc_kv_truncate(md->ctx, 0, md->n_past - md->n_evict);
    if (!st && !md->view && md->kv_policy == SPC_DRAFT_KV_MASW && !(st = mem_refresh(md, hist, md->n_past)))
        st = spc__ctx_att_collect(md->target_ctx, MEM_CHUNK, md->sinks, md->peak);  /* during the verification */
    double t0 = spc__now();
    int li = st ? st : md->view ? view_catch_up(md, hist, n_hist) : md_forward_hist(md, hist, md->n_past, n_hist);
    if (li < 0) return li;
    /* a catch-up after a rest is not the cost of a draft token; re-inserted positions riding on
       the catch-up are (drafting with memory costs that) */
    if (md->view || n_hist - md->n_past <= 2) {
        d->fwd_s = FWD_DECAY * d->fwd_s + (spc__now() - t0);
        d->fwd_n = FWD_DECAY * d->fwd_n + 1;
    } else {
        d->lag_s += spc__now() - t0;
        d->lag_n += n_hist - md->n_past;
    }
    md->n_past = n_hist;
    int k = 0;
    while (k < k_max) {
        const float *lg = spc_ctx_logits(md->ctx, li);
        li = 0;
        if (!lg) return spc__err(SPC_ERR_INVALID, "draft: no logits");
        int32_t x;
        float px;
        if (md->sampling) {
            const int32_t *ids;
            const float *probs;
            int n;
            spc_sampler_dist(md->smp, lg, &ids, &probs, &n);
            int32_t *qi = md->qids + (size_t)k * md->n_vocab;
            float *qp = md->qprobs + (size_t)k * md->n_vocab;
            memcpy(qi, ids, sizeof *qi * (size_t)n);
            memcpy(qp, probs, sizeof *qp * (size_t)n);
            double u = spc_sampler_uniform(md->smp), c = 0;
            x = ids[n - 1];
            px = probs[n - 1];
            for (int i = 0; i < n; i++) {
                c += probs[i];
                if (u < c) {
                    x = ids[i];
                    px = probs[i];
                    break;
                }
            }
            if (px < md->gp->draft_p_min) break;
            q[k] = (struct spc__qdist){ qi, qp, n };
        } else {
            /* the logits past the context's logits_vocab read -inf: over a 152k vocabulary cut to 32k,
               scanning them all cost 1.6 ms per drafted token, a fifth of a 0.5B forward */
            int nv = spc__ctx_logits_width(md->ctx);
            x = spc_argmax(lg, nv);
            if (md->gp->draft_p_min > 0 && softmax_prob(lg, nv, x) < md->gp->draft_p_min) break;
        }
        out[k++] = x;
        if (k == k_max) break;
        struct spc_batch b = { .n = 1, .token = &x };
        spc__ctx_set_next_pos(md->ctx, md->n_past);
        double t1 = spc__now();
        if ((st = spc_forward(md->ctx, &b))) return st;
        d->fwd_s = FWD_DECAY * d->fwd_s + (spc__now() - t1);
        d->fwd_n = FWD_DECAY * d->fwd_n + 1;
        md->n_past++;
    }
    if (md->kv_policy == SPC_DRAFT_KV_MASW && !md->view) {
        /* the budget: re-forwarding may add rf_share of the drafting time without it */
        double inc = md->rf_share * (spc__now() - t_call - md->rf_call);
        md->rf_credit += inc;
        if (md->rf_credit > RF_CREDIT_CALLS * inc) md->rf_credit = RF_CREDIT_CALLS * inc;
    }
    return k;
}

static void md_observe(struct spc__drafter *d, const int32_t *hist, int n_hist, int nd, int na) {
    (void)hist, (void)nd, (void)na;
    struct mdraft *md = (struct mdraft *)d;
    if (md->n_past > n_hist - 1) md->n_past = n_hist - 1;
    if (md->kv_policy == SPC_DRAFT_KV_MASW) spc__ctx_att_collect(md->target_ctx, 0, 0, false);
}

/* ---- selfspec: the skipped set ---- */

/* Parses "3,5,7-9" into skip[0..n_layer). */
static int parse_layers(const char *s, uint8_t *skip, int n_layer) {
    memset(skip, 0, (size_t)n_layer);
    const char *p = s;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p) goto bad;
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1) goto bad;
            p = end;
        }
        if (a < 0 || b < a || b >= n_layer) goto bad;
        for (long i = a; i <= b; i++) skip[i] = 1;
        if (*p == ',') p++;
        else if (*p) goto bad;
    }
    int n = 0;
    for (int i = 0; i < n_layer; i++) n += skip[i];
    if (n == n_layer) return spc__err(SPC_ERR_INVALID, "selfspec: cannot skip all %d layers", n_layer);
    return SPC_OK;
bad:
    return spc__err(SPC_ERR_INVALID, "selfspec: bad layer list '%s' (want e.g. 3,5,7-9 with layers 0..%d)", s, n_layer - 1);
}

static int fmt_layers(const uint8_t *skip, int n_layer, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < n_layer; i++) {
        if (!skip[i]) continue;
        int j = i;
        while (j + 1 < n_layer && skip[j + 1]) j++;
        int k = j > i ? snprintf(buf + len, cap - len, "%s%d-%d", len ? "," : "", i, j)
                      : snprintf(buf + len, cap - len, "%s%d", len ? "," : "", i);
        if (k < 0 || (size_t)k >= cap - len) break;
        len += (size_t)k;
        i = j;
    }
    return (int)len;
}

/* Share of the calibration positions where the drafter (with skip) agrees with ref. */
static int agreement(struct mdraft *md, const int32_t *calib, int n, const int32_t *ref, double *out) {
    uint8_t lg[SPC__CALIB_MAX];
    memset(lg, 1, sizeof lg);
    int st = spc_ctx_set_layer_skip(md->ctx, md->skip, md->n_layer);
    if (!st) st = spc_kv_truncate(md->ctx, 0, 0);     /* the set may be the one already there */
    struct spc_batch b = { .n = n, .token = calib, .logits = lg };
    if (!st) st = spc_forward(md->ctx, &b);
    if (st) return st;
    int agree = 0;
    for (int i = 0; i < n; i++) agree += spc_argmax(spc_ctx_logits(md->ctx, i), md->n_vocab) == ref[i];
    *out = (double)agree / n;
    return spc_kv_truncate(md->ctx, 0, 0);
}

static double expected_speedup(double a, int K, double c, double v) {
    if (a >= 1) a = 0.999999;
    return (1 - pow(a, K + 1)) / ((1 - a) * (K * c + v));
}

/* Time of one target pass over n positions (best of 3), on an empty sequence. */
static int time_pass(struct spc_ctx *ctx, const int32_t *t, int n, double *out) {
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        int st = spc_kv_truncate(ctx, 0, 0);
        struct spc_batch b = { .n = n, .token = t };
        double t0 = spc__now();
        if (!st) st = spc_forward(ctx, &b);
        if (st) return st;
        double dt = spc__now() - t0;
        if (dt < best) best = dt;
    }
    *out = best;
    return spc_kv_truncate(ctx, 0, 0);
}

static int search_layers(struct mdraft *md, const int32_t *calib, int n) {
    double t0 = spc__now();
    int L = md->n_layer, K = md->gp->draft_max;
    if (n > SPC__CALIB_MAX) n = SPC__CALIB_MAX;
    if (n < 8) return spc__err(SPC_ERR_INVALID, "selfspec: the calibration text needs at least 8 tokens (has %d)", n);
    int32_t ref[SPC__CALIB_MAX];
    uint8_t lg[SPC__CALIB_MAX];
    memset(lg, 1, sizeof lg);
    struct spc_batch b = { .n = n, .token = calib, .logits = lg };
    int st = spc_kv_truncate(md->target_ctx, 0, 0);
    if (!st) st = spc_forward(md->target_ctx, &b);
    if (st) return st;
    for (int i = 0; i < n; i++) ref[i] = spc_argmax(spc_ctx_logits(md->target_ctx, i), md->n_vocab);
    double t1, tk;
    if ((st = time_pass(md->target_ctx, calib, 1, &t1)) || (st = time_pass(md->target_ctx, calib, K + 1 < n ? K + 1 : n, &tk)))
        return st;
    double v = tk / t1;
    const struct spc_model *m = md->m;
    double head = (double)m->output.row_bytes * (double)m->output.ne1 / (double)spc_model_weight_bytes(m);
    if (head > 1) head = 1;
    double single[256];
    int order[256];
    for (int l = 0; l < L; l++) {
        memset(md->skip, 0, (size_t)L);
        md->skip[l] = 1;
        if ((st = agreement(md, calib, n, ref, &single[l]))) return st;
        order[l] = l;
    }
    for (int i = 1; i < L; i++)         /* most agreeing first (insertion sort, stable) */
        for (int j = i; j > 0 && single[order[j]] > single[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    int best_k = 0;
    double best_a = 1, best_s = 1;         /* a set must beat plain decoding */
    for (int k = 1; k < L; k++) {
        memset(md->skip, 0, (size_t)L);
        for (int i = 0; i < k; i++) md->skip[order[i]] = 1;
        double a;
        if ((st = agreement(md, calib, n, ref, &a))) return st;
        double c = head + (1 - head) * (double)(L - k) / L;
        double s = expected_speedup(a, K, c, v);
        if (s > best_s) {
            best_s = s;
            best_k = k;
            best_a = a;
        }
        if (a < 0.2) break;             /* past any useful set */
    }
    memset(md->skip, 0, (size_t)L);
    for (int i = 0; i < best_k; i++) md->skip[order[i]] = 1;
    char buf[256];
    fmt_layers(md->skip, L, buf, sizeof buf);
    /* skipping nothing drafts with the target itself: never faster, so drafting is switched off */
    md->off = best_k == 0;
    snprintf(md->info, sizeof md->info,
             "%s%s (%d of %d layers; auto search on %d tokens: agreement %.2f, v(%d) %.2f, expected speedup %.2f, %.1f s)",
             best_k ? "skip " : "off: no skipped set pays", best_k ? buf : "", best_k, L, n, best_a, K, v,
             best_k ? best_s : 1.0, spc__now() - t0);
    md->base.t_extra += spc__now() - t0;
    return spc_ctx_set_layer_skip(md->ctx, md->skip, L);
}

/* The drafter's own prefill of the prompt but its last token (its cache holds hist[0, n_past) as
   its policy keeps it). */
static int md_prefill(struct mdraft *md, const int32_t *hist, int n_hist) {
    int st = spc_kv_truncate(md->ctx, 0, md->n_past - md->n_evict);
    if (st) return st;
    int li = md_forward_hist(md, hist, md->n_past, n_hist - 1);
    if (li < 0) return li;
    md->n_prefilled += n_hist - 1 - md->n_past;
    md->n_past = n_hist - 1;
    return SPC_OK;
}

/* masw, a draft model's sparse prefill of the prompt but its last token (n positions): only what
   its cache keeps or its store saves goes in. The target's attention from the prompt's end has
   scored the chunks (md_prefilled); the draft model forwards the sinks, the best-scored whole
   chunks of the middle (those retrieved, then as many as the store holds) and the prompt's last
   2 x window positions from a chunk's start (the window, and a window before it, so that the
   window's first positions read as much recent context as in a full prefill, where a position
   reads the window before it), ascending, each at its own position and attending to the cached
   positions before it, as a re-forwarded chunk does; md_fit evicts and stores as in the full
   prefill. It forwards about sinks + memory + store + 2 x window positions whatever the prompt's
   length (16k: 3.6k positions, the drafter's prefill 3.3-3.6x cheaper for 3 fewer accepted tokens
   of 168 over 4 documents, bench/results/2026-12-02zz-masw-sparse-prefill.md). */
static int md_prefill_sparse(struct mdraft *md, const int32_t *hist, int n) {
    int st = spc_kv_truncate(md->ctx, 0, md->n_past - md->n_evict);
    if (st) return st;
    int tail = (n - 2 * md->window) / MEM_CHUNK * MEM_CHUNK, lo = md->n_past > md->sinks ? md->n_past : md->sinks;
    uint8_t *fw = md->have;             /* here: per position, 1 to forward */
    memset(fw, 0, (size_t)n);
    for (int x = md->n_past; x < n; x++) fw[x] = x < md->sinks || x >= tail;
    int want = md->memory / MEM_CHUNK + md->store_cap;
    for (int r = 0; r < want; r++) {    /* retrieved chunks first, then the best-scored (a repeated max) */
        int best = -1, a, e;
        for (int b = lo / MEM_CHUNK; b < md->n_chunk && (b + 1) * MEM_CHUNK <= tail; b++) {
            chunk_span(md, b, tail, &a, &e);
            if (a < lo || fw[a] || md->score[b] <= 0) continue;
            if (best < 0 || md->in_mem[b] > md->in_mem[best] || (md->in_mem[b] == md->in_mem[best] && md->score[b] > md->score[best]))
                best = b;
        }
        if (best < 0) break;
        chunk_span(md, best, tail, &a, &e);
        memset(fw + a, 1, (size_t)(e - a));
    }
    int nb = 0;
    for (int x = md->n_past; x <= n; x++) {
        if (x < n && !fw[x]) continue;
        if (x < n) md->bpos[nb] = x, md->btok[nb++] = hist[x];
        if (nb && (nb == md->chunk || x == n)) {
            if ((st = md_fit(md, md->bpos[0], false))) return st;
            spc__ctx_set_next_positions(md->ctx, md->bpos);
            struct spc_batch b = { .n = nb, .token = md->btok };
            if ((st = spc_forward(md->ctx, &b))) return st;
            md->n_prefilled += nb;
            nb = 0;
        }
    }
    md->n_past = n;
    md->n_evict = n - spc_kv_len(md->ctx, 0);    /* history positions not cached: evicted or skipped */
    return SPC_OK;
}

static int md_reset(struct spc__drafter *d, const int32_t *hist, int n_hist, int n_max) {
    (void)n_max;
    struct mdraft *md = (struct mdraft *)d;
    /* prompt caching: the drafter's KV of the prefix it shares with the new prompt stays */
    const int32_t *cached = spc_kv_tokens(md->ctx, 0);
    int kv = spc_kv_len(md->ctx, 0);
    md->n_past = 0;
    const int32_t *cpos = spc_kv_positions(md->ctx, 0);
    while (md->n_past < kv && md->n_past < n_hist - 1 && cached[md->n_past] == hist[md->n_past] && cpos[md->n_past] == md->n_past)
        md->n_past++;
    if ((md->selfspec && !md->searched) || md->view) md->n_past = 0;
    int st = spc_kv_truncate(md->ctx, 0, md->n_past);     /* matched slots sit at their positions */
    md->n_evict = 0;
    if (st) return st;
    if (md->view) st = spc__ctx_set_view(md->ctx, NULL, 0, NULL, 0);   /* the target's cache is the history */
    if (md->kv_policy == SPC_DRAFT_KV_MASW) {
        spc__ctx_att_take(md->target_ctx, md->mass, md->n_chunk);     /* another request's */
        memset(md->score, 0, sizeof *md->score * (size_t)md->n_chunk);
        memset(md->in_mem, 0, (size_t)md->n_chunk);
        md->n_sel = 0;
        md->n_retrieved = 0;
        md->base.rf_n = 0;
        md->rf_credit = 0;
        md->base.rf_s = 0;
        md->n_restored = 0;
        md->n_prefilled = 0;
        md->n_pend = 0;
        for (int j = 0; j < md->n_store; j++) md->store_of[md->store_chunk[j]] = -1;    /* another history's */
        md->n_store = 0;
    }
    if (!st && md->selfspec && !md->searched) {
        const int32_t *cal = md->gp->calib ? md->gp->calib : hist;
        int nc = md->gp->calib ? md->gp->n_calib : n_hist;
        if ((st = search_layers(md, cal, nc))) return st;
        md->searched = true;
        spc__log(SPC_LOG_INFO, "selfspec: %s", md->info);
    }
    if (st) return st;
    /* the prompt, but its last token, goes in now: prompt time, as the target's prefill (masw:
       once the target holds the prompt, md_prefilled) */
    if (!md->off && !md->view && md->kv_policy != SPC_DRAFT_KV_MASW && n_hist - 1 > md->n_past)
        return md_prefill(md, hist, n_hist);
    return SPC_OK;
}

/* masw, at the start of a request: the target forwards the prompt's last MEM_PRIME positions again
   with the attention statistics on, so the first selection holds the chunks the prompt's end (the
   task, the question) draws on; the draft model then prefills keeping them (nothing to re-forward
   later), a view holds them at once. The target's K/V of those positions is put back as it was:
   forwarding them again gives the same bits only if the cache was made by these kernels (a prompt
   cache loaded from a file written by another build or CPU need not be), and the output must not
   depend on the drafter. */
static int md_prefilled(struct spc__drafter *d, const int32_t *hist, int n_hist) {
    struct mdraft *md = (struct mdraft *)d;
    if (md->off || md->kv_policy != SPC_DRAFT_KV_MASW) return SPC_OK;
    struct spc_ctx *tc = md->target_ctx;
    int n = n_hist - 1, st = SPC_OK;
    if (n > md->sinks + md->window && spc_kv_len(tc, 0) == n) {
        int tail = n - md->sinks < MEM_PRIME ? n - md->sinks : MEM_PRIME;
        size_t pb = spc__ctx_kv_pos_bytes(tc);
        if (!md->prime_kv && !(md->prime_kv = spc__alloc(pb * MEM_PRIME)))
            return spc__err(SPC_ERR_NOMEM, "draft: out of memory");
        int32_t tok[MEM_PRIME], pos[MEM_PRIME];
        for (int i = 0; i < tail && !st; i++) {
            tok[i] = spc_kv_tokens(tc, 0)[n - tail + i];
            pos[i] = spc_kv_positions(tc, 0)[n - tail + i];
            st = spc__kv_get(tc, 0, n - tail + i, md->prime_kv + pb * (size_t)i);
        }
        if (!st && !(st = spc_kv_truncate(tc, 0, n - tail)) && !(st = spc__ctx_att_collect(tc, MEM_CHUNK, md->sinks, md->peak))) {
            int li = spc__forward_tokens(tc, hist + n - tail, tail, md->gp->ctx.n_batch);
            st = li < 0 ? li : spc__ctx_att_collect(tc, 0, 0, false);
        }
        if (!st) st = spc_kv_truncate(tc, 0, n - tail);
        for (int i = 0; i < tail && !st; i++) st = spc__kv_put(tc, 0, md->prime_kv + pb * (size_t)i, tok[i], pos[i]);
        if (st) return st;
        mem_select(md, n, NULL);
    }
    /* a prompt within sinks + 2 x window: the sparse prefill forwards it all, as md_prefill */
    if (md->view || n <= md->n_past) return SPC_OK;
    return md->sparse ? md_prefill_sparse(md, hist, n) : md_prefill(md, hist, n_hist);
}

/* snprintf at the end of md->desc (truncating quietly) */
static void desc_add(struct mdraft *md, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void desc_add(struct mdraft *md, const char *fmt, ...) {
    size_t n = strlen(md->desc);
    if (n + 1 >= sizeof md->desc) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(md->desc + n, sizeof md->desc - n, fmt, ap);
    va_end(ap);
}

static const char *md_describe(struct spc__drafter *d) {
    struct mdraft *md = (struct mdraft *)d;
    static const char *pol[] = { "full", "window", "masw" };
    md->desc[0] = 0;
    if (md->view) desc_add(md, "%s; drafts on a %s view of the target's cache", md->info, pol[md->kv_policy]);
    else desc_add(md, "%s; KV %s", md->info, pol[md->kv_policy]);
    if (md->kv_policy != SPC_DRAFT_KV_FULL) desc_add(md, ": %d sinks + %d recent", md->sinks, md->window);
    if (md->kv_policy == SPC_DRAFT_KV_MASW) {
        desc_add(md, " + memory of %d in chunks of %d (scored by %s attention): %d held", md->memory, MEM_CHUNK,
                 md->peak ? "peak" : "mass of", md->n_sel);
        int shown = 0;          /* the positions held, as ranges (the first few) */
        for (int b = 0; b < md->n_chunk && shown < 6; b++) {
            if (!md->in_mem[b] || (b && md->in_mem[b - 1])) continue;
            int e = b;
            while (e + 1 < md->n_chunk && md->in_mem[e + 1]) e++;
            desc_add(md, "%s%d-%d", shown++ ? "," : " at ", b * MEM_CHUNK, (e + 1) * MEM_CHUNK - 1);
        }
        desc_add(md, ", %ld retrieved this request", md->n_retrieved);
        if (!md->view) {
            desc_add(md, " (%ld positions re-forwarded, adding %.1f s", md->base.rf_n, md->base.rf_s);
            if (md->rf_share < 1) desc_add(md, ", at most %.0f%% of the drafting time)", 100.0 * md->rf_share);
            else desc_add(md, ")");
        }
        if (!md->view) desc_add(md, "; %s prefill: %ld prompt positions forwarded", md->sparse ? "sparse" : "full", md->n_prefilled);
        if (md->store_cap)
            desc_add(md, "; store of %d positions (%.1f MiB): %d chunks held, %ld positions copied back", md->store_cap * MEM_CHUNK,
                     (double)md->store_cap * MEM_CHUNK * md->pos_bytes / (1 << 20), md->n_store, md->n_restored);
    }
    desc_add(md, "; %scache of %d positions (%.1f MiB)", md->view ? "own " : "", spc_ctx_n_ctx(md->ctx),
             (double)spc_ctx_kv_bytes(md->ctx) / (1 << 20));
    if (!md->view && md->kv_policy != SPC_DRAFT_KV_FULL) desc_add(md, ", %d evicted this request", md->n_evict);
    return md->desc;
}

static void md_free(struct spc__drafter *d) {
    struct mdraft *md = (struct mdraft *)d;
    spc_ctx_free(md->ctx);
    spc_sampler_free(md->smp);
    spc__free(md->qids);
    spc__free(md->qprobs);
    spc__free(md->skip);
    spc__free(md->prime_kv);
    spc__free(md->score);
    spc__free(md->mass);
    spc__free(md->in_mem);
    spc__free(md->vslots);
    spc__free(md->have);
    spc__free(md->pend);
    spc__free(md->bpos);
    spc__free(md->btok);
    spc__free(md->store_chunk);
    spc__free(md->store_of);
    spc__free(md->store_buf);
    spc__free(md->slot_of);
    spc__free(md);
}

static void md_forget(struct spc__drafter *d) {
    struct mdraft *md = (struct mdraft *)d;
    spc_kv_truncate(md->ctx, 0, 0);     /* to 0: cannot fail */
    md->n_past = md->n_evict = 0;
}

static const struct spc__drafter_vt md_vt = { md_propose, md_observe, md_reset, NULL, NULL, md_describe, md_free,
                                              md_prefilled, md_forget };

int spc__drafter_model_new(struct spc__drafter **out, const struct spc__draft_cfg *cfg, bool selfspec) {
    const struct spc_gen_params *gp = cfg->gp;
    const struct spc_model *m = selfspec ? cfg->target : gp->draft_model;
    if (!selfspec) {
        int st = spc_vocab_check_compatible(spc_model_vocab(cfg->target), spc_model_vocab(m));
        if (st) {
            char why[256];
            snprintf(why, sizeof why, "%s", spc_errmsg());
            return spc__err(st, "draft model: vocabulary incompatible with the target: %s", why);
        }
    }
    struct mdraft *md = spc__calloc(1, sizeof *md);
    if (!md) return spc__err(SPC_ERR_NOMEM, "draft: out of memory");
    md->base.vt = &md_vt;
    md->gp = gp;
    md->m = m;
    md->target_ctx = cfg->target_ctx;
    md->selfspec = selfspec;
    md->sampling = gp->sampling.temp > 0;
    md->n_vocab = spc_model_n_vocab(cfg->target);
    md->n_layer = spc_model_n_layer(m);
    md->kv_policy = gp->draft_kv;
    md->sinks = gp->draft_sinks;
    md->window = gp->draft_window;
    md->memory = gp->draft_memory;
    md->refresh = gp->draft_refresh;
    md->rf_share = gp->draft_refresh_share;
    md->peak = gp->draft_score == SPC_DRAFT_SCORE_PEAK;
    md->sparse = !selfspec && gp->draft_prefill == SPC_DRAFT_PREFILL_SPARSE;
    md->view = selfspec;
    struct spc_ctx_params cp = gp->ctx;
    cp.n_ctx = cfg->n_ctx;
    if (cp.n_ctx > spc_model_n_ctx_train(m)) cp.n_ctx = spc_model_n_ctx_train(m);
    cp.n_seq = 1;
    cp.n_logits = selfspec ? SPC__CALIB_MAX : 1;
    cp.logits_vocab = gp->draft_vocab;
    if (cp.n_batch < SPC__CALIB_MAX) cp.n_batch = SPC__CALIB_MAX;
    md->chunk = cp.n_batch;
    if (md->kv_policy != SPC_DRAFT_KV_FULL) {
        /* the cache never holds more than sinks + window (+ memory and a partial chunk at each of its
           ends) + slack + one prefill chunk (at most the window) + the drafts */
        if (md->chunk > md->window) md->chunk = md->window;
        int mem = md->kv_policy == SPC_DRAFT_KV_MASW ? md->memory + 2 * MEM_CHUNK : 0;
        int most = md->sinks + md->window + mem + WIN_SLACK + md->chunk + SPC_SPEC_KMAX + 2;
        if (most < cp.n_ctx) cp.n_ctx = most;
    }
    if (md->view) {
        /* own cache: this step's tokens (or the search's calibration text); the view: the target's */
        md->view_max = md->kv_policy == SPC_DRAFT_KV_FULL ? cfg->n_ctx : md->sinks + md->window + md->memory;
        if (md->view_max > cfg->n_ctx) md->view_max = cfg->n_ctx;
        cp.n_ctx = SPC__CALIB_MAX + SPC_SPEC_KMAX + 8;
        md->chunk = cp.n_batch;
    }
    md->n_batch = cp.n_batch;
    md->n_chunk = cfg->n_ctx / MEM_CHUNK + 1;
    int st = spc__ctx_new_view(&md->ctx, m, &cp, cfg->target_ctx, md->view_max);
    if (!st && md->view && !(md->vslots = spc__calloc((size_t)md->view_max + 1, sizeof *md->vslots)))
        st = spc__err(SPC_ERR_NOMEM, "draft: out of memory");
    if (!st && md->kv_policy == SPC_DRAFT_KV_MASW) {
        if (!cfg->target_ctx) st = spc__err(SPC_ERR_INVALID, "draft: masw needs the target's context");
        md->score = spc__calloc((size_t)md->n_chunk, sizeof *md->score);
        md->mass = spc__calloc((size_t)md->n_chunk, sizeof *md->mass);
        md->in_mem = spc__calloc((size_t)md->n_chunk, 1);
        if (!md->view) {
            md->have = spc__calloc((size_t)cfg->n_ctx + 1, 1);
            md->pend = spc__calloc((size_t)md->memory + MEM_CHUNK, sizeof *md->pend);
            md->bpos = spc__calloc((size_t)md->n_batch, sizeof *md->bpos);
            md->btok = spc__calloc((size_t)md->n_batch, sizeof *md->btok);
        }
        if (!st && (!md->score || !md->mass || !md->in_mem || (!md->view && (!md->have || !md->pend || !md->bpos || !md->btok))))
            st = spc__err(SPC_ERR_NOMEM, "draft: out of memory");
        md->store_cap = md->view ? 0 : gp->draft_store / MEM_CHUNK;
        if (!st && md->store_cap) {
            md->pos_bytes = spc__ctx_kv_pos_bytes(md->ctx);
            md->store_chunk = spc__calloc((size_t)md->store_cap, sizeof *md->store_chunk);
            md->store_of = spc__alloc(sizeof *md->store_of * (size_t)md->n_chunk);
            md->store_buf = spc__alloc((size_t)md->store_cap * MEM_CHUNK * md->pos_bytes);
            md->slot_of = spc__alloc(sizeof *md->slot_of * ((size_t)cfg->n_ctx + 1));
            if (!md->store_chunk || !md->store_of || !md->store_buf || !md->slot_of)
                st = spc__err(SPC_ERR_NOMEM, "draft: out of memory (a masw store of %d positions)", gp->draft_store);
            else
                for (int b = 0; b < md->n_chunk; b++) md->store_of[b] = -1;
        }
        if (!st && !(st = spc__ctx_att_collect(cfg->target_ctx, MEM_CHUNK, 0, false)))    /* the target's sums: now, not in the loop */
            st = spc__ctx_att_collect(cfg->target_ctx, 0, 0, false);
    }
    if (!st && md->sampling) {
        struct spc_sampler_params sp = gp->sampling;
        sp.seed = sp.seed * 6364136223846793005ull + 1442695040888963407ull;    /* its own stream */
        st = spc_sampler_new(&md->smp, &sp, md->n_vocab);
        if (!st) {
            md->qids = spc__calloc((size_t)SPC_SPEC_KMAX * md->n_vocab, sizeof *md->qids);
            md->qprobs = spc__calloc((size_t)SPC_SPEC_KMAX * md->n_vocab, sizeof *md->qprobs);
            if (!md->qids || !md->qprobs) st = spc__err(SPC_ERR_NOMEM, "draft: out of memory");
        }
    }
    if (!st) {
        md->skip = spc__calloc((size_t)md->n_layer, 1);
        if (!md->skip) st = spc__err(SPC_ERR_NOMEM, "draft: out of memory");
    }
    if (!st && selfspec) {
        const char *sl = gp->skip_layers ? gp->skip_layers : "auto";
        if (strcmp(sl, "auto")) {
            char buf[256];
            if (!(st = parse_layers(sl, md->skip, md->n_layer))) {
                fmt_layers(md->skip, md->n_layer, buf, sizeof buf);
                snprintf(md->info, sizeof md->info, "skip %s (given)", buf);
                md->searched = true;
                st = spc_ctx_set_layer_skip(md->ctx, md->skip, md->n_layer);
            }
        } else if (gp->calib) {
            md->searched = true;
            st = search_layers(md, gp->calib, gp->n_calib);
            if (!st) spc__log(SPC_LOG_INFO, "selfspec: %s", md->info);
        }
    }
    if (!st && !selfspec) snprintf(md->info, sizeof md->info, "draft model %s, %d layers", spc_model_arch(m), md->n_layer);
    if (st) {
        md_free(&md->base);
        return st;
    }
    *out = &md->base;
    return SPC_OK;
}
