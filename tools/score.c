/*
 * score.c: `specula score -m MODEL --tokens FILE.jsonl`: a model's greedy predictions along given
 * token sequences, teacher-forced. Each line of FILE (as `specula bench --prompts --outputs`
 * writes) holds "prompt" and "output" token arrays; the model reads prompt + output in batched
 * forward passes and, at every output position i, its argmax after prompt + output[:i] is taken.
 *
 * Along a target's greedy output, that is exactly what a greedy draft model would propose there:
 * while its drafts match, it reads the same tokens the target committed, so a draft started at
 * position i is accepted for as many positions as the predictions match the output from i on. The
 * per-position agreement is the draft model's acceptance free of any drafting policy, and the
 * predictions let a script (bench/lookup_oracle.py --model-preds) bound what a drafter that mixes
 * this model with lookups can give. --vocab N restricts the argmax to tokens [0, N) as a drafter
 * run with --draft-vocab N does.
 *
 * Writes one JSON line per sequence to --out (index, n, agree, pred, and prob: the model's softmax
 * probability of each prediction, the confidence a drafter stops on) and prints the agreement.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools.h"

static int usage(void) {
    fprintf(stderr, "usage: specula score -m MODEL --tokens FILE.jsonl [--out PREDS.jsonl] [--vocab N] [-t THREADS]\n"
                    "  FILE: one JSON object per line with \"prompt\" and \"output\" token arrays\n"
                    "        (specula bench --prompts ... --outputs FILE writes it)\n");
    return 2;
}

int cmd_score(int argc, char **argv) {
    const char *model = "smollm2-135m", *tokens = NULL, *outp = NULL;
    int vocab = 0, n_threads = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return usage();
        if (!strcmp(a, "-m")) model = v;
        else if (!strcmp(a, "--tokens")) tokens = v;
        else if (!strcmp(a, "--out")) outp = v;
        else if (!strcmp(a, "--vocab")) {
            if (!parse_int(v, 1, INT32_MAX, &vocab)) return usage();
        } else if (!strcmp(a, "-t")) {
            if (!parse_int(v, 1, 1024, &n_threads)) return usage();
        } else return usage();
        i++;
    }
    if (!tokens) return usage();
    FILE *in = fopen(tokens, "r");
    if (!in) {
        fprintf(stderr, "specula: cannot open %s\n", tokens);
        return 1;
    }
    FILE *out = NULL;
    struct spc_model *m = NULL;
    struct spc_ctx *ctx = NULL;
    int32_t *prompt = NULL, *output = NULL, *seq = NULL, *pred = NULL;
    float *prob = NULL;
    uint8_t *want = NULL;
    char *line = NULL;
    size_t cap = 0;
    int rc = 1, lineno = 0, n_seqs = 0;
    long long n_all = 0, agree_all = 0;
    if (outp && !(out = fopen(outp, "w"))) {
        fprintf(stderr, "specula: cannot write %s\n", outp);
        goto done;
    }
    if (load_model(model, &m)) goto done;
    const int n_vocab = spc_model_n_vocab(m);
    if (vocab > n_vocab) vocab = n_vocab;
    const int nv = vocab ? vocab : n_vocab;     /* logits beyond --vocab read -inf */
    /* the context holds the longest sequence (a first pass over the file finds it) */
    int longest = 1;
    while (getline(&line, &cap, in) > 0) {
        int np = 0, no = 0;
        if (json_object_get_ints(line, "prompt", &prompt, &np) == 1 && json_object_get_ints(line, "output", &output, &no) == 1 &&
            np + no > longest)
            longest = np + no;
        free(prompt);
        free(output);
        prompt = output = NULL;
    }
    rewind(in);
    const int n_batch = 256;
    struct spc_ctx_params cp = spc_ctx_default_params();
    cp.n_ctx = longest < spc_model_n_ctx_train(m) ? longest : spc_model_n_ctx_train(m);
    cp.n_batch = n_batch;
    cp.n_logits = n_batch;
    if (n_threads) cp.n_threads = n_threads;
    cp.logits_vocab = vocab;
    int st = spc_ctx_new(&ctx, m, &cp);
    if (st) {
        fail("cannot create a context", st);
        goto done;
    }
    const int n_ctx = spc_ctx_n_ctx(ctx);
    want = malloc(n_batch);
    if (!want) goto done;
    while (getline(&line, &cap, in) > 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        int np = 0, no = 0;
        free(prompt);
        free(output);
        prompt = output = NULL;
        int a = json_object_get_ints(line, "prompt", &prompt, &np), b = a == 1 ? json_object_get_ints(line, "output", &output, &no) : 0;
        if (a != 1 || b != 1) {
            fprintf(stderr, "specula: %s:%d: %s\n", tokens, lineno,
                    a < 0 || b < 0 ? "malformed JSON" : "needs \"prompt\" and \"output\" arrays of token ids");
            goto done;
        }
        if (np < 1) {
            fprintf(stderr, "specula: %s:%d: the prompt is empty\n", tokens, lineno);
            goto done;
        }
        int n = np + no;
        if (n > n_ctx) {
            fprintf(stderr, "specula: %s:%d: %d tokens, more than the model's context of %d\n", tokens, lineno, n,
                    spc_model_n_ctx_train(m));
            goto done;
        }
        int32_t *t = realloc(seq, sizeof *t * (size_t)n);
        if (!t) goto done;
        seq = t;
        memcpy(seq, prompt, sizeof *seq * (size_t)np);
        if (no) memcpy(seq + np, output, sizeof *seq * (size_t)no);
        for (int i = 0; i < n; i++)
            if (seq[i] < 0 || seq[i] >= n_vocab) {
                fprintf(stderr, "specula: %s:%d: token id %d is outside the model's vocabulary of %d\n", tokens, lineno,
                        seq[i], n_vocab);
                goto done;
            }
        t = realloc(pred, sizeof *t * (size_t)(no ? no : 1));
        if (!t) goto done;
        pred = t;
        float *pr = realloc(prob, sizeof *pr * (size_t)(no ? no : 1));
        if (!pr) goto done;
        prob = pr;
        spc_kv_truncate(ctx, 0, 0);
        /* positions np-1 .. n-2 predict output[0 .. no); the last output token predicts nothing */
        for (int s = 0; s < n - 1; s += n_batch) {
            int len = n - 1 - s < n_batch ? n - 1 - s : n_batch;
            for (int i = 0; i < len; i++) want[i] = s + i >= np - 1;
            struct spc_batch bt = { len, seq + s, NULL, NULL, want };
            if ((st = spc_forward(ctx, &bt))) {
                fail("forward", st);
                goto done;
            }
            for (int i = 0; i < len; i++) {
                if (!want[i]) continue;
                const float *l = spc_ctx_logits(ctx, i);
                int k = s + i - (np - 1), top = spc_argmax(l, nv);
                double z = 0;                   /* the softmax probability of the argmax */
                for (int j = 0; j < nv; j++) z += exp((double)l[j] - l[top]);
                pred[k] = top;
                prob[k] = (float)(1 / z);
            }
        }
        int agree = 0;
        for (int i = 0; i < no; i++) agree += pred[i] == output[i];
        n_all += no;
        agree_all += agree;
        if (out) {
            fprintf(out, "{\"index\": %d, \"n\": %d, \"agree\": %d, \"pred\": [", n_seqs, no, agree);
            for (int i = 0; i < no; i++) fprintf(out, "%s%d", i ? ", " : "", pred[i]);
            fprintf(out, "], \"prob\": [");
            for (int i = 0; i < no; i++) fprintf(out, "%s%.4f", i ? ", " : "", prob[i]);
            fprintf(out, "]}\n");
            fflush(out);
        }
        n_seqs++;
    }
    printf("%d sequences, %lld output positions: the model's greedy prediction agrees at %lld (%.4f)\n", n_seqs, n_all,
           agree_all, n_all ? (double)agree_all / (double)n_all : 0.0);
    rc = 0;
done:
    if (out && fclose(out) && !rc) {
        fprintf(stderr, "specula: cannot write %s\n", outp);
        rc = 1;
    }
    fclose(in);
    spc_ctx_free(ctx);
    spc_model_free(m);
    free(line);
    free(prompt);
    free(output);
    free(seq);
    free(pred);
    free(prob);
    free(want);
    return rc;
}
