/*
 * specula.c: the command-line tool. Subcommands:
 *   run       generate text from a prompt (streams to stdout, or one JSON object with --json)
 *   info      print a GGUF file's metadata and tensor table
 *   tokenize  print the token ids of a text
 *   bench     speed tables and JSON (tools/bench.c)
 * Models are paths or names of the models that scripts/fetch-model knows; a name that is not
 * cached yet is fetched through that script. Uses only the public header.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "specula.h"
#include "tools.h"

int fail(const char *what, int st) {
    fprintf(stderr, "specula: %s: %s (%s)\n", what, spc_errmsg(), spc_status_str(st));
    return 1;
}

double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void log_to_stderr(int level, const char *msg, void *ud) {
    (void)ud;
    if (level >= SPC_LOG_WARN) fprintf(stderr, "specula: %s\n", msg);
}

/* ---- model names ---- */

static bool file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Resolves a path or a model name to a path (fetching a name that is not cached). */
int resolve_model(const char *arg, char *out, size_t cap) {
    if (strchr(arg, '/') || strstr(arg, ".gguf") || file_exists(arg)) {
        snprintf(out, cap, "%s", arg);
        return 0;
    }
    const char *cache = getenv("SPECULA_CACHE");
    const char *home = getenv("HOME");
    if (cache && *cache) snprintf(out, cap, "%s/models/%s.gguf", cache, arg);
    else snprintf(out, cap, "%s/.cache/specula/models/%s.gguf", home ? home : ".", arg);
    if (file_exists(out)) return 0;
    char exe[PATH_MAX], script[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return -1;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    snprintf(script, sizeof script, "%s/../scripts/fetch-model", exe);
    if (!file_exists(script)) {
        fprintf(stderr, "specula: model '%s' is not a file, and scripts/fetch-model was not found\n", arg);
        return -1;
    }
    fprintf(stderr, "specula: fetching model '%s'\n", arg);
    char cmd[2 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "'%s' '%s' >/dev/null", script, arg);
    if (strchr(arg, '\'') || system(cmd) != 0 || !file_exists(out)) {
        fprintf(stderr, "specula: could not fetch model '%s' (known names: scripts/fetch-model --list)\n", arg);
        return -1;
    }
    return 0;
}

int load_model(const char *arg, struct spc_model **m) {
    char path[PATH_MAX];
    if (resolve_model(arg, path, sizeof path) != 0) return 1;
    int st = spc_model_load(m, path);
    return st ? fail("cannot load model", st) : 0;
}

/* ---- small helpers ---- */

char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "specula: cannot open '%s': %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) { free(buf); buf = NULL; }
            buf = nb;
        }
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "specula: out of memory reading '%s'\n", path);
        return NULL;
    }
    buf[n < cap ? n : cap - 1] = 0;
    *len = n;
    return buf;
}

void json_str(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

bool parse_int(const char *s, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) return false;
    *out = (int)v;
    return true;
}

bool parse_float(const char *s, float *out) {
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || *end || end == s || v != v) return false;
    *out = v;
    return true;
}

/* ---- run ---- */

#define MAX_STOP 16

struct run_opts {
    const char *model, *prompt, *file, *draft, *kv_file;
    int n_gen, n_ctx, n_threads, chat, json, n_stop;
    const char *stop[MAX_STOP];
    struct spc_gen_params gp;
};

static int usage_run(void) {
    fprintf(stderr,
            "usage: specula run -m MODEL (-p PROMPT | -f FILE) [-n N] [--temp T] [--top-k K] [--top-p P]\n"
            "                   [--min-p P] [--seed S] [-c CTX] [-t THREADS] [--chat] [--json] [--stop STR]...\n"
            "                   [--prompt-cache FILE] (the target's prefilled prompt: reused from FILE as far as\n"
            "                   the prompts agree, saved there when it was not all in it)\n"
            "                   [--spec none|draft|pld|ngram|selfspec|memory[,draft|,selfspec]] [-md DRAFT]\n"
            "                   [--draft-max K] [--draft-min K] [--draft-p-min P] [--draft-vocab N]\n"
            "                   [--draft-kv full|window|masw] [--draft-sinks N] [--draft-window N] [--draft-memory N] [--draft-refresh N]\n"
            "                   [--draft-refresh-share F] [--draft-store N] [--draft-score mass|peak] [--draft-prefill full|sparse]\n"
            "                   [--lookup-min N] [--lookup-max N]\n"
            "                   [--ngram-cache FILE] [--ngram-corpus FILE] [--ngram-min-count N] [--ngram-min-share S]\n"
            "                   [--skip-layers auto|LIST] [--draft-adapt 0|1] [--draft-policy fixed|threshold|adaptive]\n"
            "                   [--draft-tree 0|1]\n"
            "                   [--draft-threshold P] [--memory-file FILE] [--memory-corpus FILE] [--memory-max N]\n"
            "                   [--memory-sources request,outputs,corpus]\n");
    return 2;
}

/* Options shared by run and bench for the speculation settings; returns 1 if a consumed, 0 if not
 * ours, -1 on a bad value (message printed). */
bool parse_sources(const char *v, char sep, unsigned *out) {
    static const char *const names[] = { "request", "outputs", "corpus" };
    const char seps[2] = { sep, 0 };
    unsigned bits = 0;
    while (*v) {
        size_t n = strcspn(v, seps);
        int k = -1;
        for (int i = 0; i < 3; i++)
            if (strlen(names[i]) == n && !strncmp(v, names[i], n)) k = i;
        if (k < 0) return false;
        bits |= 1u << k;
        v += n;
        if (*v == sep) v++;
    }
    if (!bits) return false;
    *out = bits;
    return true;
}

int parse_spec_opt(const char *cmd, const char *a, const char *v, struct spc_gen_params *gp, const char **draft) {
    bool ok = true;
    if (!strcmp(a, "--spec")) {
        /* memory,draft and memory,selfspec: the memory with a model drafter (hybrid) */
        char name[32] = "";
        const char *hy = v ? strchr(v, ',') : NULL;
        if (v) snprintf(name, sizeof name, "%.*s", hy ? (int)(hy - v) : (int)strlen(v), v);
        int mth = v ? spc_spec_method_from_name(name) : -1;
        if (hy) {
            int mm = spc_spec_method_from_name(hy + 1);
            if (mth != SPC_SPEC_MEMORY || (mm != SPC_SPEC_DRAFT && mm != SPC_SPEC_SELFSPEC)) mth = -1;
            else gp->memory_model = mm;
        }
        if (mth < 0) {
            fprintf(stderr, "specula %s: unknown --spec '%s' (none, draft, pld, ngram, selfspec, memory, memory,draft, memory,selfspec)\n", cmd, v ? v : "");
            return -1;
        }
        gp->method = mth;
    } else if (!strcmp(a, "-md") || !strcmp(a, "--model-draft")) *draft = v;
    else if (!strcmp(a, "--draft-max")) ok = v && parse_int(v, 1, SPC_SPEC_KMAX, &gp->draft_max);
    else if (!strcmp(a, "--draft-min")) ok = v && parse_int(v, 0, SPC_SPEC_KMAX, &gp->draft_min);
    else if (!strcmp(a, "--draft-p-min")) ok = v && parse_float(v, &gp->draft_p_min);
    else if (!strcmp(a, "--draft-vocab")) ok = v && parse_int(v, 0, 1 << 24, &gp->draft_vocab);
    else if (!strcmp(a, "--draft-kv")) {
        ok = v && (!strcmp(v, "full") || !strcmp(v, "window") || !strcmp(v, "masw"));
        if (ok)
            gp->draft_kv = !strcmp(v, "window") ? SPC_DRAFT_KV_WINDOW : !strcmp(v, "masw") ? SPC_DRAFT_KV_MASW : SPC_DRAFT_KV_FULL;
    }
    else if (!strcmp(a, "--draft-sinks")) ok = v && parse_int(v, 0, 1 << 20, &gp->draft_sinks);
    else if (!strcmp(a, "--draft-window")) ok = v && parse_int(v, 64, 1 << 24, &gp->draft_window);
    else if (!strcmp(a, "--draft-memory")) ok = v && parse_int(v, 0, 1 << 24, &gp->draft_memory);
    else if (!strcmp(a, "--draft-refresh")) ok = v && parse_int(v, 0, 1 << 24, &gp->draft_refresh);
    else if (!strcmp(a, "--draft-refresh-share")) ok = v && parse_float(v, &gp->draft_refresh_share);
    else if (!strcmp(a, "--draft-store")) ok = v && parse_int(v, 0, 1 << 24, &gp->draft_store);
    else if (!strcmp(a, "--draft-score")) {
        ok = v && (!strcmp(v, "mass") || !strcmp(v, "peak"));
        if (ok) gp->draft_score = !strcmp(v, "peak") ? SPC_DRAFT_SCORE_PEAK : SPC_DRAFT_SCORE_MASS;
    }
    else if (!strcmp(a, "--draft-prefill")) {
        ok = v && (!strcmp(v, "full") || !strcmp(v, "sparse"));
        if (ok) gp->draft_prefill = !strcmp(v, "sparse") ? SPC_DRAFT_PREFILL_SPARSE : SPC_DRAFT_PREFILL_FULL;
    }
    else if (!strcmp(a, "--lookup-min")) ok = v && parse_int(v, 1, 64, &gp->lookup_min);
    else if (!strcmp(a, "--lookup-max")) ok = v && parse_int(v, 1, 64, &gp->lookup_max);
    else if (!strcmp(a, "--ngram-cache")) gp->ngram_cache = v;
    else if (!strcmp(a, "--ngram-corpus")) gp->ngram_corpus = v;
    else if (!strcmp(a, "--ngram-min-count")) ok = v && parse_int(v, 1, 1 << 30, &gp->ngram_min_count);
    else if (!strcmp(a, "--ngram-min-share")) ok = v && parse_float(v, &gp->ngram_min_share);
    else if (!strcmp(a, "--skip-layers")) gp->skip_layers = v;
    else if (!strcmp(a, "--draft-adapt")) ok = v && parse_int(v, 0, 1, &gp->adaptive);
    else if (!strcmp(a, "--draft-tree")) ok = v && parse_int(v, 0, 1, &gp->draft_tree);
    else if (!strcmp(a, "--draft-policy")) ok = v && (gp->draft_policy = spc_draft_policy_from_name(v)) >= 0;
    else if (!strcmp(a, "--draft-threshold")) ok = v && parse_float(v, &gp->draft_threshold);
    else if (!strcmp(a, "--memory-file")) gp->memory_file = v;
    else if (!strcmp(a, "--memory-corpus")) gp->memory_corpus = v;
    else if (!strcmp(a, "--memory-max")) ok = v && parse_int(v, 1, 1 << 30, &gp->memory_max);
    else if (!strcmp(a, "--memory-sources")) ok = v && parse_sources(v, ',', &gp->memory_sources);
    else return 0;
    if (!v) {
        fprintf(stderr, "specula %s: option '%s' needs a value\n", cmd, a);
        return -1;
    }
    if (!ok) {
        fprintf(stderr, "specula %s: bad value '%s' for %s\n", cmd, v, a);
        return -1;
    }
    return 1;
}

static int parse_run(int argc, char **argv, struct run_opts *o) {
    o->n_gen = 128;
    o->n_ctx = 4096;
    o->n_threads = 2;
    o->gp = spc_gen_default_params();
    o->gp.sampling = (struct spc_sampler_params){ .temp = 0, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f, .seed = 42 };
    struct spc_sampler_params *sp = &o->gp.sampling;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true, takes = true;
        int r = parse_spec_opt("run", a, v, &o->gp, &o->draft);
        if (r < 0) return 2;
        if (r > 0) {
            i++;
            continue;
        }
        if (!strcmp(a, "-m")) o->model = v;
        else if (!strcmp(a, "-p")) o->prompt = v;
        else if (!strcmp(a, "-f")) o->file = v;
        else if (!strcmp(a, "--prompt-cache")) o->kv_file = v;
        else if (!strcmp(a, "-n")) ok = v && parse_int(v, 0, 1 << 24, &o->n_gen);
        else if (!strcmp(a, "-c")) ok = v && parse_int(v, 0, 1 << 24, &o->n_ctx);
        else if (!strcmp(a, "-t")) ok = v && parse_int(v, 1, 512, &o->n_threads);
        else if (!strcmp(a, "--temp")) ok = v && parse_float(v, &sp->temp);
        else if (!strcmp(a, "--top-k")) ok = v && parse_int(v, 0, 1 << 24, &sp->top_k);
        else if (!strcmp(a, "--top-p")) ok = v && parse_float(v, &sp->top_p);
        else if (!strcmp(a, "--min-p")) ok = v && parse_float(v, &sp->min_p);
        else if (!strcmp(a, "--stop")) {
            if (v && o->n_stop == MAX_STOP) {
                fprintf(stderr, "specula run: at most %d --stop strings\n", MAX_STOP);
                return 2;
            }
            if (v && !*v) {
                fprintf(stderr, "specula run: --stop needs a non-empty string\n");
                return 2;
            }
            if (v) o->stop[o->n_stop++] = v;
        } else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            sp->seed = v ? strtoull(v, &end, 10) : 0;
            ok = v && !errno && *end == 0;
        } else if (!strcmp(a, "--chat")) { o->chat = 1; takes = false; }
        else if (!strcmp(a, "--json")) { o->json = 1; takes = false; }
        else {
            fprintf(stderr, "specula run: unknown option '%s'\n", a);
            return usage_run();
        }
        if (takes && !v) {
            fprintf(stderr, "specula run: option '%s' needs a value\n", a);
            return usage_run();
        }
        if (!ok) {
            fprintf(stderr, "specula run: bad value '%s' for %s\n", v, a);
            return 2;
        }
        if (takes) i++;
    }
    if (!o->model) o->model = "smollm2-135m";
    if (!o->prompt == !o->file) {
        fprintf(stderr, "specula run: give exactly one of -p PROMPT and -f FILE\n");
        return usage_run();
    }
    bool wants_draft = o->gp.method == SPC_SPEC_DRAFT || o->gp.memory_model == SPC_SPEC_DRAFT;
    if (wants_draft && !o->draft) {
        fprintf(stderr, "specula run: --spec draft and memory,draft need a draft model (-md DRAFT)\n");
        return 2;
    }
    if (o->draft && !wants_draft) {
        fprintf(stderr, "specula run: -md is for --spec draft and memory,draft\n");
        return 2;
    }
    return 0;
}

int prompt_tokens(const struct spc_model *m, const char *text, size_t len, bool chat, int32_t **out) {
    const struct spc_vocab *v = spc_model_vocab(m);
    char *buf = NULL;
    *out = NULL;
    if (chat) {
        struct spc_chat_msg msg = { "user", text };
        int need = spc_chat_apply(m, &msg, 1, 1, NULL, 0);
        if (need < 0) return need;
        if (!(buf = malloc((size_t)need + 1))) return SPC_ERR_NOMEM;
        spc_chat_apply(m, &msg, 1, 1, buf, (size_t)need + 1);
        text = buf;
        len = (size_t)need;
    }
    int n = spc_tokenize(v, text, len, spc_vocab_add_bos(v), 1, NULL, 0);
    if (n > 0 && !(*out = malloc(sizeof **out * (size_t)n))) n = SPC_ERR_NOMEM;
    if (n > 0) spc_tokenize(v, text, len, spc_vocab_add_bos(v), 1, *out, n);
    free(buf);
    return n;
}

static int stream_piece(const char *text, size_t len, void *ud) {
    (void)ud;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

void json_gen_stats(FILE *f, const struct spc_gen_stats *s) {
    fprintf(f, "\"n_drafted\": %d, \"n_accepted\": %d, \"alpha\": %.4f, \"alpha_cond\": %.4f, \"tau\": %.4f, "
               "\"n_steps\": %d, \"accepted_at\": [", s->n_drafted, s->n_accepted, s->alpha, s->alpha_cond, s->tau,
            s->n_steps);
    int last = 0;
    for (int i = 0; i < SPC_SPEC_KMAX; i++)
        if (s->drafted_at[i]) last = i + 1;
    for (int i = 0; i < last; i++) fprintf(f, "%s%.4f", i ? ", " : "", s->drafted_at[i] ? (double)s->accepted_at[i] / s->drafted_at[i] : 0.0);
    fprintf(f, "], \"drafted_at\": [");
    for (int i = 0; i < last; i++) fprintf(f, "%s%d", i ? ", " : "", s->drafted_at[i]);
    fprintf(f, "], \"draft_s\": %.6f, \"verify_s\": %.6f, \"prompt_s\": %.6f, \"total_s\": %.6f, \"n_reforward\": %ld, "
               "\"reforward_s\": %.6f", s->t_draft, s->t_verify, s->t_prompt, s->t_total, s->n_reforward, s->t_reforward);
}

static int cmd_run(int argc, char **argv) {
    struct run_opts o = { 0 };
    int rc = parse_run(argc, argv, &o);
    if (rc) return rc;
    size_t plen = 0;
    char *text = o.file ? read_file(o.file, &plen) : NULL;
    if (o.file && !text) return 1;
    if (!o.file) plen = strlen(o.prompt);
    const char *prompt = o.file ? text : o.prompt;
    struct spc_model *m = NULL, *dm = NULL;
    struct spc_gen *g = NULL;
    int32_t *toks = NULL;
    rc = 1;
    if (load_model(o.model, &m)) goto done;
    if (o.draft && load_model(o.draft, &dm)) goto done;
    int n_ctx = o.n_ctx ? o.n_ctx : spc_model_n_ctx_train(m);
    if (n_ctx > spc_model_n_ctx_train(m)) n_ctx = spc_model_n_ctx_train(m);
    int n_prompt = prompt_tokens(m, prompt, plen, o.chat, &toks);
    if (n_prompt < 0) { fail("cannot tokenize the prompt", n_prompt); goto done; }
    if (n_prompt == 0) { fprintf(stderr, "specula: the prompt is empty\n"); goto done; }
    if (n_prompt >= n_ctx) {
        fprintf(stderr, "specula: the prompt has %d tokens, more than the context of %d allows (use -c)\n", n_prompt, n_ctx);
        goto done;
    }
    o.gp.ctx.n_ctx = n_ctx;
    o.gp.ctx.n_threads = o.n_threads;
    o.gp.draft_model = dm;
    int st = spc_gen_new(&g, m, &o.gp);
    if (st) { fail("cannot set up generation", st); goto done; }
    /* --prompt-cache: the saved prompt goes into the target's cache; the gen keeps the prefix it
       shares with this prompt (llama.cpp's --prompt-cache) */
    if (o.kv_file && (st = spc_kv_load(spc_gen_ctx(g), 0, o.kv_file)) && st != SPC_ERR_NOTFOUND)
        fprintf(stderr, "specula: prompt cache: %s; prefilling instead\n", spc_errmsg());
    struct spc_gen_request rq = { toks, n_prompt, o.n_gen, o.stop, o.n_stop };
    struct spc_gen_result res;
    st = spc_gen_run(g, &rq, o.json ? NULL : stream_piece, NULL, &res);
    if (st) { fail("generation", st); goto done; }
    struct spc_gen_stats gs;
    spc_gen_stats(g, &gs);
    if (o.kv_file && gs.n_prompt_cached < n_prompt - 1 && (st = spc_kv_save(spc_gen_ctx(g), 0, n_prompt - 1, o.kv_file)))
        fail("saving the prompt cache", st);
    if ((st = spc_gen_save(g))) fail("saving the n-gram cache or memory file", st);
    double t_gen = gs.t_total - gs.t_prompt;
    int n_fwd = n_prompt - gs.n_prompt_cached;     /* prompt tokens forwarded */
    double pp = gs.t_prompt > 0 && n_fwd > 0 ? n_fwd / gs.t_prompt : 0, tg = res.n_tokens > 0 && t_gen > 0 ? res.n_tokens / t_gen : 0;
    if (o.json) {
        printf("{\"text\": ");
        json_str(stdout, res.text, res.text_len);
        printf(", \"tokens\": [");
        for (int i = 0; i < res.n_tokens; i++) printf("%s%d", i ? ", " : "", res.tokens[i]);
        printf("], \"n_prompt\": %d, \"n_prompt_cached\": %d, \"n_gen\": %d, \"stop\": \"%s\", \"prompt_tok_per_s\": %.2f, "
               "\"gen_tok_per_s\": %.2f, \"model\": ", n_prompt, gs.n_prompt_cached, res.n_tokens, res.stop, pp, tg);
        json_str(stdout, o.model, strlen(o.model));
        printf(", \"spec\": \"%s\", \"draft_max\": %d, \"drafter\": ", spc_spec_method_name(o.gp.method), o.gp.draft_max);
        const char *info = spc_gen_drafter_info(g);
        json_str(stdout, info, strlen(info));
        printf(", ");
        json_gen_stats(stdout, &gs);
        printf("}\n");
    } else {
        printf("\n");
        fflush(stdout);
        fprintf(stderr, "specula: prompt %d tokens", n_prompt);
        if (gs.n_prompt_cached) fprintf(stderr, " (%d from the cache)", gs.n_prompt_cached);
        fprintf(stderr, ", %.1f tok/s; generated %d tokens, %.1f tok/s; stop: %s\n", pp, res.n_tokens, tg, res.stop);
        if (o.gp.method != SPC_SPEC_NONE)
            fprintf(stderr, "specula: %s: drafted %d, accepted %d (alpha %.3f), %.2f tokens per target pass%s%s\n",
                    spc_spec_method_name(o.gp.method), gs.n_drafted, gs.n_accepted, gs.alpha, gs.tau,
                    *spc_gen_drafter_info(g) ? "; " : "", spc_gen_drafter_info(g));
    }
    rc = 0;
done:
    spc_gen_free(g);
    spc_model_free(dm);
    spc_model_free(m);
    free(toks);
    free(text);
    return rc;
}

/* ---- info ---- */

static int cmd_info(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: specula info MODEL\n");
        return 2;
    }
    char path[PATH_MAX];
    if (resolve_model(argv[2], path, sizeof path) != 0) return 1;
    struct spc_gguf *g;
    int st = spc_gguf_open(&g, path);
    if (st) return fail("cannot open", st);
    printf("file: %s\nversion: %u\nmetadata: %lld keys\n", path, spc_gguf_version(g), (long long)spc_gguf_n_kv(g));
    char buf[1024];
    for (int64_t i = 0; i < spc_gguf_n_kv(g); i++) {
        spc_gguf_kv_format(g, i, buf, sizeof buf);
        printf("  %-44s %s\n", spc_gguf_key(g, i), buf);
    }
    printf("tensors: %lld\n", (long long)spc_gguf_n_tensors(g));
    uint64_t total = 0;
    for (int64_t i = 0; i < spc_gguf_n_tensors(g); i++) {
        const struct spc_gguf_tensor *t = spc_gguf_tensor(g, i);
        char shape[96];
        int w = snprintf(shape, sizeof shape, "[%lld", (long long)t->ne[0]);
        for (uint32_t d = 1; d < t->n_dims; d++) w += snprintf(shape + w, sizeof shape - (size_t)w, ", %lld", (long long)t->ne[d]);
        snprintf(shape + w, sizeof shape - (size_t)w, "]");
        printf("  %-36s %-6s %-20s %12llu bytes\n", t->name, spc_type_name(t->type), shape, (unsigned long long)t->size);
        total += t->size;
    }
    printf("tensor data: %.1f MiB\n", total / 1048576.0);
    spc_gguf_close(g);
    return 0;
}

/* ---- tokenize ---- */

static int cmd_tokenize(int argc, char **argv) {
    const char *model = "smollm2-135m", *text = NULL;
    int special = 1, bos = -1;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "-p") && i + 1 < argc) text = argv[++i];
        else if (!strcmp(argv[i], "--no-special")) special = 0;
        else if (!strcmp(argv[i], "--bos")) bos = 1;
        else if (!strcmp(argv[i], "--no-bos")) bos = 0;
        else {
            fprintf(stderr, "usage: specula tokenize -m MODEL -p TEXT [--no-special] [--bos|--no-bos]\n");
            return 2;
        }
    }
    if (!text) {
        fprintf(stderr, "usage: specula tokenize -m MODEL -p TEXT [--no-special] [--bos|--no-bos]\n");
        return 2;
    }
    struct spc_model *m;
    if (load_model(model, &m)) return 1;
    const struct spc_vocab *v = spc_model_vocab(m);
    if (bos < 0) bos = spc_vocab_add_bos(v);
    int n = spc_tokenize(v, text, strlen(text), bos, special, NULL, 0);
    if (n < 0) {
        spc_model_free(m);
        return fail("cannot tokenize", n);
    }
    int32_t *ids = malloc(sizeof *ids * (size_t)(n ? n : 1));
    if (!ids) {
        spc_model_free(m);
        return 1;
    }
    spc_tokenize(v, text, strlen(text), bos, special, ids, n);
    for (int i = 0; i < n; i++) printf("%s%d", i ? " " : "", ids[i]);
    printf("\n");
    free(ids);
    spc_model_free(m);
    return 0;
}

int main(int argc, char **argv) {
    spc_set_log(log_to_stderr, NULL);
    if (argc >= 2 && !strcmp(argv[1], "run")) return cmd_run(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "info")) return cmd_info(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "tokenize")) return cmd_tokenize(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "bench")) return cmd_bench(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "score")) return cmd_score(argc, argv);
    fprintf(stderr,
            "usage: specula <command> [options]\n"
            "  run       -m MODEL (-p PROMPT | -f FILE) [-n N] [sampling options] [--chat] [--json]\n"
            "  info      MODEL\n"
            "  tokenize  -m MODEL -p TEXT\n"
            "  bench     -m MODEL [-t THREADS] [-r REPS] [--pp N] [--tg N] [--kmax K] [--json OUT]\n"
            "  score     -m MODEL --tokens FILE.jsonl [--out PREDS.jsonl] [--vocab N]\n"
            "MODEL is a GGUF path or a name from scripts/fetch-model --list (default smollm2-135m).\n");
    return 2;
}
