/*
 * vocab.c: the tokenizer. Byte-level BPE (tokenizer.ggml.model = "gpt2") as the model's authors
 * run it, following llama.cpp's behaviour:
 *   1. special-token partition: strings of user-defined tokens always, and of control tokens when
 *      parse_special is set, become single tokens (longest match first at each position);
 *   2. pre-tokenization: the regexes chosen by tokenizer.ggml.pre, applied in sequence, each one
 *      re-splitting the pieces of the one before, keeping both matches and the text between them
 *      (PCRE2 with UTF and UCP, so \p{L}, \p{N} and lookahead run as written);
 *   3. each piece is byte-encoded with GPT-2's bytes_to_unicode, then merged pairwise by merge
 *      rank (lowest rank first, leftmost on ties) until no ranked pair remains.
 * Detokenization maps each token's characters back to bytes. Input must be valid UTF-8.
 * Depends on: base, gguf.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>

#include "gguf.h"
#include "model.h"

#define MAX_REGEX 4

enum tok_attr { TOK_NORMAL = 1, TOK_UNKNOWN = 2, TOK_CONTROL = 3, TOK_USER = 4, TOK_UNUSED = 5, TOK_BYTE = 6 };

/* Open-addressing map from a byte string to an int32. */
struct strmap {
    uint32_t cap;               /* power of two */
    const char **key;
    uint32_t *len;
    int32_t *val;
};

struct spc_vocab {
    int n;
    char *text;                 /* all token strings, NUL-separated */
    uint32_t *off, *len;        /* of each token in text */
    uint8_t *attr;
    bool *eog;
    struct strmap tok_map, merge_map;
    int32_t bos, eos;
    bool add_bos;
    int32_t *special;           /* user-defined and control tokens, longest text first */
    int n_special;
    pcre2_code *re[MAX_REGEX];
    int n_re;
    uint8_t byte_of[512];       /* inverse of bytes_to_unicode, by code point (all < 512) */
    bool byte_valid[512];
    char byte_utf8[256][3];     /* bytes_to_unicode as UTF-8 */
    uint8_t byte_utf8_len[256];
    int32_t byte_tok[256];      /* token of each single byte */
    bool spm;                   /* SentencePiece (tokenizer.ggml.model = "llama") */
    bool add_space_prefix;
    float *scores;              /* SPM merge priority, per token (copied: the file gives no alignment) */
};

/* ---- string map ---- */

static uint32_t hash_bytes(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static int strmap_init(struct strmap *m, uint32_t n) {
    m->cap = 16;
    while (m->cap < 2 * n) m->cap <<= 1;
    m->key = spc__calloc(m->cap, sizeof *m->key);
    m->len = spc__calloc(m->cap, sizeof *m->len);
    m->val = spc__calloc(m->cap, sizeof *m->val);
    return m->key && m->len && m->val ? SPC_OK : spc__err(SPC_ERR_NOMEM, "vocab: out of memory");
}

static void strmap_free(struct strmap *m) {
    spc__free(m->key);
    spc__free(m->len);
    spc__free(m->val);
}

/* Inserts unless present (the first occurrence wins, as in llama.cpp's maps). */
static void strmap_put(struct strmap *m, const char *k, uint32_t n, int32_t v) {
    for (uint32_t i = hash_bytes(k, n) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->key[i]) {
            m->key[i] = k;
            m->len[i] = n;
            m->val[i] = v;
            return;
        }
        if (m->len[i] == n && memcmp(m->key[i], k, n) == 0) return;
    }
}

static int32_t strmap_get(const struct strmap *m, const char *k, size_t n) {
    for (uint32_t i = hash_bytes(k, n) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->key[i]) return -1;
        if (m->len[i] == n && memcmp(m->key[i], k, n) == 0) return m->val[i];
    }
}

/* ---- UTF-8 ---- */

static int utf8_len(uint8_t c) {
    return c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 1;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 if invalid. */
static int utf8_valid_at(const uint8_t *s, size_t n) {
    uint8_t c = s[0];
    if (c < 0x80) return 1;
    int len = utf8_len(c);
    if (len == 1 || (size_t)len > n) return 0;
    uint32_t cp = c & (0x7f >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

static int utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xc0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
    out[0] = (char)(0xe0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
}

/* ---- loading ---- */

static const char *const RE_GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
static const char *const RE_QWEN2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char *const RE_LLAMA3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static int set_regexes(struct spc_vocab *v, const char *pre, size_t pre_len) {
    const char *exprs[MAX_REGEX] = { 0 };
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(pre_len < 63 ? pre_len : 63), pre ? pre : "default");
    if (strcmp(name, "qwen2") == 0 || strcmp(name, "deepseek-r1-qwen") == 0) {
        exprs[0] = RE_QWEN2;
    } else if (strcmp(name, "smollm") == 0) {
        exprs[0] = "\\p{N}";
        exprs[1] = RE_GPT2;
    } else if (strcmp(name, "llama3") == 0 || strcmp(name, "llama-v3") == 0 || strcmp(name, "llama-bpe") == 0) {
        exprs[0] = RE_LLAMA3;
    } else if (strcmp(name, "gpt-2") == 0 || strcmp(name, "phi-2") == 0) {
        exprs[0] = RE_GPT2;
    } else if (strcmp(name, "default") == 0) {
        exprs[0] = "[\\p{P}\\$\\+<=>\\^~\\|]+";
        exprs[1] = RE_GPT2;
        exprs[2] = "\\p{N}+";
        exprs[3] = "[0-9][0-9][0-9]";
        spc__log(SPC_LOG_WARN, "vocab: no known pre-tokenizer; using the default (quality may suffer)");
    } else {
        return spc__err(SPC_ERR_UNSUPPORTED, "vocab: unknown pre-tokenizer '%s'", name);
    }
    for (int i = 0; i < MAX_REGEX && exprs[i]; i++) {
        int err;
        PCRE2_SIZE erroff;
        v->re[i] = pcre2_compile((PCRE2_SPTR)exprs[i], PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK,
                                 &err, &erroff, NULL);
        if (!v->re[i]) return spc__err(SPC_ERR_UNSUPPORTED, "vocab: regex %d does not compile", i);
        pcre2_jit_compile(v->re[i], PCRE2_JIT_COMPLETE);     /* optional: falls back to the interpreter */
        v->n_re = i + 1;
    }
    return SPC_OK;
}

static void init_bytes(struct spc_vocab *v) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        bool direct = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        uint32_t cp = direct ? (uint32_t)b : 256u + (uint32_t)n++;
        v->byte_utf8_len[b] = (uint8_t)utf8_encode(cp, v->byte_utf8[b]);
        v->byte_of[cp] = (uint8_t)b;
        v->byte_valid[cp] = true;
    }
}

static int cmp_special(const void *a, const void *b, void *vv) {
    const struct spc_vocab *v = vv;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (v->len[x] != v->len[y]) return v->len[x] > v->len[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* A special token id: def when the key is absent; an id outside the vocabulary is malformed. */
static int get_id(const struct spc_gguf *g, const char *key, int32_t def, int n, int32_t *out) {
    int64_t id;
    int st = spc_gguf_get_int(g, key, &id);
    if (st == SPC_ERR_NOTFOUND) {
        *out = def;
        return SPC_OK;
    }
    if (st || id < -1 || id >= n)
        return spc__err(SPC_ERR_FORMAT, "vocab: %s is not a token id below %d", key, n);
    *out = (int32_t)id;
    return SPC_OK;
}

static int load_tokens(struct spc_vocab *v, const struct spc_gguf *g) {
    int ti = spc_gguf_find(g, "tokenizer.ggml.tokens");
    if (ti < 0 || spc_gguf_kv_type(g, ti) != SPC_GGUF_ARRAY || spc_gguf_arr_type(g, ti) != SPC_GGUF_STRING)
        return spc__err(SPC_ERR_FORMAT, "vocab: tokenizer.ggml.tokens missing or not a string array");
    uint64_t n = spc_gguf_arr_n(g, ti);
    if (n == 0 || n > (1 << 22)) return spc__err(SPC_ERR_FORMAT, "vocab: %llu tokens is out of range", (unsigned long long)n);
    v->n = (int)n;
    size_t total = 0;
    for (uint64_t i = 0; i < n; i++) total += spc__gguf_arr_str(g, ti, i)->len + 1;
    v->text = spc__alloc(total);
    v->off = spc__calloc(n, 4);
    v->len = spc__calloc(n, 4);
    v->attr = spc__calloc(n, 1);
    v->eog = spc__calloc(n, 1);
    v->special = spc__calloc(n, 4);
    if (!v->text || !v->off || !v->len || !v->attr || !v->eog || !v->special) return spc__err(SPC_ERR_NOMEM, "vocab: out of memory");
    int st = strmap_init(&v->tok_map, (uint32_t)n);
    if (st) return st;
    size_t at = 0;
    for (uint64_t i = 0; i < n; i++) {
        const struct spc_gguf_str *s = spc__gguf_arr_str(g, ti, i);
        if (s->len > 65535) return spc__err(SPC_ERR_FORMAT, "vocab: token %llu is too long", (unsigned long long)i);
        memcpy(v->text + at, s->ptr, s->len);
        v->text[at + s->len] = 0;
        v->off[i] = (uint32_t)at;
        v->len[i] = (uint32_t)s->len;
        strmap_put(&v->tok_map, v->text + at, (uint32_t)s->len, (int32_t)i);
        at += s->len + 1;
    }
    int tt = spc_gguf_find(g, "tokenizer.ggml.token_type");
    const int32_t *types = NULL;
    if (tt >= 0 && spc_gguf_arr_type(g, tt) == SPC_GGUF_INT32 && spc_gguf_arr_n(g, tt) == n)
        types = spc__gguf_arr_data(g, tt);
    for (uint64_t i = 0; i < n; i++) {
        int32_t t = TOK_NORMAL;
        if (types) memcpy(&t, (const uint8_t *)types + 4 * i, 4);
        v->attr[i] = (uint8_t)(t >= 1 && t <= 6 ? t : TOK_NORMAL);
        if ((v->attr[i] == TOK_CONTROL || v->attr[i] == TOK_USER) && v->len[i] > 0) v->special[v->n_special++] = (int32_t)i;
    }
    qsort_r(v->special, (size_t)v->n_special, 4, cmp_special, v);
    return SPC_OK;
}

static int load_merges(struct spc_vocab *v, const struct spc_gguf *g) {
    int mi = spc_gguf_find(g, "tokenizer.ggml.merges");
    if (mi < 0 || spc_gguf_arr_type(g, mi) != SPC_GGUF_STRING)
        return spc__err(SPC_ERR_FORMAT, "vocab: tokenizer.ggml.merges missing or not a string array");
    uint64_t n = spc_gguf_arr_n(g, mi);
    if (n > (1 << 23)) return spc__err(SPC_ERR_FORMAT, "vocab: too many merges");
    int st = strmap_init(&v->merge_map, (uint32_t)n);
    if (st) return st;
    for (uint64_t i = 0; i < n; i++) {
        const struct spc_gguf_str *s = spc__gguf_arr_str(g, mi, i);
        const char *sp = s->len > 1 ? memchr(s->ptr + 1, ' ', s->len - 1) : NULL;
        if (!sp) return spc__err(SPC_ERR_FORMAT, "vocab: merge %llu has no separating space", (unsigned long long)i);
        if (s->len > 65535) return spc__err(SPC_ERR_FORMAT, "vocab: merge %llu is too long", (unsigned long long)i);
        strmap_put(&v->merge_map, s->ptr, (uint32_t)s->len, (int32_t)i);
    }
    return SPC_OK;
}

static int load_scores(struct spc_vocab *v, const struct spc_gguf *g) {
    int si = spc_gguf_find(g, "tokenizer.ggml.scores");
    if (si < 0 || spc_gguf_arr_type(g, si) != SPC_GGUF_FLOAT32 || spc_gguf_arr_n(g, si) != (uint64_t)v->n)
        return spc__err(SPC_ERR_FORMAT, "vocab: tokenizer.ggml.scores missing or not one f32 per token");
    v->scores = spc__alloc((size_t)v->n * sizeof *v->scores);
    if (!v->scores) return spc__err(SPC_ERR_NOMEM, "vocab: out of memory");
    memcpy(v->scores, spc__gguf_arr_data(g, si), (size_t)v->n * sizeof *v->scores);
    return strmap_init(&v->merge_map, 1);
}

int spc__vocab_load(struct spc_vocab **out, const struct spc_gguf *g) {
    *out = NULL;
    const char *model;
    size_t mlen;
    if (spc_gguf_get_str(g, "tokenizer.ggml.model", &model, &mlen) != SPC_OK)
        return spc__err(SPC_ERR_FORMAT, "vocab: tokenizer.ggml.model missing");
    bool spm = mlen == 5 && memcmp(model, "llama", 5) == 0;
    if (!spm && (mlen != 4 || memcmp(model, "gpt2", 4) != 0))
        return spc__err(SPC_ERR_UNSUPPORTED, "vocab: tokenizer '%.*s' is not supported ('gpt2' BPE and 'llama' SentencePiece are)",
                        (int)(mlen > 32 ? 32 : mlen), model);
    struct spc_vocab *v = spc__calloc(1, sizeof *v);
    if (!v) return spc__err(SPC_ERR_NOMEM, "vocab: out of memory");
    v->spm = spm;
    init_bytes(v);
    const char *pre = NULL;
    size_t plen = 0;
    int st;
    if (spc_gguf_get_str(g, "tokenizer.ggml.pre", &pre, &plen) != SPC_OK) pre = NULL;
    if ((st = load_tokens(v, g)) || (st = spm ? load_scores(v, g) : load_merges(v, g)) ||
        (!spm && (st = set_regexes(v, pre, plen)))) {
        spc__vocab_free(v);
        return st;
    }
    int32_t eot = -1, eom = -1, def = spm ? 1 : 11;     /* llama.cpp's defaults */
    if ((st = get_id(g, "tokenizer.ggml.bos_token_id", def < v->n ? def : -1, v->n, &v->bos)) ||
        (st = get_id(g, "tokenizer.ggml.eos_token_id", (spm ? 2 : 11) < v->n ? (spm ? 2 : 11) : -1, v->n, &v->eos)) ||
        (st = get_id(g, "tokenizer.ggml.eot_token_id", -1, v->n, &eot)) ||
        (st = get_id(g, "tokenizer.ggml.eom_token_id", -1, v->n, &eom))) {
        spc__vocab_free(v);
        return st;
    }
    int64_t add_bos = 0;
    if (spc_gguf_get_int(g, "tokenizer.ggml.add_bos_token", &add_bos) == SPC_OK) v->add_bos = add_bos != 0;
    /* end of generation: eos, eot, eom, and tokens whose text marks the end of a turn */
    static const char *const eog_text[] = { "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                            "<|eom_id|>", "<EOT>", "<|end_of_text|>", "</s>", "<|fim_pad|>",
                                            "<|repo_name|>", "<reponame>", "<|file_sep|>" };
    if (v->eos >= 0) v->eog[v->eos] = true;
    if (eot >= 0) v->eog[eot] = true;
    if (eom >= 0) v->eog[eom] = true;
    for (size_t i = 0; i < sizeof eog_text / sizeof *eog_text; i++) {
        int32_t id = strmap_get(&v->tok_map, eog_text[i], strlen(eog_text[i]));
        if (id < 0) continue;
        v->eog[id] = true;                  /* as llama.cpp: by text, whatever the token type ... */
        if (v->attr[id] != TOK_CONTROL) {   /* ... which it then overrides to control */
            if (v->attr[id] != TOK_USER) v->special[v->n_special++] = id;
            v->attr[id] = TOK_CONTROL;
            qsort_r(v->special, (size_t)v->n_special, 4, cmp_special, v);
        }
    }
    for (int b = 0; b < 256; b++) {
        char hex[8];
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        v->byte_tok[b] = spm ? strmap_get(&v->tok_map, hex, 6) : strmap_get(&v->tok_map, v->byte_utf8[b], v->byte_utf8_len[b]);
    }
    if (spm) {
        int64_t asp = 1;                        /* SentencePiece default, as llama.cpp */
        spc_gguf_get_int(g, "tokenizer.ggml.add_space_prefix", &asp);
        v->add_space_prefix = asp != 0;
    }
    *out = v;
    return SPC_OK;
}

void spc__vocab_free(struct spc_vocab *v) {
    if (!v) return;
    for (int i = 0; i < v->n_re; i++) pcre2_code_free(v->re[i]);
    strmap_free(&v->tok_map);
    strmap_free(&v->merge_map);
    void *bufs[] = { v->text, v->off, v->len, v->attr, v->eog, v->special, v->scores };
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) spc__free(bufs[i]);
    spc__free(v);
}

/* ---- accessors ---- */

int spc_vocab_n_tokens(const struct spc_vocab *v) { return v->n; }
int32_t spc_vocab_bos(const struct spc_vocab *v) { return v->bos; }
int32_t spc_vocab_eos(const struct spc_vocab *v) { return v->eos; }
int spc_vocab_add_bos(const struct spc_vocab *v) { return v->add_bos; }
int spc_vocab_is_eog(const struct spc_vocab *v, int32_t t) { return t >= 0 && t < v->n && v->eog[t]; }
const char *spc_vocab_token_text(const struct spc_vocab *v, int32_t t) {
    return t >= 0 && t < v->n ? v->text + v->off[t] : NULL;
}
int32_t spc_vocab_find(const struct spc_vocab *v, const char *text) { return strmap_get(&v->tok_map, text, strlen(text)); }

/* ---- tokenize ---- */

/* Output accumulator that follows the snprintf rule. */
struct tokout {
    int32_t *out;
    int cap, n;
};

static void emit(struct tokout *o, int32_t t) {
    if (o->n < o->cap) o->out[o->n] = t;
    o->n++;
}

/* BPE over one pre-tokenized piece of raw bytes. */
struct sym { int start, len, prev, next; };

static int bpe_piece(const struct spc_vocab *v, const char *s, size_t n, struct tokout *o) {
    /* byte-encode: every byte becomes 1 or 2 UTF-8 bytes */
    size_t cap = 2 * n;
    char stackbuf[512];
    struct sym stacksym[256];
    char *enc = cap <= sizeof stackbuf ? stackbuf : spc__alloc(cap);
    struct sym *sym = n <= 256 ? stacksym : spc__alloc(n * sizeof *sym);
    char *pair = spc__alloc(2 * cap + 2);
    if (!enc || !sym || !pair) {
        if (enc != stackbuf) spc__free(enc);
        if (sym != stacksym) spc__free(sym);
        spc__free(pair);
        return spc__err(SPC_ERR_NOMEM, "tokenize: out of memory");
    }
    int len = 0, ns = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)s[i];
        memcpy(enc + len, v->byte_utf8[b], v->byte_utf8_len[b]);
        len += v->byte_utf8_len[b];
    }
    /* initial symbols: UTF-8 characters of the encoded text */
    for (int i = 0; i < len;) {
        int cl = utf8_len((uint8_t)enc[i]);
        if (i + cl > len) cl = len - i;
        sym[ns] = (struct sym){ i, cl, ns - 1, ns + 1 };
        ns++;
        i += cl;
    }
    if (ns) sym[ns - 1].next = -1;
    for (;;) {
        int best = -1;
        int32_t best_rank = INT32_MAX;
        for (int i = 0; i != -1 && i < ns; i = sym[i].next) {
            int j = sym[i].next;
            if (j < 0) break;
            memcpy(pair, enc + sym[i].start, (size_t)sym[i].len);
            pair[sym[i].len] = ' ';
            memcpy(pair + sym[i].len + 1, enc + sym[j].start, (size_t)sym[j].len);
            int32_t r = strmap_get(&v->merge_map, pair, (size_t)(sym[i].len + 1 + sym[j].len));
            if (r >= 0 && r < best_rank) {
                best_rank = r;
                best = i;
            }
        }
        if (best < 0) break;
        int j = sym[best].next;
        sym[best].len += sym[j].len;       /* symbols are adjacent in enc */
        sym[best].next = sym[j].next;
        if (sym[j].next >= 0) sym[sym[j].next].prev = best;
    }
    for (int i = 0; ns > 0 && i != -1; i = sym[i].next) {
        int32_t t = strmap_get(&v->tok_map, enc + sym[i].start, (size_t)sym[i].len);
        if (t >= 0) {
            emit(o, t);
            continue;
        }
        /* not in the vocabulary: fall back to one token per original byte */
        for (int k = 0; k < sym[i].len;) {
            int cl = utf8_len((uint8_t)enc[sym[i].start + k]);
            uint32_t cp = cl == 1 ? (uint8_t)enc[sym[i].start + k]
                                  : ((uint32_t)(enc[sym[i].start + k] & 0x1f) << 6) | (enc[sym[i].start + k + 1] & 0x3f);
            int32_t bt = cp < 512 && v->byte_valid[cp] ? v->byte_tok[v->byte_of[cp]] : -1;
            if (bt >= 0) emit(o, bt);
            else spc__log(SPC_LOG_WARN, "tokenize: byte 0x%02x has no token in this vocabulary; dropped (as llama.cpp does)",
                          cp < 512 && v->byte_valid[cp] ? v->byte_of[cp] : 0);
            k += cl;
        }
    }
    if (enc != stackbuf) spc__free(enc);
    if (sym != stacksym) spc__free(sym);
    spc__free(pair);
    return SPC_OK;
}

/* ---- SentencePiece (tokenizer.ggml.model = "llama") ----
 * As llama.cpp: spaces become U+2581, the text starts as one symbol per UTF-8 character, and the
 * adjacent pair whose concatenation is the highest-scoring token (leftmost on ties) is merged until
 * none is left; a symbol that is not a token falls back to its <0xXX> byte tokens. A binary heap of
 * candidate pairs keeps this O(n log n) on long prompts; stale pairs are skipped when popped. */

struct spm_pair { float score; int left, right, len; };

static bool pair_before(const struct spm_pair *a, const struct spm_pair *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(struct spm_pair *h, int *n, struct spm_pair p) {
    int i = (*n)++;
    h[i] = p;
    while (i > 0 && pair_before(&h[i], &h[(i - 1) / 2])) {
        struct spm_pair t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static struct spm_pair heap_pop(struct spm_pair *h, int *n) {
    struct spm_pair top = h[0];
    h[0] = h[--*n];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && pair_before(&h[l], &h[m])) m = l;
        if (r < *n && pair_before(&h[r], &h[m])) m = r;
        if (m == i) break;
        struct spm_pair t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
    return top;
}

static void spm_try_pair(const struct spc_vocab *v, const char *text, const struct sym *sy, int l, int r,
                         struct spm_pair *h, int *nh) {
    if (l < 0 || r < 0) return;
    int32_t t = strmap_get(&v->tok_map, text + sy[l].start, (size_t)(sy[l].len + sy[r].len));
    if (t >= 0) heap_push(h, nh, (struct spm_pair){ v->scores[t], l, r, sy[l].len + sy[r].len });
}

static int spm_piece(const struct spc_vocab *v, const char *raw, size_t n, bool space_prefix, struct tokout *o) {
    size_t cap = 3 * n + 3;
    char *text = spc__alloc(cap);
    struct sym *sy = spc__alloc((n + 1) * sizeof *sy);
    struct spm_pair *h = spc__alloc((2 * n + 2) * sizeof *h);
    if (!text || !sy || !h) {
        spc__free(text);
        spc__free(sy);
        spc__free(h);
        return spc__err(SPC_ERR_NOMEM, "tokenize: out of memory");
    }
    int len = 0, ns = 0, nh = 0;
    if (space_prefix) { memcpy(text, "\xe2\x96\x81", 3); len = 3; }
    for (size_t i = 0; i < n; i++) {
        if (raw[i] == ' ') { memcpy(text + len, "\xe2\x96\x81", 3); len += 3; }
        else text[len++] = raw[i];
    }
    for (int i = 0; i < len;) {
        int cl = utf8_len((uint8_t)text[i]);
        if (i + cl > len) cl = len - i;
        sy[ns] = (struct sym){ i, cl, ns - 1, ns + 1 };
        ns++;
        i += cl;
    }
    if (ns) sy[ns - 1].next = -1;
    for (int i = 1; i < ns; i++) spm_try_pair(v, text, sy, i - 1, i, h, &nh);
    while (nh > 0) {
        struct spm_pair p = heap_pop(h, &nh);
        struct sym *l = &sy[p.left], *r = &sy[p.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != p.len || l->next != p.right) continue;
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) sy[r->next].prev = p.left;
        spm_try_pair(v, text, sy, l->prev, p.left, h, &nh);
        spm_try_pair(v, text, sy, p.left, l->next, h, &nh);
    }
    for (int i = 0; ns > 0 && i != -1; i = sy[i].next) {
        int32_t t = strmap_get(&v->tok_map, text + sy[i].start, (size_t)sy[i].len);
        if (t >= 0) {
            emit(o, t);
            continue;
        }
        for (int k = 0; k < sy[i].len; k++) {
            int32_t bt = v->byte_tok[(uint8_t)text[sy[i].start + k]];
            if (bt >= 0) emit(o, bt);
            else spc__log(SPC_LOG_WARN, "tokenize: byte 0x%02x has no token in this vocabulary; dropped",
                          (uint8_t)text[sy[i].start + k]);
        }
    }
    spc__free(text);
    spc__free(sy);
    spc__free(h);
    return SPC_OK;
}

/* Applies regex r (and the following ones) to text[0..n), then BPE on every final piece. */
static int pretok(const struct spc_vocab *v, int r, const char *text, size_t n, pcre2_match_data *md, struct tokout *o) {
    if (n == 0) return SPC_OK;
    if (r == v->n_re) return bpe_piece(v, text, n, o);
    size_t at = 0, last = 0;
    int st;
    while (at < n) {
        int rc = pcre2_match(v->re[r], (PCRE2_SPTR)text, n, at, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) return spc__err(SPC_ERR_INVALID, "tokenize: regex match failed (%d)", rc);
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (me == ms) {                         /* empty match: step one character */
            at = ms + (size_t)utf8_len((uint8_t)text[ms]);
            continue;
        }
        if (ms > last && (st = pretok(v, r + 1, text + last, ms - last, md, o))) return st;
        if ((st = pretok(v, r + 1, text + ms, me - ms, md, o))) return st;
        last = at = me;
    }
    return last < n ? pretok(v, r + 1, text + last, n - last, md, o) : SPC_OK;
}

int spc_tokenize(const struct spc_vocab *v, const char *text, size_t len, int add_bos, int parse_special,
                 int32_t *out, int cap) {
    if (!v || (!text && len) || cap < 0 || (cap && !out)) return spc__err(SPC_ERR_INVALID, "tokenize: bad arguments");
    for (size_t i = 0; i < len;) {
        int cl = utf8_valid_at((const uint8_t *)text + i, len - i);
        if (!cl) return spc__err(SPC_ERR_INVALID, "tokenize: invalid UTF-8 at byte %zu", i);
        i += (size_t)cl;
    }
    struct tokout o = { out, cap, 0 };
    if (add_bos && v->bos >= 0) emit(&o, v->bos);
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    if (!md) return spc__err(SPC_ERR_NOMEM, "tokenize: out of memory");
    size_t start = 0, i = 0;
    int st = SPC_OK;
    bool prev_special = true;
    while (i < len && st == SPC_OK) {
        int32_t hit = -1;
        for (int k = 0; k < v->n_special; k++) {
            int32_t t = v->special[k];
            if (v->attr[t] == TOK_CONTROL && !parse_special) continue;
            if (v->len[t] <= len - i && memcmp(text + i, v->text + v->off[t], v->len[t]) == 0) {
                hit = t;
                break;
            }
        }
        if (hit < 0) {
            i += (size_t)utf8_len((uint8_t)text[i]);
            continue;
        }
        st = v->spm ? (i > start ? spm_piece(v, text + start, i - start, v->add_space_prefix && prev_special, &o) : SPC_OK)
                    : pretok(v, 0, text + start, i - start, md, &o);
        prev_special = true;
        emit(&o, hit);
        i += v->len[hit];
        start = i;
    }
    if (st == SPC_OK)
        st = v->spm ? (len > start ? spm_piece(v, text + start, len - start, v->add_space_prefix && prev_special, &o) : SPC_OK)
                    : pretok(v, 0, text + start, len - start, md, &o);
    pcre2_match_data_free(md);
    if (st) return st;
    if (o.n < 0 || o.n > INT32_MAX / 2) return spc__err(SPC_ERR_INVALID, "tokenize: too many tokens");
    return o.n;
}

/* ---- detokenize ---- */

int spc_token_to_piece(const struct spc_vocab *v, int32_t t, int special, char *buf, int cap) {
    if (t < 0 || t >= v->n) return spc__err(SPC_ERR_INVALID, "detokenize: token %d out of range", t);
    const char *s = v->text + v->off[t];
    int n = (int)v->len[t];
    if (v->attr[t] == TOK_CONTROL || v->attr[t] == TOK_UNUSED || v->attr[t] == TOK_UNKNOWN) {
        if (!special) return 0;
    }
    if (v->attr[t] == TOK_CONTROL || v->attr[t] == TOK_USER) {
        if (n <= cap) memcpy(buf, s, (size_t)n);
        else if (cap > 0) memcpy(buf, s, (size_t)cap);
        return n;
    }
    int w = 0;
    if (v->spm) {
        if (v->attr[t] == TOK_BYTE && n == 6) {
            unsigned b = 0;
            sscanf(s + 3, "%2X", &b);
            if (cap > 0) buf[0] = (char)b;
            return 1;
        }
        for (int i = 0; i < n;) {
            if (i + 3 <= n && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
                if (w < cap) buf[w] = ' ';
                w++;
                i += 3;
            } else {
                if (w < cap) buf[w] = s[i];
                w++;
                i++;
            }
        }
        return w;
    }
    for (int i = 0; i < n;) {
        int cl = utf8_len((uint8_t)s[i]);
        if (i + cl > n) cl = n - i;
        uint32_t cp = (uint8_t)s[i];
        if (cl == 2) cp = ((uint32_t)(s[i] & 0x1f) << 6) | (s[i + 1] & 0x3f);
        if (cl <= 2 && cp < 512 && v->byte_valid[cp]) {
            if (w < cap) buf[w] = (char)v->byte_of[cp];
            w++;
        } else {                                /* not byte-encoded: copy as is */
            for (int k = 0; k < cl; k++, w++)
                if (w < cap) buf[w] = s[i + k];
        }
        i += cl;
    }
    return w;
}

void spc_detok_init(struct spc_detok *d, const struct spc_vocab *v, int special) {
    memset(d, 0, sizeof *d);
    d->vocab = v;
    d->special = special;
}

/* Writes the complete UTF-8 sequences of buf[0..n) to out and keeps an incomplete tail. */
static int detok_emit(struct spc_detok *d, const char *buf, int n, char *out, int cap, bool flush) {
    int w = 0, i = 0;
    while (i < n) {
        int need = utf8_len((uint8_t)buf[i]);
        if (i + need > n && !flush && n - i < 8) {          /* incomplete: hold back */
            if (utf8_valid_at((const uint8_t *)buf + i, (size_t)(n - i)) == 0) {
                bool prefix_ok = true;
                for (int k = 1; k < n - i; k++) prefix_ok &= ((uint8_t)buf[i + k] & 0xc0) == 0x80;
                if (prefix_ok && need > 1) {
                    memcpy(d->pending, buf + i, (size_t)(n - i));
                    d->n_pending = n - i;
                    return w;
                }
            }
        }
        int cl = utf8_valid_at((const uint8_t *)buf + i, (size_t)(n - i));
        if (cl == 0) {                                         /* invalid byte: U+FFFD */
            static const char rep[3] = { (char)0xef, (char)0xbf, (char)0xbd };
            for (int k = 0; k < 3; k++, w++)
                if (w < cap) out[w] = rep[k];
            i++;
            continue;
        }
        for (int k = 0; k < cl; k++, w++)
            if (w < cap) out[w] = buf[i + k];
        i += cl;
    }
    d->n_pending = 0;
    return w;
}

int spc_detok_push(struct spc_detok *d, int32_t t, char *out, int cap) {
    char buf[256];
    memcpy(buf, d->pending, (size_t)d->n_pending);
    int room = (int)sizeof buf - d->n_pending;
    int n = spc_token_to_piece(d->vocab, t, d->special, buf + d->n_pending, room);
    if (n < 0) return n;
    if (n > room) {                                            /* very long token: go through the heap */
        char *big = spc__alloc((size_t)(d->n_pending + n));
        if (!big) return spc__err(SPC_ERR_NOMEM, "detokenize: out of memory");
        memcpy(big, d->pending, (size_t)d->n_pending);
        spc_token_to_piece(d->vocab, t, d->special, big + d->n_pending, n);
        int w = detok_emit(d, big, d->n_pending + n, out, cap, false);
        spc__free(big);
        return w;
    }
    return detok_emit(d, buf, d->n_pending + n, out, cap, false);
}

int spc_detok_flush(struct spc_detok *d, char *out, int cap) {
    char buf[8];
    int n = d->n_pending;
    memcpy(buf, d->pending, (size_t)n);
    return detok_emit(d, buf, n, out, cap, true);
}

int spc_vocab_check_compatible(const struct spc_vocab *t, const struct spc_vocab *d) {
    if (!t || !d) return spc__err(SPC_ERR_INVALID, "vocab: NULL");
    if (t->spm != d->spm)
        return spc__err(SPC_ERR_INVALID, "tokenizer types differ (%s vs %s)", t->spm ? "llama/SentencePiece" : "gpt2/BPE",
                        d->spm ? "llama/SentencePiece" : "gpt2/BPE");
    if (t->bos != d->bos || t->add_bos != d->add_bos)
        return spc__err(SPC_ERR_INVALID, "BOS differs (target %d%s, draft %d%s)", t->bos, t->add_bos ? " added" : "",
                        d->bos, d->add_bos ? " added" : "");
    if (t->eos != d->eos) return spc__err(SPC_ERR_INVALID, "EOS differs (target %d, draft %d)", t->eos, d->eos);
    int diff = t->n > d->n ? t->n - d->n : d->n - t->n;
    if (diff > 128)
        return spc__err(SPC_ERR_INVALID, "vocabulary sizes differ by %d (target %d, draft %d; at most 128)", diff, t->n, d->n);
    int n = t->n < d->n ? t->n : d->n;
    for (int i = 0; i < n; i++)
        if (t->len[i] != d->len[i] || memcmp(t->text + t->off[i], d->text + d->off[i], t->len[i]))
            return spc__err(SPC_ERR_INVALID, "token %d differs ('%.*s' vs '%.*s')", i, (int)(t->len[i] > 40 ? 40 : t->len[i]),
                            t->text + t->off[i], (int)(d->len[i] > 40 ? 40 : d->len[i]), d->text + d->off[i]);
    return SPC_OK;
}
