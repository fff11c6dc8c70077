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

static char *read_file(const char *path, size_t *len) {
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

static bool parse_float(const char *s, float *out) {
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || *end || end == s || v != v) return false;
    *out = v;
    return true;
}

/* ---- run ---- */

struct run_opts {
    const char *model, *prompt, *file;
    int n_gen, n_ctx, n_threads, chat, json;
    struct spc_sampler_params sp;
};

static int usage_run(void) {
    fprintf(stderr,
            "usage: specula run -m MODEL (-p PROMPT | -f FILE) [-n N] [--temp T] [--top-k K] [--top-p P]\n"
            "                   [--min-p P] [--seed S] [-c CTX] [-t THREADS] [--chat] [--json]\n");
    return 2;
}

static int parse_run(int argc, char **argv, struct run_opts *o) {
    o->n_gen = 128;
    o->n_ctx = 4096;
    o->n_threads = 2;
    o->sp = (struct spc_sampler_params){ .temp = 0, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f, .seed = 42 };
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true, takes = true;
        if (!strcmp(a, "-m")) o->model = v;
        else if (!strcmp(a, "-p")) o->prompt = v;
        else if (!strcmp(a, "-f")) o->file = v;
        else if (!strcmp(a, "-n")) ok = v && parse_int(v, 0, 1 << 24, &o->n_gen);
        else if (!strcmp(a, "-c")) ok = v && parse_int(v, 0, 1 << 24, &o->n_ctx);
        else if (!strcmp(a, "-t")) ok = v && parse_int(v, 1, 512, &o->n_threads);
        else if (!strcmp(a, "--temp")) ok = v && parse_float(v, &o->sp.temp);
        else if (!strcmp(a, "--top-k")) ok = v && parse_int(v, 0, 1 << 24, &o->sp.top_k);
        else if (!strcmp(a, "--top-p")) ok = v && parse_float(v, &o->sp.top_p);
        else if (!strcmp(a, "--min-p")) ok = v && parse_float(v, &o->sp.min_p);
        else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            o->sp.seed = v ? strtoull(v, &end, 10) : 0;
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
    return 0;
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
    struct spc_model *m = NULL;
    struct spc_ctx *ctx = NULL;
    struct spc_sampler *smp = NULL;
    int32_t *toks = NULL;
    char *chat = NULL, *out_text = NULL;
    rc = 1;
    if (load_model(o.model, &m)) goto done;
    const struct spc_vocab *v = spc_model_vocab(m);
    if (o.chat) {
        struct spc_chat_msg msg = { "user", prompt };
        int need = spc_chat_apply(m, &msg, 1, 1, NULL, 0);
        if (need < 0) { fail("chat template", need); goto done; }
        chat = malloc((size_t)need + 1);
        if (!chat) goto done;
        spc_chat_apply(m, &msg, 1, 1, chat, (size_t)need + 1);
        prompt = chat;
        plen = (size_t)need;
    }
    int n_ctx = o.n_ctx ? o.n_ctx : spc_model_n_ctx_train(m);
    if (n_ctx > spc_model_n_ctx_train(m)) n_ctx = spc_model_n_ctx_train(m);
    int n_prompt = spc_tokenize(v, prompt, plen, spc_vocab_add_bos(v), 1, NULL, 0);
    if (n_prompt < 0) { fail("cannot tokenize the prompt", n_prompt); goto done; }
    if (n_prompt == 0) { fprintf(stderr, "specula: the prompt is empty\n"); goto done; }
    if (n_prompt >= n_ctx) {
        fprintf(stderr, "specula: the prompt has %d tokens, more than the context of %d allows (use -c)\n", n_prompt, n_ctx);
        goto done;
    }
    int cap = n_prompt + o.n_gen;
    toks = malloc(sizeof *toks * (size_t)(cap > 0 ? cap : 1));
    out_text = malloc(64 * (size_t)o.n_gen + 64);
    if (!toks || !out_text) goto done;
    spc_tokenize(v, prompt, plen, spc_vocab_add_bos(v), 1, toks, n_prompt);
    struct spc_ctx_params cp = spc_ctx_default_params();
    cp.n_ctx = n_ctx;
    cp.n_threads = o.n_threads;
    int st = spc_ctx_new(&ctx, m, &cp);
    if (st) { fail("cannot create context", st); goto done; }
    if ((st = spc_sampler_new(&smp, &o.sp, spc_model_n_vocab(m)))) { fail("sampler", st); goto done; }
    double t0 = now_s();
    for (int at = 0; at < n_prompt; at += cp.n_batch) {
        int n = n_prompt - at < cp.n_batch ? n_prompt - at : cp.n_batch;
        struct spc_batch b = { .n = n, .token = toks + at };
        if ((st = spc_forward(ctx, &b))) { fail("forward", st); goto done; }
    }
    double t1 = now_s();
    const float *logits = spc_ctx_logits(ctx, (n_prompt - 1) % cp.n_batch);
    struct spc_detok dt;
    spc_detok_init(&dt, v, 0);
    size_t out_len = 0;
    int n_gen = 0;
    const char *stop = "length";
    char piece[512];
    while (n_gen < o.n_gen) {
        int32_t t = spc_sampler_sample(smp, logits);
        if (spc_vocab_is_eog(v, t)) { stop = "eog"; break; }
        toks[n_prompt + n_gen++] = t;
        int k = spc_detok_push(&dt, t, piece, sizeof piece);
        if (k > (int)sizeof piece) k = sizeof piece;
        if (k > 0) {
            if (!o.json) { fwrite(piece, 1, (size_t)k, stdout); fflush(stdout); }
            memcpy(out_text + out_len, piece, (size_t)k);
            out_len += (size_t)k;
        }
        if (n_gen == o.n_gen) break;
        if (n_prompt + n_gen >= n_ctx) { stop = "context"; break; }
        struct spc_batch b = { .n = 1, .token = &t };
        if ((st = spc_forward(ctx, &b))) { fail("forward", st); goto done; }
        logits = spc_ctx_logits(ctx, 0);
    }
    double t2 = now_s();
    int k = spc_detok_flush(&dt, piece, sizeof piece);
    if (k > 0) {
        if (!o.json) fwrite(piece, 1, (size_t)k, stdout);
        memcpy(out_text + out_len, piece, (size_t)k);
        out_len += (size_t)k;
    }
    /* the last sampled token needs no forward pass: time per generated token counts n_gen - 1 passes + 1 sample */
    double pp = n_prompt / (t1 - t0), tg = n_gen > 0 ? n_gen / (t2 - t1) : 0;
    if (o.json) {
        printf("{\"text\": ");
        json_str(stdout, out_text, out_len);
        printf(", \"tokens\": [");
        for (int i = 0; i < n_gen; i++) printf("%s%d", i ? ", " : "", toks[n_prompt + i]);
        printf("], \"n_prompt\": %d, \"n_gen\": %d, \"stop\": \"%s\", \"prompt_tok_per_s\": %.2f, "
               "\"gen_tok_per_s\": %.2f, \"model\": ", n_prompt, n_gen, stop, pp, tg);
        json_str(stdout, o.model, strlen(o.model));
        printf("}\n");
    } else {
        printf("\n");
        fflush(stdout);
        fprintf(stderr, "specula: prompt %d tokens, %.1f tok/s; generated %d tokens, %.1f tok/s; stop: %s\n",
                n_prompt, pp, n_gen, tg, stop);
    }
    rc = 0;
done:
    spc_sampler_free(smp);
    spc_ctx_free(ctx);
    spc_model_free(m);
    free(toks);
    free(chat);
    free(out_text);
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
    fprintf(stderr,
            "usage: specula <command> [options]\n"
            "  run       -m MODEL (-p PROMPT | -f FILE) [-n N] [sampling options] [--chat] [--json]\n"
            "  info      MODEL\n"
            "  tokenize  -m MODEL -p TEXT\n"
            "  bench     -m MODEL [-t THREADS] [-r REPS] [--pp N] [--tg N] [--kmax K] [--json OUT]\n"
            "MODEL is a GGUF path or a name from scripts/fetch-model --list (default smollm2-135m).\n");
    return 2;
}
