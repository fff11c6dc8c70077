/*
 * draft_memory.c: AdaMemSpec, the speculation memory: recurring token pieces reused as drafts, with
 * a draft-length policy that adapts online.
 *
 * Structure: a depth-bounded suffix trie per source (every substring of at most MEM_D tokens, with
 * how often it occurred and how often it was followed by anything). Each node keeps its suffix
 * link (the node of the same string without its first token) and its two most frequent children,
 * so appending a token costs O(MEM_D) (one step per suffix length), matching the history against a
 * source is an Aho-Corasick walk (O(1) amortized per token), and a proposal follows the most frequent
 * child with p = count(child) / (count(followed) + 1), the estimate that the target agrees (one
 * unseen follower: a context seen once does not promise certainty). Chosen over a
 * suffix automaton because the counts of every context length come for free (an automaton's
 * occurrence counts need a walk up its suffix links per appended token), the depth bound keeps the
 * update cost fixed, and eviction is a rebuild from the kept documents; bytes per token and update
 * time are reported by the bench (spc_gen_drafter_info).
 *
 * Sources, kept apart so each has its own statistics:
 *   request - the current prompt and output (cleared at each request);
 *   outputs - earlier requests of this process and of earlier runs (prompt and output as
 *             documents; persisted to gp->memory_file; bounded by gp->memory_max tokens, the
 *             oldest documents evicted first);
 *   corpus  - a static text or token file (gp->memory_corpus).
 *
 * Hybrid (gp->memory_model): a draft model or self-speculation runs as a fourth source. Its drafts
 * cost a forward pass each, so it is not replayed: it proposes only when chosen, and its per-position
 * acceptance is learned from its own verified drafts (this request's, with all requests' as the
 * prior: how well it drafts varies by request). The adaptive policy compares its expected
 * tokens per unit of time (with its measured per-token cost) with the memory's best and uses it where
 * the memory's match is weak; the other policies use it where the memory has nothing.
 *
 * Token trees (gp->draft_tree, default): each source proposes a best-first tree (a node's children are
 * the likeliest followers of its longest followed context and of its shorter contexts, which know the
 * alternatives a context seen once does not), the sources' trees are merged by path, and the policy
 * takes the first n nodes of the merged best-first order; verification follows the target down the
 * tree (spec.c). Without trees each source proposes its chain and one source is picked.
 *
 * Policies (gp->draft_policy): fixed drafts K nodes (chains: from the source whose first proposal
 * is likeliest); threshold keeps the nodes whose path's product of p estimates is >= gp->draft_threshold;
 * adaptive (AdaMemSpec) keeps, per source and per (match depth, p, evidence) bucket, the measured rate at
 * which a drafted token is accepted after its predecessors were, and picks the source and length k
 * maximizing expected committed tokens per unit of time, (1 + sum_i prod_{j<=i} a_j) / (v(k) + k c),
 * with v(k) the generator's measured verification cost and c the drafting cost. Learning uses full
 * information: every source's proposal of every step is replayed against the committed text once
 * it is known, so sources and lengths that were not drafted are measured too, and no step is spent
 * exploring. The statistics live as long as the generator (across requests).
 * Depends on: base, spec.h.
 */
#include <stdio.h>

#include "spec.h"

#define MEM_D SPC__TRIE_D    /* deepest context kept (tokens) */
#define MEM_NSRC 3
#define MEM_NB 60           /* statistics buckets: 5 depth x 4 p x 3 evidence classes */
#define MEM_PEND (SPC_SPEC_KMAX + 2)
#define MEM_MODEL_W 8.0     /* hybrid: weight (in drafts) of all requests' model acceptance in this request's */

static const char *const src_name[MEM_NSRC] = { "request", "outputs", "corpus" };

/* ---- depth-bounded suffix trie ---- */

struct mnode {
    int32_t tok, link, best, second;    /* best/second: the most frequent children (-1: none) */
    uint32_t cnt, sum;                  /* occurrences; occurrences followed by a token */
    int32_t depth;
};

struct trie {
    struct mnode *nd;
    int32_t n, cap;
    uint64_t *hk;               /* (parent + 1) << 32 | token -> child; 0: empty */
    int32_t *hv;
    size_t hcap, hn;            /* hcap: power of two */
    int32_t act[MEM_D];         /* insertion cursor: nodes of the text's last 0..n_act-1 tokens */
    int n_act;
    bool full;                  /* capacity reached: stopped learning */
};

static size_t tr_slot(const struct trie *t, uint64_t key) {
    size_t j = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & (t->hcap - 1);
    while (t->hk[j] && t->hk[j] != key) j = (j + 1) & (t->hcap - 1);
    return j;
}

static int32_t tr_child(const struct trie *t, int32_t node, int32_t tok) {
    if (!t->hcap) return -1;
    uint64_t key = ((uint64_t)(node + 1) << 32) | (uint32_t)tok;
    size_t j = tr_slot(t, key);
    return t->hk[j] ? t->hv[j] : -1;
}

static void tr_reset(struct trie *t) {
    if (t->hk) memset(t->hk, 0, t->hcap * sizeof *t->hk);
    t->hn = 0;
    t->n = t->cap > 0 ? 1 : 0;
    if (t->cap > 0) t->nd[0] = (struct mnode){ -1, 0, -1, -1, 0, 0, 0 };
    t->act[0] = 0;
    t->n_act = t->cap > 0 ? 1 : 0;
    t->full = false;
}

/* Room for n_nodes nodes (a text of L tokens needs at most 1 + L * MEM_D). Allocates. */
static int tr_reserve(struct trie *t, size_t n_nodes) {
    if (n_nodes > (size_t)INT32_MAX - 1) n_nodes = (size_t)INT32_MAX - 1;
    if (n_nodes <= (size_t)t->cap) return SPC_OK;
    size_t hcap = 16;
    while (hcap < 2 * n_nodes) hcap *= 2;
    struct mnode *nd = spc__realloc(t->nd, n_nodes * sizeof *nd);
    if (!nd) return spc__err(SPC_ERR_NOMEM, "memory: out of memory for %zu trie nodes", n_nodes);
    t->nd = nd;
    uint64_t *hk = spc__calloc(hcap, sizeof *hk);
    int32_t *hv = spc__calloc(hcap, sizeof *hv);
    if (!hk || !hv) {
        spc__free(hk);
        spc__free(hv);
        return spc__err(SPC_ERR_NOMEM, "memory: out of memory for the trie index");
    }
    bool empty = t->cap == 0;
    uint64_t *ok = t->hk;
    int32_t *ov = t->hv;
    size_t oc = t->hcap;
    t->hk = hk;
    t->hv = hv;
    t->hcap = hcap;
    for (size_t i = 0; i < oc; i++)
        if (ok[i]) {
            size_t j = tr_slot(t, ok[i]);
            t->hk[j] = ok[i];
            t->hv[j] = ov[i];
        }
    spc__free(ok);
    spc__free(ov);
    t->cap = (int32_t)n_nodes;
    if (empty) tr_reset(t);
    return SPC_OK;
}

static void tr_free(struct trie *t) {
    spc__free(t->nd);
    spc__free(t->hk);
    spc__free(t->hv);
    memset(t, 0, sizeof *t);
}

/* A document boundary: no substring spans it. */
static void tr_break(struct trie *t) { t->n_act = t->cap > 0 ? 1 : 0; }

static void tr_bump_child(struct mnode *p, const struct mnode *nd, int32_t c) {
    if (p->best == c) return;
    if (p->best < 0 || nd[c].cnt > nd[p->best].cnt) {
        p->second = p->best;
        p->best = c;
    } else if (p->second != c && (p->second < 0 || nd[c].cnt > nd[p->second].cnt)) {
        p->second = c;
    }
}

/* Appends one token: every suffix of length 1..MEM_D ending with it is counted. No allocation;
   when the capacity is reached the trie stops learning new substrings (counts still grow). */
static void tr_append(struct trie *t, int32_t tok) {
    if (!t->n_act) return;
    int32_t nw[MEM_D + 1];
    nw[0] = 0;
    int m = 0;
    for (int d = 0; d < t->n_act; d++) {
        int32_t par = t->act[d], c = tr_child(t, par, tok);
        if (c < 0) {
            if (t->n >= t->cap || 2 * (t->hn + 1) > t->hcap) {
                t->full = true;
                break;
            }
            c = t->n++;
            t->nd[c] = (struct mnode){ tok, nw[d], -1, -1, 0, 0, d + 1 };
            uint64_t key = ((uint64_t)(par + 1) << 32) | (uint32_t)tok;
            size_t j = tr_slot(t, key);
            t->hk[j] = key;
            t->hv[j] = c;
            t->hn++;
        }
        t->nd[c].cnt++;
        t->nd[par].sum++;
        tr_bump_child(&t->nd[par], t->nd, c);
        nw[d + 1] = c;
        m = d + 1;
    }
    t->nd[0].cnt++;
    int n_act = m + 1 < MEM_D ? m + 1 : MEM_D;
    memcpy(t->act, nw, sizeof *nw * (size_t)n_act);
    t->n_act = n_act;
}

/* The node of the longest suffix (<= MEM_D tokens) of (text matched by node) + tok present in t. */
static int32_t tr_step(const struct trie *t, int32_t node, int32_t tok) {
    if (!t->n) return 0;
    for (;;) {
        if (t->nd[node].depth >= MEM_D) node = t->nd[node].link;
        int32_t c = tr_child(t, node, tok);
        if (c >= 0) return c;
        if (node == 0) return 0;
        node = t->nd[node].link;
    }
}

/* ---- the trie for tests (spec.h) ---- */

struct spc__trie { struct trie t; };

struct spc__trie *spc__trie_new(size_t max_nodes) {
    struct spc__trie *x = spc__calloc(1, sizeof *x);
    if (x && tr_reserve(&x->t, max_nodes)) {
        spc__free(x);
        return NULL;
    }
    return x;
}
void spc__trie_free(struct spc__trie *x) {
    if (!x) return;
    tr_free(&x->t);
    spc__free(x);
}
void spc__trie_append(struct spc__trie *x, int32_t tok) { tr_append(&x->t, tok); }
void spc__trie_break(struct spc__trie *x) { tr_break(&x->t); }
int32_t spc__trie_find(const struct spc__trie *x, const int32_t *s, int n) {
    int32_t node = 0;
    for (int i = 0; i < n && node >= 0; i++) node = tr_child(&x->t, node, s[i]);
    return node;
}
void spc__trie_counts(const struct spc__trie *x, int32_t node, uint32_t *cnt, uint32_t *followed, int32_t *best_tok) {
    const struct mnode *nd = &x->t.nd[node];
    *cnt = nd->cnt;
    *followed = nd->sum;
    *best_tok = nd->best >= 0 ? x->t.nd[nd->best].tok : -1;
}
int32_t spc__trie_step(const struct spc__trie *x, int32_t node, int32_t tok) { return tr_step(&x->t, node, tok); }
int spc__trie_depth(const struct spc__trie *x, int32_t node) { return x->t.nd[node].depth; }

/* ---- the drafter ---- */

struct stat { double acc, n; };

/* One source's proposal: a token tree in best-first order (parents first), or a chain. */
struct ptree {
    int n;
    int32_t tok[SPC_SPEC_KMAX];
    int8_t par[SPC_SPEC_KMAX];          /* -1: follows the history */
    uint8_t dep[SPC_SPEC_KMAX];         /* depth below the history (0: the next token) */
    uint8_t bucket[SPC_SPEC_KMAX];
    float p[SPC_SPEC_KMAX];             /* the count estimate */
    float val[SPC_SPEC_KMAX];           /* estimated probability that the path to it is accepted */
};

struct pending {                /* one step's proposals, replayed once the text is known */
    int pos;                    /* history length when proposed: a node at depth d should equal hist[pos + d] */
    struct ptree t[MEM_NSRC];
};

struct memory {
    struct spc__drafter base;
    int policy, min_depth, n_vocab;
    bool tree;                  /* adaptive: merge the sources' token trees (else chains) */
    unsigned sources;
    float threshold;
    struct trie tr[MEM_NSRC];
    int32_t cur[MEM_NSRC];      /* match of the history in the outputs and corpus tries */
    int n_seen;                 /* history tokens already appended / matched */
    /* outputs source: the documents it was built from, -1 between documents */
    int32_t *log;
    size_t log_n, log_cap, max_tokens;
    char *path;
    bool dirty;
    /* adaptive policy */
    struct stat st[MEM_NSRC][MEM_NB];
    struct pending pend[MEM_PEND];
    int n_pend;
    double prop_s;              /* time in propose, per proposed token (the drafting cost c) */
    long prop_n;
    long n_steps, src_used[MEM_NSRC], tree_steps;
    struct spc__drafter *model;     /* hybrid: the model drafter (NULL: none) */
    struct stat mst[SPC_SPEC_KMAX]; /* its acceptance at draft position i, given i - 1 accepted */
    struct stat rst[SPC_SPEC_KMAX]; /* the same within this request */
    bool last_model;                /* the last proposal came from the model */
    int model_hist;                 /* history length the model last saw (its last proposal, or the prompt) */
    double cost_real[2], cost_est[2];   /* memory (0) and model (1) steps: decayed sums of their real
                                           time and of the estimate that chose them, in seconds */
    double step_end, step_draft, step_est;  /* the last step: when propose returned, its drafting
                                               time, its estimated time (0: not judged) */
    long model_steps;
    size_t corpus_n;            /* corpus tokens indexed */
    double upd_s, look_s;       /* time in observe (update) and propose (lookup) */
    long upd_n, look_n;
    char info[640];
};

/* Features of a proposal: its context's match depth, the count estimate p, and the evidence behind
   p (how often the context was followed: p = 1 from one sighting is weaker than from ten). */
static int bucket_of(int depth, float p, uint32_t ev) {
    int d = depth <= 1 ? 0 : depth == 2 ? 1 : depth <= 4 ? 2 : depth <= 8 ? 3 : 4;
    int q = p < 0.3f ? 0 : p < 0.6f ? 1 : p < 0.9f ? 2 : 3;
    int e = ev <= 1 ? 0 : ev <= 3 ? 1 : 2;
    return (d * 4 + q) * 3 + e;
}

/* The acceptance rate of bucket b of source s: measured, with the count estimate as a prior worth
   two observations. */
static double rate(const struct memory *mm, int s, int b, float p) {
    const struct stat *x = &mm->st[s][b];
    return (x->acc + 2.0 * p) / (x->n + 2.0);
}

/* Judges tree t, proposed at history length pos, against hist[0..n_hist): a node is reached when
   its parent was accepted (the root's children always are) and accepted when it equals the token
   committed at its depth. Each judged node is counted into st (when given). Returns false when a
   reached node lies beyond the history: the outcome is not known yet. */
static bool judge_tree(const struct ptree *t, int pos, const int32_t *hist, int n_hist, struct stat *st) {
    bool ok[SPC_SPEC_KMAX], known = true;
    for (int i = 0; i < t->n; i++) {
        ok[i] = false;
        if (t->par[i] >= 0 && !ok[t->par[i]]) continue;
        if (pos + t->dep[i] >= n_hist) {
            known = false;
            continue;
        }
        ok[i] = t->tok[i] == hist[pos + t->dep[i]];
        if (st) {
            st[t->bucket[i]].n += 1;
            st[t->bucket[i]].acc += ok[i];
        }
    }
    return known;
}

/* Replays pending proposals against the committed history; `all` resolves what can be known. */
static void replay(struct memory *mm, const int32_t *hist, int n_hist, bool all) {
    int keep = 0;
    for (int e = 0; e < mm->n_pend; e++) {
        struct pending *pe = &mm->pend[e];
        bool known = true;
        for (int s = 0; s < MEM_NSRC; s++) known &= judge_tree(&pe->t[s], pe->pos, hist, n_hist, NULL);
        if (!known && !all) {
            mm->pend[keep++] = *pe;
            continue;
        }
        for (int s = 0; s < MEM_NSRC; s++) judge_tree(&pe->t[s], pe->pos, hist, n_hist, mm->st[s]);
    }
    mm->n_pend = keep;
}

/* The estimate that a proposal is accepted once verification reaches it: the bucket's measured
   rate for the adaptive policy, the count estimate for the others. */
static double est(const struct memory *mm, int s, int b, float p) {
    return mm->policy == SPC_POLICY_ADAPTIVE ? rate(mm, s, b, p) : p;
}

/* Source s's proposal from its match `node`: a best-first token tree of up to k nodes. A node's
   candidate children are the most frequent followers of its longest followed context and, in tree
   mode (width > 1), those of its shorter contexts (suffix links) that the longer ones did not
   propose, up to `width` distinct tokens, each judged at the context that proposed it (a context
   seen once predicts one token; its suffixes know the alternatives); never below min_depth tokens of
   context. A node's value is its parent's times its own acceptance estimate, and the tree grows by
   the most valuable candidate, so its first n nodes are the best n-node tree for any n. */
static void src_tree(const struct memory *mm, int s, int32_t node, int k, int width, struct ptree *pt) {
    const struct trie *t = &mm->tr[s];
    enum { NC = 3 * SPC_SPEC_KMAX + 3 };
    int32_t cn[NC];             /* candidates: next context, token, parent tree index, value, features */
    int32_t ctok[NC];
    int cpar[NC];
    float cval[NC], cp[NC];
    uint8_t cb[NC];
    int nc = 0, ctx_par = -1;
    float ctx_val = 1;
    pt->n = 0;
    if (!t->n) return;
    while (pt->n < k) {
        /* expand the context `node` (reached by tree node ctx_par) */
        if (t->nd[node].depth >= MEM_D) node = t->nd[node].link;
        int first = nc;
        for (int32_t x = node; x != 0 && t->nd[x].depth >= mm->min_depth && nc - first < width; x = t->nd[x].link) {
            const struct mnode *xn = &t->nd[x];
            int32_t kids[2] = { xn->best, xn->second };
            for (int j = 0; j < 2 && kids[j] >= 0 && nc - first < width && nc < NC; j++) {
                int32_t tok = t->nd[kids[j]].tok;
                bool dup = false;
                for (int i = first; i < nc; i++) dup |= ctok[i] == tok;
                if (dup) continue;
                float p = (float)t->nd[kids[j]].cnt / (float)(xn->sum + 1);  /* one unseen follower */
                int b = bucket_of(xn->depth, p, xn->sum);
                /* the longest context after tok: the child itself when x is the longest match */
                cn[nc] = x == node ? kids[j] : tr_step(t, node, tok);
                ctok[nc] = tok;
                cpar[nc] = ctx_par;
                cp[nc] = p;
                cb[nc] = (uint8_t)b;
                cval[nc] = ctx_val * (float)est(mm, s, b, p);
                nc++;
            }
            if (width == 1 && nc > first) break;  /* a chain: the longest followed context only */
        }
        int best = -1;
        for (int j = 0; j < nc; j++)
            if (cpar[j] >= -1 && (best < 0 || cval[j] > cval[best])) best = j;
        if (best < 0) break;
        int i = pt->n++;
        pt->tok[i] = ctok[best];
        pt->par[i] = (int8_t)cpar[best];
        pt->dep[i] = (uint8_t)(cpar[best] < 0 ? 0 : pt->dep[cpar[best]] + 1);
        pt->bucket[i] = cb[best];
        pt->p[i] = cp[best];
        pt->val[i] = cval[best];
        node = cn[best];
        cpar[best] = -2;            /* taken */
        ctx_par = i;
        ctx_val = cval[best];
    }
}

/* Tree mode: merges the sources' trees (a path proposed by several keeps its best value) and takes
   the best-first order of the union into out/parent; returns the number of nodes ordered (<= k),
   with their values in val and the source behind the first in *src. */
static int merge_trees(const struct pending *pe, int k, int32_t *out, int32_t *parent, float *val, int *src) {
    enum { NM = MEM_NSRC * SPC_SPEC_KMAX };
    int32_t mtok[NM];           /* the union of the sources' nodes, by path */
    int16_t mpar[NM];
    float mval[NM];
    uint8_t msrc[NM];
    int nm = 0;
    for (int s = 0; s < MEM_NSRC; s++) {
        const struct ptree *t = &pe->t[s];
        int16_t map[SPC_SPEC_KMAX];
        for (int i = 0; i < t->n; i++) {
            int par = t->par[i] < 0 ? -1 : map[t->par[i]], j = 0;
            while (j < nm && !(mpar[j] == par && mtok[j] == t->tok[i])) j++;
            if (j == nm) {
                mtok[nm] = t->tok[i];
                mpar[nm] = (int16_t)par;
                mval[nm] = -1;
                nm++;
            }
            if (t->val[i] > mval[j]) {
                mval[j] = t->val[i];
                msrc[j] = (uint8_t)s;
            }
            map[i] = (int16_t)j;
        }
    }
    int16_t pos[MEM_NSRC * SPC_SPEC_KMAX];          /* merged node -> output index (-1: not yet) */
    for (int j = 0; j < nm; j++) pos[j] = -1;
    int n = 0;
    while (n < k) {
        int best = -1;
        for (int j = 0; j < nm; j++)
            if (pos[j] < 0 && (mpar[j] < 0 || pos[mpar[j]] >= 0) && (best < 0 || mval[j] > mval[best]))
                best = j;
        if (best < 0) break;
        pos[best] = (int16_t)n;
        out[n] = mtok[best];
        parent[n] = mpar[best] < 0 ? -1 : pos[mpar[best]];
        val[n] = mval[best];
        if (n == 0) *src = msrc[best];
        n++;
    }
    return n;
}

static int memory_propose(struct spc__drafter *d, const int32_t *hist, int n_hist, int k_max, int32_t *out,
                          struct spc__qdist *q, int32_t *parent) {
    struct memory *mm = (struct memory *)d;
    double t0 = spc__now();
    if (mm->model && mm->step_end > 0 && mm->step_est > 0) {
        /* the previous step was verified since: its real time (drafting + the target's pass) */
        int kind = mm->last_model;
        mm->cost_real[kind] = 0.9 * mm->cost_real[kind] + (t0 - mm->step_end) + mm->step_draft;
        mm->cost_est[kind] = 0.9 * mm->cost_est[kind] + mm->step_est;
    }
    mm->step_est = 0;
    int K = k_max < SPC_SPEC_KMAX ? k_max : SPC_SPEC_KMAX;
    bool tree = mm->tree;
    /* remember every source's proposal for the replay (the oldest entry goes when full) */
    if (mm->n_pend == MEM_PEND) {
        memmove(mm->pend, mm->pend + 1, sizeof *mm->pend * (MEM_PEND - 1));
        mm->n_pend--;
    }
    struct pending *pe = &mm->pend[mm->n_pend++];
    pe->pos = n_hist;
    for (int s = 0; s < MEM_NSRC; s++) {
        pe->t[s].n = 0;
        if (!(mm->sources & (1u << s))) continue;
        const struct trie *t = &mm->tr[s];
        int32_t node = s == 0 ? (t->n_act ? t->act[t->n_act - 1] : 0) : mm->cur[s];
        src_tree(mm, s, node, K, tree ? 3 : 1, &pe->t[s]);
    }
    /* candidates: the merged tree (tree mode) or each source's chain, as node values in best-first
       order; the policy picks how many nodes to verify */
    float val[SPC_SPEC_KMAX];
    int best_s = -1, best_k = 0;
    double best_v = 1.0;                /* adaptive: k = 0 is one token per one-position pass */
    double t_one = spc__gen_t0(mm->base.gen);
    double c = t_one > 0 && mm->prop_n > 0 ? mm->prop_s / mm->prop_n / t_one : 0;
    for (int s = 0; s < (tree ? 1 : MEM_NSRC); s++) {
        int n, src = s;
        if (tree) {
            n = merge_trees(pe, K, out, parent, val, &src);
        } else {
            n = pe->t[s].n;
            memcpy(val, pe->t[s].val, sizeof *val * (size_t)n);
        }
        if (!n) continue;
        if (mm->policy == SPC_POLICY_ADAPTIVE) {
            /* expected tokens per unit of time: (1 + sum of path values) / (v(k) + k c) */
            double e = 1;
            for (int k = 1; k <= n; k++) {
                e += val[k - 1];
                double v = e / (spc__gen_v(mm->base.gen, k) + c * k);
                if (v > best_v) {
                    best_v = v;
                    best_s = src;
                    best_k = k;
                }
            }
        } else if (best_s < 0 || val[0] > pe->t[best_s].val[0]) {
            /* fixed: every node (chains: the source whose first proposal is likeliest); threshold:
               the nodes whose path is accepted with estimated probability >= the threshold */
            best_s = src;
            best_k = n;
            if (mm->policy == SPC_POLICY_THRESHOLD)
                for (best_k = 0; best_k < n && val[best_k] >= mm->threshold;) best_k++;
        }
    }
    bool is_tree = false;
    for (int i = 0; tree && i < best_k; i++) is_tree |= parent[i] != i - 1;
    mm->last_model = false;
    double t_model = 0;
    int k_model = 0;
    if (mm->model) {
        /* the model's value with its measured acceptance by position and cost per token */
        int mk = 0;
        if (mm->policy == SPC_POLICY_ADAPTIVE) {
            double e = 1, run = 1;
            const struct spc__drafter *md = mm->model;
            double cm = t_one > 0 && md->fwd_n > 0 ? md->fwd_s / md->fwd_n / t_one : 0.5;
            /* after steps the memory drafted, the model first catches up on what they committed */
            int lag = n_hist - mm->model_hist;
            double cl = lag > 2 && t_one > 0 ? (md->lag_n > 0 ? md->lag_s / md->lag_n / t_one : cm) * lag : 0;
            /* what model steps really cost relative to their estimate, against the same ratio for the
               memory's steps (long contexts make verification and the model dearer than the averages
               the estimates use; a recent window, so it follows the context length) */
            double f = 1;
            if (mm->cost_est[0] > 0 && mm->cost_est[1] > 0)
                f = (mm->cost_real[1] / mm->cost_est[1]) / (mm->cost_real[0] / mm->cost_est[0]);
            f = f < 0.5 ? 0.5 : f > 4 ? 4 : f;
            double mem_est = spc__gen_v(mm->base.gen, best_k) + c * best_k;
            for (int k = 1; k <= K; k++) {
                /* all requests' acceptance (prior 0.8, worth two drafts) is the prior of this
                   request's, worth MEM_MODEL_W drafts: how well the model drafts varies by request */
                const struct stat *x = &mm->mst[k - 1], *y = &mm->rst[k - 1];
                double g = (x->acc + 1.6) / (x->n + 2.0);
                e += (run *= (y->acc + MEM_MODEL_W * g) / (y->n + MEM_MODEL_W));
                double est_k = spc__gen_v(mm->base.gen, k) + cm * k + cl;
                double v = e / (est_k * f);
                if (v > best_v) {
                    best_v = v;
                    mk = k;
                    mem_est = est_k;
                }
            }
            mm->step_est = mem_est * t_one;
        } else if (best_s < 0 || best_k == 0) {
            mk = K;
        }
        if (mk > 0) {
            for (int i = 0; i < mk; i++) parent[i] = i - 1;
            double tm = spc__now();
            int n = mm->model->vt->propose(mm->model, hist, n_hist, mk, out, q, parent);
            t_model = spc__now() - tm;          /* the model's time is its own cost, not lookup */
            mm->base.t_extra = mm->model->t_extra;
            mm->base.rf_n = mm->model->rf_n;    /* its masw re-forwarding, for the stats */
            mm->base.rf_s = mm->model->rf_s;
            if (n < 0) return n;
            mm->model_hist = n_hist;
            if (n > 0) {
                mm->last_model = true;
                mm->model_steps++;
                k_model = n;
            }
        }
    }
    if (!k_model && best_s >= 0 && best_k > 0) {
        if (!tree)
            for (int i = 0; i < best_k; i++) {
                out[i] = pe->t[best_s].tok[i];
                parent[i] = i - 1;
            }
        mm->src_used[best_s]++;
        mm->tree_steps += is_tree;
    }
    mm->n_steps++;
    double t_end = spc__now(), dt = t_end - t0 - t_model;
    mm->look_s += dt;
    mm->look_n++;
    mm->step_end = t_end;
    mm->step_draft = t_end - t0;
    if (k_model) return k_model;
    if (best_k > 0) {
        mm->prop_s += dt;
        mm->prop_n += best_k;
    }
    return best_k;
}

/* Appends history tokens [n_seen, n_hist) to the request trie and moves the other sources' matches. */
static void advance(struct memory *mm, const int32_t *hist, int n_hist) {
    for (int i = mm->n_seen; i < n_hist; i++) {
        if (mm->sources & 1u) tr_append(&mm->tr[0], hist[i]);
        for (int s = 1; s < MEM_NSRC; s++)
            if (mm->sources & (1u << s)) mm->cur[s] = tr_step(&mm->tr[s], mm->cur[s], hist[i]);
    }
    mm->n_seen = n_hist;
}

static void memory_observe(struct spc__drafter *d, const int32_t *hist, int n_hist, int nd, int na) {
    struct memory *mm = (struct memory *)d;
    if (mm->model) {
        mm->model->vt->observe(mm->model, hist, n_hist, nd, na);
        if (mm->last_model)
            for (int i = 0; i < nd && i <= na; i++) {
                mm->mst[i].n += 1;
                mm->mst[i].acc += i < na;
                mm->rst[i].n += 1;
                mm->rst[i].acc += i < na;
            }
    }
    double t0 = spc__now();
    advance(mm, hist, n_hist);
    replay(mm, hist, n_hist, false);
    mm->upd_s += spc__now() - t0;
    mm->upd_n++;
}

static int memory_reset(struct spc__drafter *d, const int32_t *hist, int n_hist, int n_max) {
    struct memory *mm = (struct memory *)d;
    if (mm->sources & 1u) {
        int st = tr_reserve(&mm->tr[0], 1 + (size_t)n_max * MEM_D);
        if (st) return st;
        tr_reset(&mm->tr[0]);
    }
    mm->cur[1] = mm->cur[2] = 0;
    mm->n_seen = 0;
    mm->n_pend = 0;
    mm->model_hist = n_hist;        /* a model drafter prefills the prompt in its reset */
    memset(mm->rst, 0, sizeof mm->rst);
    mm->step_end = 0;
    advance(mm, hist, n_hist);
    if (!mm->model) return SPC_OK;
    int st = mm->model->vt->reset(mm->model, hist, n_hist, n_max);
    mm->base.t_extra = mm->model->t_extra;
    mm->base.rf_n = mm->model->rf_n;
    mm->base.rf_s = mm->model->rf_s;
    return st;
}

static int memory_prefilled(struct spc__drafter *d, const int32_t *hist, int n_hist) {
    struct memory *mm = (struct memory *)d;
    if (!mm->model || !mm->model->vt->prefilled) return SPC_OK;
    return mm->model->vt->prefilled(mm->model, hist, n_hist);
}

/* Rebuilds the outputs trie from the log, after evicting the oldest documents beyond the bound. */
static int rebuild_outputs(struct memory *mm) {
    if (mm->log_n > mm->max_tokens) {
        size_t drop = mm->log_n - mm->max_tokens * 3 / 4, i = drop;
        while (i < mm->log_n && mm->log[i] != -1) i++;          /* whole documents only */
        if (i < mm->log_n) i++;
        memmove(mm->log, mm->log + i, sizeof *mm->log * (mm->log_n - i));
        mm->log_n -= i;
    }
    struct trie *t = &mm->tr[1];
    int st = tr_reserve(t, 1 + mm->log_n * MEM_D);
    if (st) return st;
    tr_reset(t);
    for (size_t i = 0; i < mm->log_n; i++) {
        if (mm->log[i] < 0) tr_break(t);
        else tr_append(t, mm->log[i]);
    }
    tr_break(t);
    return SPC_OK;
}

static void memory_finish(struct spc__drafter *d, const int32_t *hist, int n_hist) {
    struct memory *mm = (struct memory *)d;
    replay(mm, hist, n_hist, true);
    if (!(mm->sources & 2u) || n_hist <= 0) return;
    if (mm->log_n + (size_t)n_hist + 1 > mm->log_cap) {
        size_t cap = (mm->log_n + (size_t)n_hist + 1) * 2;
        int32_t *l = spc__realloc(mm->log, cap * sizeof *l);
        if (!l) return;         /* out of memory: this request is not remembered */
        mm->log = l;
        mm->log_cap = cap;
    }
    memcpy(mm->log + mm->log_n, hist, sizeof *hist * (size_t)n_hist);
    mm->log_n += (size_t)n_hist;
    mm->log[mm->log_n++] = -1;
    mm->dirty = true;
    struct trie *t = &mm->tr[1];
    size_t need = 1 + mm->log_n * MEM_D, most = 1 + (mm->max_tokens + (size_t)n_hist + 1) * MEM_D;
    if (mm->log_n > mm->max_tokens || t->full) {
        rebuild_outputs(mm);                /* evicts the oldest documents */
    } else if ((size_t)t->cap >= need || tr_reserve(t, 2 * need < most ? 2 * need : most) == SPC_OK) {
        for (int i = 0; i < n_hist; i++) tr_append(t, hist[i]);
        tr_break(t);
    }
}

/* ---- the memory file: "SPCMEM01", u64 n, then n int32 tokens (-1 between documents) ---- */

#define MEM_MAGIC "SPCMEM01"

static bool memory_write(FILE *f, const void *ud) {
    const struct memory *mm = ud;
    uint64_t n = mm->log_n;
    return fwrite(MEM_MAGIC, 1, 8, f) == 8 && fwrite(&n, 8, 1, f) == 1 &&
           (!mm->log_n || fwrite(mm->log, sizeof *mm->log, mm->log_n, f) == mm->log_n);
}

static int memory_save(struct spc__drafter *d) {
    struct memory *mm = (struct memory *)d;
    if (!mm->path || !mm->dirty) return SPC_OK;
    int st = spc__save_file(mm->path, "memory", memory_write, mm);
    if (!st) mm->dirty = false;
    return st;
}

/* Loads the memory file; a file that is not one, truncated or with tokens outside the vocabulary
   is reported and ignored (the memory starts empty and the file is rewritten on save). */
static int memory_load(struct memory *mm) {
    FILE *f = fopen(mm->path, "rb");
    if (!f) return SPC_OK;                  /* a first run */
    char magic[8];
    uint64_t n = 0;
    const char *why = NULL;
    long size = -1;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, MEM_MAGIC, 8) || fread(&n, 8, 1, f) != 1) why = "not a memory file";
    else if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || (uint64_t)size != 16 + n * 4) why = "truncated or overlong";
    int32_t *log = NULL;
    if (!why && n) {
        log = spc__alloc((size_t)n * sizeof *log);
        if (!log) {
            fclose(f);
            return spc__err(SPC_ERR_NOMEM, "memory: out of memory for %llu tokens", (unsigned long long)n);
        }
        fseek(f, 16, SEEK_SET);
        if (fread(log, sizeof *log, (size_t)n, f) != (size_t)n) why = "read error";
        for (uint64_t i = 0; !why && i < n; i++)
            if (log[i] < -1 || log[i] >= mm->n_vocab) why = "a token outside the vocabulary";
    }
    fclose(f);
    if (why) {
        spc__log(SPC_LOG_WARN, "memory file %s: %s; starting with an empty memory", mm->path, why);
        spc__free(log);
        mm->dirty = true;
        return SPC_OK;
    }
    spc__free(mm->log);
    mm->log = log;
    mm->log_n = mm->log_cap = (size_t)n;
    return rebuild_outputs(mm);
}

/* The corpus source (text or token file, spc__read_corpus). */
static int memory_corpus(struct memory *mm, const struct spc_vocab *v, const char *path) {
    int32_t *toks;
    int n;
    int st = spc__read_corpus(v, mm->n_vocab, path, "memory corpus", &toks, &n);
    if (st) return st;
    struct trie *t = &mm->tr[2];
    if (!(st = tr_reserve(t, 1 + (size_t)n * MEM_D))) {
        for (int i = 0; i < n; i++) tr_append(t, toks[i]);
        tr_break(t);
        mm->corpus_n = (size_t)n;
    }
    spc__free(toks);
    return st;
}

static const char *memory_describe(struct spc__drafter *d) {
    struct memory *mm = (struct memory *)d;
    /* bytes per indexed token: a node and its index entry (kept at most half full) per node used */
    size_t nodes = 0;
    for (int s = 0; s < MEM_NSRC; s++) nodes += (size_t)mm->tr[s].n;
    size_t bytes = nodes * (sizeof(struct mnode) + 2 * (sizeof(uint64_t) + sizeof(int32_t)));
    size_t toks = mm->log_n + (size_t)mm->n_seen + mm->corpus_n;
    int o = snprintf(mm->info, sizeof mm->info, "policy %s, sources", spc_draft_policy_name(mm->policy));
    for (int s = 0; s < MEM_NSRC; s++)
        if (mm->sources & (1u << s)) o += snprintf(mm->info + o, sizeof mm->info - (size_t)o, " %s", src_name[s]);
    if (mm->model && mm->model->vt->describe)
        o += snprintf(mm->info + o, sizeof mm->info - (size_t)o, "; model: %.120s", mm->model->vt->describe(mm->model));
    snprintf(mm->info + o, sizeof mm->info - (size_t)o,
             "; outputs %zu tokens, corpus %d nodes; %zu nodes, %.0f bytes/token; lookup %.1f us/step, update %.1f us/step;"
             " drafts from request/outputs/corpus/model %ld/%ld/%ld/%ld of %ld steps, %ld trees",
             mm->log_n, mm->tr[2].n, nodes, toks ? (double)bytes / (double)toks : 0.0,
             mm->look_n ? mm->look_s / mm->look_n * 1e6 : 0.0, mm->upd_n ? mm->upd_s / mm->upd_n * 1e6 : 0.0,
             mm->src_used[0], mm->src_used[1], mm->src_used[2], mm->model_steps, mm->n_steps, mm->tree_steps);
    return mm->info;
}

static void memory_free(struct spc__drafter *d) {
    struct memory *mm = (struct memory *)d;
    memory_save(d);                 /* spc_gen_save reports failures; here nobody could */
    if (mm->model) mm->model->vt->free(mm->model);
    for (int s = 0; s < MEM_NSRC; s++) tr_free(&mm->tr[s]);
    spc__free(mm->log);
    spc__free(mm->path);
    spc__free(mm);
}

static void memory_forget(struct spc__drafter *d) {
    struct memory *mm = (struct memory *)d;
    if (mm->model && mm->model->vt->forget) mm->model->vt->forget(mm->model);
}

static const struct spc__drafter_vt memory_vt = { memory_propose, memory_observe, memory_reset, memory_finish,
                                                  memory_save, memory_describe, memory_free, memory_prefilled,
                                                  memory_forget };

int spc__drafter_memory_new(struct spc__drafter **out, const struct spc__draft_cfg *cfg) {
    const struct spc_gen_params *gp = cfg->gp;
    if (gp->draft_policy < SPC_POLICY_FIXED || gp->draft_policy > SPC_POLICY_ADAPTIVE)
        return spc__err(SPC_ERR_INVALID, "memory: unknown draft policy %d", gp->draft_policy);
    if (!(gp->draft_threshold >= 0 && gp->draft_threshold <= 1))
        return spc__err(SPC_ERR_INVALID, "memory: the draft threshold must be in [0, 1]");
    if (gp->memory_max < 1) return spc__err(SPC_ERR_INVALID, "memory: memory_max must be >= 1 token");
    if (!(gp->memory_sources & 7u) || (gp->memory_sources & ~7u))
        return spc__err(SPC_ERR_INVALID, "memory: sources must be a non-empty subset of request, outputs, corpus");
    if (gp->lookup_min < 1 || gp->lookup_min > MEM_D)
        return spc__err(SPC_ERR_INVALID, "memory: the shortest match must be 1..%d tokens", MEM_D);
    struct memory *mm = spc__calloc(1, sizeof *mm);
    if (!mm) return spc__err(SPC_ERR_NOMEM, "memory: out of memory");
    mm->base.vt = &memory_vt;
    mm->base.own_k = true;             /* the policy decides the draft length */
    mm->policy = gp->draft_policy;
    mm->tree = gp->draft_tree != 0;
    mm->threshold = gp->draft_threshold;
    mm->sources = gp->memory_sources;
    mm->min_depth = gp->lookup_min;
    mm->max_tokens = (size_t)gp->memory_max;
    mm->n_vocab = spc_model_n_vocab(cfg->target);
    int st = SPC_OK;
    if (gp->memory_file && (mm->sources & 2u)) {
        mm->path = spc__strndup(gp->memory_file, strlen(gp->memory_file));
        if (!mm->path) st = spc__err(SPC_ERR_NOMEM, "memory: out of memory");
        else st = memory_load(mm);
    }
    if (!st && gp->memory_corpus && (mm->sources & 4u))
        st = memory_corpus(mm, spc_model_vocab(cfg->target), gp->memory_corpus);
    if (!st && gp->memory_model) {
        if (gp->memory_model != SPC_SPEC_DRAFT && gp->memory_model != SPC_SPEC_SELFSPEC)
            st = spc__err(SPC_ERR_INVALID, "memory: the hybrid model must be draft or selfspec");
        else
            st = spc__drafter_model_new(&mm->model, cfg, gp->memory_model == SPC_SPEC_SELFSPEC);
    }
    if (st) {
        mm->dirty = false;
        memory_free(&mm->base);
        return st;
    }
    *out = &mm->base;
    return SPC_OK;
}
