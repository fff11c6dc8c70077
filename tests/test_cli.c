/*
 * test_cli.c: the specula command line as a user scripts it: JSON output fields, greedy text,
 * and clear errors with non-zero exit codes for bad options, missing or malformed models, prompts
 * longer than the context and invalid UTF-8.
 */
#include "test.h"

#include <sys/wait.h>
#include <stdbool.h>

static char g_out[1 << 16];

/* Runs `specula ARGS` (stderr folded into the output); returns the exit code. */
static int run(const char *args) {
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s/specula %s 2>&1", build, args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(g_out, 1, sizeof g_out - 1, p);
    g_out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Writes text to the file (a test input). */
static void put(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* The file's text (at most cap - 1 bytes) in buf; false if it cannot be read. */
static bool slurp(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
    return true;
}

TEST(run_json) {
    if (!test_model_path("smollm2-135m")) SKIP("model smollm2-135m not cached");
    CHECK(run("run -m smollm2-135m -p 'The capital of France is' -n 8 --json") == 0);
    const char *keys[] = { "\"text\": \" Paris.", "\"tokens\": [7042, 30, 198", "\"n_prompt\": 5", "\"n_gen\": 8",
                           "\"prompt_tok_per_s\":", "\"gen_tok_per_s\":" };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) CHECK_MSG(strstr(g_out, keys[i]), "missing %s in %s", keys[i], g_out);
}

TEST(run_stream_and_chat) {
    if (!test_model_path("smollm2-135m")) SKIP("model smollm2-135m not cached");
    CHECK(run("run -m smollm2-135m -p 'The capital of France is' -n 4") == 0);
    CHECK(strncmp(g_out, " Paris.", 7) == 0);
    CHECK(run("run -m smollm2-135m --chat -p 'What is the capital of France?' -n 16 --temp 0.7 --seed 3 --json") == 0);
    CHECK(strstr(g_out, "\"n_gen\":") != NULL);
}

TEST(errors_are_clear) {
    CHECK(run("run --bogus") == 2 && strstr(g_out, "unknown option"));
    CHECK(run("run -m smollm2-135m") == 2 && strstr(g_out, "exactly one of"));
    CHECK(run("run -m /nonexistent/model.gguf -p hi") == 1 && strstr(g_out, "cannot open"));
    CHECK(run("run -m smollm2-135m -p hi -n x") == 2 && strstr(g_out, "bad value"));
    CHECK(run("frobnicate") == 2);
    FILE *f = fopen("/tmp/spc_cli_bad.gguf", "wb");
    CHECK(f);
    fwrite("GGUF\3\0\0\0\1\0\0\0\0\0\0\0", 1, 16, f);
    fclose(f);
    CHECK(run("info /tmp/spc_cli_bad.gguf") == 1 && strstr(g_out, "malformed file"));
    CHECK(run("run -m /tmp/spc_cli_bad.gguf -p hi") == 1 && strstr(g_out, "truncated"));
    remove("/tmp/spc_cli_bad.gguf");
    if (!test_model_path("smollm2-135m")) return;
    CHECK(run("run -m smollm2-135m -c 8 -p 'one two three four five six seven eight nine ten'") == 1);
    CHECK(strstr(g_out, "more than the context"));
    CHECK(run("run -m smollm2-135m -p \"$(printf '\\377\\376')\"") == 1 && strstr(g_out, "UTF-8"));
    CHECK(run("tokenize -m smollm2-135m -p 'Hello world'") == 0 && strcmp(g_out, "19556 905\n") == 0);
    CHECK(run("info smollm2-135m") == 0 && strstr(g_out, "llama.block_count") && strstr(g_out, "token_embd.weight"));
}

TEST(bench_json) {
    if (!test_model_path("smollm2-135m")) SKIP("model smollm2-135m not cached");
    const char *path = "/tmp/spc_cli_bench.json";
    remove(path);
    CHECK_MSG(run("bench -m smollm2-135m --pp 16 --tg 4 -r 1 --kmax 2 --json /tmp/spc_cli_bench.json") == 0,
              "%s", g_out);
    CHECK(strstr(g_out, " pp16 |") && strstr(g_out, " tg4 |"));
    FILE *f = fopen(path, "r");
    CHECK(f);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    remove(path);
    CHECK_MSG(strstr(buf, "\"verify_cost\": [1,") && strstr(buf, "\"tg_roofline_pct\":"), "%s", buf);
    CHECK(run("bench --kmax x") == 2 && strstr(g_out, "bad value"));
}

/* Speculation from the command line: --spec, its JSON statistics, stop strings, and the prompt-set
 * bench with its errors for malformed JSONL. */
TEST(spec_run_and_bench_prompts) {
    if (!test_model_path("smollm2-135m")) SKIP("model smollm2-135m not cached");
    CHECK_MSG(run("run -m smollm2-135m -p 'one two three four, one two three four, one two' -n 12 --spec pld --json") == 0,
              "%s", g_out);
    const char *keys[] = { "\"spec\": \"pld\"", "\"n_drafted\":", "\"alpha\":", "\"tau\":", "\"accepted_at\": [",
                           "\"draft_s\":", "\"verify_s\":" };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) CHECK_MSG(strstr(g_out, keys[i]), "missing %s in %s", keys[i], g_out);
    CHECK(run("run -m smollm2-135m -p 'one two three four, one two three four, one two' -n 12 --spec pld --stop four --json") == 0);
    CHECK_MSG(strstr(g_out, "\"text\": \" three \"") && strstr(g_out, "\"stop\": \"stop\""), "%s", g_out);
    CHECK(run("run -m smollm2-135m -p hi --spec bogus") == 2 && strstr(g_out, "unknown --spec"));
    CHECK(run("run -m smollm2-135m -p hi --spec draft") == 2 && strstr(g_out, "-md"));
    CHECK(run("run -m smollm2-135m -p hi --spec draft -md qwen2.5-coder-0.5b") == 1 || !test_model_path("qwen2.5-coder-0.5b"));
    if (test_model_path("qwen2.5-coder-0.5b")) CHECK_MSG(strstr(g_out, "vocabulary incompatible"), "%s", g_out);
    FILE *f = fopen("/tmp/spc_cli_prompts.jsonl", "w");
    fputs("{\"question_id\": 1, \"category\": \"a\", \"turns\": [\"Count: one two three one two three one two\"]}\n"
          "{\"prompt\": \"def add(a, b):\\n    \\\"\\\"\\\"Add.\\\"\\\"\\\"\\n\", \"category\": \"b\"}\n", f);
    fclose(f);
    CHECK_MSG(run("bench --prompts /tmp/spc_cli_prompts.jsonl -m smollm2-135m -n 8 --methods pld,ngram "
                  "--json /tmp/spc_cli_prompts.json --outputs /tmp/spc_cli_outputs.jsonl") == 0, "%s", g_out);
    CHECK_MSG(strstr(g_out, "| pld | **all** | 2 |") && strstr(g_out, "yes 2/2"), "%s", g_out);
    static char buf[16384];
    CHECK(slurp("/tmp/spc_cli_prompts.json", buf, sizeof buf));
    CHECK_MSG(strstr(buf, "\"method\": \"ngram\"") && strstr(buf, "\"speedup\":") && strstr(buf, "\"lossless\": true"), "%s", buf);
    /* the prompt time is summed per method: the baseline prefilled both prompts */
    const char *ps = strstr(buf, "\"prompt_s\": ");
    CHECK_MSG(ps && atof(ps + 12) > 0, "%s", buf);
    /* --outputs: one line per prompt, its tokens and the baseline's 8 output tokens */
    CHECK(slurp("/tmp/spc_cli_outputs.jsonl", buf, sizeof buf));
    char *l2 = strchr(buf, '\n');
    CHECK_MSG(l2 && strchr(l2 + 1, '\n') && !strchr(l2 + 1, '\n')[1], "%s", buf);
    const char *h0 = "{\"index\": 0, \"category\": \"a\", \"prompt\": [", *h1 = "{\"index\": 1, \"category\": \"b\"";
    CHECK_MSG(!strncmp(buf, h0, strlen(h0)) && !strncmp(l2 + 1, h1, strlen(h1)), "%s", buf);
    for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        char *o = strstr(l, "\"output\": ["), *e = o ? strchr(o, ']') : NULL;
        int n = 0;
        for (char *c = o; c && c < e; c++) n += *c == ',';
        CHECK_MSG(o && e && n == 7 && !strncmp(e, "]}\n", 3), "%s", l);
    }
    /* score: the model's teacher-forced greedy predictions along its own greedy outputs are those
     * outputs, every one; restricted to the first 16 token ids they cannot be */
    CHECK_MSG(run("score -m smollm2-135m --tokens /tmp/spc_cli_outputs.jsonl --out /tmp/spc_cli_preds.jsonl") == 0, "%s", g_out);
    CHECK_MSG(strstr(g_out, "2 sequences, 16 output positions: the model's greedy prediction agrees at 16 (1.0000)"), "%s", g_out);
    CHECK(slurp("/tmp/spc_cli_preds.jsonl", buf, sizeof buf));
    const char *p0 = "{\"index\": 0, \"n\": 8, \"agree\": 8, \"pred\": [";
    CHECK_MSG(!strncmp(buf, p0, strlen(p0)) && strstr(buf, "\n{\"index\": 1, \"n\": 8, \"agree\": 8,") &&
                  strstr(buf, "], \"prob\": ["),
              "%s", buf);
    CHECK(run("score -m smollm2-135m --tokens /tmp/spc_cli_outputs.jsonl --vocab 16") == 0 && strstr(g_out, "agrees at 0 (0.0000)"));
    remove("/tmp/spc_cli_preds.jsonl");
    remove("/tmp/spc_cli_outputs.jsonl");
    put("/tmp/spc_cli_tokens.jsonl", "{\"prompt\": [1, 2], \"output\": [3]}\n{\"prompt\": [1, 99999999], \"output\": []}\n");
    CHECK(run("score -m smollm2-135m --tokens /tmp/spc_cli_tokens.jsonl") == 1 && strstr(g_out, ":2: token id 99999999 is outside"));
    put("/tmp/spc_cli_tokens.jsonl", "{\"prompt\": [1, 2], \"output\": [3.5]}\n");
    CHECK(run("score -m smollm2-135m --tokens /tmp/spc_cli_tokens.jsonl") == 1 && strstr(g_out, ":1: needs \"prompt\" and \"output\""));
    put("/tmp/spc_cli_tokens.jsonl", "\n{\"prompt\": [1, 2], \"output\": [3]\n");
    CHECK(run("score -m smollm2-135m --tokens /tmp/spc_cli_tokens.jsonl") == 1 && strstr(g_out, ":2: malformed JSON"));
    CHECK(run("score -m smollm2-135m") == 2 && strstr(g_out, "usage: specula score"));
    remove("/tmp/spc_cli_tokens.jsonl");
    f = fopen("/tmp/spc_cli_prompts.jsonl", "w");
    fputs("{\"turns\": [\"fine\"]}\n{\"turns\": [\"broken\"\n", f);
    fclose(f);
    CHECK(run("bench --prompts /tmp/spc_cli_prompts.jsonl -m smollm2-135m") == 1 && strstr(g_out, ":2: malformed JSON"));
    CHECK(run("bench --prompts /tmp/spc_cli_prompts.jsonl -m smollm2-135m --methods none,turbo") == 2 && strstr(g_out, "unknown method"));
    remove("/tmp/spc_cli_prompts.jsonl");
    remove("/tmp/spc_cli_prompts.json");
}

/* bench --long: documents of ../shared/bench/long cut to L tokens, one row per L, the drafter's KV
   policy as a method suffix (masw with its budget and refresh), JSON written; a length no document
   reaches is reported. */
TEST(bench_long_contexts) {
    if (!test_model_path("smollm2-135m")) SKIP("model smollm2-135m not cached");
    FILE *d = fopen("../shared/bench/long/leval_gov_report_summ.jsonl", "r");
    if (!d) SKIP("../shared/bench/long not present");
    fclose(d);
    CHECK_MSG(run("bench --long ../shared/bench/long --lengths 300,600 --limit 1 -m smollm2-135m -n 6 "
                  "--methods pld,selfspec:window,selfspec:masw64r8 --skip-layers 4,9-14 --draft-window 64 --json /tmp/spc_cli_long.json --plot /tmp/spc_cli_long.svg") == 0,
              "%s", g_out);
    CHECK_MSG(strstr(g_out, "| selfspec:window | L=300 | 1 |") && strstr(g_out, "| pld | L=600 | 1 |") &&
              strstr(g_out, "| selfspec:masw64r8 | L=600 | 1 |"), "%s", g_out);
    static char buf[16384];
    CHECK(slurp("/tmp/spc_cli_long.json", buf, sizeof buf));
    CHECK_MSG(strstr(buf, "\"long\": true") && strstr(buf, "\"method\": \"selfspec:window\""), "%s", buf);
    CHECK(slurp("/tmp/spc_cli_long.svg", buf, sizeof buf));
    CHECK_MSG(strstr(buf, "<svg") && strstr(buf, "selfspec:window") && strstr(buf, "</svg>"), "%s", buf);
    remove("/tmp/spc_cli_long.svg");
    remove("/tmp/spc_cli_long.json");
    CHECK(run("bench --long /nonexistent -m smollm2-135m") == 1 && strstr(g_out, "no documents"));
    /* --long-skip leaves out the first long-enough documents: past all of them nothing is left */
    CHECK_MSG(run("bench --long ../shared/bench/long --lengths 300 --limit 1 --long-skip 100000 -m smollm2-135m -n 4 --methods pld") == 1 &&
              strstr(g_out, "0 of 1 documents are long enough") && strstr(g_out, "no long prompts"), "%s", g_out);
    /* masw suffixes: a memory budget and a refresh per step (draft:masw1024r16); anything else is an unknown method */
    CHECK(run("bench --long ../shared/bench/long -m smollm2-135m --methods selfspec:maswr16x") == 2 && strstr(g_out, "unknown method"));
    CHECK(run("bench --long ../shared/bench/long -m smollm2-135m --methods selfspec:masw64rq") == 2 && strstr(g_out, "unknown method"));
    CHECK(run("run -m smollm2-135m -p hi --draft-prefill some") == 2 && strstr(g_out, "--draft-prefill"));
}

/* bench --prompt-cache DIR: the first run saves the target's prefilled prompt there, the second
   loads it (and decodes the same tokens); a damaged file is reported and the prompt prefilled. */
TEST(bench_prompt_cache) {
    if (!test_model_path("smollm2-135m")) SKIP("model smollm2-135m not cached");
    FILE *d = fopen("../shared/bench/long/leval_gov_report_summ.jsonl", "r");
    if (!d) SKIP("../shared/bench/long not present");
    fclose(d);
    const char *dir = "/tmp/spc_cli_kv";
    char cmd[512], kv[256] = "", out1[4096], out2[4096];
    if (system("rm -rf /tmp/spc_cli_kv") != 0) {}
    for (int r = 0; r < 3; r++) {
        snprintf(cmd, sizeof cmd, "bench --long ../shared/bench/long --lengths 300 --limit 1 -m smollm2-135m -n 8 "
                 "--methods pld --prompt-cache %s --outputs /tmp/spc_cli_kv_out%d.jsonl", dir, r);
        CHECK_MSG(run(cmd) == 0 && strstr(g_out, "yes 1/1"), "%s", g_out);
        CHECK_MSG(!strstr(g_out, "(prompt cached)") == (r != 1), "run %d: %s", r, g_out);
        if (r == 0) {   /* one file, named by the prompt's hash and length */
            FILE *ls = popen("ls /tmp/spc_cli_kv", "r");
            CHECK(ls && fgets(kv, sizeof kv, ls));
            if (ls) pclose(ls);
            kv[strcspn(kv, "\n")] = 0;
            CHECK_MSG(strlen(kv) > 20 && !strcmp(kv + strlen(kv) - 3, ".kv"), "%s", kv);
            CHECK(slurp("/tmp/spc_cli_kv_out0.jsonl", out1, sizeof out1));
        }
        if (r == 1) {   /* same outputs; then the file is damaged */
            CHECK(slurp("/tmp/spc_cli_kv_out1.jsonl", out2, sizeof out2));
            CHECK(!strcmp(out1, out2));
            char path[300];
            snprintf(path, sizeof path, "%s/%s", dir, kv);
            put(path, "SPCKV001 but not much else");
        }
    }
    CHECK_MSG(strstr(g_out, "prompt cache: kv load:") && strstr(g_out, "prefilling instead"), "%s", g_out);
    CHECK(slurp("/tmp/spc_cli_kv_out2.jsonl", out2, sizeof out2) && !strcmp(out1, out2));
    for (int r = 0; r < 3; r++) {
        snprintf(cmd, sizeof cmd, "/tmp/spc_cli_kv_out%d.jsonl", r);
        remove(cmd);
    }
    if (system("rm -rf /tmp/spc_cli_kv") != 0) {}
    /* run --prompt-cache FILE: saved by the first run, all of it reused by the same prompt (same
       tokens out), the shared prefix by another prompt; another model's file is refused */
    const char *kf = "/tmp/spc_cli_run.kv", *p1 = "-p 'The quick brown fox jumps over the lazy dog. The quick brown fox'";
    remove(kf);
    char tok1[512];
    snprintf(cmd, sizeof cmd, "run -m smollm2-135m %s -n 8 --json --prompt-cache %s", p1, kf);
    CHECK_MSG(run(cmd) == 0 && strstr(g_out, "\"n_prompt_cached\": 0,"), "%s", g_out);
    char *tk = strstr(g_out, "\"tokens\": [");
    CHECK(tk != NULL);
    snprintf(tok1, sizeof tok1, "%.*s", tk ? (int)strcspn(tk, "]") : 0, tk ? tk : "");
    CHECK_MSG(run(cmd) == 0 && strstr(g_out, tok1), "%s", g_out);
    char *np = strstr(g_out, "\"n_prompt\": "), *nc = strstr(g_out, "\"n_prompt_cached\": ");
    CHECK_MSG(np && nc && atoi(nc + 19) == atoi(np + 12) - 1 && atoi(nc + 19) > 10, "%s", g_out);
    CHECK(run("run -m smollm2-135m -p 'The quick brown fox jumps over the lazy cat' -n 2 --prompt-cache /tmp/spc_cli_run.kv") == 0);
    CHECK_MSG(strstr(g_out, " from the cache)") && !strstr(g_out, "(0 from"), "%s", g_out);
    if (test_model_path("gemma3-270m")) {
        CHECK(run("run -m gemma3-270m -p 'The quick brown fox' -n 2 --prompt-cache /tmp/spc_cli_run.kv") == 0);
        CHECK_MSG(strstr(g_out, "prompt cache: kv load:") && strstr(g_out, "another model"), "%s", g_out);
    }
    remove(kf);
}

int main(int argc, char **argv) {
    test_init(argc, argv);
    RUN(run_json);
    RUN(run_stream_and_chat);
    RUN(errors_are_clear);
    RUN(bench_json);
    RUN(spec_run_and_bench_prompts);
    RUN(bench_long_contexts);
    RUN(bench_prompt_cache);
    return test_done();
}
