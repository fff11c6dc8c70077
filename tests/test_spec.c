/*
 * test_spec.c: the invariants of speculative decoding on real models.
 * - lossless: greedy speculation emits exactly the tokens of plain greedy decoding, for every
 *   drafter (draft, pld, ngram, selfspec) and every K in 1..8;
 * - speculative sampling keeps the target's distribution: chi-square on the first two tokens (also
 *   through token trees);
 * - the target's KV cache after the draft-verify loop equals a fresh prefill of the same tokens;
 * - stop strings, -n and EOG are honoured in the middle of an accepted run;
 * - nothing is allocated inside the loop; an incompatible draft vocabulary is a clear error;
 * - bad requests (empty prompt, too long, bad tokens) are errors that leave the generator usable.
 * Models come from the cache (scripts/fetch-model); a missing one skips its tests.
 * SPECULA_TEST_QUICK=1 (the sanitizer run) trims K and trial counts.
 */
#include "test.h"

#include <math.h>

#include <unistd.h>

#include "model.h"
#include "spec.h"

static const char *P_CODE =
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\n"
    "# now the same function, memoized:\ndef fib_memo(n, memo={}):\n";
static const char *P_LIST =
    "Colors: red, green, blue, yellow, red, green, blue, yellow, red, green, blue, yellow, red, green,";

static struct spc_model *g_small, *g_q05, *g_q15;
static bool quick(void) { return getenv("SPECULA_TEST_QUICK") != NULL; }

static struct spc_model *load(const char *name, struct spc_model **slot) {
    if (*slot) return *slot;
    const char *p = test_model_path(name);
    if (!p || spc_model_load(slot, p) != SPC_OK) return NULL;
    return *slot;
}

static int tokenize(const struct spc_model *m, const char *text, int32_t *out, int cap) {
    const struct spc_vocab *v = spc_model_vocab(m);
    return spc_tokenize(v, text, strlen(text), spc_vocab_add_bos(v), 1, out, cap);
}

/* Runs one request; copies the emitted tokens to out; returns the count or -1. */
static int generate(const struct spc_model *m, const struct spc_gen_params *gp, const char *prompt, int n_predict,
                    int32_t *out, struct spc_gen_stats *stats) {
    int32_t pt[512];
    int np = tokenize(m, prompt, pt, 512);
    struct spc_gen *g;
    if (spc_gen_new(&g, m, gp) != SPC_OK) {
        printf("    spc_gen_new: %s\n", spc_errmsg());
        return -1;
    }
    struct spc_gen_request rq = { pt, np, n_predict, NULL, 0 };
    struct spc_gen_result res;
    int n = -1;
    if (spc_gen_run(g, &rq, NULL, NULL, &res) == SPC_OK) {
        memcpy(out, res.tokens, sizeof *out * (size_t)res.n_tokens);
        n = res.n_tokens;
        if (stats) spc_gen_stats(g, stats);
    } else {
        printf("    spc_gen_run: %s\n", spc_errmsg());
    }
    spc_gen_free(g);
    return n;
}

/* Tests draft a fixed K (adaptive off) unless they say otherwise: the adaptive policy decides from
 * measured times, which a sanitizer build or a busy machine changes. */
/* The memory drafter's settings for the tests that sweep methods (set by the memory tests). */
static int g_policy = SPC_POLICY_FIXED;
static int g_tree = 1;
static long g_tree_steps;       /* tree verifications seen by check_lossless / check_distribution */
static unsigned g_sources = 7;
static int g_draft_kv = SPC_DRAFT_KV_FULL;
static const char *g_memfile, *g_corpus;

static struct spc_gen_params params(int method, int k) {
    struct spc_gen_params gp = spc_gen_default_params();
    gp.method = method;
    gp.draft_max = k;
    gp.adaptive = 0;
    gp.ctx.n_ctx = 1024;
    gp.draft_policy = g_policy;
    gp.draft_tree = g_tree;
    gp.draft_kv = g_draft_kv;
    gp.draft_window = 64;
    gp.draft_memory = 64;
    gp.memory_sources = g_sources;
    gp.memory_file = g_memfile;
    gp.memory_corpus = g_corpus;
    return gp;
}

/* Greedy output of `method` at K = 1..8 equals plain decoding; some drafts must be rejected and
 * some accepted over the sweep, or the test would not exercise verification. */
static void check_lossless(struct spc_model *m, struct spc_model *draft, int method, const char *skip, const char *prompt,
                           int n_predict) {
    int32_t ref[256], out[256];
    struct spc_gen_params gp = params(SPC_SPEC_NONE, 1);
    int nr = generate(m, &gp, prompt, n_predict, ref, NULL);
    CHECK(nr == n_predict);
    long drafted = 0, accepted = 0;
    for (int k = 1; k <= 8; k++) {
        if (quick() && k != 1 && k != 3 && k != 8) continue;
        gp = params(method, k);
        gp.draft_model = draft;
        gp.skip_layers = skip;
        gp.draft_p_min = 0;     /* draft the full K: more rejections to check */
        gp.draft_vocab = k == 3 ? 20000 : 0;    /* a drafter with logits for part of the vocabulary */
        gp.adaptive = k % 2;    /* odd K adaptive, even K always K */
        if (k % 2 == 0 && gp.draft_policy == SPC_POLICY_ADAPTIVE)
            gp.draft_policy = SPC_POLICY_FIXED;     /* the memory's own timed policy too (see params) */
        struct spc_gen_stats st;
        int n = generate(m, &gp, prompt, n_predict, out, &st);
        CHECK_MSG(n == nr, "K=%d: %d tokens, plain gave %d", k, n, nr);
        int first = -1;
        for (int i = 0; i < n && first < 0; i++)
            if (out[i] != ref[i]) first = i;
        CHECK_MSG(first < 0, "%s K=%d: token %d differs (%d vs plain %d)", spc_spec_method_name(method), k, first,
                  out[first], ref[first]);
        CHECK(st.n_accepted <= st.n_drafted && st.tau >= 1 && st.n_steps >= 1);
        CHECK_MSG(st.n_steps + st.n_accepted == n, "each step commits its accepted drafts + 1");
        drafted += st.n_drafted;
        accepted += st.n_accepted;
        g_tree_steps += st.n_tree_steps;
    }
    CHECK_MSG(drafted > accepted && accepted > 0, "drafted %ld, accepted %ld: verification not exercised", drafted, accepted);
}

TEST(lossless_pld) {
    if (!load("smollm2-135m", &g_small)) SKIP("model smollm2-135m not cached");
    check_lossless(g_small, NULL, SPC_SPEC_PLD, NULL, P_CODE, 48);
    check_lossless(g_small, NULL, SPC_SPEC_PLD, NULL, P_LIST, 24);
}

TEST(lossless_ngram) {
    if (!load("smollm2-135m", &g_small)) SKIP("model smollm2-135m not cached");
    check_lossless(g_small, NULL, SPC_SPEC_NGRAM, NULL, P_CODE, 48);
}

/* memory: every policy with the request source; the earlier-requests source alone (warmed by the
   sweep itself: each run is remembered in the file); the corpus source alone. */
TEST(lossless_memory) {
    if (!load("smollm2-135m", &g_small)) SKIP("model smollm2-135m not cached");
    for (int pol = SPC_POLICY_FIXED; pol <= SPC_POLICY_ADAPTIVE; pol++) {
        if (quick() && pol == SPC_POLICY_THRESHOLD) continue;
        g_policy = pol;
        g_sources = 1;
        check_lossless(g_small, NULL, SPC_SPEC_MEMORY, NULL, P_CODE, 48);
    }
    CHECK_MSG(g_tree_steps > 0, "no token tree was verified");
    g_tree = 0;                 /* chains only */
    g_tree_steps = 0;
    check_lossless(g_small, NULL, SPC_SPEC_MEMORY, NULL, P_CODE, 48);
    CHECK(g_tree_steps == 0);
    g_tree = 1;
    g_policy = SPC_POLICY_FIXED;
    char mf[64], cf[64];            /* per process: concurrent test runs must not share files */
    snprintf(mf, sizeof mf, "/tmp/spc_test_memory_lossless.%d.bin", (int)getpid());
    snprintf(cf, sizeof cf, "/tmp/spc_test_memory_corpus.%d.txt", (int)getpid());
    remove(mf);
    g_sources = 2;
    g_memfile = mf;
    check_lossless(g_small, NULL, SPC_SPEC_MEMORY, NULL, P_LIST, 24);
    g_memfile = NULL;
    FILE *f = fopen(cf, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(P_CODE, f);
        fputs("    if n in memo:\n        return memo[n]\n    memo[n] = fib_memo(n - 1) + fib_memo(n - 2)\n", f);
        fclose(f);
    }
    g_sources = 4;
    g_corpus = cf;
    check_lossless(g_small, NULL, SPC_SPEC_MEMORY, NULL, P_CODE, 48);
    g_corpus = NULL;
    g_sources = 7;
    remove(mf);
    remove(cf);
}

/* The suffix trie against brute force on random strings over small alphabets (many repeats): the
   count, followed count and most frequent follower of every substring up to the depth bound, and
   the longest-suffix match of a streamed text. */
static int brute_count(const int32_t *doc, const int *len, int n_doc, const int32_t *q, int n, uint32_t *followed,
                       uint32_t *next_cnt, int alpha) {
    int cnt = 0;
    *followed = 0;
    memset(next_cnt, 0, sizeof *next_cnt * (size_t)alpha);
    for (int d = 0, off = 0; d < n_doc; off += len[d], d++)
        for (int i = 0; i + n <= len[d]; i++)
            if (!memcmp(doc + off + i, q, sizeof *q * (size_t)n)) {
                cnt++;
                if (i + n < len[d]) {
                    (*followed)++;
                    next_cnt[doc[off + i + n]]++;
                }
            }
    return cnt;
}

TEST(memory_trie_matches_brute_force) {
    unsigned seed = 99;
    enum { L = 400, ALPHA_MAX = 6 };
    for (int rep = 0; rep < 6; rep++) {
        int alpha = 2 + rep % 4;
        int32_t doc[L];
        int len[2] = { 250, 150 };
        for (int i = 0; i < L; i++) doc[i] = (int32_t)((seed = seed * 1103515245u + 12345u) >> 16) % alpha;
        struct spc__trie *t = spc__trie_new(1 + (size_t)L * SPC__TRIE_D);
        CHECK(t != NULL);
        if (!t) return;
        for (int i = 0; i < len[0]; i++) spc__trie_append(t, doc[i]);
        spc__trie_break(t);
        for (int i = 0; i < len[1]; i++) spc__trie_append(t, doc[len[0] + i]);
        /* every substring of the text (and some that are not in it) */
        for (int start = 0; start < L; start += 3)
            for (int n = 1; n <= SPC__TRIE_D && start + n <= L; n++) {
                int32_t q[SPC__TRIE_D];
                memcpy(q, doc + start, sizeof *q * (size_t)n);
                if (start % 7 == 0) q[n - 1] = (q[n - 1] + 1) % alpha;
                uint32_t bf, nc[ALPHA_MAX];
                int bc = brute_count(doc, len, 2, q, n, &bf, nc, alpha);
                int32_t node = spc__trie_find(t, q, n);
                if (!bc) {
                    CHECK_MSG(node < 0, "absent substring found (start %d, n %d)", start, n);
                    continue;
                }
                CHECK_MSG(node > 0, "substring at %d, n %d not found", start, n);
                if (node <= 0) continue;
                uint32_t cnt, fol;
                int32_t best;
                spc__trie_counts(t, node, &cnt, &fol, &best);
                CHECK_MSG(cnt == (uint32_t)bc, "start %d n %d: count %u, brute force %d", start, n, cnt, bc);
                if (n == SPC__TRIE_D) continue;     /* the deepest strings keep no followers */
                CHECK_MSG(fol == bf, "start %d n %d: followed %u, brute force %u", start, n, fol, bf);
                uint32_t mx = 0;
                for (int a = 0; a < alpha; a++) mx = nc[a] > mx ? nc[a] : mx;
                CHECK_MSG(bf == 0 ? best < 0 : (best >= 0 && nc[best] == mx), "start %d n %d: follower %d", start, n, best);
            }
        /* streaming a fresh random text: the match is the longest suffix that occurs */
        int32_t s[200];
        int32_t node = 0;
        for (int i = 0; i < 200; i++) {
            s[i] = (int32_t)((seed = seed * 1103515245u + 12345u) >> 16) % alpha;
            node = spc__trie_step(t, node, s[i]);
            int want = 0;
            for (int n = 1; n <= SPC__TRIE_D && n <= i + 1; n++) {
                uint32_t bf, nc[ALPHA_MAX];
                if (brute_count(doc, len, 2, s + i + 1 - n, n, &bf, nc, alpha)) want = n;
            }
            CHECK_MSG(spc__trie_depth(t, node) == want, "stream pos %d: matched %d tokens, longest is %d", i,
                      spc__trie_depth(t, node), want);
            CHECK(want == 0 || spc__trie_find(t, s + i + 1 - want, want) == node);
        }
        spc__trie_free(t);
    }
}

/* The memory file: a request is remembered and a second generator drafts it from the file; a
   corrupt or truncated file is a warning and an empty memory, never an error or a crash. */
TEST(memory_file_round_trip_and_corruption) {
    if (!load("smollm2-135m", &g_small)) SKIP("model smollm2-135m not cached");
    char path[64];
    snprintf(path, sizeof path, "/tmp/spc_test_memory.%d.bin", (int)getpid());
    remove(path);
    g_memfile = path;
    g_sources = 2;              /* earlier requests only: what the file brings */
    g_policy = SPC_POLICY_FIXED;
    struct spc_gen_params gp = params(SPC_SPEC_MEMORY, 6);
    int32_t out[64];
    struct spc_gen_stats s1, s2, s3;
    CHECK(generate(g_small, &gp, P_CODE, 32, out, &s1) == 32);
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f, "memory file not written");
    long size = 0;
    if (f) {
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        fclose(f);
    }
    CHECK(generate(g_small, &gp, P_CODE, 32, out, &s2) == 32);
    CHECK_MSG(s1.n_drafted == 0 && s2.tau > 3, "tau %.2f from the file (first run drafted %d)", s2.tau, s1.n_drafted);
    /* truncated: the header promises more tokens than the file holds */
    if (size > 20) CHECK(truncate(path, size - 6) == 0);
    CHECK(generate(g_small, &gp, P_CODE, 32, out, &s3) == 32);
    CHECK_MSG(s3.n_drafted == 0, "a truncated file gave %d drafts", s3.n_drafted);
    f = fopen(path, "wb");
    fputs("garbage, not a memory file at all", f);
    fclose(f);
    struct spc_gen *g = NULL;
    CHECK_OK(spc_gen_new(&g, g_small, &gp));
    CHECK_MSG(strstr(spc_gen_drafter_info(g), "outputs 0 tokens"), "info: %s", spc_gen_drafter_info(g));
    spc_gen_free(g);
    g_memfile = NULL;
    g_sources = 7;
    remove(path);
}

TEST(lossless_selfspec) {
    if (!load("smollm2-135m", &g_small)) SKIP("model smollm2-135m not cached");
    check_lossless(g_small, NULL, SPC_SPEC_SELFSPEC, "4,9-14,20", P_CODE, 40);
}

/* 24 small functions and the start of a 25th: ~480 tokens of smollm2, several drafter windows */
static void long_code_prompt(char *prompt, size_t cap) {
    int o = 0;
    for (int i = 0; i < 24; i++) o += snprintf(prompt + o, cap - (size_t)o, "def f%d(x):\n    return x * %d + %d\n\n", i, i, i * i);
    snprintf(prompt + o, cap - (size_t)o, "def f24(x):\n");
}

/* That prompt, and its smollm2 tokens (their count). */
static int long_code_tokens(char *prompt, size_t cap, int32_t *pt, int n_max) {
    long_code_prompt(prompt, cap);
    return tokenize(g_small, prompt, pt, n_max);
}

/* The number just before `suffix` in s, or -1. */
static long number_before(const char *s, const char *suffix) {
    const char *p = strstr(s, suffix);
    if (!p) return -1;
    while (p > s && p[-1] >= '0' && p[-1] <= '9') p--;
    return p[0] >= '0' && p[0] <= '9' ? strtol(p, NULL, 10) : -1;
}

/* The drafter's KV window (sinks + recent positions, the middle evicted, positions kept): with a
   prompt several times the window, greedy output still equals plain decoding at every K. */
TEST(lossless_draft_kv_window) {
    if (!load("smollm2-135m", &g_small)) SKIP("model smollm2-135m not cached");
    char prompt[4096];
    int32_t pt[512];
    int np = long_code_tokens(prompt, sizeof prompt, pt, 512);
    CHECK_MSG(np > 3 * (64 + 4), "prompt of %d tokens: too short to evict", np);
    g_draft_kv = SPC_DRAFT_KV_MASW;        /* re-inserted chunks: their own positions, causal */
    check_lossless(g_small, g_small, SPC_SPEC_DRAFT, NULL, prompt, 40);
    g_draft_kv = SPC_DRAFT_KV_WINDOW;
    check_lossless(g_small, g_small, SPC_SPEC_DRAFT, NULL, prompt, 40);
    /* the drafter's cache stayed small: it evicted the middle */
    struct spc_gen_params gp = params(SPC_SPEC_DRAFT, 4);
    gp.draft_model = g_small;
    struct spc_gen *g;
    CHECK_OK(spc_gen_new(&g, g_small, &gp));
    struct spc_gen_request rq = { pt, np, 16, NULL, 0 };
    struct spc_gen_result res;
    CHECK_OK(spc_gen_run(g, &rq, NULL, NULL, &res));
    const char *info = spc_gen_drafter_info(g), *ev = strstr(info, "MiB), ");
    int cache = 0, evicted = 0;
    const char *c = strstr(info, "cache of ");
    CHECK_MSG(c && ev && sscanf(c, "cache of %d", &cache) == 1 && sscanf(ev, "MiB), %d evicted", &evicted) == 1, "info: %s", info);
    CHECK_MSG(cache < np && evicted >= np - (4 + 64 + 64), "cache %d, evicted %d of a %d-token prompt", cache, evicted, np);
    spc_gen_free(g);
    /* masw over a longer output re-inserts chunks the target turns to (riding on catch-up passes):
       still the plain output */
    int32_t ref[120];
    struct spc_gen_params gp0 = params(SPC_SPEC_NONE, 1);
    CHECK(generate(g_small, &gp0, prompt, 120, ref, NULL) == 120);
    g_draft_kv = SPC_DRAFT_KV_MASW;
    gp = params(SPC_SPEC_DRAFT, 4);
    gp.draft_model = g_small;
    gp.draft_p_min = 0;
    gp.draft_refresh_share = 1;     /* no time budget: what is re-forwarded does not depend on timings */
    /* with the store (the default) chunks the cache evicted come back by copy: never more positions
       re-forwarded than without it (the long runs: bench/results/2026-12-02zw-masw-store.md) */
    long refwd[5], copied[5], prefilled[5];
    struct spc_gen_stats gs[5];
    bool budget0 = false;
    for (int s = 0; s < 5; s++) {
        /* 4: no store and a time budget of 0: nothing re-forwarded, the output unchanged */
        if (s == 4) gp.draft_refresh_share = 0;
        /* 2: the sparse prefill, with a store of 2 chunks so that it skips most of the prompt; 3: with
           the default store, which holds every chunk of this prompt: nothing is skipped */
        gp.draft_store = s == 1 || s == 4 ? 0 : s == 2 ? 64 : 2048;
        gp.draft_prefill = s == 2 || s == 3 ? SPC_DRAFT_PREFILL_SPARSE : SPC_DRAFT_PREFILL_FULL;
        CHECK_OK(spc_gen_new(&g, g_small, &gp));
        rq.n_predict = 120;
        CHECK_OK(spc_gen_run(g, &rq, NULL, NULL, &res));
        CHECK(res.n_tokens == 120 && memcmp(res.tokens, ref, sizeof ref) == 0);
        info = spc_gen_drafter_info(g);
        refwd[s] = number_before(info, " positions re-forwarded");
        copied[s] = number_before(info, " positions copied back");
        prefilled[s] = number_before(info, " prompt positions forwarded");
        if (s == 4) budget0 = strstr(info, "adding 0.0 s, at most 0% of the drafting time") != NULL;
        spc_gen_stats(g, &gs[s]);
        printf("    store %d: %ld re-forwarded, %ld copied back, %ld prefilled: %s\n", gp.draft_store, refwd[s], copied[s],
               prefilled[s], info);
        spc_gen_free(g);
    }
    CHECK_MSG(refwd[1] > 0, "masw re-forwarded nothing without a store");
    for (int s = 0; s < 5; s++)     /* the stats carry what the description says (bench JSON n_reforward) */
        CHECK_MSG(gs[s].n_reforward == refwd[s] && gs[s].t_reforward >= 0 && gs[s].t_reforward <= gs[s].t_draft,
                  "stats: %ld re-forwarded in %.3f s (description: %ld)", gs[s].n_reforward, gs[s].t_reforward, refwd[s]);
    CHECK_MSG(refwd[4] == 0 && budget0, "a time budget of 0 re-forwarded %ld positions", refwd[4]);
    CHECK_MSG(copied[0] >= 0 && copied[1] == -1 && refwd[0] >= 0 && refwd[0] <= refwd[1],
              "store: %ld copied back, %ld re-forwarded (without: %ld)", copied[0], refwd[0], refwd[1]);
    /* the full prefill forwards the prompt but its last token; the sparse one the sinks, the memory's
       and the store's chunks and the last two windows */
    CHECK_MSG(prefilled[0] == np - 1 && prefilled[2] > 2 * 64 && prefilled[2] <= 4 + 64 + 64 + 2 * 64 + 31,
              "prefilled %ld (full) and %ld (sparse) of %d", prefilled[0], prefilled[2], np - 1);
    /* when the sparse prefill skips nothing it forwards the same positions in the same passes: the
       same drafts */
    CHECK_MSG(prefilled[3] == np - 1 && gs[3].n_drafted == gs[0].n_drafted && gs[3].n_accepted == gs[0].n_accepted &&
              refwd[3] == refwd[0] && copied[3] == copied[0],
              "sparse skipping nothing: %ld prefilled, %d/%d accepted (full prefill %d/%d)", prefilled[3], gs[3].n_accepted,
              gs[3].n_drafted, gs[0].n_accepted, gs[0].n_drafted);
    /* the memory's hybrid with the same masw model: the plain output, and its stats count the
       model's re-forwarding. Its memory reads only the corpus (none here), so the model drafts at
       every step, as in the run without a store (whether a run re-forwards depends on its drafts) */
    gp.method = SPC_SPEC_MEMORY;
    gp.memory_model = SPC_SPEC_DRAFT;
    gp.memory_sources = 4;
    gp.draft_store = 0;
    gp.draft_refresh_share = 1;
    gp.draft_prefill = SPC_DRAFT_PREFILL_FULL;
    CHECK_OK(spc_gen_new(&g, g_small, &gp));
    CHECK_OK(spc_gen_run(g, &rq, NULL, NULL, &res));
    CHECK(res.n_tokens == 120 && memcmp(res.tokens, ref, sizeof ref) == 0);
    struct spc_gen_stats hs;
    spc_gen_stats(g, &hs);
    printf("    memory + masw model: %ld re-forwarded in %.3f s (masw model alone: %ld)\n", hs.n_reforward, hs.t_reforward, refwd[1]);
    CHECK_MSG(hs.n_reforward > 0 && hs.n_reforward == refwd[1] && hs.t_reforward <= hs.t_draft,
              "hybrid: %ld re-forwarded (the model alone: %ld)", hs.n_reforward, refwd[1]);
    spc_gen_free(g);
    g_draft_kv = SPC_DRAFT_KV_FULL;
}

/* A draft model keeps the K/V of the prefix the next prompt shares with the last (prompt caching);
   spc_gen_forget_drafter_cache makes the next request start cold, with the same output. */
TEST(drafter_cache_forget) {
    if (!load("smollm2-135m", &g_small)) SKIP("model smollm2-135m not cached");
    char prompt[4096];
    int32_t pt[512];
    int np = long_code_tokens(prompt, sizeof prompt, pt, 512);
    struct spc_gen_params gp = params(SPC_SPEC_DRAFT, 4);
    gp.draft_model = g_small;
    gp.draft_kv = SPC_DRAFT_KV_MASW;       /* its count of prompt positions forwarded shows the reuse */
    gp.draft_window = 64;
    gp.draft_memory = 64;
    gp.draft_prefill = SPC_DRAFT_PREFILL_FULL;
    struct spc_gen *g;
    CHECK_OK(spc_gen_new(&g, g_small, &gp));
    struct spc_gen_request rq = { pt, np, 6, NULL, 0 };
    struct spc_gen_result res;
    long pre[3];
    int32_t out[3][6];
    for (int r = 0; r < 3; r++) {
        if (r == 2) spc_gen_forget_drafter_cache(g);
        CHECK_OK(spc_gen_run(g, &rq, NULL, NULL, &res));
        CHECK(res.n_tokens == 6);
        memcpy(out[r], res.tokens, sizeof out[r]);
        pre[r] = number_before(spc_gen_drafter_info(g), " prompt positions forwarded");
    }
    /* cold, warm (the sinks and the first chunk, held at their positions, are reused), cold again */
    CHECK_MSG(pre[0] == np - 1 && pre[1] > 0 && pre[1] < np - 1 && pre[2] == np - 1, "prefilled %ld, %ld, %ld of %d", pre[0],
              pre[1], pre[2], np - 1);
    CHECK(!memcmp(out[0], out[1], sizeof out[0]) && !memcmp(out[0], out[2], sizeof out[0]));
    spc_gen_free(g);
    spc_gen_forget_drafter_cache(NULL);
}

/* selfspec drafts on a view of the target's cache: full, window and masw are lossless on a prompt
   longer than the window */
TEST(lossless_selfspec_views) {
    if (!load("smollm2-135m", &g_small)) SKIP("model smollm2-135m not cached");
    char prompt[4096];
    long_code_prompt(prompt, sizeof prompt);
    const int pol[] = { SPC_DRAFT_KV_FULL, SPC_DRAFT_KV_WINDOW, SPC_DRAFT_KV_MASW };
    for (int i = 0; i < 3; i++) {
        g_draft_kv = pol[i];
        check_lossless(g_small, NULL, SPC_SPEC_SELFSPEC, "4,9-14,20", prompt, 40);
    }
    g_draft_kv = SPC_DRAFT_KV_FULL;
}

/* MASW retrieval on a case where the relevant chunk is known: a code is stated early, a long
   filler pushes it out of the drafter's window, and the prompt ends by asking for the code again.
   The target copies it, attending to where it was stated; masw must bring those positions back
   into its memory and draft the copy better than the window alone. */
TEST(masw_retrieves_the_relevant_chunk) {
    if (!load("smollm2-135m", &g_small)) SKIP("model smollm2-135m not cached");
    static const char *words[] = { "amber", "falcon", "orbit", "cedar", "lantern", "pixel", "harbor", "violet",
                                   "summit", "copper", "meadow", "quartz", "ember", "glacier", "saffron", "tundra" };
    char prompt[16384], code[512];
    int o = 0, oc = 0, head4 = 0;
    unsigned r = 12345;
    for (int i = 0; i < 24; i++) {
        r = r * 1103515245u + 12345u;
        oc += snprintf(code + oc, sizeof code - (size_t)oc, "%s%s", i ? " " : "", words[(r >> 16) % 16]);
        if (i == 3) head4 = oc;
    }
    o += snprintf(prompt + o, sizeof prompt - (size_t)o, "Remember this code: %s.\n\n", code);
    for (int i = 0; i < 24 && o < (int)sizeof prompt - 256; i++)
        o += snprintf(prompt + o, sizeof prompt - (size_t)o,
                      "Note %d: the train leaves at %d o'clock and the shop sells %d apples.\n", i, 3 + i % 9, 10 + 7 * i);
    snprintf(prompt + o, sizeof prompt - (size_t)o, "\nRemember this code: %.*s", head4, code);
    static int32_t pt[4096];
    int np = tokenize(g_small, prompt, pt, 4096);
    CHECK_MSG(np > 0 && np <= 4096, "prompt of %d tokens", np);
    int32_t ct[64];
    char head[64];
    snprintf(head, sizeof head, "Remember this code:");
    int nh = tokenize(g_small, head, ct, 64);
    CHECK_MSG(np > 4 + 64 + 3 * 32 + nh + 32, "prompt of %d tokens: the code must be outside the window", np);
    /* selfspec reads the chunks from the target's cache; a draft model (here the model itself)
       re-forwards them into its own */
    for (int mth = 0; mth < 2; mth++) {
        double alpha[4];
        char info[4][640];
        /* masw: mass, peak, and (a draft model) mass with the sparse prefill and a store of 2 chunks */
        const int pol[] = { SPC_DRAFT_KV_WINDOW, SPC_DRAFT_KV_MASW, SPC_DRAFT_KV_MASW, SPC_DRAFT_KV_MASW };
        int n_cfg = mth ? 4 : 3;
        for (int i = 0; i < n_cfg; i++) {
            struct spc_gen_params gp = params(mth ? SPC_SPEC_DRAFT : SPC_SPEC_SELFSPEC, 4);
            if (mth) gp.draft_model = g_small;
            else gp.skip_layers = "4,9-14,20";
            gp.draft_kv = pol[i];
            gp.draft_score = i == 2 ? SPC_DRAFT_SCORE_PEAK : SPC_DRAFT_SCORE_MASS;
            gp.draft_memory = 64;
            gp.draft_p_min = 0;
            gp.draft_prefill = SPC_DRAFT_PREFILL_FULL;
            if (i == 3) gp.draft_prefill = SPC_DRAFT_PREFILL_SPARSE, gp.draft_store = 64;
            struct spc_gen *g;
            CHECK_OK(spc_gen_new(&g, g_small, &gp));
            struct spc_gen_request rq = { pt, np, 24, NULL, 0 };
            struct spc_gen_result res;
            CHECK_OK(spc_gen_run(g, &rq, NULL, NULL, &res));
            struct spc_gen_stats st;
            spc_gen_stats(g, &st);
            alpha[i] = st.n_drafted ? (double)st.n_accepted / st.n_drafted : 0;
            snprintf(info[i], sizeof info[i], "%s", spc_gen_drafter_info(g));
            spc_gen_free(g);
        }
        for (int i = 1; i < n_cfg; i++) {
            /* the code sits at positions [nh, nh + ~50): masw holds a chunk that overlaps it */
            const char *at = strstr(info[i], " held at ");
            int a = -1, b = -1;
            CHECK_MSG(at && sscanf(at, " held at %d-%d", &a, &b) == 2, "info: %s", info[i]);
            CHECK_MSG(a < nh + 40 && b >= nh, "held %d-%d, the code starts at %d: %s", a, b, nh, info[i]);
            CHECK_MSG(alpha[i] > alpha[0], "%s: masw acceptance %.3f not above the window's %.3f (%s)", mth ? "draft" : "selfspec",
                      alpha[i], alpha[0], info[i]);
            /* the prompt's end asks for the code: the target's attention there picks its chunk before
               the draft model's prefill would evict it, so nothing is re-forwarded */
            long refw = -1;
            const char *rf = strstr(info[i], "retrieved this request (");
            CHECK_MSG(!mth || (rf && sscanf(rf, "retrieved this request (%ld", &refw) == 1 && refw == 0),
                      "re-forwarded %ld: %s", refw, info[i]);
            long pre = number_before(info[i], " prompt positions forwarded");
            CHECK_MSG(!mth || (i == 3 ? pre > 0 && pre < np / 2 : pre == np - 1), "prefilled %ld of %d: %s", pre, np - 1, info[i]);
            printf("    %s: window alpha %.3f, masw (%s) alpha %.3f; %s\n", mth ? "draft" : "selfspec", alpha[0],
                   i == 3 ? "mass, sparse prefill" : i == 2 ? "peak" : "mass", alpha[i], info[i]);
        }
    }
}

TEST(lossless_draft_model) {
    if (quick()) {      /* the sanitizer run keeps to the 0.5b (drafting for itself: the same code paths) */
        if (!load("qwen2.5-coder-0.5b", &g_q05)) SKIP("qwen2.5-coder-0.5b not cached");
        int32_t ref[16], out[16];
        struct spc_gen_params gp = params(SPC_SPEC_NONE, 1);
        CHECK(generate(g_q05, &gp, P_CODE, 12, ref, NULL) == 12);
        gp = params(SPC_SPEC_DRAFT, 3);
        gp.draft_model = g_q05;
        CHECK(generate(g_q05, &gp, P_CODE, 12, out, NULL) == 12 && !memcmp(ref, out, sizeof ref[0] * 12));
        return;
    }
    if (!load("qwen2.5-coder-1.5b", &g_q15) || !load("qwen2.5-coder-0.5b", &g_q05))
        SKIP("qwen2.5-coder 1.5b/0.5b not cached");
    check_lossless(g_q15, g_q05, SPC_SPEC_DRAFT, NULL, P_CODE, 24);
}

TEST(selfspec_search_reports_layers) {
    if (!load("smollm2-135m", &g_small)) SKIP("model smollm2-135m not cached");
    struct spc_gen_params gp = params(SPC_SPEC_SELFSPEC, 4);
    int32_t cal[256];
    gp.calib = cal;
    gp.n_calib = tokenize(g_small, P_CODE, cal, 256);
    struct spc_gen *g;
    CHECK_OK(spc_gen_new(&g, g_small, &gp));
    const char *info = spc_gen_drafter_info(g);
    CHECK_MSG((strstr(info, "skip ") || strstr(info, "off: ")) && strstr(info, "auto search"), "info: %s", info);
    spc_gen_free(g);
    gp.skip_layers = "3-2";
    CHECK(spc_gen_new(&g, g_small, &gp) == SPC_ERR_INVALID && strstr(spc_errmsg(), "layer list"));
    gp.skip_layers = "0-29";
    CHECK(spc_gen_new(&g, g_small, &gp) == SPC_ERR_INVALID && strstr(spc_errmsg(), "all 30 layers"));
}

/* ---- distribution ---- */

/* Upper 0.1% point of chi-square with df degrees of freedom (Wilson-Hilferty). */
static double chi2_crit(int df) {
    double z = 3.0902, a = 2.0 / (9.0 * df);
    double c = 1 - a + z * sqrt(a);
    return df * c * c * c;
}

/* The target's final distribution after `prefix` (dense, n_vocab floats). */
static void target_dist(struct spc_model *m, const struct spc_sampler_params *sp, const int32_t *prefix, int n,
                        float *out) {
    int nv = spc_model_n_vocab(m);
    struct spc_ctx_params cp = spc_ctx_default_params();
    cp.n_ctx = 256;
    struct spc_ctx *c;
    struct spc_sampler *s;
    memset(out, 0, sizeof *out * (size_t)nv);
    if (spc_ctx_new(&c, m, &cp) || spc_sampler_new(&s, sp, nv)) return;
    struct spc_batch b = { .n = n, .token = prefix };
    if (spc_forward(c, &b) == SPC_OK) {
        const int32_t *ids;
        const float *pr;
        int k;
        spc_sampler_dist(s, spc_ctx_logits(c, n - 1), &ids, &pr, &k);
        for (int i = 0; i < k; i++) out[ids[i]] = pr[i];
    }
    spc_sampler_free(s);
    spc_ctx_free(c);
}

/* Samples the first two tokens `trials` times with speculative sampling and compares the joint
 * frequencies with p(t1) p(t2 | t1) computed from the target alone. */
static void check_distribution(int method, const char *skip, const char *prompt, int trials, int n_predict) {
    struct spc_model *m = g_small;
    int nv = spc_model_n_vocab(m);
    struct spc_gen_params gp = params(method, 4);
    gp.sampling = (struct spc_sampler_params){ .temp = 1.0f, .top_k = 5, .top_p = 1.0f, .min_p = 0, .seed = 1234 };
    gp.skip_layers = skip;
    gp.draft_p_min = 0;
    gp.adaptive = 0;
    int32_t pt[256];
    int np = tokenize(m, prompt, pt, 250);
    float *p1 = calloc((size_t)nv, sizeof *p1), *p2 = calloc((size_t)nv, sizeof *p2);
    target_dist(m, &gp.sampling, pt, np, p1);
    int32_t first[5];
    int nf = 0;
    for (int t = 0; t < nv && nf < 5; t++)
        if (p1[t] > 0) first[nf++] = t;
    /* expected joint probabilities, cells (t1, t2) */
    int32_t cell_a[25], cell_b[25];
    double expect[25];
    int nc = 0;
    for (int i = 0; i < nf; i++) {
        pt[np] = first[i];
        target_dist(m, &gp.sampling, pt, np + 1, p2);
        for (int t = 0; t < nv; t++)
            if (p2[t] > 0) {
                cell_a[nc] = first[i];
                cell_b[nc] = t;
                expect[nc++] = (double)p1[first[i]] * p2[t];
            }
    }
    long count[25] = { 0 };
    struct spc_gen *g;
    CHECK_OK(spc_gen_new(&g, m, &gp));
    struct spc_gen_request rq = { pt, np, n_predict, NULL, 0 };      /* tokens after the second are not judged */
    long drafted = 0, accepted = 0, other = 0;
    for (int tr = 0; tr < trials; tr++) {
        struct spc_gen_result res;
        CHECK_OK(spc_gen_run(g, &rq, NULL, NULL, &res));
        struct spc_gen_stats st;
        spc_gen_stats(g, &st);
        drafted += st.n_drafted;
        accepted += st.n_accepted;
        g_tree_steps += st.n_tree_steps;
        int c = -1;
        for (int i = 0; i < nc && res.n_tokens >= 2; i++)
            if (cell_a[i] == res.tokens[0] && cell_b[i] == res.tokens[1]) c = i;
        if (c < 0) other++;
        else count[c]++;
    }
    spc_gen_free(g);
    /* merge cells expected below 5 into one */
    double chi = 0, e_small = 0, o_small = 0;
    int df = -1;
    for (int i = 0; i < nc; i++) {
        double e = expect[i] * trials;
        if (e < 5) {
            e_small += e;
            o_small += count[i];
            continue;
        }
        chi += (count[i] - e) * (count[i] - e) / e;
        df++;
    }
    if (e_small > 0) {
        chi += (o_small - e_small) * (o_small - e_small) / (e_small > 1e-9 ? e_small : 1e-9);
        df++;
    }
    CHECK_MSG(other == 0, "%ld samples outside the target's support", other);
    CHECK_MSG(df >= 3, "only %d degrees of freedom", df);
    CHECK_MSG(chi < chi2_crit(df), "%s: chi-square %.1f with %d df (0.1%% critical %.1f)", spc_spec_method_name(method),
              chi, df, chi2_crit(df));
    CHECK_MSG(accepted > 0 && accepted < drafted, "drafted %ld, accepted %ld", drafted, accepted);
    printf("    %s: %d trials, chi-square %.1f, %d df (critical %.1f); drafted %ld accepted %ld\n",
           spc_spec_method_name(method), trials, chi, df, chi2_crit(df), drafted, accepted);
    free(p1);
    free(p2);
}

TEST(sampling_distribution_selfspec) {
    if (!load("smollm2-135m", &g_small)) SKIP("model smollm2-135m not cached");
    check_distribution(SPC_SPEC_SELFSPEC, "6-20", "The best thing about living in the city is", quick() ? 300 : getenv("SPC_TRIALS") ? atoi(getenv("SPC_TRIALS")) : 1500, 2);
}

TEST(sampling_distribution_pld) {
    if (!load("smollm2-135m", &g_small)) SKIP("model smollm2-135m not cached");
    check_distribution(SPC_SPEC_PLD, NULL, "one two three four, one two three four, one two three", quick() ? 300 : getenv("SPC_TRIALS") ? atoi(getenv("SPC_TRIALS")) : 1500, 2);
}

/* Tree drafts (the memory's tree, fixed K = 4: after "1 2" both " 3" and " 5" are proposed) are
   verified by following the sampled token down the tree. */
TEST(sampling_distribution_memory_tree) {
    if (!load("smollm2-135m", &g_small)) SKIP("model smollm2-135m not cached");
    g_policy = SPC_POLICY_FIXED;
    g_sources = 1;
    g_tree_steps = 0;
    check_distribution(SPC_SPEC_MEMORY, NULL, "1 2 3 4 1 2 5 6 1 2 3 4 1 2 5 6 1 2",
                       quick() ? 300 : getenv("SPC_TRIALS") ? atoi(getenv("SPC_TRIALS")) : 1500, 4);
    CHECK_MSG(g_tree_steps > 0, "no token tree was verified");
    g_sources = 7;
}

/* ---- KV, stops, allocation, errors ---- */

/* The KV cache after the loop (pld: truncation after chains; memory: compaction of accepted tree
   paths) equals a fresh prefill of the same tokens, byte for byte. */
static void check_kv_after_loop(int method, const char *prompt) {
    struct spc_gen_params gp = params(method, 6);
    gp.ctx.kv_type = SPC_KV_F32;
    if (method == SPC_SPEC_SELFSPEC) gp.skip_layers = "4,9-14,20";
    struct spc_gen *g;
    CHECK_OK(spc_gen_new(&g, g_small, &gp));
    int32_t pt[512];
    int np = tokenize(g_small, prompt, pt, 512);
    struct spc_gen_request rq = { pt, np, 40, NULL, 0 };
    struct spc_gen_result res;
    CHECK_OK(spc_gen_run(g, &rq, NULL, NULL, &res));
    struct spc_gen_stats st;
    spc_gen_stats(g, &st);
    CHECK(st.n_drafted > st.n_accepted);       /* rollbacks happened */
    CHECK_MSG(method != SPC_SPEC_MEMORY || st.n_tree_steps > 0, "no token tree was verified");
    /* the generator's cache holds prompt + output except the pending last token */
    int32_t all[1024];
    memcpy(all, pt, sizeof *pt * (size_t)np);
    memcpy(all + np, res.tokens, sizeof *all * (size_t)res.n_tokens);
    int n = np + res.n_tokens - 1;
    struct spc_ctx *gc = spc_gen_ctx(g);
    CHECK(spc_kv_len(gc, 0) == n);
    struct spc_ctx_params cp = gp.ctx;
    cp.n_logits = 1;
    struct spc_ctx *c;
    CHECK_OK(spc_ctx_new(&c, g_small, &cp));
    CHECK(spc__forward_tokens(c, all, n, cp.n_batch) >= 0);    /* in batches, as a prefill */
    long diff = 0;
    for (int il = 0; il < spc_model_n_layer(g_small); il++)
        for (int s = 0; s < n; s++)
            for (int kv = 0; kv < 2; kv++)
                for (int h = 0; h < g_small->hp.n_head_kv; h++) {
                    size_t b1, b2;
                    const void *r1 = spc__ctx_kv_row(gc, kv, 0, il, h, s, &b1), *r2 = spc__ctx_kv_row(c, kv, 0, il, h, s, &b2);
                    diff += !r1 || !r2 || b1 != b2 || memcmp(r1, r2, b1);
                }
    CHECK_MSG(diff == 0, "%s: %ld KV rows differ from a fresh prefill", spc_spec_method_name(method), diff);
    spc_ctx_free(c);
    spc_gen_free(g);
}

TEST(kv_after_loop_equals_fresh_prefill) {
    if (!load("smollm2-135m", &g_small)) SKIP("model smollm2-135m not cached");
    check_kv_after_loop(SPC_SPEC_PLD, P_CODE);
    g_sources = 1;
    check_kv_after_loop(SPC_SPEC_MEMORY, P_CODE);
    /* masw re-forwards the prompt's end in the target to choose its first chunks: same K/V */
    char prompt[4096];
    long_code_prompt(prompt, sizeof prompt);
    g_draft_kv = SPC_DRAFT_KV_MASW;
    check_kv_after_loop(SPC_SPEC_SELFSPEC, prompt);
    g_draft_kv = SPC_DRAFT_KV_FULL;
    g_sources = 7;
}

static int collect(const char *text, size_t len, void *ud) {
    char *buf = ud;
    size_t have = strlen(buf);
    if (have + len < 4096) {
        memcpy(buf + have, text, len);
        buf[have + len] = 0;
    }
    return 0;
}

TEST(stops_inside_accepted_runs) {
    if (!load("smollm2-135m", &g_small)) SKIP("model smollm2-135m not cached");
    int32_t pt[256];
    int np = tokenize(g_small, P_LIST, pt, 256);
    struct spc_gen *plain, *spec;
    struct spc_gen_params gp = params(SPC_SPEC_NONE, 8);
    CHECK_OK(spc_gen_new(&plain, g_small, &gp));
    gp = params(SPC_SPEC_PLD, 8);
    CHECK_OK(spc_gen_new(&spec, g_small, &gp));
    /* -n: the budget cuts an accepted run */
    struct spc_gen_request rq = { pt, np, 13, NULL, 0 };
    struct spc_gen_result r1, r2;
    CHECK_OK(spc_gen_run(plain, &rq, NULL, NULL, &r1));
    int32_t ref[64];
    char ref_text[4096];
    memcpy(ref, r1.tokens, sizeof *ref * 13);
    snprintf(ref_text, sizeof ref_text, "%s", r1.text);
    CHECK_OK(spc_gen_run(spec, &rq, NULL, NULL, &r2));
    struct spc_gen_stats st;
    spc_gen_stats(spec, &st);
    CHECK(r2.n_tokens == 13 && !memcmp(r2.tokens, ref, sizeof *ref * 13) && !strcmp(r2.stop, "length"));
    CHECK_MSG(st.tau > 2, "tau %.2f: the drafts should be accepted in long runs here", st.tau);
    /* a stop string in the middle of an accepted run: the text ends before it, in the stream too */
    const char *stop[] = { "blue, yellow, red" };
    struct spc_gen_request rs = { pt, np, 40, stop, 1 };
    char streamed[4096] = "";
    CHECK_OK(spc_gen_run(spec, &rs, collect, streamed, &r2));
    const char *at = strstr(ref_text, "blue, yellow, red");
    CHECK_MSG(at, "reference text lacks the stop string: %s", ref_text);
    CHECK(!strcmp(r2.stop, "stop"));
    CHECK_MSG(r2.text_len == (size_t)(at - ref_text) && !strncmp(r2.text, ref_text, r2.text_len), "got '%s'", r2.text);
    CHECK_MSG(!strcmp(streamed, r2.text), "streamed '%s' vs '%s'", streamed, r2.text);
    spc_gen_free(plain);
    spc_gen_free(spec);
}

TEST(eog_inside_accepted_run) {
    if (!load("smollm2-135m", &g_small)) SKIP("model smollm2-135m not cached");
    struct spc_chat_msg msg = { "user", "What is 2+2? Answer with a single number." };
    char chat[512];
    spc_chat_apply(g_small, &msg, 1, 1, chat, sizeof chat);
    int32_t a[256], b[256];
    struct spc_gen_params gp = params(SPC_SPEC_NONE, 8);
    int na = generate(g_small, &gp, chat, 64, a, NULL);
    gp = params(SPC_SPEC_NGRAM, 8);
    gp.lookup_min = 1;
    int nb = generate(g_small, &gp, chat, 64, b, NULL);
    CHECK_MSG(na > 0 && na < 64, "plain decoding should stop at EOG (%d tokens)", na);
    CHECK(nb == na && !memcmp(a, b, sizeof *a * (size_t)na));
}

static long g_allocs;
static void *count_alloc(void *ud, size_t n) { (void)ud; g_allocs++; return malloc(n); }
static void *count_realloc(void *ud, void *p, size_t n) { (void)ud; g_allocs++; return realloc(p, n); }
static void count_free(void *ud, void *p) { (void)ud; free(p); }
static int g_pieces;
static long g_first, g_last;
static int mark(const char *t, size_t n, void *ud) {
    (void)t, (void)n, (void)ud;
    if (!g_pieces++) g_first = g_allocs;
    g_last = g_allocs;
    return 0;
}

/* The verification cost model recovers T(k, d) = a + b k + (c + e k) d from passes at a few context
   lengths (so v(k) grows with the context), predicts a length it has not seen, and follows a drift
   of the machine's speed. */
static double synth_pass(int k, int d, double scale) {
    return scale * (0.020 + 0.0015 * k + (0.004 + 0.0012 * k) * d / 1000.0);
}

TEST(cost_model_follows_context_length) {
    struct spc__cost cm = { 0 };
    CHECK(spc__cost_t(&cm, 0, 100) == 0);           /* unknown until passes of two sizes */
    unsigned r = 7;
    for (int i = 0; i < 600; i++) {
        r = r * 1103515245u + 12345u;
        int k = (int)(r >> 16) % 9, d = 200 + 1000 * (int)((r >> 8) % 4);      /* 200, 1200, 2200, 3200 */
        double noise = 1 + 0.02 * (((r >> 4) % 1000) / 1000.0 - 0.5);
        spc__cost_add(&cm, k, d, synth_pass(k, d, 1) * noise);
    }
    for (int k = 0; k <= 8; k += 4)
        for (int d = 100; d <= 4100; d += 2000) {       /* 2100 and 4100: lengths not seen */
            double t = spc__cost_t(&cm, k, d), want = synth_pass(k, d, 1);
            CHECK_MSG(fabs(t / want - 1) < 0.03, "T(%d, %d) = %.5f, want %.5f", k, d, t, want);
        }
    double v_short = spc__cost_t(&cm, 8, 200) / spc__cost_t(&cm, 0, 200);
    double v_long = spc__cost_t(&cm, 8, 3200) / spc__cost_t(&cm, 0, 3200);
    CHECK_MSG(v_long > v_short + 0.2, "v(8) %.3f at 200, %.3f at 3200", v_short, v_long);
    /* the machine slows down by half: a few hundred passes later the fit has followed */
    for (int i = 0; i < 1500; i++) {
        int k = i % 9, d = 200 + 1000 * (i % 4);
        spc__cost_add(&cm, k, d, synth_pass(k, d, 1.5));
    }
    double t = spc__cost_t(&cm, 4, 1200), want = synth_pass(4, 1200, 1.5);
    CHECK_MSG(fabs(t / want - 1) < 0.05, "after the drift T(4, 1200) = %.5f, want %.5f", t, want);
}

/* The draft-length decision: with v(k) = 1 + 0.25 k and a draft token at 0.3 of a target pass,
   resting wins below acceptance ~0.55; a drafter that must catch up the rested tokens later (0.2
   of a pass each) drafts one token from ~0.29 on, and still rests when its drafts are useless. */
TEST(controller_charges_catch_up_to_rests) {
    double v[9];
    for (int k = 0; k <= 8; k++) v[k] = 1 + 0.25 * k;
    CHECK(spc__best_k(0.45, 0.3, 0, v, 8) == 0);
    CHECK(spc__best_k(0.45, 0.3, 0.2, v, 8) == 1);
    CHECK(spc__best_k(0.25, 0.3, 0.2, v, 8) == 0);
    CHECK(spc__best_k(0.60, 0.3, 0, v, 8) == 1);
    int hi0 = spc__best_k(0.95, 0.3, 0, v, 8), hi1 = spc__best_k(0.95, 0.3, 0.2, v, 8);
    CHECK_MSG(hi0 >= 2 && hi1 == hi0, "a = 0.95: k %d without catch-up cost, %d with", hi0, hi1);
    CHECK(spc__best_k(0.95, 0.3, 0, v, 1) == 1);    /* capped by k_max */
}

TEST(no_allocation_in_loop) {
    if (!load("smollm2-135m", &g_small)) SKIP("model smollm2-135m not cached");
    int methods[] = { SPC_SPEC_NONE, SPC_SPEC_PLD, SPC_SPEC_NGRAM, SPC_SPEC_SELFSPEC, SPC_SPEC_MEMORY };
    int32_t pt[256];
    int np = tokenize(g_small, P_CODE, pt, 256);
    for (int i = 0; i < 5; i++) {
        struct spc_gen_params gp = params(methods[i], 5);
        gp.skip_layers = "10-19";
        gp.sampling.temp = i == 3 ? 0.8f : 0;       /* the sampled path keeps q: no allocation either */
        struct spc_gen *g;
        CHECK_OK(spc_gen_new(&g, g_small, &gp));
        struct spc_gen_request rq = { pt, np, 32, NULL, 0 };
        struct spc_gen_result res;
        struct spc_allocator a = { count_alloc, count_realloc, count_free, NULL };
        spc_set_allocator(&a);
        g_allocs = g_pieces = 0;
        int st = spc_gen_run(g, &rq, mark, NULL, &res);
        spc_set_allocator(NULL);
        CHECK_OK(st);
        CHECK_MSG(g_pieces > 3 && g_last == g_first, "%s: %ld allocations between the first and last token",
                  spc_spec_method_name(methods[i]), g_last - g_first);
        spc_gen_free(g);
    }
}

TEST(incompatible_draft_vocabulary) {
    if (!load("smollm2-135m", &g_small) || !load("qwen2.5-coder-0.5b", &g_q05)) SKIP("models not cached");
    struct spc_gen_params gp = params(SPC_SPEC_DRAFT, 4);
    gp.draft_model = g_q05;
    struct spc_gen *g = NULL;
    CHECK(spc_gen_new(&g, g_small, &gp) == SPC_ERR_INVALID && g == NULL);
    CHECK_MSG(strstr(spc_errmsg(), "vocabulary") && strstr(spc_errmsg(), "differ"), "message: %s", spc_errmsg());
    gp.draft_model = NULL;
    CHECK(spc_gen_new(&g, g_small, &gp) == SPC_ERR_INVALID && strstr(spc_errmsg(), "needs a draft model"));
    if (!load("qwen2.5-coder-1.5b", &g_q15)) return;
    CHECK_OK(spc_vocab_check_compatible(spc_model_vocab(g_q15), spc_model_vocab(g_q05)));
}

TEST(bad_requests_leave_generator_usable) {
    if (!load("smollm2-135m", &g_small)) SKIP("model smollm2-135m not cached");
    struct spc_gen_params gp = params(SPC_SPEC_PLD, 4);
    gp.ctx.n_ctx = 64;
    struct spc_gen *g;
    CHECK_OK(spc_gen_new(&g, g_small, &gp));
    int32_t pt[128];
    for (int i = 0; i < 128; i++) pt[i] = 100 + i;
    struct spc_gen_result res;
    struct spc_gen_request too_long = { pt, 64, 8, NULL, 0 };
    CHECK(spc_gen_run(g, &too_long, NULL, NULL, &res) == SPC_ERR_CONTEXT);
    struct spc_gen_request empty = { pt, 0, 8, NULL, 0 };
    CHECK(spc_gen_run(g, &empty, NULL, NULL, &res) == SPC_ERR_INVALID);
    pt[3] = 1 << 30;
    struct spc_gen_request bad_tok = { pt, 8, 8, NULL, 0 };
    CHECK(spc_gen_run(g, &bad_tok, NULL, NULL, &res) == SPC_ERR_INVALID && strstr(spc_errmsg(), "out of range"));
    pt[3] = 103;
    const char *empty_stop[] = { "" };
    struct spc_gen_request bad_stop = { pt, 8, 8, empty_stop, 1 };
    CHECK(spc_gen_run(g, &bad_stop, NULL, NULL, &res) == SPC_ERR_INVALID);
    /* the context fills: generation ends with "context", nothing lost before it */
    struct spc_gen_request fill = { pt, 60, 100, NULL, 0 };
    CHECK_OK(spc_gen_run(g, &fill, NULL, NULL, &res));
    CHECK_MSG(res.n_tokens == 4 && !strcmp(res.stop, "context"), "%d tokens, stop %s", res.n_tokens, res.stop);
    gp.draft_max = 0;
    struct spc_gen *g2 = NULL;
    CHECK(spc_gen_new(&g2, g_small, &gp) == SPC_ERR_INVALID);
    /* masw's budgets out of range */
    gp = params(SPC_SPEC_DRAFT, 4);
    gp.draft_model = g_small;
    gp.draft_kv = SPC_DRAFT_KV_MASW;
    const float shares[] = { -0.1f, 1.5f, NAN };
    for (int i = 0; i < 3; i++) {
        gp.draft_refresh_share = shares[i];
        CHECK(spc_gen_new(&g2, g_small, &gp) == SPC_ERR_INVALID && g2 == NULL && strstr(spc_errmsg(), "refresh share"));
    }
    spc_gen_free(g);
}

TEST(ngram_cache_persists_and_rejects_garbage) {
    if (!load("smollm2-135m", &g_small)) SKIP("model smollm2-135m not cached");
    char path[64];
    snprintf(path, sizeof path, "/tmp/spc_test_ngram.%d.bin", (int)getpid());
    remove(path);
    struct spc_gen_params gp = params(SPC_SPEC_NGRAM, 6);
    gp.ngram_cache = path;
    int32_t out[64];
    struct spc_gen_stats s1, s2;
    /* first generator learns this request and saves it; a second one loads it and, asked again,
       drafts the whole continuation from it */
    CHECK(generate(g_small, &gp, P_CODE, 32, out, &s1) == 32);
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f, "cache file not written");
    if (f) fclose(f);
    CHECK(generate(g_small, &gp, P_CODE, 32, out, &s2) == 32);
    CHECK_MSG(s2.tau > s1.tau + 1, "tau %.2f with the loaded cache, %.2f without", s2.tau, s1.tau);
    f = fopen(path, "wb");
    fputs("SPCNGRM1 not really", f);
    fclose(f);
    struct spc_gen *g = NULL;
    CHECK(spc_gen_new(&g, g_small, &gp) == SPC_ERR_FORMAT && strstr(spc_errmsg(), path));
    remove(path);
}

/* Generators that share one target context (as the bench runs them) keep each other's prompt KV
 * and stay lossless, even when the selfspec search runs on that context in the middle. */
TEST(generators_sharing_a_context) {
    if (!load("smollm2-135m", &g_small)) SKIP("model smollm2-135m not cached");
    struct spc_ctx_params cp = spc_ctx_default_params();
    cp.n_ctx = 1024;
    cp.n_logits = 64;
    struct spc_ctx *c;
    CHECK_OK(spc_ctx_new(&c, g_small, &cp));
    int methods[] = { SPC_SPEC_NONE, SPC_SPEC_PLD, SPC_SPEC_SELFSPEC };
    struct spc_gen *g[3];
    for (int i = 0; i < 3; i++) {
        struct spc_gen_params gp = params(methods[i], 4);
        gp.target_ctx = c;
        CHECK_OK(spc_gen_new(&g[i], g_small, &gp));
    }
    const char *prompts[] = { P_CODE, P_LIST };
    for (int pi = 0; pi < 2; pi++) {
        int32_t pt[256], ref[32];
        int np = tokenize(g_small, prompts[pi], pt, 256);
        struct spc_gen_request rq = { pt, np, 24, NULL, 0 };
        for (int i = 0; i < 3; i++) {
            struct spc_gen_result res;
            CHECK_OK(spc_gen_run(g[i], &rq, NULL, NULL, &res));
            struct spc_gen_stats st;
            spc_gen_stats(g[i], &st);
            if (i == 0) memcpy(ref, res.tokens, sizeof ref);
            else CHECK_MSG(res.n_tokens == 24 && !memcmp(ref, res.tokens, sizeof ref), "%s differs on prompt %d",
                           spc_spec_method_name(methods[i]), pi);
            if (i == 1) CHECK_MSG(st.n_prompt_cached == np - 1, "prompt cache kept %d of %d", st.n_prompt_cached, np - 1);
        }
    }
    for (int i = 0; i < 3; i++) spc_gen_free(g[i]);
    spc_ctx_free(c);
}

/* masw primes its first selection with the target's attention over the prompt's last positions,
 * forwarded again; the target's K/V of those positions must come back as it was, whatever made it
 * (a prompt cache written by another build or CPU holds other bits than these kernels would give):
 * here the cache is perturbed, and masw still gives the plain output on it and leaves it as it was. */
TEST(masw_priming_keeps_the_target_cache) {
    if (!load("smollm2-135m", &g_small)) SKIP("model smollm2-135m not cached");
    char prompt[4096];
    int32_t pt[512], ref[48];
    int np = long_code_tokens(prompt, sizeof prompt, pt, 512);
    struct spc_ctx_params cp = spc_ctx_default_params();
    cp.n_ctx = 1024;
    cp.n_logits = 64;
    struct spc_ctx *c;
    CHECK_OK(spc_ctx_new(&c, g_small, &cp));
    CHECK(spc__forward_tokens(c, pt, np - 1, 64) >= 0);
    /* the last 16 prompt positions' K/V nudged (as another build's rounding would leave them) */
    size_t pb = spc__ctx_kv_pos_bytes(c);
    uint8_t *before = malloc(pb * 16), *after = malloc(pb);
    int32_t tok[16], pos[16];
    for (int i = 0; i < 16; i++) {
        tok[i] = spc_kv_tokens(c, 0)[np - 17 + i];
        pos[i] = spc_kv_positions(c, 0)[np - 17 + i];
        CHECK_OK(spc__kv_get(c, 0, np - 17 + i, before + pb * i));
        for (size_t b = 0; b < pb; b += 2) before[pb * i + b] ^= 1;   /* the f16 values' last bit */
    }
    CHECK_OK(spc_kv_truncate(c, 0, np - 17));
    for (int i = 0; i < 16; i++) CHECK_OK(spc__kv_put(c, 0, before + pb * i, tok[i], pos[i]));
    struct spc_gen *g[2];
    for (int i = 0; i < 2; i++) {
        g_draft_kv = SPC_DRAFT_KV_MASW;
        struct spc_gen_params gp = params(i ? SPC_SPEC_DRAFT : SPC_SPEC_NONE, 4);
        gp.draft_model = g_small;
        gp.target_ctx = c;
        CHECK_OK(spc_gen_new(&g[i], g_small, &gp));
        struct spc_gen_request rq = { pt, np, 48, NULL, 0 };
        struct spc_gen_result res;
        CHECK_OK(spc_gen_run(g[i], &rq, NULL, NULL, &res));
        struct spc_gen_stats st;
        spc_gen_stats(g[i], &st);
        CHECK_MSG(st.n_prompt_cached == np - 1, "prompt cache kept %d of %d", st.n_prompt_cached, np - 1);
        if (i == 0) memcpy(ref, res.tokens, sizeof ref);
        else CHECK_MSG(res.n_tokens == 48 && !memcmp(ref, res.tokens, sizeof ref), "masw differs on a perturbed cache");
        for (int k = 0; k < 16; k++) {
            CHECK_OK(spc__kv_get(c, 0, np - 17 + k, after));
            CHECK_MSG(!memcmp(after, before + pb * k, pb), "%s: prompt position %d's K/V changed",
                      i ? "masw" : "plain", np - 17 + k);
        }
    }
    g_draft_kv = SPC_DRAFT_KV_FULL;
    for (int i = 0; i < 2; i++) spc_gen_free(g[i]);
    spc_ctx_free(c);
    free(before);
    free(after);
}

int main(int argc, char **argv) {
    test_init(argc, argv);
    RUN(lossless_pld);
    RUN(lossless_ngram);
    RUN(lossless_memory);
    RUN(memory_trie_matches_brute_force);
    RUN(memory_file_round_trip_and_corruption);
    RUN(lossless_selfspec);
    RUN(lossless_draft_kv_window);
    RUN(masw_priming_keeps_the_target_cache);
    RUN(drafter_cache_forget);
    RUN(lossless_selfspec_views);
    RUN(masw_retrieves_the_relevant_chunk);
    RUN(lossless_draft_model);
    RUN(selfspec_search_reports_layers);
    RUN(sampling_distribution_selfspec);
    RUN(sampling_distribution_pld);
    RUN(sampling_distribution_memory_tree);
    RUN(kv_after_loop_equals_fresh_prefill);
    RUN(stops_inside_accepted_runs);
    RUN(eog_inside_accepted_run);
    RUN(cost_model_follows_context_length);
    RUN(controller_charges_catch_up_to_rests);
    RUN(no_allocation_in_loop);
    RUN(incompatible_draft_vocabulary);
    RUN(bad_requests_leave_generator_usable);
    RUN(ngram_cache_persists_and_rejects_garbage);
    RUN(generators_sharing_a_context);
    spc_model_free(g_small);
    spc_model_free(g_q05);
    spc_model_free(g_q15);
    return test_done();
}
