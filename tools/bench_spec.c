/*
 * bench_spec.c: `specula bench --prompts FILE.jsonl`: every speculation method on the same real
 * prompts in one run, interleaved (prompt by prompt, each method in turn, the starting method
 * rotating), so machine drift hits all methods alike.
 *
 * Prompt sets (../shared/bench): Spec-Bench (`turns`, first turn, `category`), HumanEval
 * (`prompt`, category "humaneval", completed raw), GSM8K (`question`, category "gsm8k"). Chat
 * prompts go through the model's chat template (--raw turns that off, --chat forces it).
 * Long contexts (--long DIR, ../shared/bench/long): for each L of --lengths, documents (L-Eval
 * `input` with its first instruction as the task, through the chat template; Project Gutenberg
 * books without their header and licence, continued as raw text) cut to their first L tokens (cut
 * on a token boundary and decoded back), then the task; the category is "L=<L>", --limit documents per L taken in
 * turn from each source, documents shorter than L skipped. The context grows to fit.
 *
 * Per method and category: generated tokens/s (generation only: the prompt is the same work for
 * every method), speedup over `none` on the same prompts, alpha, tau, `lossless` (greedy outputs
 * identical to `none`), and the expected speedup of the standard model
 *     (1 - a^(K+1)) / ((1 - a) (K c + v(K)))
 * with a the per-token acceptance (accepted / reached), c the drafting time per step over K one-
 * position target passes, and v(K) the method's own verification passes over K+1 positions
 * against `none`'s one-position passes on the same prompts. Because a step often drafts fewer
 * than K tokens (lookup drafters find nothing, model drafters stop on low confidence), a second
 * prediction, pred_k, averages the same model over the step sizes that actually occurred.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tools.h"

#define MAX_METHODS 16
#define MAX_CATS 64

struct prompt {
    char *text, *cat;
    bool chat;
};

struct agg {                    /* one method in one category (or all: cat index n_cats) */
    int n_prompts, n_gen, n_lossless, n_compared;
    double gen_s;
    struct spc_gen_stats s;     /* summed counters */
};

struct bopts {
    const char *model, *draft, *prompts, *json, *outputs, *cats, *long_dir, *lengths, *plot, *kv_dir;
    int limit, long_skip, n_gen, n_ctx, n_threads, force_chat;   /* force_chat: -1 raw, 0 auto, 1 chat */
    int methods[MAX_METHODS], n_methods;
    int policy[MAX_METHODS];            /* memory variants: -1 = the --draft-policy option */
    unsigned sources[MAX_METHODS];      /* memory variants: 0 = the --memory-sources option */
    int hybrid[MAX_METHODS];            /* memory variants: a model drafter beside the memory */
    int kmax[MAX_METHODS];              /* memory variants: their own K (kN; 0 = --draft-max) */
    bool chain[MAX_METHODS];            /* memory variants: chains only (no token trees) */
    int draft_kv[MAX_METHODS];          /* draft/selfspec/memory variants: ":window" or ":full" (-1: --draft-kv) */
    int draft_mem[MAX_METHODS];         /* ":maswN": masw with a memory of N positions (0: --draft-memory) */
    int draft_ref[MAX_METHODS];         /* ":masw[N]rR": re-forwarding R retrieved positions per catch-up pass (-1: --draft-refresh) */
    int draft_sto[MAX_METHODS];         /* ":masw[N][rR]sS": a store of S evicted positions (-1: --draft-store) */
    int draft_shr[MAX_METHODS];         /* ":masw[N][rR][sS]cC": re-forwarding takes at most C% of the drafting time (-1: --draft-refresh-share) */
    int draft_sco[MAX_METHODS];         /* ":maswp...": chunks scored by peak attention (-1: --draft-score) */
    int draft_pre[MAX_METHODS];         /* ":masw[p]x..." / "f": sparse / full prefill (-1: --draft-prefill) */
    char label[MAX_METHODS][48];        /* the name as given ("memory:fixed") */
    struct spc_gen_params gp;
};

static int usage(void) {
    fprintf(stderr, "usage: specula bench --prompts FILE.jsonl -m MODEL [--category C[,C...]] [--limit N] [-n N]\n"
                    "       specula bench --long DIR [--lengths 2048,4096,...] [--long-skip N] [--plot OUT.svg] -m MODEL ...\n"
                    "                     (long contexts; --long-skip: leave out the first N long enough documents)\n"
                    "                     [--methods ...,draft:window,selfspec:masw,...]\n"
                    "                     [--methods none,draft,pld,ngram,selfspec,memory[:POLICY][:SRC+SRC]]\n"
                    "                     [-md DRAFT] [--draft-max K]\n"
                    "                     [--draft-min K] [-c CTX] [-t THREADS] [--chat | --raw] [--json OUT]\n"
                    "                     [--outputs OUT.jsonl] (each prompt's tokens and `none`'s output tokens)\n"
                    "                     [--prompt-cache DIR] (the target's prefilled prompts saved there and loaded\n"
                    "                     by later runs instead of forwarded again)\n"
                    "                     (and the speculation options of `specula run`)\n");
    return 2;
}

static int parse(int argc, char **argv, struct bopts *o) {
    o->limit = 10;
    o->n_gen = 128;
    o->n_ctx = 4096;
    o->n_threads = 2;
    o->gp = spc_gen_default_params();
    const char *methods = "none,pld,ngram";
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = parse_spec_opt("bench", a, v, &o->gp, &o->draft);
        if (r < 0) return 2;
        if (r > 0) {
            i++;
            continue;
        }
        bool ok = true, takes = true;
        if (!strcmp(a, "--prompts")) o->prompts = v;
        else if (!strcmp(a, "--long")) o->long_dir = v;
        else if (!strcmp(a, "--lengths")) o->lengths = v;
        else if (!strcmp(a, "--long-skip")) ok = v && parse_int(v, 0, 1 << 20, &o->long_skip);
        else if (!strcmp(a, "--plot")) o->plot = v;
        else if (!strcmp(a, "--prompt-cache")) o->kv_dir = v;
        else if (!strcmp(a, "-m")) o->model = v;
        else if (!strcmp(a, "--category")) o->cats = v;
        else if (!strcmp(a, "--limit")) ok = v && parse_int(v, 1, 1 << 20, &o->limit);
        else if (!strcmp(a, "-n")) ok = v && parse_int(v, 1, 1 << 20, &o->n_gen);
        else if (!strcmp(a, "-c")) ok = v && parse_int(v, 64, 1 << 20, &o->n_ctx);
        else if (!strcmp(a, "-t")) ok = v && parse_int(v, 1, 512, &o->n_threads);
        else if (!strcmp(a, "--methods")) methods = v;
        else if (!strcmp(a, "--json")) o->json = v;
        else if (!strcmp(a, "--outputs")) o->outputs = v;
        else if (!strcmp(a, "--chat")) { o->force_chat = 1; takes = false; }
        else if (!strcmp(a, "--raw")) { o->force_chat = -1; takes = false; }
        else {
            fprintf(stderr, "specula bench: unknown option '%s'\n", a);
            return usage();
        }
        if (takes && !v) {
            fprintf(stderr, "specula bench: option '%s' needs a value\n", a);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "specula bench: bad value '%s' for %s\n", v, a);
            return 2;
        }
        if (takes) i++;
    }
    if (o->plot && !o->long_dir) {
        fprintf(stderr, "specula bench: --plot draws the --long rows (speedup and acceptance against L)\n");
        return 2;
    }
    if ((!o->prompts && !o->long_dir) || !o->model) {
        fprintf(stderr, "specula bench: --prompts (or --long) needs -m MODEL\n");
        return usage();
    }
    /* methods: `none` always first (the baseline), each once; memory may come in variants,
       memory:POLICY[:SOURCES][:draft|selfspec][:kN][:chain] (e.g. memory:fixed:k4,
       memory:adaptive:request, memory:chain: no token trees) for ablations */
    o->methods[o->n_methods] = SPC_SPEC_NONE;
    o->policy[o->n_methods] = -1;
    o->hybrid[o->n_methods] = 0;
    o->kmax[o->n_methods] = 0;
    o->sources[o->n_methods] = 0;
    o->chain[o->n_methods] = false;
    o->draft_kv[o->n_methods] = -1;
    o->draft_mem[o->n_methods] = 0;
    o->draft_ref[o->n_methods] = -1;
    o->draft_sto[o->n_methods] = -1;
    o->draft_shr[o->n_methods] = -1;
    o->draft_sco[o->n_methods] = -1;
    o->draft_pre[o->n_methods] = -1;
    snprintf(o->label[o->n_methods++], sizeof o->label[0], "none");
    char buf[512];
    snprintf(buf, sizeof buf, "%s", methods);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char name[48];
        snprintf(name, sizeof name, "%s", tok);
        char *var = strchr(name, ':');
        if (var) *var++ = 0;
        int mth = spc_spec_method_from_name(name), pol = -1;
        unsigned src = 0;
        int dkv = -1, dmem = 0, dref = -1, dsto = -1, dshr = -1, dsco = -1, dpre = -1;
        if (var && (mth == SPC_SPEC_DRAFT || mth == SPC_SPEC_SELFSPEC || mth == SPC_SPEC_MEMORY)) {
            /* a drafter KV policy suffix: draft:window, selfspec:full, memory:draft:window,
               draft:masw1024 (masw with that memory budget), draft:maswr16 / masw1024r16 (re-forwarding
               16 retrieved positions per catch-up pass), draft:maswr8s0 / masws4096 (a store of that
               many evicted positions), draft:maswr16c30 (re-forwarding up to 30% of the drafting time;
               c100: no limit), draft:maswp / maswp1024r8 (chunks scored by peak attention),
               draft:maswx / maswpxr8 (sparse prefill), maswf (full prefill) */
            char *last = strrchr(var, ':') ? strrchr(var, ':') + 1 : var;
            if (!strncmp(last, "maswp", 5)) {
                dsco = SPC_DRAFT_SCORE_PEAK;
                memmove(last + 4, last + 5, strlen(last + 5) + 1);
            }
            if (!strncmp(last, "maswx", 5) || !strncmp(last, "maswf", 5)) {
                dpre = last[4] == 'x' ? SPC_DRAFT_PREFILL_SPARSE : SPC_DRAFT_PREFILL_FULL;
                memmove(last + 4, last + 5, strlen(last + 5) + 1);
            }
            if (!strncmp(last, "masw", 4) && last[4]) {
                char *c = strchr(last + 4, 'c');
                bool okm = !c || parse_int(c + 1, 0, 100, &dshr);
                if (okm && c) *c = 0;
                char *s = strchr(last + 4, 's');
                okm = okm && (!s || parse_int(s + 1, 0, 1 << 24, &dsto));
                if (okm && s) *s = 0;
                char *r = strchr(last + 4, 'r');
                okm = okm && (!r || parse_int(r + 1, 0, 1 << 20, &dref));
                if (okm && r) *r = 0;
                if (okm && (!last[4] || parse_int(last + 4, 1, 1 << 20, &dmem))) last[4] = 0;
            }
            if (!strcmp(last, "window") || !strcmp(last, "full") || !strcmp(last, "masw")) {
                dkv = !strcmp(last, "window") ? SPC_DRAFT_KV_WINDOW : !strcmp(last, "masw") ? SPC_DRAFT_KV_MASW : SPC_DRAFT_KV_FULL;
                if (last == var) var = NULL;
                else last[-1] = 0;
            }
        }
        if (mth < 0 || (var && mth != SPC_SPEC_MEMORY)) {
            fprintf(stderr, "specula bench: unknown method '%s' (none, draft, pld, ngram, selfspec, memory[:POLICY][:SOURCES])\n", tok);
            return 2;
        }
        int hyb = 0, kk = 0;
        bool chain = false;
        if (var) {
            /* colon-separated: a policy, a sources list (request+outputs+corpus), draft or selfspec */
            char *srcs = NULL;
            for (char *f = var; f; ) {
                char *nx = strchr(f, ':');
                if (nx) *nx++ = 0;
                int pp = spc_draft_policy_from_name(f);
                if (pp >= 0) pol = pp;
                else if (f[0] == 'k' && parse_int(f + 1, 1, SPC_SPEC_KMAX, &kk)) {}
                else if (!strcmp(f, "draft")) hyb = SPC_SPEC_DRAFT;
                else if (!strcmp(f, "selfspec")) hyb = SPC_SPEC_SELFSPEC;
                else if (!strcmp(f, "chain")) chain = true;
                else srcs = f;
                f = nx;
            }
            if (srcs && !parse_sources(srcs, '+', &src)) {
                fprintf(stderr, "specula bench: bad memory variant '%s' (memory[:fixed|threshold|adaptive]"
                                "[:request+outputs+corpus][:draft|selfspec][:kN][:chain])\n", tok);
                return 2;
            }
        }
        bool dup = false;
        for (int j = 0; j < o->n_methods; j++) dup |= !strcmp(o->label[j], tok);
        if (!dup && o->n_methods < MAX_METHODS) {
            o->methods[o->n_methods] = mth;
            o->policy[o->n_methods] = pol;
            o->sources[o->n_methods] = src;
            o->hybrid[o->n_methods] = hyb;
            o->kmax[o->n_methods] = kk;
            o->chain[o->n_methods] = chain;
            o->draft_kv[o->n_methods] = dkv;
            o->draft_mem[o->n_methods] = dmem;
            o->draft_ref[o->n_methods] = dref;
            o->draft_sto[o->n_methods] = dsto;
            o->draft_shr[o->n_methods] = dshr;
            o->draft_sco[o->n_methods] = dsco;
            o->draft_pre[o->n_methods] = dpre;
            snprintf(o->label[o->n_methods++], sizeof o->label[0], "%s", tok);
        }
        if (mth == SPC_SPEC_DRAFT && !o->draft) {
            fprintf(stderr, "specula bench: method 'draft' needs -md DRAFT\n");
            return 2;
        }
    }
    return 0;
}

static bool cat_wanted(const char *list, const char *cat) {
    if (!list) return true;
    size_t n = strlen(cat);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, cat, n)) return true;
        if (!e) break;
        p = e + 1;
    }
    return false;
}

/* Reads the JSONL prompt set: up to `limit` prompts per category. */
static int load_prompts(const struct bopts *o, struct prompt **out, int *n_out) {
    FILE *f = fopen(o->prompts, "r");
    if (!f) {
        fprintf(stderr, "specula bench: cannot open '%s': %s\n", o->prompts, strerror(errno));
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    int n = 0, room = 0, rc = 0;
    struct prompt *ps = NULL;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        char *text = NULL, *cat = NULL;
        bool chat = true;
        int r = json_object_get_str(line, "turns", 0, &text);
        if (r == 0) {
            r = json_object_get_str(line, "prompt", -1, &text);
            if (r == 1) chat = false;
        }
        if (r == 0) r = json_object_get_str(line, "question", -1, &text);
        if (r < 0) {
            fprintf(stderr, "specula bench: %s:%ld: malformed JSON\n", o->prompts, lineno);
            rc = 1;
            break;
        }
        if (r == 0) {
            fprintf(stderr, "specula bench: %s:%ld: no 'turns', 'prompt' or 'question' string\n", o->prompts, lineno);
            rc = 1;
            break;
        }
        if (json_object_get_str(line, "category", -1, &cat) != 1) {
            free(cat);
            cat = strdup(strstr(o->prompts, "humaneval") ? "humaneval" : strstr(o->prompts, "gsm8k") ? "gsm8k" : "all");
            if (!cat) {
                free(text);
                rc = 1;
                break;
            }
        }
        int have = 0;               /* prompts of this category kept so far */
        for (int i = 0; i < n; i++) have += !strcmp(ps[i].cat, cat);
        if (!cat_wanted(o->cats, cat) || have >= o->limit) {
            free(text);
            free(cat);
            continue;
        }
        if (n == room) {
            room = room ? 2 * room : 64;
            struct prompt *np = realloc(ps, sizeof *ps * (size_t)room);
            if (!np) { rc = 1; free(text); free(cat); break; }
            ps = np;
        }
        ps[n++] = (struct prompt){ text, cat, chat };
    }
    free(line);
    fclose(f);
    if (!rc && n == 0) {
        fprintf(stderr, "specula bench: no prompts in '%s'%s%s\n", o->prompts, o->cats ? " for category " : "",
                o->cats ? o->cats : "");
        rc = 1;
    }
    *out = ps;
    *n_out = n;
    return rc;
}

static void add_stats(struct agg *a, const struct spc_gen_stats *s, double gen_s) {
    a->n_prompts++;
    a->n_gen += s->n_gen;
    a->gen_s += gen_s;
    struct spc_gen_stats *t = &a->s;
    t->n_steps += s->n_steps;
    t->n_drafted += s->n_drafted;
    t->n_accepted += s->n_accepted;
    t->n_checked += s->n_checked;
    t->n_draft_calls += s->n_draft_calls;
    t->t_draft += s->t_draft;
    t->t_verify += s->t_verify;
    t->t_prompt += s->t_prompt;     /* the target's prefill (unless an earlier method left it) and the drafter's */
    t->t_total += s->t_total;
    t->n_reforward += s->n_reforward;
    t->t_reforward += s->t_reforward;
    for (int k = 0; k < SPC_SPEC_KMAX; k++) {
        t->drafted_at[k] += s->drafted_at[k];
        t->accepted_at[k] += s->accepted_at[k];
    }
    for (int k = 0; k <= SPC_SPEC_KMAX; k++) {
        t->passes_by_k[k] += s->passes_by_k[k];
        t->verify_s_by_k[k] += s->verify_s_by_k[k];
    }
}

struct derived {
    double tps, speedup, alpha, alpha_cond, tau, c, vK, pred, pred_k;
};

/* Derived figures of method aggregate a against the baseline b (same prompts). */
static struct derived derive(const struct agg *a, const struct agg *b, int K) {
    struct derived d = { 0 };
    const struct spc_gen_stats *s = &a->s;
    d.tps = a->gen_s > 0 ? a->n_gen / a->gen_s : 0;
    double tps_b = b->gen_s > 0 ? b->n_gen / b->gen_s : 0;
    d.speedup = tps_b > 0 ? d.tps / tps_b : 0;
    d.alpha = s->n_drafted ? (double)s->n_accepted / s->n_drafted : 0;
    d.alpha_cond = s->n_checked ? (double)s->n_accepted / s->n_checked : 0;
    d.tau = s->n_steps ? (double)(s->n_accepted + s->n_steps) / s->n_steps : 0;
    /* T1: the baseline's one-position pass; v(k) from this method's own passes */
    double t1 = b->s.passes_by_k[0] ? b->s.verify_s_by_k[0] / b->s.passes_by_k[0] : 0;
    if (t1 <= 0 || !s->n_steps) return d;
    double v[SPC_SPEC_KMAX + 1];
    double last = 1;
    for (int k = 0; k <= SPC_SPEC_KMAX; k++) {
        v[k] = s->passes_by_k[k] ? s->verify_s_by_k[k] / s->passes_by_k[k] / t1 : last;
        if (s->passes_by_k[k]) last = v[k];
    }
    d.vK = v[K];
    d.c = s->t_draft / (s->n_steps * (double)K * t1);
    double a_ = d.alpha_cond < 0.999999 ? d.alpha_cond : 0.999999;
    d.pred = (1 - pow(a_, K + 1)) / ((1 - a_) * (K * d.c + d.vK));
    double tok = 0, time = s->t_draft / (s->n_steps * t1);
    for (int k = 0; k <= SPC_SPEC_KMAX; k++) {
        double pk = (double)s->passes_by_k[k] / s->n_steps;
        tok += pk * (1 - pow(a_, k + 1)) / (1 - a_);
        time += pk * v[k];
    }
    d.pred_k = tok / time;
    return d;
}

static int tokenize_prompt(struct spc_model *m, const struct prompt *p, int force_chat, int32_t **out) {
    int n = prompt_tokens(m, p->text, strlen(p->text), force_chat ? force_chat > 0 : p->chat, out);
    return n > 0 ? n : -1;      /* an empty prompt is as unusable as a failed one */
}

/* ---- long contexts ---- */

struct ldoc { char *text, *task, *src; };

/* A Project Gutenberg text without its header and licence: the lines between the START and END
   markers ("*** START OF ..." or "***START OF ..."); the whole text when there are none. */
static char *strip_gutenberg(char *t) {
    char *a = strstr(t, "START OF THE PROJECT GUTENBERG"), *b;
    if (!a) a = strstr(t, "START OF THIS PROJECT GUTENBERG");
    if (a && (b = strchr(a, '\n'))) t = b + 1;
    char *e = strstr(t, "*** END OF");
    if (!e) e = strstr(t, "***END OF");
    if (e) *e = 0;
    return t;
}

/* Documents of dir: its L-Eval .jsonl files (one document per line) and the books (.txt), each
   source a list; returned interleaved source by source. */
static int load_long_docs(const char *dir, struct ldoc **out, int *n_out) {
    static const char *const leval[] = { "leval_gov_report_summ.jsonl", "leval_meeting_summ.jsonl",
                                         "leval_natural_question.jsonl" };
    static const char *const books[] = { "books/pg3261_news_from_nowhere.txt", "books/pg16215_jack_sheppard.txt",
                                         "books/pg9198_complete_angler.txt", "books/pg972_devils_dictionary.txt" };
    struct ldoc *per[4][64];
    int cnt[4] = { 0 };
    char path[4096];
    for (int s = 0; s < 3; s++) {
        snprintf(path, sizeof path, "%s/%s", dir, leval[s]);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0 && cnt[s] < 64) {
            char *text = NULL, *task = NULL;
            if (json_object_get_str(line, "input", -1, &text) == 1 && json_object_get_str(line, "instructions", 0, &task) == 1) {
                struct ldoc *d = malloc(sizeof *d);
                if (d) {
                    *d = (struct ldoc){ text, task, (char *)leval[s] };
                    per[s][cnt[s]++] = d;
                    continue;
                }
            }
            free(text);
            free(task);
        }
        free(line);
        fclose(f);
    }
    for (int b = 0; b < 4; b++) {
        snprintf(path, sizeof path, "%s/%s", dir, books[b]);
        size_t len;
        char *raw = read_file(path, &len);
        if (!raw) continue;
        char *body = strdup(strip_gutenberg(raw));
        free(raw);
        struct ldoc *d = body ? malloc(sizeof *d) : NULL;
        if (!d) { free(body); continue; }
        *d = (struct ldoc){ body, NULL, (char *)books[b] };         /* continuation: the text alone */
        per[3][cnt[3]++] = d;
    }
    int total = cnt[0] + cnt[1] + cnt[2] + cnt[3], n = 0;
    if (!total) {
        fprintf(stderr, "specula bench: no documents in '%s' (L-Eval *.jsonl or books/*.txt)\n", dir);
        return 1;
    }
    struct ldoc *all = malloc(sizeof *all * (size_t)total);
    if (!all) return 1;
    for (int i = 0; n < total; i++)                  /* in turn from each source: books first */
        for (int s = 3; s >= 0; s--)
            if (i < cnt[s]) {
                all[n++] = *per[s][i];
                free(per[s][i]);
            }
    *out = all;
    *n_out = n;
    return 0;
}

/* Prompts "L=<L>": each document's first L tokens (decoded back to text) + "\n\n" + its task. */
static int build_long_prompts(struct bopts *o, const struct spc_model *m, struct prompt **out, int *n_out) {
    struct ldoc *docs;
    int nd;
    if (load_long_docs(o->long_dir, &docs, &nd)) return 1;
    int lens[16], nl = 0;
    const char *ls = o->lengths ? o->lengths : "2048,4096,8192,16384,32768";
    for (const char *p = ls; *p && nl < 16;) {
        char *e;
        long v = strtol(p, &e, 10);
        if (e == p || v < 16 || v > (1 << 22)) {
            fprintf(stderr, "specula bench: bad --lengths '%s'\n", ls);
            return 2;
        }
        lens[nl++] = (int)v;
        p = *e == ',' ? e + 1 : e;
    }
    const struct spc_vocab *v = spc_model_vocab(m);
    int train = spc_model_n_ctx_train(m), n = 0, max_ctx = 0;
    struct prompt *ps = calloc((size_t)nl * (size_t)o->limit + 1, sizeof *ps);
    int *rank = calloc((size_t)nl * (size_t)o->limit + 1, sizeof *rank);    /* a prompt's document rank within its L */
    int32_t *toks = NULL;
    int rc = ps && rank ? 0 : 1;
    for (int li = 0; !rc && li < nl; li++) {
        int L = lens[li];
        if (L + o->n_gen + 256 > train) {
            fprintf(stderr, "specula bench: L=%d skipped: with -n %d it exceeds the model's context of %d\n", L, o->n_gen, train);
            continue;
        }
        int taken = 0, skipped = 0;
        for (int d = 0; d < nd && taken < o->limit; d++) {
            /* enough text for L tokens (English: ~4 bytes per token; 12 is ample) */
            size_t len = strlen(docs[d].text), cut = (size_t)L * 12 < len ? (size_t)L * 12 : len;
            while (cut < len && ((unsigned char)docs[d].text[cut] & 0xC0) == 0x80) cut++;   /* whole UTF-8 */
            int nt = spc_tokenize(v, docs[d].text, cut, 0, 0, NULL, 0);
            if (nt < L || skipped++ < o->long_skip) continue;     /* --long-skip: the first N long enough */
            int32_t *t2 = realloc(toks, sizeof *toks * (size_t)nt);
            if (!t2) { rc = 1; break; }
            toks = t2;
            spc_tokenize(v, docs[d].text, cut, 0, 0, toks, nt);
            size_t cap = (size_t)L * 64 + (docs[d].task ? strlen(docs[d].task) : 0) + 16, at = 0;
            char *text = malloc(cap);
            if (!text) { rc = 1; break; }
            struct spc_detok dt;
            spc_detok_init(&dt, v, 0);
            for (int i = 0; i < L; i++) {
                int k = spc_detok_push(&dt, toks[i], text + at, (int)(cap - at - 1));
                if (k > 0) at += (size_t)k;
            }
            int k = spc_detok_flush(&dt, text + at, (int)(cap - at - 1));
            if (k > 0) at += (size_t)k;
            text[at] = 0;
            if (docs[d].task) snprintf(text + at, cap - at, "\n\n%s", docs[d].task);
            char cat[32];
            snprintf(cat, sizeof cat, "L=%d", L);
            rank[n] = taken;
            ps[n++] = (struct prompt){ text, strdup(cat), docs[d].task != NULL };   /* books: raw completion */
            taken++;
        }
        if (taken && L + o->n_gen + 256 > max_ctx) max_ctx = L + o->n_gen + 256;
        if (taken < o->limit)
            fprintf(stderr, "specula bench: L=%d: %d of %d documents are long enough\n", L, taken, o->limit);
    }
    free(toks);
    /* document by document, every L of one document in turn: this machine's speed drifts over
       minutes, so the lengths are measured interleaved, not one after the other (stable: L order
       stays within a document) */
    struct prompt *by_doc = rc ? NULL : malloc(sizeof *by_doc * ((size_t)n + 1));
    if (!rc && !by_doc) rc = 1;
    for (int r = 0, k = 0; !rc && r < o->limit; r++)
        for (int i = 0; i < n; i++)
            if (rank[i] == r) by_doc[k++] = ps[i];
    if (by_doc) {
        memcpy(ps, by_doc, sizeof *ps * (size_t)n);
        free(by_doc);
    }
    free(rank);
    for (int d = 0; d < nd; d++) {
        free(docs[d].text);
        free(docs[d].task);
    }
    free(docs);
    if (!rc && !n) {
        fprintf(stderr, "specula bench: no long prompts\n");
        rc = 1;
    }
    if (max_ctx > o->n_ctx) o->n_ctx = max_ctx;
    *out = ps;
    *n_out = n;
    return rc;
}

/* --prompt-cache: the file for a prompt of the model (FNV-1a of the model's path and the tokens;
   spc_kv_load refuses a file of another model file). */
static char *kv_cache_path(const char *dir, const char *model, const int32_t *toks, int n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = model; *p; p++) h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    for (int i = 0; i < n; i++)
        for (int b = 0; b < 4; b++) h = (h ^ (uint8_t)((uint32_t)toks[i] >> (8 * b))) * 0x100000001b3ull;
    size_t cap = strlen(dir) + 40;
    char *p = malloc(cap);
    if (p) snprintf(p, cap, "%s/%016llx-%d.kv", dir, (unsigned long long)h, n);
    return p;
}

/* Loads a saved prompt into the target's cache; true if it holds the prompt's first n - 1 tokens.
   Otherwise the prompt is prefilled as usual (the gen's prompt caching keeps whatever prefix the
   cache shares with it). */
static bool kv_cache_load(struct spc_ctx *c, const char *path, const int32_t *toks, int n) {
    int st = spc_kv_load(c, 0, path);
    if (st && st != SPC_ERR_NOTFOUND) fprintf(stderr, "specula bench: prompt cache: %s; prefilling instead\n", spc_errmsg());
    if (st) return false;
    const int32_t *kt = spc_kv_tokens(c, 0), *kp = spc_kv_positions(c, 0);
    bool ok = spc_kv_len(c, 0) == n - 1;
    for (int i = 0; ok && i < n - 1; i++) ok = kt[i] == toks[i] && kp[i] == i;
    if (!ok) fprintf(stderr, "specula bench: prompt cache: '%s' holds another prompt; prefilling instead\n", path);
    return ok;
}

/* --plot FILE (long contexts): an SVG of speedup over plain decoding and acceptance (alpha,
   accepted / drafted) against L, one line per method; x is log2(L). y[m][c] for methods 1..nm-1. */
static int write_plot(const char *path, const char *const *labels, int nm, const char *const *cats, int nc,
                      double (*sp)[MAX_CATS], double (*al)[MAX_CATS]) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "specula bench: cannot write '%s': %s\n", path, strerror(errno));
        return 1;
    }
    static const char *const col[] = { "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2" };
    double lx[MAX_CATS], x0 = 1e9, x1 = -1e9, smax = 1.2;
    for (int c = 0; c < nc; c++) {
        lx[c] = log2(atof(cats[c] + 2));
        if (lx[c] < x0) x0 = lx[c];
        if (lx[c] > x1) x1 = lx[c];
        for (int m = 1; m < nm; m++)
            if (sp[m][c] > smax) smax = sp[m][c];
    }
    if (x1 <= x0) x1 = x0 + 1;
    smax = ceil(smax * 5) / 5;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"380\" font-family=\"sans-serif\" font-size=\"12\">\n"
               "<rect width=\"900\" height=\"380\" fill=\"white\"/>\n");
    for (int panel = 0; panel < 2; panel++) {
        double ox = 60 + panel * 430, oy = 40, w = 360, h = 260, ymax = panel ? 1.0 : smax;
        fprintf(f, "<text x=\"%.0f\" y=\"25\" font-size=\"14\">%s</text>\n", ox,
                panel ? "acceptance (accepted / drafted)" : "speedup over plain decoding");
        fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#444\"/>\n", ox, oy, w, h);
        for (int t = 0; t <= 4; t++) {
            double yv = ymax * t / 4, yy = oy + h - h * t / 4;
            fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.2f</text>\n", ox - 5, yy + 4, yv);
            fprintf(f, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"#ddd\"/>\n", ox, ox + w, yy, yy);
        }
        if (!panel) {           /* plain decoding */
            double yy = oy + h - h * 1.0 / ymax;
            fprintf(f, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>\n",
                    ox, ox + w, yy, yy);
        }
        for (int c = 0; c < nc; c++)
            fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n", ox + w * (lx[c] - x0) / (x1 - x0),
                    oy + h + 16, cats[c] + 2);
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">context length L (tokens)</text>\n", ox + w / 2, oy + h + 34);
        for (int m = 1; m < nm; m++) {
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col[(m - 1) % 7]);
            for (int c = 0; c < nc; c++) {
                double v = panel ? al[m][c] : sp[m][c];
                fprintf(f, "%.1f,%.1f ", ox + w * (lx[c] - x0) / (x1 - x0), oy + h - h * (v > ymax ? ymax : v) / ymax);
            }
            fprintf(f, "\"/>\n");
            if (panel)
                fprintf(f, "<text x=\"%.0f\" y=\"%d\" fill=\"%s\">%s</text>\n", ox + 10, (int)oy + 16 + 15 * (m - 1),
                        col[(m - 1) % 7], labels[m]);
        }
    }
    fprintf(f, "</svg>\n");
    return fclose(f) ? 1 : 0;
}

int cmd_bench_prompts(int argc, char **argv) {
    struct bopts o = { 0 };
    int rc = parse(argc, argv, &o);
    if (rc) return rc;
    struct prompt *ps = NULL;
    int np = 0;
    if (o.kv_dir && mkdir(o.kv_dir, 0755) && errno != EEXIST) {
        fprintf(stderr, "specula bench: cannot create '%s': %s\n", o.kv_dir, strerror(errno));
        return 1;
    }
    if (!o.long_dir && load_prompts(&o, &ps, &np)) return 1;
    FILE *jf = NULL;
    if (o.json && !(jf = fopen(o.json, "w"))) {
        fprintf(stderr, "specula bench: cannot write '%s': %s\n", o.json, strerror(errno));
        return 1;
    }
    FILE *of = NULL;
    if (o.outputs && !(of = fopen(o.outputs, "w"))) {
        fprintf(stderr, "specula bench: cannot write '%s': %s\n", o.outputs, strerror(errno));
        if (jf) fclose(jf);
        return 1;
    }
    struct spc_model *m = NULL, *dm = NULL;
    struct spc_gen *gens[MAX_METHODS] = { 0 };
    struct spc_ctx *tctx = NULL;
    const char *cats[MAX_CATS];
    int n_cats = 0;
    struct agg (*ag)[MAX_CATS + 1] = calloc(MAX_METHODS, sizeof *ag);
    int32_t *ref = malloc(sizeof *ref * (size_t)o.n_gen);
    int n_skipped = 0;
    rc = 1;
    if (!ag || !ref) goto done;
    if (load_model(o.model, &m)) goto done;
    if (o.draft && load_model(o.draft, &dm)) goto done;
    if (o.long_dir && build_long_prompts(&o, m, &ps, &np)) goto done;
    for (int i = 0; i < np; i++) {
        int c = 0;
        while (c < n_cats && strcmp(cats[c], ps[i].cat)) c++;
        if (c == n_cats && n_cats == MAX_CATS) {
            fprintf(stderr, "specula bench: more than %d categories; pick some with --category\n", MAX_CATS);
            goto done;
        }
        if (c == n_cats) cats[n_cats++] = ps[i].cat;
    }
    /* one target context for every method: each request keeps the KV of the prompt that the
       previous method left there (prompt caching), so a prompt is prefilled once */
    struct spc_ctx_params cp = o.gp.ctx;
    cp.n_ctx = o.n_ctx;
    cp.n_threads = o.n_threads;
    cp.n_logits = o.gp.draft_max + 1 > 64 ? o.gp.draft_max + 1 : 64;
    if (cp.n_batch < cp.n_logits) cp.n_batch = cp.n_logits;
    int st0 = spc_ctx_new(&tctx, m, &cp);
    if (st0) {
        fail("target context", st0);
        goto done;
    }
    int32_t *calib = NULL;
    int n_calib = tokenize_prompt(m, &ps[0], o.force_chat, &calib);
    for (int j = 0; j < o.n_methods; j++) {
        struct spc_gen_params gp = o.gp;
        gp.method = o.methods[j];
        if (o.policy[j] >= 0) gp.draft_policy = o.policy[j];
        if (o.sources[j]) gp.memory_sources = o.sources[j];
        if (o.hybrid[j]) gp.memory_model = o.hybrid[j];
        if (o.kmax[j]) gp.draft_max = o.kmax[j];
        if (o.chain[j]) gp.draft_tree = 0;
        if (o.draft_kv[j] >= 0) gp.draft_kv = o.draft_kv[j];
        if (o.draft_mem[j] > 0) gp.draft_memory = o.draft_mem[j];
        if (o.draft_ref[j] >= 0) gp.draft_refresh = o.draft_ref[j];
        if (o.draft_sto[j] >= 0) gp.draft_store = o.draft_sto[j];
        if (o.draft_shr[j] >= 0) gp.draft_refresh_share = o.draft_shr[j] / 100.0f;
        if (o.draft_sco[j] >= 0) gp.draft_score = o.draft_sco[j];
        if (o.draft_pre[j] >= 0) gp.draft_prefill = o.draft_pre[j];
        gp.ctx.n_ctx = o.n_ctx;
        gp.ctx.n_threads = o.n_threads;
        gp.target_ctx = tctx;
        gp.draft_model = dm;
        gp.calib = calib;
        gp.n_calib = n_calib;
        int st = spc_gen_new(&gens[j], m, &gp);
        if (st) {
            fprintf(stderr, "specula bench: %s: ", o.label[j]);
            fail("setup", st);
            free(calib);
            goto done;
        }
        const char *info = spc_gen_drafter_info(gens[j]);
        fprintf(stderr, "specula bench: %s%s%s\n", o.label[j], *info ? ": " : "", info);
    }
    free(calib);
    fprintf(stderr, "specula bench: target KV cache of %d positions (%.1f MiB)\n", spc_ctx_n_ctx(tctx),
            (double)spc_ctx_kv_bytes(tctx) / (1 << 20));
    int K = o.gp.draft_max;
    for (int i = 0; i < np; i++) {
        int32_t *toks = NULL;
        int n = tokenize_prompt(m, &ps[i], o.force_chat, &toks);
        if (n < 0) {
            fprintf(stderr, "specula bench: prompt %d: cannot tokenize (%s)\n", i, spc_errmsg());
            goto done;
        }
        if (n + o.n_gen > o.n_ctx) {
            fprintf(stderr, "specula bench: prompt %d (%s) has %d tokens: with -n %d it exceeds -c %d; skipped\n", i,
                    ps[i].cat, n, o.n_gen, o.n_ctx);
            n_skipped++;
            free(toks);
            continue;
        }
        int c = 0;
        while (strcmp(cats[c], ps[i].cat)) c++;
        char *kvp = o.kv_dir ? kv_cache_path(o.kv_dir, o.model, toks, n) : NULL;
        bool kv_loaded = kvp && kv_cache_load(tctx, kvp, toks, n);
        int n_ref = 0;
        struct spc_gen_stats st_m[MAX_METHODS];
        double gen_s[MAX_METHODS];
        bool same[MAX_METHODS];
        /* the baseline first (its tokens are the reference), then the others from a rotating start */
        for (int jj = 0; jj < o.n_methods; jj++) {
            int j = jj == 0 ? 0 : 1 + (jj - 1 + i) % (o.n_methods - 1);
            struct spc_gen_request rq = { toks, n, o.n_gen, NULL, 0 };
            struct spc_gen_result res;
            /* long contexts: a document's L follow each other and share their prefix; a drafter
               that kept the last one's K/V would start this one warm, and masw's choices (and
               acceptance) would depend on the order */
            if (o.long_dir) spc_gen_forget_drafter_cache(gens[j]);
            int st = spc_gen_run(gens[j], &rq, NULL, NULL, &res);
            if (st) {
                fprintf(stderr, "specula bench: prompt %d, %s: ", i, o.label[j]);
                fail("generation", st);
                free(toks);
                free(kvp);
                goto done;
            }
            spc_gen_stats(gens[j], &st_m[j]);
            gen_s[j] = st_m[j].t_total - st_m[j].t_prompt;
            if (j == 0 && kvp && !kv_loaded && spc_kv_len(tctx, 0) >= n - 1 && spc_kv_save(tctx, 0, n - 1, kvp))
                fprintf(stderr, "specula bench: prompt cache: %s\n", spc_errmsg());
            if (j == 0) {
                n_ref = res.n_tokens;
                memcpy(ref, res.tokens, sizeof *ref * (size_t)n_ref);
                same[j] = true;
            } else {
                same[j] = res.n_tokens == n_ref && !memcmp(res.tokens, ref, sizeof *ref * (size_t)n_ref);
            }
        }
        if (of) { /* one line per prompt: its tokens and the baseline's output tokens */
            fprintf(of, "{\"index\": %d, \"category\": ", i);
            json_str(of, ps[i].cat, strlen(ps[i].cat));
            fprintf(of, ", \"prompt\": [");
            for (int t = 0; t < n; t++) fprintf(of, "%s%d", t ? ", " : "", toks[t]);
            fprintf(of, "], \"output\": [");
            for (int t = 0; t < n_ref; t++) fprintf(of, "%s%d", t ? ", " : "", ref[t]);
            fprintf(of, "]}\n");
            fflush(of); /* whole lines even if the run is stopped */
        }
        free(toks);
        free(kvp);
        fprintf(stderr, "[%d/%d] %-14s %4d+%-4d tok%s:", i + 1, np, ps[i].cat, n, n_ref, kv_loaded ? " (prompt cached)" : "");
        for (int j = 0; j < o.n_methods; j++) {
            for (int cc = 0; cc < 2; cc++) {
                struct agg *a = &ag[j][cc ? n_cats : c];
                add_stats(a, &st_m[j], gen_s[j]);
                a->n_compared++;
                a->n_lossless += same[j];
            }
            fprintf(stderr, " %s %.1f t/s", o.label[j], gen_s[j] > 0 ? st_m[j].n_gen / gen_s[j] : 0);
            if (j) fprintf(stderr, " %ld/%ld", (long)st_m[j].n_accepted, (long)st_m[j].n_drafted);  /* accepted/drafted */
            fprintf(stderr, " (prompt %.1f s", st_m[j].t_prompt);
            if (st_m[j].n_reforward)        /* masw: evicted positions forwarded again while drafting */
                fprintf(stderr, "; %ld re-forwarded, %.1f s", st_m[j].n_reforward, st_m[j].t_reforward);
            fprintf(stderr, ")");
            fprintf(stderr, "%s", same[j] ? "" : " (DIFFERS)");
        }
        fprintf(stderr, "\n");
    }
    bool greedy = o.gp.sampling.temp <= 0;
    printf("| method | category | prompts | tok/s | speedup | alpha | tau | lossless | pred | pred_k | c | v(K) |\n"
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |\n");
    for (int j = 0; j < o.n_methods; j++)
        for (int c = 0; c <= n_cats; c++) {
            struct agg *a = &ag[j][c];
            if (!a->n_prompts || (c < n_cats && n_cats == 1)) continue;
            struct derived d = derive(a, &ag[0][c], K);
            char loss[32];
            if (!greedy) snprintf(loss, sizeof loss, "n/a (sampling)");
            else snprintf(loss, sizeof loss, "%s %d/%d", a->n_lossless == a->n_compared ? "yes" : "NO", a->n_lossless, a->n_compared);
            printf("| %s | %s | %d | %.2f | %.3f | %.3f | %.2f | %s | %.3f | %.3f | %.3f | %.2f |\n",
                   o.label[j], c == n_cats ? "**all**" : cats[c], a->n_prompts, d.tps, d.speedup,
                   d.alpha, d.tau, loss, d.pred, d.pred_k, d.c, d.vK);
        }
    /* mean over categories of the per-category speedups, per method */
    double mean_sp[MAX_METHODS];
    for (int j = 0; j < o.n_methods; j++) {
        double sum = 0;
        int k = 0;
        for (int c = 0; c < n_cats; c++)
            if (ag[j][c].n_prompts) {
                sum += derive(&ag[j][c], &ag[0][c], K).speedup;
                k++;
            }
        mean_sp[j] = k ? sum / k : 0;
    }
    if (o.plot) {
        double (*sp)[MAX_CATS] = calloc(MAX_METHODS, sizeof *sp), (*al)[MAX_CATS] = calloc(MAX_METHODS, sizeof *al);
        const char *labels[MAX_METHODS];
        for (int j = 0; j < o.n_methods; j++) {
            labels[j] = o.label[j];
            for (int c = 0; sp && al && c < n_cats; c++) {
                struct derived dd = derive(&ag[j][c], &ag[0][c], K);
                sp[j][c] = dd.speedup;
                al[j][c] = dd.alpha;
            }
        }
        if (!sp || !al || write_plot(o.plot, labels, o.n_methods, cats, n_cats, sp, al)) fprintf(stderr, "specula bench: no plot\n");
        free(sp);
        free(al);
    }
    printf("\nmean over categories of the per-category speedup:");
    for (int j = 1; j < o.n_methods; j++) printf(" %s %.3f", o.label[j], mean_sp[j]);
    printf("\n%d prompts, K = %d, -n %d, %s%s\n", np - n_skipped, K, o.n_gen, greedy ? "greedy" : "sampling",
           n_skipped ? " (some prompts skipped: too long for -c)" : "");
    if (jf) {
        fprintf(jf, "{\n  \"prompts_file\": ");
        const char *src = o.prompts ? o.prompts : o.long_dir;
        json_str(jf, src, strlen(src));
        if (o.long_dir) {
            const char *ls = o.lengths ? o.lengths : "2048,4096,8192,16384,32768";
            fprintf(jf, ",\n  \"long\": true, \"lengths\": ");
            json_str(jf, ls, strlen(ls));
            fprintf(jf, ", \"long_skip\": %d", o.long_skip);
        }
        fprintf(jf, ",\n  \"model\": ");
        json_str(jf, o.model, strlen(o.model));
        fprintf(jf, ",\n  \"draft_model\": ");
        if (o.draft) json_str(jf, o.draft, strlen(o.draft));
        else fprintf(jf, "null");
        fprintf(jf, ",\n  \"draft_max\": %d, \"n_predict\": %d, \"threads\": %d, \"greedy\": %s, \"n_prompts\": %d, "
                    "\"n_skipped\": %d, \"target_kv_positions\": %d, \"target_kv_bytes\": %zu,\n  \"methods\": [\n",
                K, o.n_gen, o.n_threads, greedy ? "true" : "false", np - n_skipped, n_skipped, spc_ctx_n_ctx(tctx),
                spc_ctx_kv_bytes(tctx));
        for (int j = 0; j < o.n_methods; j++) {
            const char *info = spc_gen_drafter_info(gens[j]);
            fprintf(jf, "    {\"method\": \"%s\", \"drafter\": ", o.label[j]);
            json_str(jf, info, strlen(info));
            fprintf(jf, ", \"mean_category_speedup\": %.4f, \"categories\": [\n", mean_sp[j]);
            bool first = true;
            for (int c = 0; c <= n_cats; c++) {
                struct agg *a = &ag[j][c];
                if (!a->n_prompts) continue;
                struct derived d = derive(a, &ag[0][c], K);
                fprintf(jf, "%s      {\"category\": ", first ? "" : ",\n");
                first = false;
                json_str(jf, c == n_cats ? "all" : cats[c], strlen(c == n_cats ? "all" : cats[c]));
                fprintf(jf, ", \"n_prompts\": %d, \"n_gen\": %d, \"gen_s\": %.4f, \"tokens_per_s\": %.3f, \"speedup\": %.4f, "
                            "\"lossless\": %s, \"n_identical\": %d, \"alpha\": %.4f, \"alpha_cond\": %.4f, \"tau\": %.4f, "
                            "\"c\": %.4f, \"v_K\": %.4f, \"speedup_pred\": %.4f, \"speedup_pred_k\": %.4f, ",
                        a->n_prompts, a->n_gen, a->gen_s, d.tps, d.speedup,
                        greedy ? (a->n_lossless == a->n_compared ? "true" : "false") : "null", a->n_lossless, d.alpha,
                        d.alpha_cond, d.tau, d.c, d.vK, d.pred, d.pred_k);
                a->s.alpha = d.alpha;
                a->s.alpha_cond = d.alpha_cond;
                a->s.tau = d.tau;
                json_gen_stats(jf, &a->s);
                fprintf(jf, ", \"passes_by_k\": [");
                for (int k = 0; k <= K; k++) fprintf(jf, "%s%d", k ? ", " : "", a->s.passes_by_k[k]);
                fprintf(jf, "]}");
            }
            fprintf(jf, "\n    ]}%s\n", j + 1 < o.n_methods ? "," : "");
        }
        fprintf(jf, "  ]\n}\n");
    }
    rc = 0;
done:
    for (int j = 0; j < MAX_METHODS; j++) {
        if (gens[j]) spc_gen_save(gens[j]);
        spc_gen_free(gens[j]);
    }
    spc_ctx_free(tctx);
    spc_model_free(dm);
    spc_model_free(m);
    if (jf && fclose(jf) != 0) rc = 1;
    if (of && fclose(of) != 0) rc = 1;
    for (int i = 0; i < np; i++) {
        free(ps[i].text);
        free(ps[i].cat);
    }
    free(ps);
    free(ag);
    free(ref);
    return rc;
}
