/*
 * chat.c: chat templates. Two families, detected from tokenizer.chat_template the way llama.cpp's
 * fallback does (or from the architecture when the file has no template):
 *   ChatML  <|im_start|>{role}\n{content}<|im_end|>\n ... <|im_start|>assistant\n
 *   Gemma   <start_of_turn>{user|model}\n{content}<end_of_turn>\n ... <start_of_turn>model\n
 *           (a system message is merged into the first user turn, separated by a blank line)
 * No default system message is inserted, so a draft model and a target always see the same token
 * prefix for the same messages.
 * Depends on: base, model.
 */
#include <stdio.h>

#include "model.h"

static bool contains(const char *s, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0) return true;
    return false;
}

/* Appends formatted text at *w (snprintf rule across calls). */
static int put(char *buf, size_t cap, size_t *w, const char *a, const char *b, const char *c) {
    int k = snprintf(*w < cap ? buf + *w : NULL, *w < cap ? cap - *w : 0, "%s%s%s", a, b, c);
    if (k < 0) return spc__err(SPC_ERR_INVALID, "chat: formatting failed");
    *w += (size_t)k;
    return SPC_OK;
}

int spc_chat_apply(const struct spc_model *m, const struct spc_chat_msg *msgs, int n, int add_assistant,
                   char *buf, size_t cap) {
    if (!m || n < 0 || (n && !msgs) || (cap && !buf)) return spc__err(SPC_ERR_INVALID, "chat: bad arguments");
    for (int i = 0; i < n; i++)
        if (!msgs[i].role || !msgs[i].content) return spc__err(SPC_ERR_INVALID, "chat: message %d is incomplete", i);
    const char *tmpl = NULL;
    size_t tlen = 0;
    bool gemma = m->arch == SPC_ARCH_GEMMA3, chatml = !gemma;
    if (spc_gguf_get_str(m->gguf, "tokenizer.chat_template", &tmpl, &tlen) == SPC_OK) {
        chatml = contains(tmpl, tlen, "<|im_start|>");
        gemma = !chatml && contains(tmpl, tlen, "<start_of_turn>");
    }
    if (!chatml && !gemma) return spc__err(SPC_ERR_UNSUPPORTED, "chat: the model's chat template is neither ChatML nor Gemma");
    size_t w = 0;
    int st = SPC_OK;
    const char *pending_system = NULL;
    for (int i = 0; i < n && st == SPC_OK; i++) {
        const char *role = msgs[i].role, *content = msgs[i].content;
        if (chatml) {
            st = put(buf, cap, &w, "<|im_start|>", role, "\n");
            if (!st) st = put(buf, cap, &w, content, "<|im_end|>\n", "");
            continue;
        }
        if (!strcmp(role, "system")) {
            pending_system = content;
            continue;
        }
        st = put(buf, cap, &w, "<start_of_turn>", !strcmp(role, "assistant") ? "model" : role, "\n");
        if (!st && pending_system) st = put(buf, cap, &w, pending_system, "\n\n", "");
        pending_system = NULL;
        if (!st) st = put(buf, cap, &w, content, "<end_of_turn>\n", "");
    }
    if (!st && gemma && pending_system) st = put(buf, cap, &w, "<start_of_turn>user\n", pending_system, "<end_of_turn>\n");
    if (!st && add_assistant) st = put(buf, cap, &w, chatml ? "<|im_start|>assistant\n" : "<start_of_turn>model\n", "", "");
    if (st) return st;
    if (w > INT32_MAX) return spc__err(SPC_ERR_INVALID, "chat: conversation too long");
    return (int)w;
}
