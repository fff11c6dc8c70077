/*
 * forward.c: contexts, the KV cache, and the forward pass over a batch of positions.
 *
 * A batch holds positions of one or more sequences with an explicit attention structure (a parent
 * index per position, see spc_batch in specula.h): position i attends to its sequence's committed
 * prefix, to its ancestors in the batch and to itself. A prompt, a chain of drafts and a token
 * tree therefore go through the same code.
 *
 * Bit-identity invariant: everything a position computes is a function of its own inputs and of
 * the keys/values it attends to, visited in one fixed order (prefix slots ascending, then batch
 * ancestors from the root down, then itself). Matmuls call one dot kernel per (row, position),
 * norms and RoPE work per position, and attention keeps per-position scratch. So a position's
 * logits are the same bits whether it is computed alone, in a prompt or in a verification batch.
 *
 * KV layout: per sequence, per layer, n_ctx slots of n_head_kv * head_dim values (f16 or f32).
 * Nothing is allocated after spc_ctx_new.
 * Depends on: base, pool, quant, matmul, model, gguf (a saved cache's model fingerprint).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "gguf.h"
#include "matmul.h"
#include "model.h"
#include "ops.h"
#include "pool.h"

struct spc_ctx {
    const struct spc_model *m;
    struct spc_ctx_params p;
    struct spc_pool *pool;
    size_t kv_elt;                  /* 2 (f16) or 4 (f32) */
    uint8_t *kv_k, *kv_v;           /* [seq][layer][kv head][slot][head_dim] */
    int *kv_len;                    /* per sequence */
    int32_t *kv_tok;                /* [seq][slot]: the token whose K/V the slot holds */
    int32_t *kv_pos;                /* [seq][slot]: its position (== slot until spc_kv_evict) */

    /* per-batch scratch, sized for n_batch positions */
    float *x, *xb, *q, *k, *v, *att, *hb, *hb2, *xl;
    void *mm_scratch;
    int32_t *pos, *slot, *depth, *par, *seq_off;
    float *scores;                  /* per thread: n_ctx floats */
    int32_t *keys;                  /* per thread: n_ctx key slots */
    int32_t *blk;                   /* attention blocks: n_batch + 1 starts */
    int att_rows;                   /* most query rows of one attention job */
    float *logits;                  /* n_logits rows of n_vocab */
    float *rope_cs;                 /* n_rot floats: cos/sin pairs of one position */
    int32_t *logit_row;             /* per batch position: row in logits or -1 */
    int last_n;
    bool own_pool;                  /* false: the pool belongs to another context */
    uint8_t *skip;                  /* per layer: skipped (self-speculation); NULL: none */

    /* a view (spc__ctx_set_view): sequence 0 first attends to these slots of another context's
       cache (same model), then to its own */
    const struct spc_ctx *view_src;
    int view_seq, n_view, view_max;
    const int32_t *view_slots;      /* the caller's, ascending */
    /* attention statistics (spc__ctx_att_collect): per thread, the attention probability mass that
       sequence 0's prefix keys from slot stat_from on received, per chunk of stat_chunk slots */
    int stat_chunk, stat_from, n_stat, stat_alloc;
    bool stat_peak;                 /* per row and chunk its largest probability, not the sum */
    float *stat;                    /* n_threads x n_stat */
    /* the next forward only: sequence 0's positions start at next_pos (-1: after the last slot's;
       spc__ctx_set_next_pos), or are given one by one (pos_list; spc__ctx_set_next_positions), and
       then cached keys are those of earlier positions (cur_pos_list: the running forward's) */
    int next_pos;
    const int32_t *pos_list, *cur_pos_list;
};

struct spc_ctx_params spc_ctx_default_params(void) {
    return (struct spc_ctx_params){ .n_ctx = 4096, .n_seq = 1, .n_batch = 512, .n_logits = 64,
                                    .n_threads = 2, .kv_type = SPC_KV_F16 };
}

static int att_block(const struct spc_hparams *hp);

static size_t kv_dim(const struct spc_model *m) { return (size_t)m->hp.n_head_kv * m->hp.head_dim; }

/* Bytes of one head's key (or value) row. */
static inline size_t kv_head_row(const struct spc_ctx *c) { return (size_t)c->m->hp.head_dim * c->kv_elt; }

/* Address of KV head kvh's K (or V) row for (seq, layer, slot). Each head's rows are contiguous, so
   the attention of one KV head streams its part of the cache front to back (with the heads
   interleaved in each row, one head's reads skip the others' bytes, which this machine's
   prefetchers followed poorly: a third slower, dev/att_lab). */
static inline uint8_t *kv_at(const struct spc_ctx *c, uint8_t *base, int seq, int il, int kvh, int slot) {
    const struct spc_hparams *hp = &c->m->hp;
    return base + ((((size_t)seq * hp->n_layer + il) * hp->n_head_kv + kvh) * c->p.n_ctx + slot) * kv_head_row(c);
}

int spc_ctx_new(struct spc_ctx **out, const struct spc_model *m, const struct spc_ctx_params *pp) {
    return spc__ctx_new_view(out, m, pp, NULL, 0);
}

int spc__ctx_new_sharing(struct spc_ctx **out, const struct spc_model *m, const struct spc_ctx_params *pp,
                         struct spc_ctx *pool_owner) {
    return spc__ctx_new_view(out, m, pp, pool_owner, 0);
}

int spc__ctx_new_view(struct spc_ctx **out, const struct spc_model *m, const struct spc_ctx_params *pp,
                      struct spc_ctx *pool_owner, int view_max) {
    if (!out || !m) return spc__err(SPC_ERR_INVALID, "ctx: NULL argument");
    if (view_max < 0 || view_max > (1 << 24)) return spc__err(SPC_ERR_INVALID, "ctx: bad view size %d", view_max);
    *out = NULL;
    struct spc_ctx_params p = pp ? *pp : spc_ctx_default_params();
    if (p.n_ctx <= 0) p.n_ctx = m->hp.n_ctx_train;
    if (p.n_ctx > m->hp.n_ctx_train)
        return spc__err(SPC_ERR_INVALID, "ctx: context %d is longer than the model's %d", p.n_ctx,
                        m->hp.n_ctx_train);
    if (p.n_seq < 1 || p.n_seq > 4096 || p.n_batch < 1 || p.n_batch > 65536 || p.n_logits < 1 ||
        p.n_threads < 1 || p.n_threads > 512 || (p.kv_type != SPC_KV_F16 && p.kv_type != SPC_KV_F32))
        return spc__err(SPC_ERR_INVALID, "ctx: invalid parameters");
    if (p.n_logits > p.n_batch) p.n_logits = p.n_batch;
    if (p.logits_vocab < 0) return spc__err(SPC_ERR_INVALID, "ctx: negative logits_vocab");
    if (p.logits_vocab > 0) p.logits_vocab = (p.logits_vocab + 15) / 16 * 16;
    if (p.logits_vocab >= m->hp.n_vocab) p.logits_vocab = 0;
    struct spc_ctx *c = spc__calloc(1, sizeof *c);
    if (!c) return spc__err(SPC_ERR_NOMEM, "ctx: out of memory");
    c->m = m;
    c->p = p;
    c->kv_elt = p.kv_type == SPC_KV_F16 ? 2 : 4;
    c->next_pos = -1;
    const struct spc_hparams *hp = &m->hp;
    size_t nb = (size_t)p.n_batch, e = (size_t)hp->n_embd, qd = (size_t)hp->n_head * hp->head_dim;
    size_t kvd = kv_dim(m), nt = (size_t)p.n_threads;
    size_t kv_bytes = (size_t)p.n_seq * hp->n_layer * p.n_ctx * kvd * c->kv_elt;
    size_t mm_in = e > qd ? e : qd;
    if ((size_t)hp->n_ff > mm_in) mm_in = (size_t)hp->n_ff;
    int st = SPC_OK;
    if (pool_owner) c->pool = pool_owner->pool;
    else if ((st = spc__pool_new(&c->pool, p.n_threads))) goto fail;
    c->own_pool = !pool_owner;
    if (pool_owner) c->p.n_threads = p.n_threads = spc__pool_size(c->pool);
    nt = (size_t)p.n_threads;
    c->kv_k = spc__alloc(kv_bytes);
    c->kv_v = spc__alloc(kv_bytes);
    spc__advise_huge(c->kv_k, kv_bytes);    /* attention streams the whole cache each pass */
    spc__advise_huge(c->kv_v, kv_bytes);
    c->kv_len = spc__calloc((size_t)p.n_seq, sizeof *c->kv_len);
    c->kv_tok = spc__calloc((size_t)p.n_seq * (size_t)p.n_ctx, sizeof *c->kv_tok);
    c->kv_pos = spc__calloc((size_t)p.n_seq * (size_t)p.n_ctx, sizeof *c->kv_pos);
    c->x = spc__calloc(nb * e, 4);
    c->xb = spc__calloc(nb * (e > qd ? e : qd), 4);
    c->q = spc__calloc(nb * qd, 4);
    c->k = spc__calloc(nb * kvd, 4);
    c->v = spc__calloc(nb * kvd, 4);
    c->att = spc__calloc(nb * qd, 4);
    c->hb = spc__calloc(nb * (size_t)hp->n_ff, 4);
    c->hb2 = spc__calloc(nb * (size_t)hp->n_ff, 4);
    c->xl = spc__calloc((size_t)p.n_logits * e, 4);
    c->mm_scratch = spc__alloc(spc__matmul_scratch((int64_t)mm_in, p.n_batch));
    c->pos = spc__calloc(nb, 4);
    c->slot = spc__calloc(nb, 4);
    c->depth = spc__calloc(nb, 4);
    c->par = spc__calloc(nb, 4);
    c->seq_off = spc__calloc((size_t)p.n_seq, 4);
    size_t group = (size_t)(hp->n_head / hp->n_head_kv);
    c->att_rows = (int)group * att_block(hp);
    c->view_max = view_max;
    size_t ss = (size_t)p.n_ctx + (size_t)view_max;
    c->scores = spc__calloc(nt * (size_t)c->att_rows * (ss + 2 * (size_t)hp->head_dim), 4);
    c->blk = spc__calloc(nb + 1, 4);
    c->keys = spc__calloc(nt * ss, 4);
    c->logits = spc__calloc((size_t)p.n_logits * hp->n_vocab, 4);
    c->logit_row = spc__calloc(nb, 4);
    c->rope_cs = spc__calloc((size_t)hp->n_rot, 4);
    if (!c->kv_k || !c->kv_v || !c->kv_len || !c->kv_tok || !c->kv_pos || !c->x || !c->xb || !c->q || !c->k || !c->v || !c->att ||
        !c->hb || !c->hb2 || !c->xl || !c->mm_scratch || !c->pos || !c->slot || !c->depth || !c->par ||
        !c->seq_off || !c->scores || !c->keys || !c->blk || !c->logits || !c->logit_row || !c->rope_cs) {
        st = spc__err(SPC_ERR_NOMEM, "ctx: out of memory (KV cache %zu MiB)", 2 * kv_bytes >> 20);
        goto fail;
    }
    *out = c;
    return SPC_OK;
fail:
    spc_ctx_free(c);
    return st;
}

void spc_ctx_free(struct spc_ctx *c) {
    if (!c) return;
    if (c->own_pool) spc__pool_free(c->pool);
    spc__free(c->skip);
    void *bufs[] = { c->kv_k, c->kv_v, c->kv_len, c->kv_tok, c->kv_pos, c->x, c->xb, c->q, c->k, c->v, c->att, c->hb,
                     c->hb2, c->xl, c->mm_scratch, c->pos, c->slot, c->depth, c->par, c->seq_off, c->scores,
                     c->keys, c->blk, c->logits, c->logit_row, c->rope_cs, c->stat };
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) spc__free(bufs[i]);
    spc__free(c);
}

int spc_ctx_n_ctx(const struct spc_ctx *c) { return c->p.n_ctx; }
int spc__ctx_n_logits(const struct spc_ctx *c) { return c->p.n_logits; }
int spc__ctx_n_batch(const struct spc_ctx *c) { return c->p.n_batch; }
int spc__ctx_logits_width(const struct spc_ctx *c) { return c->p.logits_vocab > 0 ? c->p.logits_vocab : c->m->hp.n_vocab; }

const void *spc__ctx_kv_row(const struct spc_ctx *c, int kv, int seq, int il, int kvh, int slot, size_t *bytes) {
    if (seq < 0 || seq >= c->p.n_seq || il < 0 || il >= c->m->hp.n_layer || kvh < 0 || kvh >= c->m->hp.n_head_kv ||
        slot < 0 || slot >= c->kv_len[seq])
        return NULL;
    *bytes = kv_head_row(c);
    return kv_at(c, kv ? c->kv_v : c->kv_k, seq, il, kvh, slot);
}

int spc_ctx_set_layer_skip(struct spc_ctx *c, const uint8_t *skip, int n_layer) {
    if (!c) return spc__err(SPC_ERR_INVALID, "ctx: NULL");
    int L = c->m->hp.n_layer;
    if (skip && n_layer != L)
        return spc__err(SPC_ERR_INVALID, "ctx: layer skip set for %d layers, the model has %d", n_layer, L);
    bool same = !skip == !c->skip;
    for (int il = 0; same && skip && il < L; il++) same = !skip[il] == !c->skip[il];
    if (same) return SPC_OK;
    /* the cached K/V were computed with the old set (skipped layers hold none): start empty */
    for (int s = 0; s < c->p.n_seq; s++) c->kv_len[s] = 0;
    if (!skip) {
        spc__free(c->skip);
        c->skip = NULL;
        return SPC_OK;
    }
    if (!c->skip && !(c->skip = spc__alloc((size_t)L))) return spc__err(SPC_ERR_NOMEM, "ctx: out of memory");
    memcpy(c->skip, skip, (size_t)L);
    return SPC_OK;
}

size_t spc_ctx_kv_bytes(const struct spc_ctx *c) {
    return c ? 2 * (size_t)c->p.n_seq * c->m->hp.n_layer * (size_t)c->p.n_ctx * kv_dim(c->m) * c->kv_elt : 0;
}

int spc_kv_len(const struct spc_ctx *c, int seq) {
    if (seq < 0 || seq >= c->p.n_seq) return spc__err(SPC_ERR_INVALID, "kv: no sequence %d", seq);
    return c->kv_len[seq];
}

int spc_kv_truncate(struct spc_ctx *c, int seq, int n) {
    if (seq < 0 || seq >= c->p.n_seq) return spc__err(SPC_ERR_INVALID, "kv: no sequence %d", seq);
    if (n < 0 || n > c->kv_len[seq])
        return spc__err(SPC_ERR_INVALID, "kv: cannot truncate sequence %d of %d positions to %d", seq,
                        c->kv_len[seq], n);
    c->kv_len[seq] = n;
    return SPC_OK;
}

int spc__ctx_set_view(struct spc_ctx *c, const struct spc_ctx *src, int seq, const int32_t *slots, int n) {
    if (!src) {
        c->view_src = NULL;
        c->n_view = 0;
        return SPC_OK;
    }
    if (src->m != c->m || src->kv_elt != c->kv_elt)
        return spc__err(SPC_ERR_INVALID, "kv view: the source context has another model or KV type");
    if (seq < 0 || seq >= src->p.n_seq) return spc__err(SPC_ERR_INVALID, "kv view: no sequence %d", seq);
    if (n < 0 || n > c->view_max)
        return spc__err(SPC_ERR_INVALID, "kv view: %d slots exceed the context's view of %d", n, c->view_max);
    for (int i = 0; i < n; i++)
        if (slots[i] < 0 || slots[i] >= src->kv_len[seq] || (i && slots[i] <= slots[i - 1]))
            return spc__err(SPC_ERR_INVALID, "kv view: slot %d is not ascending within the source's %d", slots[i],
                            src->kv_len[seq]);
    c->view_slots = slots;
    c->view_src = src;
    c->view_seq = seq;
    c->n_view = n;
    return SPC_OK;
}

void spc__ctx_set_next_pos(struct spc_ctx *c, int pos) { c->next_pos = pos; }

void spc__ctx_set_next_positions(struct spc_ctx *c, const int32_t *pos) {
    c->pos_list = pos;
}

int spc__ctx_att_collect(struct spc_ctx *c, int chunk, int from, bool peak) {
    if (chunk <= 0) {
        c->stat_chunk = 0;
        return SPC_OK;
    }
    if (!c->stat) {         /* once: the sums are kept for the context's life */
        c->n_stat = c->p.n_ctx / chunk + 1;
        c->stat = spc__calloc((size_t)c->p.n_threads * (size_t)c->n_stat, sizeof *c->stat);
        if (!c->stat) return spc__err(SPC_ERR_NOMEM, "ctx: out of memory");
        c->stat_alloc = chunk;
    } else if (chunk != c->stat_alloc) {
        return spc__err(SPC_ERR_INVALID, "ctx: attention statistics already use chunks of %d", c->stat_alloc);
    }
    c->stat_chunk = chunk;
    c->stat_from = from < 0 ? 0 : from;
    c->stat_peak = peak;
    return SPC_OK;
}

int spc__ctx_att_take(struct spc_ctx *c, float *out, int n) {
    if (!c->stat) return 0;
    int m = n < c->n_stat ? n : c->n_stat;
    for (int i = 0; i < m; i++) out[i] = 0;
    for (int t = 0; t < c->p.n_threads; t++) {
        float *s = c->stat + (size_t)t * c->n_stat;
        for (int i = 0; i < m; i++) out[i] += s[i];
        memset(s, 0, sizeof *s * (size_t)c->n_stat);
    }
    return m;
}

int spc_kv_compact(struct spc_ctx *c, int seq, int start, const int32_t *keep, int n_keep) {
    if (seq < 0 || seq >= c->p.n_seq) return spc__err(SPC_ERR_INVALID, "kv: no sequence %d", seq);
    int len = c->kv_len[seq];
    if (start < 0 || start > len || n_keep < 0 || n_keep > len - start || (n_keep && !keep))
        return spc__err(SPC_ERR_INVALID, "kv: bad compaction range");
    for (int j = 0; j < n_keep; j++)
        if (keep[j] < 0 || start + keep[j] >= len || (j > 0 && keep[j] <= keep[j - 1]))
            return spc__err(SPC_ERR_INVALID, "kv: keep list must be increasing offsets inside the cache");
    size_t row = kv_head_row(c);
    for (int il = 0; il < c->m->hp.n_layer; il++)
        for (int h = 0; h < c->m->hp.n_head_kv; h++)
            for (int j = 0; j < n_keep; j++) {
                if (keep[j] == j) continue;
                memmove(kv_at(c, c->kv_k, seq, il, h, start + j), kv_at(c, c->kv_k, seq, il, h, start + keep[j]), row);
                memmove(kv_at(c, c->kv_v, seq, il, h, start + j), kv_at(c, c->kv_v, seq, il, h, start + keep[j]), row);
            }
    int32_t *tok = c->kv_tok + (size_t)seq * c->p.n_ctx, *pos = c->kv_pos + (size_t)seq * c->p.n_ctx;
    for (int j = 0; j < n_keep; j++) {
        tok[start + j] = tok[start + keep[j]];
        /* a tree's accepted path sits at consecutive positions after the kept prefix */
        pos[start + j] = start + j > 0 ? pos[start + j - 1] + 1 : pos[start + keep[j]];
    }
    c->kv_len[seq] = start + n_keep;
    return SPC_OK;
}

int spc_kv_evict(struct spc_ctx *c, int seq, int start, int n) {
    if (!c || seq < 0 || seq >= c->p.n_seq) return spc__err(SPC_ERR_INVALID, "kv: no sequence %d", seq);
    int len = c->kv_len[seq];
    if (start < 0 || n < 0 || start + n > len) return spc__err(SPC_ERR_INVALID, "kv: bad eviction range %d+%d of %d", start, n, len);
    if (!n) return SPC_OK;
    size_t row = kv_head_row(c), rest = (size_t)(len - start - n);
    for (int il = 0; il < c->m->hp.n_layer; il++)
        for (int h = 0; h < c->m->hp.n_head_kv; h++) {
            memmove(kv_at(c, c->kv_k, seq, il, h, start), kv_at(c, c->kv_k, seq, il, h, start + n), rest * row);
            memmove(kv_at(c, c->kv_v, seq, il, h, start), kv_at(c, c->kv_v, seq, il, h, start + n), rest * row);
        }
    int32_t *tok = c->kv_tok + (size_t)seq * c->p.n_ctx, *pos = c->kv_pos + (size_t)seq * c->p.n_ctx;
    memmove(tok + start, tok + start + n, rest * sizeof *tok);
    memmove(pos + start, pos + start + n, rest * sizeof *pos);
    c->kv_len[seq] = len - n;
    return SPC_OK;
}

size_t spc__ctx_kv_pos_bytes(const struct spc_ctx *c) { return 2 * (size_t)c->m->hp.n_layer * kv_dim(c->m) * c->kv_elt; }

int spc__kv_get(const struct spc_ctx *c, int seq, int slot, void *dst) {
    if (seq < 0 || seq >= c->p.n_seq || slot < 0 || slot >= c->kv_len[seq])
        return spc__err(SPC_ERR_INVALID, "kv: no slot %d in sequence %d", slot, seq);
    size_t row = kv_head_row(c);
    uint8_t *d = dst;
    for (int il = 0; il < c->m->hp.n_layer; il++)
        for (int h = 0; h < c->m->hp.n_head_kv; h++, d += 2 * row) {
            memcpy(d, kv_at(c, c->kv_k, seq, il, h, slot), row);
            memcpy(d + row, kv_at(c, c->kv_v, seq, il, h, slot), row);
        }
    return SPC_OK;
}

int spc__kv_put(struct spc_ctx *c, int seq, const void *src, int32_t tok, int32_t pos) {
    if (seq < 0 || seq >= c->p.n_seq) return spc__err(SPC_ERR_INVALID, "kv: no sequence %d", seq);
    int slot = c->kv_len[seq];
    if (slot >= c->p.n_ctx) return spc__err(SPC_ERR_CONTEXT, "kv: sequence %d is full (%d positions)", seq, slot);
    size_t row = kv_head_row(c);
    const uint8_t *sp = src;
    for (int il = 0; il < c->m->hp.n_layer; il++)
        for (int h = 0; h < c->m->hp.n_head_kv; h++, sp += 2 * row) {
            memcpy(kv_at(c, c->kv_k, seq, il, h, slot), sp, row);
            memcpy(kv_at(c, c->kv_v, seq, il, h, slot), sp + row, row);
        }
    c->kv_tok[(size_t)seq * c->p.n_ctx + slot] = tok;
    c->kv_pos[(size_t)seq * c->p.n_ctx + slot] = pos;
    c->kv_len[seq] = slot + 1;
    return SPC_OK;
}

/* ---- saved caches (prompt caching across runs) ----
   A file: "SPCKV001", the model's fingerprint (u64), then u32 kv_elt, n_layer, n_head_kv, head_dim
   and n; the n tokens and n positions (i32); then per layer and KV head its n K rows and n V rows,
   as the cache holds them (host byte order). */
static const char kv_magic[8] = { 'S', 'P', 'C', 'K', 'V', '0', '0', '1' };

int spc_kv_save(const struct spc_ctx *c, int seq, int n, const char *path) {
    if (!c || !path) return spc__err(SPC_ERR_INVALID, "kv save: NULL argument");
    if (seq < 0 || seq >= c->p.n_seq) return spc__err(SPC_ERR_INVALID, "kv save: no sequence %d", seq);
    if (n < 0 || n > c->kv_len[seq])
        return spc__err(SPC_ERR_INVALID, "kv save: sequence %d holds %d positions, not %d", seq, c->kv_len[seq], n);
    const struct spc_hparams *hp = &c->m->hp;
    size_t plen = strlen(path);
    char *tmp = spc__alloc(plen + 5);
    if (!tmp) return spc__err(SPC_ERR_NOMEM, "kv save: out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int st = spc__err(SPC_ERR_IO, "kv save: cannot write '%s': %s", tmp, strerror(errno));
        spc__free(tmp);
        return st;
    }
    uint64_t fp = spc__gguf_fingerprint(c->m->gguf);
    uint32_t h[5] = { (uint32_t)c->kv_elt, (uint32_t)hp->n_layer, (uint32_t)hp->n_head_kv, (uint32_t)hp->head_dim,
                      (uint32_t)n };
    bool ok = fwrite(kv_magic, 1, 8, f) == 8 && fwrite(&fp, 8, 1, f) == 1 && fwrite(h, 4, 5, f) == 5 &&
              fwrite(c->kv_tok + (size_t)seq * c->p.n_ctx, 4, (size_t)n, f) == (size_t)n &&
              fwrite(c->kv_pos + (size_t)seq * c->p.n_ctx, 4, (size_t)n, f) == (size_t)n;
    size_t rows = (size_t)n * kv_head_row(c);
    for (int il = 0; ok && il < hp->n_layer; il++)
        for (int kh = 0; ok && kh < hp->n_head_kv; kh++)
            ok = fwrite(kv_at(c, c->kv_k, seq, il, kh, 0), 1, rows, f) == rows &&
                 fwrite(kv_at(c, c->kv_v, seq, il, kh, 0), 1, rows, f) == rows;
    ok &= fclose(f) == 0;
    int st = SPC_OK;
    if (!ok || rename(tmp, path)) {
        st = spc__err(SPC_ERR_IO, "kv save: cannot write '%s': %s", ok ? path : tmp, strerror(errno));
        remove(tmp);
    }
    spc__free(tmp);
    return st;
}

int spc_kv_load(struct spc_ctx *c, int seq, const char *path) {
    if (!c || !path) return spc__err(SPC_ERR_INVALID, "kv load: NULL argument");
    if (seq < 0 || seq >= c->p.n_seq) return spc__err(SPC_ERR_INVALID, "kv load: no sequence %d", seq);
    const struct spc_hparams *hp = &c->m->hp;
    FILE *f = fopen(path, "rb");
    if (!f)
        return spc__err(errno == ENOENT ? SPC_ERR_NOTFOUND : SPC_ERR_IO, "kv load: cannot open '%s': %s", path,
                        strerror(errno));
    char magic[8];
    uint64_t fp;
    uint32_t h[5] = { 0 };
    int st = SPC_OK;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, kv_magic, 8) || fread(&fp, 8, 1, f) != 1 || fread(h, 4, 5, f) != 5) {
        st = spc__err(SPC_ERR_FORMAT, "kv load: '%s' is not a saved KV cache", path);
    } else if (fp != spc__gguf_fingerprint(c->m->gguf) || h[1] != (uint32_t)hp->n_layer ||
               h[2] != (uint32_t)hp->n_head_kv || h[3] != (uint32_t)hp->head_dim) {
        st = spc__err(SPC_ERR_INVALID, "kv load: '%s' was saved with another model", path);
    } else if (h[0] != (uint32_t)c->kv_elt) {
        st = spc__err(SPC_ERR_INVALID, "kv load: '%s' holds an %s cache; the context's is %s", path,
                      h[0] == 2 ? "f16" : "f32", c->kv_elt == 2 ? "f16" : "f32");
    } else if (h[4] > (uint32_t)c->p.n_ctx) {
        st = spc__err(SPC_ERR_CONTEXT, "kv load: '%s' holds %u positions; the context holds %d", path, h[4], c->p.n_ctx);
    }
    int n = (int)h[4];
    size_t rows = (size_t)n * kv_head_row(c);
    if (!st) {      /* the exact size, before anything changes */
        long want = 8 + 8 + 20 + 8L * n + 2L * hp->n_layer * hp->n_head_kv * (long)rows;
        if (fseek(f, 0, SEEK_END) || ftell(f) != want || fseek(f, 8 + 8 + 20, SEEK_SET))
            st = spc__err(SPC_ERR_FORMAT, "kv load: '%s' is truncated or has trailing bytes (want %ld bytes)", path, want);
    }
    int32_t *tok = c->kv_tok + (size_t)seq * c->p.n_ctx, *pos = c->kv_pos + (size_t)seq * c->p.n_ctx;
    if (!st) c->kv_len[seq] = 0;        /* from here on a failure leaves the sequence empty */
    if (!st && (fread(tok, 4, (size_t)n, f) != (size_t)n || fread(pos, 4, (size_t)n, f) != (size_t)n))
        st = spc__err(SPC_ERR_IO, "kv load: cannot read '%s'", path);
    for (int i = 0; !st && i < n; i++)
        if (tok[i] < 0 || tok[i] >= hp->n_vocab || pos[i] < 0 || pos[i] >= (1 << 30))
            st = spc__err(SPC_ERR_FORMAT, "kv load: '%s': slot %d holds token %d at position %d", path, i, tok[i], pos[i]);
    for (int il = 0; !st && il < hp->n_layer; il++)
        for (int kh = 0; !st && kh < hp->n_head_kv; kh++)
            if (fread(kv_at(c, c->kv_k, seq, il, kh, 0), 1, rows, f) != rows ||
                fread(kv_at(c, c->kv_v, seq, il, kh, 0), 1, rows, f) != rows)
                st = spc__err(SPC_ERR_IO, "kv load: cannot read '%s'", path);
    fclose(f);
    if (!st) c->kv_len[seq] = n;
    return st;
}

const int32_t *spc_kv_positions(const struct spc_ctx *c, int seq) {
    return c && seq >= 0 && seq < c->p.n_seq ? c->kv_pos + (size_t)seq * c->p.n_ctx : NULL;
}

const int32_t *spc_kv_tokens(const struct spc_ctx *c, int seq) {
    return c && seq >= 0 && seq < c->p.n_seq ? c->kv_tok + (size_t)seq * c->p.n_ctx : NULL;
}

const float *spc_ctx_logits(const struct spc_ctx *c, int i) {
    if (i < 0 || i >= c->last_n || c->logit_row[i] < 0) return NULL;
    return c->logits + (size_t)c->logit_row[i] * c->m->hp.n_vocab;
}

/* ---- elementwise ops (per position, fixed order) ---- */

static inline void rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    spc__ops()->rmsnorm(out, x, w, n, eps);
}

/* cos and sin of the n_rot/2 rotation angles at position pos (theta_i = pos*scale*base^(-2i/n_rot),
   built by repeated multiplication as ggml does), computed once and shared by every head:
   cs[0..n_rot/2) are the cosines, cs[n_rot/2..n_rot) the sines. */
static void rope_table(float *cs, int n_rot, float base, float scale, int pos) {
    const float theta_scale = powf(base, -2.0f / n_rot);
    float theta = (float)pos * scale;
    for (int i = 0; i < n_rot / 2; i++) {
        cs[i] = cosf(theta);
        cs[n_rot / 2 + i] = sinf(theta);
        theta *= theta_scale;
    }
}

/* Rotates the first n_rot dims of each head of x (n_heads * head_dim) by the angles in cs: adjacent
   pairs (NORM, llama) or pairs half a rotation apart (NEOX, qwen2 and gemma3). */
static void rope(float *x, int n_heads, int head_dim, int n_rot, const float *cs, enum spc_rope mode) {
    const int half = n_rot / 2;
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * head_dim;
        if (mode == SPC_ROPE_NEOX) {
            spc__ops()->rotate(v, v + half, cs, cs + half, half);
            continue;
        }
        for (int i = 0; i < half; i++) {
            float c = cs[i], s = cs[half + i], x0 = v[2 * i], x1 = v[2 * i + 1];
            v[2 * i] = x0 * c - x1 * s;
            v[2 * i + 1] = x0 * s + x1 * c;
        }
    }
}

/* GELU (tanh form) as ggml computes it by default (GGML_GELU_FP16): the input rounded to f16 indexes
   a table of the f16 rounding of gelu; +-10 and beyond pass through as 0 and x. */
static uint16_t g_gelu_table[65536];
static pthread_once_t g_gelu_once = PTHREAD_ONCE_INIT;

static void gelu_init(void) {
    for (uint32_t i = 0; i < 65536; i++) {
        float h = spc__f16_to_f32_slow((uint16_t)i);
        float y = 0.5f * h * (1.0f + tanhf(0.79788456080286535587989211986876f * h * (1.0f + 0.044715f * h * h)));
        g_gelu_table[i] = spc__f32_to_f16(y);
    }
}

static inline float gelu_f16(float x) {
    if (x <= -10.0f) return 0.0f;
    if (x >= 10.0f) return x;
    return spc__f16_to_f32(g_gelu_table[spc__f32_to_f16(x)]);
}

/* The FFN gate, g = act(g) * u, over the batch's positions split across the pool. */
struct act_task { float *g; const float *u; int n_pos; int n_ff; bool gelu; };

static void act_task_fn(void *va, int ith, int nth) {
    struct act_task *t = va;
    int p0 = t->n_pos * ith / nth, p1 = t->n_pos * (ith + 1) / nth;
    float *g = t->g + (size_t)p0 * t->n_ff;
    const float *u = t->u + (size_t)p0 * t->n_ff;
    size_t n = (size_t)(p1 - p0) * t->n_ff;
    if (t->gelu)
        for (size_t j = 0; j < n; j++) g[j] = gelu_f16(g[j]) * u[j];
    else
        spc__ops()->silu_mul(g, u, n);
}

/* ---- attention ---- */

/* Positions of one sequence that share their committed prefix are attended together: a block of
   up to att_block() positions reads each prefix key and value row once for all its queries (the
   heads of one KV head times the block's positions), then each position adds its own batch
   ancestors. Every score and every output lane is still computed by the same arithmetic in the
   same key order as for a lone position, so the bits do not depend on the blocking. */
struct att_task {
    struct spc_ctx *c;
    const int32_t *seq;
    int n, il;
    int n_blk;                      /* blocks: positions blk[b] .. blk[b+1]-1 */
};

static inline int hp_n_swa(const struct spc_ctx *c) { return c->m->hp.n_swa; }

/* Most positions per block: the block's query rows (positions x group) stay <= 64 so the scratch
   and the rows' working set stay small. */
static int att_block(const struct spc_hparams *hp) {
    int group = hp->n_head / hp->n_head_kv;
    return group >= 64 ? 1 : 64 / group;
}

/* Splits the batch into blocks: runs of positions of one sequence, cut into near-equal blocks of
   at most att_block() positions, more of them when too few jobs (blocks x KV heads) would leave
   threads idle. Sliding-window layers attend position by position (each has its own window). */
static int att_blocks(struct spc_ctx *c, const int32_t *seq, int n, bool swa, int nth) {
    const struct spc_hparams *hp = &c->m->hp;
    int pb = swa ? 1 : att_block(hp), nb = 0;
    for (int i0 = 0; i0 < n;) {
        int s = seq ? seq[i0] : 0, i1 = i0 + 1;
        /* with keys of earlier positions only, a block is one run of consecutive positions (its
           first position decides which cached keys all of its positions see) */
        while (i1 < n && (seq ? seq[i1] : 0) == s && (!c->cur_pos_list || c->pos[i1] == c->pos[i1 - 1] + 1)) i1++;
        int len = i1 - i0, k = (len + pb - 1) / pb;
        while (k < len && (hp->n_head_kv * k) % nth && hp->n_head_kv * k < 4 * nth) k++;
        for (int b = 0; b < k; b++) c->blk[nb++] = i0 + (int)((int64_t)len * b / k);
        i0 = i1;
    }
    c->blk[nb] = n;
    return nb;
}

/* The first i < n whose position pos[idx ? idx[i] : i] is >= lim (positions ascend): where a
   sliding window's keys begin. */
static int first_at(const int32_t *pos, const int32_t *idx, int n, int lim) {
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (pos[idx ? idx[mid] : mid] < lim) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* The key slots position i attends to besides its sequence's prefix [first, prefix): its batch
   ancestors root-first, then itself (sliding-window layers drop the oldest beyond the window). */
static int att_chain(const struct spc_ctx *c, int i, bool swa, int32_t *keys) {
    int chain = c->depth[i] + 1;
    for (int j = i, d = chain - 1; d >= 0; d--, j = c->par[j]) keys[d] = c->slot[j];
    int drop = swa && chain > hp_n_swa(c) ? chain - hp_n_swa(c) : 0;
    if (drop) memmove(keys, keys + drop, sizeof *keys * (size_t)(chain - drop));
    return chain - drop;
}

/* scores[j][s] = q_j . k(keys[s]) for rows j < nq (f16 or f32 cache) */
static void att_dot(const struct spc_ops *ops, bool f16, const float *q, int nq, int hd, const uint8_t *kbase, size_t row,
                    const int32_t *keys, int nk, float *sc, size_t ss) {
    if (nk <= 0) return;
    if (f16) {
        ops->att_dot_f16(q, nq, hd, kbase, row, keys, nk, sc, ss);
        return;
    }
    for (int s = 0; s < nk; s++)
        for (int j = 0; j < nq; j++)
            sc[j * ss + s] = ops->dot_f32(q + j * hd, (const float *)(kbase + (size_t)keys[s] * row), hd);
}

/* out_j += sum_s p[j][s] v(keys[s]), keys in order */
static void att_axpy(const struct spc_ops *ops, bool f16, float *out, int nq, int hd, const float *p, size_t ss,
                     const uint8_t *vbase, size_t row, const int32_t *keys, int nk) {
    if (nk <= 0) return;
    if (f16) {
        ops->att_axpy_f16(out, nq, hd, p, ss, vbase, row, keys, nk);
        return;
    }
    for (int s = 0; s < nk; s++)
        for (int j = 0; j < nq; j++)
            ops->axpy_f32(out + j * hd, p[j * ss + s], (const float *)(vbase + (size_t)keys[s] * row), hd);
}

/* Adds the rows' probabilities of prefix slots first.. (n of them) from stat_from on to this
   thread's per-chunk sums (stat_peak: each row's largest probability in the chunk). */
static void att_stat(struct spc_ctx *c, int ith, const float *p, size_t ss, int rows, int first, int n) {
    float *st = c->stat + (size_t)ith * c->n_stat;
    int ch = c->stat_chunk, s0 = c->stat_from > first ? c->stat_from - first : 0;
    for (int j = 0; j < rows; j++) {
        const float *pj = p + (size_t)j * ss;
        for (int s = s0; s < n;) {
            int slot = first + s, b = slot / ch, end = (b + 1) * ch - first;
            if (end > n) end = n;
            float sum = 0;
            if (c->stat_peak)
                for (; s < end; s++) sum = pj[s] > sum ? pj[s] : sum;
            else
                for (; s < end; s++) sum += pj[s];
            st[b] += sum;
        }
    }
}

/* Jobs are (block, KV head, slice of its query heads). A slice is the whole group unless there
   are too few jobs to keep every thread busy (one position, few KV heads), or they would not
   divide evenly among the threads: every slice reads its KV head's whole cache, which dominates at
   long contexts, so a group is split only as far as the threads need. */
static void att_task_fn(void *va, int ith, int nth) {
    struct att_task *t = va;
    struct spc_ctx *c = t->c;
    const struct spc_hparams *hp = &c->m->hp;
    int hd = hp->head_dim, group = hp->n_head / hp->n_head_kv;
    int split = 1, base = t->n_blk * hp->n_head_kv;     /* jobs = base * split */
    while (split < group && (base * split < nth || (base * split % nth && base * split < 4 * nth))) split++;
    int per = (group + split - 1) / split;
    size_t ss = (size_t)c->p.n_ctx + (size_t)c->view_max;   /* score row stride */
    size_t rows_max = (size_t)c->att_rows;
    float *scores = c->scores + (size_t)ith * rows_max * (ss + 2 * (size_t)hd);
    float *qr = scores + rows_max * ss;      /* rows x hd rounded queries */
    float *ob = qr + rows_max * hd;          /* rows x hd outputs */
    int32_t *keys = c->keys + (size_t)ith * ss;
    const float scale = hp->q_scale != 1 ? 1.0f : 1.0f / sqrtf((float)hd);   /* gemma3 scales q itself */
    const bool swa = c->m->layers[t->il].swa;
    const struct spc_ops *ops = spc__ops();
    bool f16 = c->kv_elt == 2;
    size_t row = kv_head_row(c);
    int total = base * split;
    for (int job = ith; job < total; job += nth) {
        int b = job / (hp->n_head_kv * split), rest = job % (hp->n_head_kv * split);
        int kvh = rest / split, h0 = kvh * group + (rest % split) * per, nq = per;
        if (h0 + nq > (kvh + 1) * group) nq = (kvh + 1) * group - h0;
        if (nq <= 0) continue;
        int i0 = c->blk[b], np = c->blk[b + 1] - i0, rows = np * nq;
        int seq = t->seq ? t->seq[i0] : 0;
        int prefix = c->kv_len[seq], first = 0;   /* kv_len moves only after the pass */
        /* sliding-window layers (one position per block) see only keys less than n_swa positions
           back (slot positions increase; ancestors are always closer than the query's own prefix) */
        int lim = c->pos[i0] - hp_n_swa(c) + 1;
        if (swa && lim > 0) first = first_at(c->kv_pos + (size_t)seq * c->p.n_ctx, NULL, prefix, lim);
        int npre = prefix - first;
        for (int s = 0; s < npre; s++) keys[s] = first + s;
        if (c->cur_pos_list && seq == 0) {  /* only keys of earlier positions (re-inserted stretches) */
            const int32_t *kp = c->kv_pos + (size_t)seq * c->p.n_ctx;
            int k = 0;
            for (int s = 0; s < npre; s++)
                if (kp[first + s] < c->pos[i0]) keys[k++] = first + s;
            npre = k;
        }
        /* a view: another context's slots come before the own prefix (sliding-window layers keep
           those within the window) */
        const int32_t *vk = NULL;
        int nv = 0;
        const uint8_t *kview = NULL, *vview = NULL;
        if (seq == 0 && c->view_src) {
            const struct spc_ctx *vs = c->view_src;
            vk = c->view_slots;
            nv = c->n_view;
            if (swa && lim > 0) {
                int lo = first_at(vs->kv_pos + (size_t)c->view_seq * vs->p.n_ctx, vk, nv, lim);
                vk += lo;
                nv -= lo;
            }
            kview = kv_at(vs, vs->kv_k, c->view_seq, t->il, kvh, 0);
            vview = kv_at(vs, vs->kv_v, c->view_seq, t->il, kvh, 0);
        }
        /* with an f16 cache, q and the probabilities are rounded to f16 before their products, as
           ggml does (its f16 matmul converts the f32 operand); this keeps us close to llama.cpp */
        for (int p = 0; p < np; p++) {
            const float *q = c->q + ((size_t)(i0 + p) * hp->n_head + h0) * hd;
            if (f16) ops->round_f16(qr + (size_t)p * nq * hd, q, nq * hd, 1.0f);
            else memcpy(qr + (size_t)p * nq * hd, q, sizeof *qr * (size_t)nq * hd);
        }
        const uint8_t *kbase = kv_at(c, c->kv_k, seq, t->il, kvh, 0);
        const uint8_t *vbase = kv_at(c, c->kv_v, seq, t->il, kvh, 0);
        /* scores: the view and the shared prefix for all rows at once, then each position's own chain */
        att_dot(ops, f16, qr, rows, hd, kview, row, vk, nv, scores, ss);
        att_dot(ops, f16, qr, rows, hd, kbase, row, keys, npre, scores + nv, ss);
        int npv = nv + npre;
        for (int p = 0; p < np; p++) {
            int32_t *ck = keys + npre;
            int nc = att_chain(c, i0 + p, swa, ck);
            const float *qp = qr + (size_t)p * nq * hd;
            att_dot(ops, f16, qp, nq, hd, kbase, row, ck, nc, scores + (size_t)p * nq * ss + npv, ss);
            for (int j = 0; j < nq; j++) {
                float *sc = scores + ((size_t)p * nq + j) * ss;
                int nk = npv + nc;
                float max = ops->scale_max(sc, nk, scale);
                float inv = 1.0f / ops->exp_sum(sc, nk, max);
                if (f16) ops->round_f16(sc, sc, nk, inv);
                else
                    for (int s = 0; s < nk; s++) sc[s] *= inv;
            }
        }
        if (c->stat_chunk && seq == 0 && !c->cur_pos_list) att_stat(c, ith, scores + nv, ss, rows, first, npre);
        /* outputs: the view's and the prefix's values for all rows, then each position's chain, in
           key order */
        memset(ob, 0, (size_t)rows * hd * 4);
        att_axpy(ops, f16, ob, rows, hd, scores, ss, vview, row, vk, nv);
        att_axpy(ops, f16, ob, rows, hd, scores + nv, ss, vbase, row, keys, npre);
        for (int p = 0; p < np; p++) {
            int32_t *ck = keys + npre;
            int nc = att_chain(c, i0 + p, swa, ck);
            float *op = ob + (size_t)p * nq * hd;
            att_axpy(ops, f16, op, nq, hd, scores + (size_t)p * nq * ss + npv, ss, vbase, row, ck, nc);
            memcpy(c->att + ((size_t)(i0 + p) * hp->n_head + h0) * hd, op, (size_t)nq * hd * 4);
        }
    }
}

/* ---- the forward pass ---- */

static int check_batch(struct spc_ctx *c, const struct spc_batch *b) {
    const struct spc_hparams *hp = &c->m->hp;
    if (!b || b->n < 1 || !b->token) return spc__err(SPC_ERR_INVALID, "forward: empty batch");
    if (b->n > c->p.n_batch)
        return spc__err(SPC_ERR_INVALID, "forward: batch of %d exceeds n_batch %d", b->n, c->p.n_batch);
    int n_logits = 0;
    for (int s = 0; s < c->p.n_seq; s++) c->seq_off[s] = 0;
    for (int i = 0; i < b->n; i++) {
        int seq = b->seq ? b->seq[i] : 0;
        if (seq < 0 || seq >= c->p.n_seq) return spc__err(SPC_ERR_INVALID, "forward: position %d has bad sequence %d", i, seq);
        if (b->token[i] < 0 || b->token[i] >= hp->n_vocab)
            return spc__err(SPC_ERR_INVALID, "forward: token %d out of range at position %d", b->token[i], i);
        int par = b->parent ? b->parent[i] : -2;
        if (par == -2) {                        /* chain: previous position of the same sequence */
            par = -1;
            for (int j = i - 1; j >= 0; j--)
                if (!b->seq || b->seq[j] == seq) { par = j; break; }
        } else if (par < -1 || par >= i || (b->seq && b->seq[par] != seq)) {
            return spc__err(SPC_ERR_INVALID, "forward: position %d has invalid parent %d", i, par);
        }
        c->par[i] = par;
        c->depth[i] = par < 0 ? 0 : c->depth[par] + 1;
        c->slot[i] = c->kv_len[seq] + c->seq_off[seq]++;
        int len = c->kv_len[seq];       /* positions go on after the last kept one */
        int base = seq == 0 && c->next_pos >= 0 ? c->next_pos : len ? c->kv_pos[(size_t)seq * c->p.n_ctx + len - 1] + 1 : 0;
        c->pos[i] = base + c->depth[i];
        if (c->cur_pos_list) {
            if (b->seq || b->parent || (i && c->cur_pos_list[i] <= c->cur_pos_list[i - 1]) || c->cur_pos_list[i] < 0)
                return spc__err(SPC_ERR_INVALID, "forward: explicit positions need one chain of ascending positions");
            c->pos[i] = c->cur_pos_list[i];
        }
        if (c->slot[i] >= c->p.n_ctx)
            return spc__err(SPC_ERR_CONTEXT, "forward: sequence %d would exceed the context of %d", seq, c->p.n_ctx);
        bool want = b->logits ? b->logits[i] != 0 : i == b->n - 1;
        c->logit_row[i] = want ? n_logits++ : -1;
        if (n_logits > c->p.n_logits)
            return spc__err(SPC_ERR_INVALID, "forward: more than n_logits=%d positions ask for logits", c->p.n_logits);
    }
    return SPC_OK;
}

static void store_kv(struct spc_ctx *c, const struct spc_batch *b, int il) {
    size_t kvd = kv_dim(c->m);
    int hd = c->m->hp.head_dim;
    for (int i = 0; i < b->n; i++) {
        int seq = b->seq ? b->seq[i] : 0;
        for (int h = 0; h < c->m->hp.n_head_kv; h++) {
            uint8_t *kr = kv_at(c, c->kv_k, seq, il, h, c->slot[i]), *vr = kv_at(c, c->kv_v, seq, il, h, c->slot[i]);
            const float *k = c->k + i * kvd + (size_t)h * hd, *v = c->v + i * kvd + (size_t)h * hd;
            if (c->kv_elt == 4) {
                memcpy(kr, k, (size_t)hd * 4);
                memcpy(vr, v, (size_t)hd * 4);
            } else {
                spc__ops()->to_f16((uint16_t *)(void *)kr, k, hd);
                spc__ops()->to_f16((uint16_t *)(void *)vr, v, hd);
            }
        }
    }
}

static void add_bias(float *x, const struct spc_w *b, int n_pos) {
    if (!b->data) return;
    const float *bias = (const float *)b->data;
    for (int i = 0; i < n_pos; i++)
        for (int64_t d = 0; d < b->ne0; d++) x[i * b->ne0 + d] += bias[d];
}

int spc_forward(struct spc_ctx *c, const struct spc_batch *b) {
    c->last_n = 0;
    c->cur_pos_list = c->pos_list;
    int st = check_batch(c, b);
    c->next_pos = -1;           /* one forward only */
    c->pos_list = NULL;
    if (st) return st;
    const struct spc_model *m = c->m;
    const struct spc_hparams *hp = &m->hp;
    const int n = b->n, e = hp->n_embd, qd = hp->n_head * hp->head_dim, kvd = (int)kv_dim(m);
    for (int i = 0; i < n; i++) {
        spc__get_row(&m->tok_embd, b->token[i], c->x + (size_t)i * e);
        if (hp->embd_scale != 1)
            for (int d = 0; d < e; d++) c->x[(size_t)i * e + d] *= hp->embd_scale;
    }
    for (int il = 0; il < hp->n_layer; il++) {
        if (c->skip && c->skip[il]) continue;       /* self-speculation: the residual stream passes through */
        const struct spc_layer *L = &m->layers[il];
        for (int i = 0; i < n; i++)
            rmsnorm(c->xb + (size_t)i * e, c->x + (size_t)i * e, (const float *)L->attn_norm.data, e, hp->eps);
        const struct spc_w *qkv[3] = { &L->wq, &L->wk, &L->wv };
        float *qkv_out[3] = { c->q, c->k, c->v };
        spc__matmul_n(c->pool, qkv, qkv_out, 3, c->xb, n, c->mm_scratch);
        add_bias(c->q, &L->bq, n);
        add_bias(c->k, &L->bk, n);
        add_bias(c->v, &L->bv, n);
        for (int i = 0; i < n; i++) {
            float *q = c->q + (size_t)i * qd, *k = c->k + (size_t)i * kvd;
            if (L->q_norm.data) {               /* gemma3: RMS norm per head before RoPE */
                for (int h = 0; h < hp->n_head; h++)
                    rmsnorm(q + h * hp->head_dim, q + h * hp->head_dim, (const float *)L->q_norm.data, hp->head_dim, hp->eps);
                for (int h = 0; h < hp->n_head_kv; h++)
                    rmsnorm(k + h * hp->head_dim, k + h * hp->head_dim, (const float *)L->k_norm.data, hp->head_dim, hp->eps);
            }
            float *cs = c->rope_cs;
            rope_table(cs, hp->n_rot, L->rope_base, L->rope_scale, c->pos[i]);
            rope(q, hp->n_head, hp->head_dim, hp->n_rot, cs, hp->rope);
            rope(k, hp->n_head_kv, hp->head_dim, hp->n_rot, cs, hp->rope);
            if (hp->q_scale != 1)
                for (int d = 0; d < qd; d++) q[d] *= hp->q_scale;
        }
        store_kv(c, b, il);
        struct att_task at = { c, b->seq, n, il, 0 };
        at.n_blk = att_blocks(c, b->seq, n, L->swa, spc__pool_size(c->pool));
        spc__pool_run(c->pool, att_task_fn, &at);
        spc__matmul(c->pool, &L->wo, c->att, n, c->xb, c->mm_scratch);
        if (L->post_attn_norm.data)
            for (int i = 0; i < n; i++)
                rmsnorm(c->xb + (size_t)i * e, c->xb + (size_t)i * e, (const float *)L->post_attn_norm.data, e, hp->eps);
        for (size_t j = 0; j < (size_t)n * e; j++) c->x[j] += c->xb[j];
        for (int i = 0; i < n; i++)
            rmsnorm(c->xb + (size_t)i * e, c->x + (size_t)i * e, (const float *)L->ffn_norm.data, e, hp->eps);
        const struct spc_w *gu[2] = { &L->gate, &L->up };
        float *gu_out[2] = { c->hb, c->hb2 };
        spc__matmul_n(c->pool, gu, gu_out, 2, c->xb, n, c->mm_scratch);
        struct act_task act = { c->hb, c->hb2, n, hp->n_ff, m->arch == SPC_ARCH_GEMMA3 };
        if (act.gelu) pthread_once(&g_gelu_once, gelu_init);
        spc__pool_run(c->pool, act_task_fn, &act);
        spc__matmul(c->pool, &L->down, c->hb, n, c->xb, c->mm_scratch);
        if (L->post_ffn_norm.data)
            for (int i = 0; i < n; i++)
                rmsnorm(c->xb + (size_t)i * e, c->xb + (size_t)i * e, (const float *)L->post_ffn_norm.data, e, hp->eps);
        for (size_t j = 0; j < (size_t)n * e; j++) c->x[j] += c->xb[j];
    }
    int nl = 0;
    for (int i = 0; i < n; i++)
        if (c->logit_row[i] >= 0)
            rmsnorm(c->xl + (size_t)nl++ * e, c->x + (size_t)i * e, (const float *)m->output_norm.data, e, hp->eps);
    if (nl && c->p.logits_vocab > 0) {
        /* the first logits_vocab rows only (rows, and x16 groups, are contiguous), then each
           position's row spread to its n_vocab stride, last first, the rest -inf */
        const size_t nv = (size_t)hp->n_vocab, lv = (size_t)c->p.logits_vocab;
        struct spc_w o = m->output;
        o.ne1 = (int64_t)lv;
        spc__matmul(c->pool, &o, c->xl, nl, c->logits, c->mm_scratch);
        for (int p = nl - 1; p >= 0; p--) {
            float *row = c->logits + (size_t)p * nv;
            memmove(row, c->logits + (size_t)p * lv, lv * sizeof *row);
            for (size_t t = lv; t < nv; t++) row[t] = -INFINITY;
        }
    } else if (nl) {
        spc__matmul(c->pool, &m->output, c->xl, nl, c->logits, c->mm_scratch);
    }
    for (int i = 0; i < n; i++) {
        int seq = b->seq ? b->seq[i] : 0;
        c->kv_tok[(size_t)seq * c->p.n_ctx + c->slot[i]] = b->token[i];
        c->kv_pos[(size_t)seq * c->p.n_ctx + c->slot[i]] = c->pos[i];
        c->kv_len[seq]++;
    }
    c->last_n = n;
    return SPC_OK;
}

int32_t spc_argmax(const float *logits, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}
