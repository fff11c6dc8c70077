/*
 * test_text.c: text handling on a real vocabulary: streaming detokenization that never splits a
 * UTF-8 sequence, the snprintf rule of spc_tokenize, special-token parsing, the ChatML template.
 */
#include "test.h"

static struct spc_model *load(const char *name) {
    const char *p = test_model_path(name);
    struct spc_model *m = NULL;
    if (p && spc_model_load(&m, p) != SPC_OK) return NULL;
    return m;
}

TEST(streaming_detok_keeps_utf8_whole) {
    struct spc_model *m = load("smollm2-135m");
    if (!m) SKIP("model smollm2-135m not cached");
    const struct spc_vocab *v = spc_model_vocab(m);
    const char *text = "caf\xc3\xa9 \xf0\x9f\x98\x80\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9 \xe6\x97\xa5\xe6\x9c\xac";
    int32_t ids[64];
    int n = spc_tokenize(v, text, strlen(text), 0, 0, ids, 64);
    CHECK(n > 0 && n <= 64);
    struct spc_detok d;
    spc_detok_init(&d, v, 0);
    char out[256];
    int w = 0, split_seen = 0;
    for (int i = 0; i < n; i++) {
        char piece[64];
        int k = spc_detok_push(&d, ids[i], piece, sizeof piece);
        CHECK(k >= 0 && k < 64);
        /* every chunk is valid UTF-8 on its own: it starts on a lead byte */
        if (k > 0) CHECK(((unsigned char)piece[0] & 0xc0) != 0x80);
        if (k == 0) split_seen = 1;
        memcpy(out + w, piece, (size_t)k);
        w += k;
    }
    w += spc_detok_flush(&d, out + w, (int)sizeof out - w);
    CHECK(w == (int)strlen(text) && memcmp(out, text, (size_t)w) == 0);
    CHECK(split_seen);      /* the emoji are byte tokens in this vocabulary: some pushes held bytes back */
    spc_model_free(m);
}

TEST(tokenize_snprintf_rule_and_specials) {
    struct spc_model *m = load("smollm2-135m");
    if (!m) SKIP("model smollm2-135m not cached");
    const struct spc_vocab *v = spc_model_vocab(m);
    const char *t = "<|im_start|>user\nHello world<|im_end|>";
    int32_t ids[64] = { 0 }, few[2] = { -7, -7 };
    int n = spc_tokenize(v, t, strlen(t), 0, 1, ids, 64);
    CHECK(n > 3 && ids[0] == spc_vocab_find(v, "<|im_start|>") && ids[n - 1] == 2);
    CHECK(spc_tokenize(v, t, strlen(t), 0, 1, few, 1) == n && few[0] == ids[0] && few[1] == -7);
    int plain = spc_tokenize(v, t, strlen(t), 0, 0, NULL, 0);
    CHECK(plain > n);       /* without special parsing the markup is ordinary text */
    char piece[8];
    CHECK(spc_token_to_piece(v, 2, 0, piece, 8) == 0);              /* control token hidden */
    CHECK(spc_token_to_piece(v, 2, 1, piece, 8) == 10);             /* shown with special: snprintf rule */
    CHECK(spc_token_to_piece(v, 1 << 30, 0, piece, 8) == SPC_ERR_INVALID);
    spc_model_free(m);
}

TEST(chatml_template) {
    struct spc_model *m = load("qwen2.5-coder-0.5b");
    if (!m) SKIP("model qwen2.5-coder-0.5b not cached");
    struct spc_chat_msg msgs[2] = { { "system", "Be brief." }, { "user", "Hi" } };
    char buf[256];
    int n = spc_chat_apply(m, msgs, 2, 1, buf, sizeof buf);
    const char *want = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
    CHECK(n == (int)strlen(want) && strcmp(buf, want) == 0);
    CHECK(spc_chat_apply(m, msgs, 2, 0, NULL, 0) == n - (int)strlen("<|im_start|>assistant\n"));
    char tiny[5];
    CHECK(spc_chat_apply(m, msgs, 2, 1, tiny, sizeof tiny) == n && tiny[4] == 0);
    spc_model_free(m);
}

TEST(gemma_template) {
    struct spc_model *m = load("gemma3-270m");
    if (!m) SKIP("model gemma3-270m not cached");
    struct spc_chat_msg msgs[3] = { { "system", "Be brief." }, { "user", "Hi" }, { "assistant", "Hello." } };
    char buf[256];
    int n = spc_chat_apply(m, msgs, 3, 1, buf, sizeof buf);
    const char *want = "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n"
                       "<start_of_turn>model\n";
    CHECK_MSG(n == (int)strlen(want) && strcmp(buf, want) == 0, "got %s", buf);
    /* the rendered turn markers are single control tokens */
    int32_t ids[64];
    int k = spc_tokenize(spc_model_vocab(m), buf, (size_t)n, 1, 1, ids, 64);
    CHECK(k > 5 && ids[0] == 2 && ids[1] == 105);
    spc_model_free(m);
}

int main(int argc, char **argv) {
    test_init(argc, argv);
    RUN(streaming_detok_keeps_utf8_whole);
    RUN(tokenize_snprintf_rule_and_specials);
    RUN(chatml_template);
    RUN(gemma_template);
    return test_done();
}
