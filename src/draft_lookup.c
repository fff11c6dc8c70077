/*
 * draft_lookup.c: training-free drafters that copy from what was seen before.
 *
 * pld (prompt lookup decoding): the last n tokens of the history (n from lookup_max down to
 * lookup_min) are searched for in the earlier history, most recent occurrence first, and the
 * tokens that followed it are proposed.
 *
 * ngram: count tables map an n-gram (lookup_min..lookup_max tokens) to the tokens that followed it
 * and how often (up to NG_CAND candidates per n-gram; a new one replaces the rarest). Three
 * tables, asked in this order for each drafted token, longest n-gram first:
 *   context - the current request's prompt and output, updated as tokens are committed;
 *   dynamic - earlier requests (prompt and output), learned when a request ends, loaded from and
 *             saved to params.ngram_cache so it persists across runs (counts add up on load, so
 *             files merge);
 *   static  - a corpus (params.ngram_corpus: text or token file), counted once at creation.
 * A continuation is proposed when its count is >= ngram_min_count and its share of what followed
 * the n-gram is >= ngram_min_share; drafting stops at the first position without one.
 * Keys are 64-bit hashes of (n, tokens): a collision can only cost a rejected draft, never a wrong
 * output, since verification decides.
 * Tables are sized when a request starts (context) or outside requests (dynamic, static), so
 * drafting allocates nothing.
 * Depends on: base, spec.h.
 */
#include <stdio.h>

#include "spec.h"

/* ---- prompt lookup ---- */

struct pld {
    struct spc__drafter base;
    int nmin, nmax;
};

static int pld_propose(struct spc__drafter *d, const int32_t *hist, int n_hist, int k_max, int32_t *out,
                       struct spc__qdist *q, int32_t *parent) {
    (void)q, (void)parent;
    struct pld *p = (struct pld *)d;
    for (int n = p->nmax; n >= p->nmin; n--) {
        if (n_hist < n + 1) continue;
        const int32_t *pat = hist + n_hist - n;
        for (int j = n_hist - n - 1; j >= 0; j--) {
            if (hist[j] != pat[0] || memcmp(hist + j, pat, sizeof *pat * (size_t)n)) continue;
            int from = j + n, cnt = n_hist - from < k_max ? n_hist - from : k_max;
            memcpy(out, hist + from, sizeof *out * (size_t)cnt);
            return cnt;
        }
    }
    return 0;
}

static void pld_observe(struct spc__drafter *d, const int32_t *h, int n, int nd, int na) {
    (void)d, (void)h, (void)n, (void)nd, (void)na;
}
static int pld_reset(struct spc__drafter *d, const int32_t *h, int n, int nmax) {
    (void)d, (void)h, (void)n, (void)nmax;
    return SPC_OK;
}
static void pld_free(struct spc__drafter *d) { spc__free(d); }

static const struct spc__drafter_vt pld_vt = { pld_propose, pld_observe, pld_reset, NULL, NULL, NULL, pld_free, NULL, NULL };

static int check_orders(const struct spc_gen_params *gp, int hi) {
    if (gp->lookup_min < 1 || gp->lookup_max < gp->lookup_min || gp->lookup_max > hi)
        return spc__err(SPC_ERR_INVALID, "lookup: n-gram lengths must satisfy 1 <= min <= max <= %d (got %d..%d)", hi,
                        gp->lookup_min, gp->lookup_max);
    return SPC_OK;
}

int spc__drafter_pld_new(struct spc__drafter **out, const struct spc__draft_cfg *cfg) {
    int st = check_orders(cfg->gp, 64);
    if (st) return st;
    struct pld *p = spc__calloc(1, sizeof *p);
    if (!p) return spc__err(SPC_ERR_NOMEM, "pld: out of memory");
    p->base.vt = &pld_vt;
    p->nmin = cfg->gp->lookup_min;
    p->nmax = cfg->gp->lookup_max;
    *out = &p->base;
    return SPC_OK;
}

/* ---- n-gram tables ---- */

#define NG_MAXN 8
#define NG_CAND 4

struct ng_entry {
    uint64_t key;               /* 0: empty */
    uint32_t total;
    int32_t next[NG_CAND];
    uint32_t cnt[NG_CAND];
};

struct ng_table {
    struct ng_entry *e;
    size_t cap, n;              /* cap: power of two */
};

static uint64_t ng_key(const int32_t *t, int n) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)n;
    for (int i = 0; i < n; i++) {
        h ^= (uint32_t)t[i];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return h ? h : 1;
}

static int ng_reserve(struct ng_table *tb, size_t n) {
    size_t want = 16;
    while (want < 2 * n) want *= 2;
    if (want <= tb->cap) return SPC_OK;
    struct ng_entry *e = spc__calloc(want, sizeof *e);
    if (!e) return spc__err(SPC_ERR_NOMEM, "ngram: out of memory");
    for (size_t i = 0; i < tb->cap; i++) {
        if (!tb->e[i].key) continue;
        size_t j = tb->e[i].key & (want - 1);
        while (e[j].key) j = (j + 1) & (want - 1);
        e[j] = tb->e[i];
    }
    spc__free(tb->e);
    tb->e = e;
    tb->cap = want;
    return SPC_OK;
}

static void ng_clear(struct ng_table *tb) {
    if (tb->e) memset(tb->e, 0, tb->cap * sizeof *tb->e);
    tb->n = 0;
}

static struct ng_entry *ng_slot(const struct ng_table *tb, uint64_t key) {
    if (!tb->cap) return NULL;
    size_t j = key & (tb->cap - 1);
    while (tb->e[j].key && tb->e[j].key != key) j = (j + 1) & (tb->cap - 1);
    return &tb->e[j];
}

/* Adds cnt sightings of `next` after the n-gram `key`; the table must have room (n < cap / 2). */
static void ng_add_key(struct ng_table *tb, uint64_t key, int32_t next, uint32_t cnt) {
    struct ng_entry *e = ng_slot(tb, key);
    if (!e->key) {
        e->key = key;
        tb->n++;
    }
    e->total += cnt;
    int lo = 0;
    for (int c = 0; c < NG_CAND; c++) {
        if (e->cnt[c] && e->next[c] == next) {
            e->cnt[c] += cnt;
            return;
        }
        if (e->cnt[c] < e->cnt[lo]) lo = c;
    }
    e->next[lo] = next;         /* an empty slot (count 0) or the rarest candidate */
    e->cnt[lo] = cnt;
}

/* Adds every n-gram (nmin..nmax) that ends just before position t, for t in [from, n_hist). */
static int ng_add_hist(struct ng_table *tb, const int32_t *hist, int from, int n_hist, int nmin, int nmax, bool grow) {
    if (grow) {
        int st = ng_reserve(tb, tb->n + (size_t)(n_hist - from > 0 ? n_hist - from : 0) * (size_t)(nmax - nmin + 1));
        if (st) return st;
    }
    for (int t = from > 1 ? from : 1; t < n_hist; t++)
        for (int n = nmin; n <= nmax && n <= t; n++) {
            if (2 * (tb->n + 1) > tb->cap) return SPC_OK;    /* full: stop learning (no allocation) */
            ng_add_key(tb, ng_key(hist + t - n, n), hist[t], 1);
        }
    return SPC_OK;
}

/* The best continuation of key in tb that passes the thresholds, or -1. */
static int32_t ng_best(const struct ng_table *tb, uint64_t key, int min_count, float min_share) {
    const struct ng_entry *e = ng_slot(tb, key);
    if (!e || !e->key) return -1;
    int b = 0;
    for (int c = 1; c < NG_CAND; c++)
        if (e->cnt[c] > e->cnt[b]) b = c;
    if (!e->cnt[b] || e->cnt[b] < (uint32_t)min_count || (float)e->cnt[b] < min_share * (float)e->total) return -1;
    return e->next[b];
}

struct ngram {
    struct spc__drafter base;
    int nmin, nmax, min_count, n_vocab;
    float min_share;
    struct ng_table tab[3];     /* context, dynamic, static */
    int n_indexed;              /* history positions already in the context table */
    char *cache_path;
    bool dirty;
    char info[160];
};

static int ngram_propose(struct spc__drafter *d, const int32_t *hist, int n_hist, int k_max, int32_t *out,
                         struct spc__qdist *q, int32_t *parent) {
    (void)q, (void)parent;
    struct ngram *g = (struct ngram *)d;
    int32_t win[NG_MAXN + SPC_SPEC_KMAX];
    int nw = n_hist < g->nmax ? n_hist : g->nmax;
    memcpy(win, hist + n_hist - nw, sizeof *win * (size_t)nw);
    int k = 0;
    while (k < k_max) {
        int32_t next = -1;
        for (int t = 0; t < 3 && next < 0; t++)
            for (int n = g->nmax; n >= g->nmin && next < 0; n--)
                if (n <= nw) next = ng_best(&g->tab[t], ng_key(win + nw - n, n), t == 0 ? 1 : g->min_count,
                                            g->min_share);
        if (next < 0) break;
        out[k++] = next;
        win[nw++] = next;
    }
    return k;
}

static void ngram_observe(struct spc__drafter *d, const int32_t *hist, int n_hist, int nd, int na) {
    (void)nd, (void)na;
    struct ngram *g = (struct ngram *)d;
    ng_add_hist(&g->tab[0], hist, g->n_indexed, n_hist, g->nmin, g->nmax, false);
    g->n_indexed = n_hist;
}

static int ngram_reset(struct spc__drafter *d, const int32_t *hist, int n_hist, int n_max) {
    struct ngram *g = (struct ngram *)d;
    int st = ng_reserve(&g->tab[0], (size_t)n_max * (size_t)(g->nmax - g->nmin + 1));
    if (st) return st;
    ng_clear(&g->tab[0]);
    g->n_indexed = 0;
    st = ng_add_hist(&g->tab[0], hist, 0, n_hist, g->nmin, g->nmax, false);
    g->n_indexed = n_hist;
    return st;
}

/* ---- the cache file: "SPCNGRM1", u32 count, u32 0, then count entries of
 *      u64 key, u32 total, i32 next[4], u32 cnt[4] (little-endian, as in memory on x86-64) ---- */

#define NG_MAGIC "SPCNGRM1"
#define NG_REC (8 + 4 + 4 * NG_CAND + 4 * NG_CAND)

int spc__save_file(const char *path, const char *who, bool (*write)(FILE *f, const void *ud), const void *ud) {
    size_t plen = strlen(path);
    char *tmp = spc__alloc(plen + 5);
    if (!tmp) return spc__err(SPC_ERR_NOMEM, "%s: out of memory", who);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    int st = SPC_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        st = spc__err(SPC_ERR_IO, "%s: cannot write %s", who, tmp);
    } else {
        bool ok = write(f, ud);
        if (fclose(f) != 0) ok = false;
        if (!ok || rename(tmp, path) != 0) {
            remove(tmp);
            st = spc__err(SPC_ERR_IO, "%s: cannot write %s", who, path);
        }
    }
    spc__free(tmp);
    return st;
}

static bool ng_write(FILE *f, const void *ud) {
    const struct ng_table *tb = ud;
    uint32_t hdr[2] = { (uint32_t)tb->n, 0 };
    bool ok = fwrite(NG_MAGIC, 1, 8, f) == 8 && fwrite(hdr, 4, 2, f) == 2;
    for (size_t i = 0; ok && i < tb->cap; i++) {
        const struct ng_entry *e = &tb->e[i];
        if (!e->key) continue;
        ok = fwrite(&e->key, 8, 1, f) == 1 && fwrite(&e->total, 4, 1, f) == 1 && fwrite(e->next, 4, NG_CAND, f) == NG_CAND &&
             fwrite(e->cnt, 4, NG_CAND, f) == NG_CAND;
    }
    return ok;
}

static int ng_save(const struct ng_table *tb, const char *path) { return spc__save_file(path, "ngram", ng_write, tb); }

static int ng_load(struct ng_table *tb, const char *path, int n_vocab) {
    FILE *f = fopen(path, "rb");
    if (!f) return SPC_ERR_NOTFOUND;        /* a first run: no cache yet */
    char magic[8];
    uint32_t hdr[2];
    int st = SPC_OK;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, NG_MAGIC, 8) || fread(hdr, 4, 2, f) != 2) {
        st = spc__err(SPC_ERR_FORMAT, "ngram cache %s: not an n-gram cache file (bad header)", path);
        goto out;
    }
    if (fseek(f, 0, SEEK_END) || ftell(f) != (long)(16 + (uint64_t)hdr[0] * NG_REC)) {
        st = spc__err(SPC_ERR_FORMAT, "ngram cache %s: %u entries announced, the size does not match", path, hdr[0]);
        goto out;
    }
    fseek(f, 16, SEEK_SET);
    if ((st = ng_reserve(tb, tb->n + hdr[0]))) goto out;
    for (uint32_t i = 0; i < hdr[0]; i++) {
        uint64_t key;
        uint32_t total, cnt[NG_CAND];
        int32_t next[NG_CAND];
        if (fread(&key, 8, 1, f) != 1 || fread(&total, 4, 1, f) != 1 || fread(next, 4, NG_CAND, f) != NG_CAND ||
            fread(cnt, 4, NG_CAND, f) != NG_CAND) {
            st = spc__err(SPC_ERR_FORMAT, "ngram cache %s: truncated at entry %u", path, i);
            goto out;
        }
        uint64_t sum = 0;
        for (int c = 0; c < NG_CAND; c++) {
            if (cnt[c] && (next[c] < 0 || next[c] >= n_vocab)) {
                st = spc__err(SPC_ERR_FORMAT, "ngram cache %s: entry %u has token %d, outside the vocabulary of %d", path,
                              i, next[c], n_vocab);
                goto out;
            }
            sum += cnt[c];
        }
        if (!key || sum > total) {
            st = spc__err(SPC_ERR_FORMAT, "ngram cache %s: entry %u is inconsistent", path, i);
            goto out;
        }
        struct ng_entry *e = ng_slot(tb, key);
        if (!e->key) {
            e->key = key;
            tb->n++;
        }
        e->total += total - (uint32_t)sum;      /* sightings of dropped candidates */
        for (int c = 0; c < NG_CAND; c++)
            if (cnt[c]) ng_add_key(tb, key, next[c], cnt[c]);
    }
out:
    fclose(f);
    return st;
}

/* A corpus file as tokens: a token file ("SPCTOK01", u64 n, n int32 ids < n_vocab) or text,
   tokenized without special tokens. *toks is allocated (free with spc__free). */
int spc__read_corpus(const struct spc_vocab *v, int n_vocab, const char *path, const char *who, int32_t **toks_out,
                     int *n_out) {
    *toks_out = NULL;
    *n_out = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return spc__err(SPC_ERR_IO, "%s %s: cannot open", who, path);
    int st = SPC_OK, n = 0;
    char *text = NULL;
    int32_t *toks = NULL;
    long len = -1;
    if (!fseek(f, 0, SEEK_END)) len = ftell(f);
    if (len < 0 || len > (1l << 30)) {
        st = spc__err(SPC_ERR_IO, "%s %s: cannot read (or larger than 1 GiB)", who, path);
        goto out;
    }
    fseek(f, 0, SEEK_SET);
    text = spc__alloc((size_t)len + 1);
    if (!text) { st = spc__err(SPC_ERR_NOMEM, "%s: out of memory", who); goto out; }
    if (fread(text, 1, (size_t)len, f) != (size_t)len) {
        st = spc__err(SPC_ERR_IO, "%s %s: read error", who, path);
        goto out;
    }
    if (len >= 16 && !memcmp(text, "SPCTOK01", 8)) {
        uint64_t nt;
        memcpy(&nt, text + 8, 8);
        if (nt > (uint64_t)(len - 16) / 4 || 16 + nt * 4 != (uint64_t)len) {
            st = spc__err(SPC_ERR_FORMAT, "%s %s: token file size does not match its count", who, path);
            goto out;
        }
        n = (int)nt;
        toks = spc__calloc((size_t)n + 1, sizeof *toks);
        if (!toks) { st = spc__err(SPC_ERR_NOMEM, "%s: out of memory", who); goto out; }
        memcpy(toks, text + 16, (size_t)n * 4);
        for (int i = 0; i < n; i++)
            if (toks[i] < 0 || toks[i] >= n_vocab) {
                st = spc__err(SPC_ERR_FORMAT, "%s %s: token %d at %d is outside the vocabulary", who, path, toks[i], i);
                goto out;
            }
    } else {
        n = spc_tokenize(v, text, (size_t)len, 0, 0, NULL, 0);
        if (n < 0) {
            char why[256];
            snprintf(why, sizeof why, "%s", spc_errmsg());
            st = spc__err(n, "%s %s: %s", who, path, why);
            goto out;
        }
        toks = spc__calloc((size_t)n + 1, sizeof *toks);
        if (!toks) { st = spc__err(SPC_ERR_NOMEM, "%s: out of memory", who); goto out; }
        spc_tokenize(v, text, (size_t)len, 0, 0, toks, n);
    }
out:
    fclose(f);
    spc__free(text);
    if (st) {
        spc__free(toks);
        return st;
    }
    *toks_out = toks;
    *n_out = n;
    return SPC_OK;
}

static int ng_corpus(struct ngram *g, const struct spc_vocab *v, const char *path) {
    int32_t *toks;
    int n;
    int st = spc__read_corpus(v, g->n_vocab, path, "ngram corpus", &toks, &n);
    if (st) return st;
    st = ng_add_hist(&g->tab[2], toks, 0, n, g->nmin, g->nmax, true);
    spc__free(toks);
    return st;
}

static void ngram_finish(struct spc__drafter *d, const int32_t *hist, int n_hist) {
    struct ngram *g = (struct ngram *)d;
    if (ng_add_hist(&g->tab[1], hist, 0, n_hist, g->nmin, g->nmax, true) == SPC_OK) g->dirty = true;
}

static int ngram_save(struct spc__drafter *d) {
    struct ngram *g = (struct ngram *)d;
    if (!g->cache_path || !g->dirty) return SPC_OK;
    int st = ng_save(&g->tab[1], g->cache_path);
    if (!st) g->dirty = false;
    return st;
}

static const char *ngram_describe(struct spc__drafter *d) {
    struct ngram *g = (struct ngram *)d;
    snprintf(g->info, sizeof g->info, "n=%d..%d, min count %d, min share %.2f; tables: dynamic %zu, static %zu n-grams",
             g->nmin, g->nmax, g->min_count, (double)g->min_share, g->tab[1].n, g->tab[2].n);
    return g->info;
}

static void ngram_free(struct spc__drafter *d) {
    struct ngram *g = (struct ngram *)d;
    ngram_save(d);                  /* a failure here has no caller to tell; spc_gen_save reports it */
    for (int t = 0; t < 3; t++) spc__free(g->tab[t].e);
    spc__free(g->cache_path);
    spc__free(g);
}

static const struct spc__drafter_vt ngram_vt = { ngram_propose, ngram_observe, ngram_reset, ngram_finish,
                                                 ngram_save, ngram_describe, ngram_free, NULL, NULL };

int spc__drafter_ngram_new(struct spc__drafter **out, const struct spc__draft_cfg *cfg) {
    const struct spc_gen_params *gp = cfg->gp;
    int st = check_orders(gp, NG_MAXN);
    if (st) return st;
    if (gp->ngram_min_count < 1 || !(gp->ngram_min_share >= 0 && gp->ngram_min_share <= 1))
        return spc__err(SPC_ERR_INVALID, "ngram: min count must be >= 1 and min share in [0, 1]");
    struct ngram *g = spc__calloc(1, sizeof *g);
    if (!g) return spc__err(SPC_ERR_NOMEM, "ngram: out of memory");
    g->base.vt = &ngram_vt;
    g->nmin = gp->lookup_min;
    g->nmax = gp->lookup_max;
    g->min_count = gp->ngram_min_count;
    g->min_share = gp->ngram_min_share;
    g->n_vocab = spc_model_n_vocab(cfg->target);
    if (gp->ngram_cache) {
        g->cache_path = spc__strndup(gp->ngram_cache, strlen(gp->ngram_cache));
        if (!g->cache_path) st = spc__err(SPC_ERR_NOMEM, "ngram: out of memory");
        else if ((st = ng_load(&g->tab[1], gp->ngram_cache, g->n_vocab)) == SPC_ERR_NOTFOUND) st = SPC_OK;
    }
    if (!st && gp->ngram_corpus) st = ng_corpus(g, spc_model_vocab(cfg->target), gp->ngram_corpus);
    if (st) {
        g->dirty = false;
        ngram_free(&g->base);
        return st;
    }
    *out = &g->base;
    return SPC_OK;
}
