/*
 * chat.c: chat templates. The models specula loads today use ChatML; the template family is
 * detected from tokenizer.chat_template the way llama.cpp's fallback does (a template holding
 * "<|im_start|>" is ChatML). No default system message is inserted, so a draft model and a target
 * always see the same token prefix for the same messages.
 * Depends on: base, model.
 */
#include <stdio.h>

#include "model.h"

int spc_chat_apply(const struct spc_model *m, const struct spc_chat_msg *msgs, int n, int add_assistant,
                   char *buf, size_t cap) {
    if (!m || n < 0 || (n && !msgs) || (cap && !buf)) return spc__err(SPC_ERR_INVALID, "chat: bad arguments");
    const char *tmpl = NULL;
    size_t tlen = 0;
    bool chatml = true;
    if (spc_gguf_get_str(m->gguf, "tokenizer.chat_template", &tmpl, &tlen) == SPC_OK) {
        chatml = false;
        for (size_t i = 0; i + 12 <= tlen && !chatml; i++) chatml = memcmp(tmpl + i, "<|im_start|>", 12) == 0;
    }
    if (!chatml) return spc__err(SPC_ERR_UNSUPPORTED, "chat: the model's chat template is not ChatML");
    size_t w = 0;
    for (int i = 0; i <= n; i++) {
        if (i == n && !add_assistant) break;
        const char *role = i < n ? msgs[i].role : "assistant";
        if (!role || (i < n && !msgs[i].content)) return spc__err(SPC_ERR_INVALID, "chat: message %d is incomplete", i);
        int k = i < n ? snprintf(w < cap ? buf + w : NULL, w < cap ? cap - w : 0, "<|im_start|>%s\n%s<|im_end|>\n",
                                 role, msgs[i].content)
                      : snprintf(w < cap ? buf + w : NULL, w < cap ? cap - w : 0, "<|im_start|>assistant\n");
        if (k < 0) return spc__err(SPC_ERR_INVALID, "chat: formatting failed");
        w += (size_t)k;
    }
    if (w > INT32_MAX) return spc__err(SPC_ERR_INVALID, "chat: conversation too long");
    return (int)w;
}
