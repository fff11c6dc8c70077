/*
 * fuzz_tokenize.c: libFuzzer target for the tokenizer and the streaming detokenizer on a real
 * vocabulary (SPECULA_FUZZ_MODEL, default the cached smollm2-135m): any input gives ids or
 * SPC_ERR_INVALID (invalid UTF-8); valid input decodes back to itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specula.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct spc_model *g_m;
static int g_warnings;

static void on_log(int level, const char *msg, void *ud) {
    (void)msg;
    (void)ud;
    if (level >= SPC_LOG_WARN) g_warnings++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_m) {
        char path[4096];
        const char *env = getenv("SPECULA_FUZZ_MODEL"), *home = getenv("HOME");
        if (env) snprintf(path, sizeof path, "%s", env);
        else snprintf(path, sizeof path, "%s/.cache/specula/models/smollm2-135m.gguf", home ? home : ".");
        if (spc_model_load(&g_m, path) != SPC_OK) abort();
    }
    spc_set_log(on_log, NULL);
    g_warnings = 0;
    const struct spc_vocab *v = spc_model_vocab(g_m);
    static int32_t ids[1 << 16];
    int n = spc_tokenize(v, (const char *)data, size, 0, 0, ids, 1 << 16);
    if (n == SPC_ERR_INVALID) return 0;
    if (n < 0 || n > (1 << 16)) abort();
    static char out[1 << 18];
    struct spc_detok d;
    spc_detok_init(&d, v, 0);
    int w = 0;
    for (int i = 0; i < n; i++) w += spc_detok_push(&d, ids[i], out + w, (int)sizeof out - w);
    w += spc_detok_flush(&d, out + w, (int)sizeof out - w);
    /* decoding gives the input back, unless a byte had no token in the vocabulary (dropped with a
       warning, as llama.cpp does) */
    if (g_warnings == 0 && ((size_t)w != size || memcmp(out, data, size) != 0)) abort();
    return 0;
}
