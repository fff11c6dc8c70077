/*
 * gguf_writer.h: a small GGUF v3 writer into memory, for tests (header-only; every function is
 * static inline so a test program pays only for what it calls).
 *
 * Two levels:
 *   - a faithful writer: metadata of every type, tensors with contiguous, aligned offsets and
 *     zero padding after each tensor's data (the last one included, as ggml writes it);
 *   - raw pieces for malformed files: a key/value pair with any type id and payload, a tensor
 *     info with any dims/type/offset, raw bytes in the data section. The writer never validates,
 *     so it can make every kind of broken file the reader must reject.
 * And gw_build_model(): a tiny but complete llama (or qwen2) model with a byte-level BPE vocab
 * that src/vocab.c loads, deterministic pseudo-random weights, and a choice of weight type.
 *
 * Memory errors are sticky (w->oom) and make gw_finish() return NULL. Depends on specula.h and
 * src/quant.h (type traits and the reference quantizers).
 */
#ifndef SPC_GGUF_WRITER_H
#define SPC_GGUF_WRITER_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specula.h"
#include "quant.h"

/* ---- growable byte buffer --------------------------------------------------------------- */

struct gw_buf {
    uint8_t *p;
    size_t n, cap;
    int oom;
};

static inline void gw_buf_put(struct gw_buf *b, const void *src, size_t n) {
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, src, n);
    b->n += n;
}

static inline void gw_buf_zeros(struct gw_buf *b, size_t n) {
    static const uint8_t z[64];
    while (n > 0) {
        size_t k = n < sizeof z ? n : sizeof z;
        gw_buf_put(b, z, k);
        n -= k;
    }
}

static inline void gw_buf_u32(struct gw_buf *b, uint32_t v) { gw_buf_put(b, &v, 4); }
static inline void gw_buf_u64(struct gw_buf *b, uint64_t v) { gw_buf_put(b, &v, 8); }
static inline void gw_buf_str(struct gw_buf *b, const char *s, uint64_t len) {
    gw_buf_u64(b, len);
    gw_buf_put(b, s, (size_t)len);
}

/* ---- the writer ------------------------------------------------------------------------- */

struct gw {
    struct gw_buf kv, ti, data;     /* metadata, tensor infos, data section */
    uint64_t n_kv, n_tensors;
    uint32_t version;               /* written as is (3 by default) */
    uint32_t alignment;             /* set by a valid general.alignment u32; 32 by default */
    /* filled by gw_finish() */
    size_t ti_offset;               /* where the tensor infos start in the file */
    size_t data_offset;             /* where the data section starts */
    size_t data_end;                /* end of the last data bytes (before the last padding) */
    size_t data_used;               /* data.n after the last gw_add_data() */
};

static inline void gw_init(struct gw *w) {
    memset(w, 0, sizeof *w);
    w->version = 3;
    w->alignment = 32;
}

static inline void gw_free(struct gw *w) {
    free(w->kv.p);
    free(w->ti.p);
    free(w->data.p);
    memset(w, 0, sizeof *w);
}

static inline int gw_oom(const struct gw *w) { return w->kv.oom || w->ti.oom || w->data.oom; }

/* A key/value pair with any type id and raw payload bytes (for malformed files). */
static inline void gw_add_kv_raw(struct gw *w, const char *key, uint32_t type, const void *payload,
                                 size_t n) {
    gw_buf_str(&w->kv, key, strlen(key));
    gw_buf_u32(&w->kv, type);
    gw_buf_put(&w->kv, payload, n);
    w->n_kv++;
}

/* Scalars: gw_add_u8 .. gw_add_f64 (gw_add_u32 and gw_add_bool below), in host byte order,
 * which is GGUF's little-endian on every machine specula runs on. */
#define GW_SCALAR(fn, ctype, gtype)                                                     \
    static inline void fn(struct gw *w, const char *key, ctype v) {                    \
        gw_add_kv_raw(w, key, gtype, &v, sizeof v);                                     \
    }
GW_SCALAR(gw_add_u8, uint8_t, SPC_GGUF_UINT8)
GW_SCALAR(gw_add_i8, int8_t, SPC_GGUF_INT8)
GW_SCALAR(gw_add_u16, uint16_t, SPC_GGUF_UINT16)
GW_SCALAR(gw_add_i16, int16_t, SPC_GGUF_INT16)
GW_SCALAR(gw_add_i32, int32_t, SPC_GGUF_INT32)
GW_SCALAR(gw_add_f32, float, SPC_GGUF_FLOAT32)
GW_SCALAR(gw_add_u64, uint64_t, SPC_GGUF_UINT64)
GW_SCALAR(gw_add_i64, int64_t, SPC_GGUF_INT64)
GW_SCALAR(gw_add_f64, double, SPC_GGUF_FLOAT64)
#undef GW_SCALAR
static inline void gw_add_bool(struct gw *w, const char *k, int v) {
    uint8_t b = v != 0;
    gw_add_kv_raw(w, k, SPC_GGUF_BOOL, &b, 1);
}

/* A u32; "general.alignment" with a power-of-two value also sets the alignment of the tensors
 * added after it (add it before any tensor). */
static inline void gw_add_u32(struct gw *w, const char *k, uint32_t v) {
    gw_add_kv_raw(w, k, SPC_GGUF_UINT32, &v, 4);
    if (strcmp(k, "general.alignment") == 0 && v && !(v & (v - 1))) w->alignment = v;
}

static inline void gw_add_str_n(struct gw *w, const char *key, const char *s, uint64_t len) {
    gw_buf_str(&w->kv, key, strlen(key));
    gw_buf_u32(&w->kv, SPC_GGUF_STRING);
    gw_buf_str(&w->kv, s, len);
    w->n_kv++;
}
static inline void gw_add_str(struct gw *w, const char *key, const char *s) {
    gw_add_str_n(w, key, s, strlen(s));
}

/* An array of n numbers of type et (u8..f64 or bool), data as stored (little-endian). */
static inline void gw_add_arr(struct gw *w, const char *key, enum spc_gguf_type et, const void *data,
                              uint64_t n) {
    static const uint8_t size[SPC_GGUF_TYPE_COUNT] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
    gw_buf_str(&w->kv, key, strlen(key));
    gw_buf_u32(&w->kv, SPC_GGUF_ARRAY);
    gw_buf_u32(&w->kv, (uint32_t)et);
    gw_buf_u64(&w->kv, n);
    gw_buf_put(&w->kv, data, (size_t)n * ((unsigned)et < SPC_GGUF_TYPE_COUNT ? size[et] : 0));
    w->n_kv++;
}

/* An array of n strings; lens may be NULL (NUL-terminated strings). */
static inline void gw_add_arr_str(struct gw *w, const char *key, const char *const *s, const uint64_t *lens,
                                  uint64_t n) {
    gw_buf_str(&w->kv, key, strlen(key));
    gw_buf_u32(&w->kv, SPC_GGUF_ARRAY);
    gw_buf_u32(&w->kv, SPC_GGUF_STRING);
    gw_buf_u64(&w->kv, n);
    for (uint64_t i = 0; i < n; i++) gw_buf_str(&w->kv, s[i], lens ? lens[i] : strlen(s[i]));
    w->n_kv++;
}

/* A tensor info exactly as given (for malformed files); ne has n_dims entries. */
static inline void gw_add_tensor_info(struct gw *w, const char *name, uint32_t n_dims, const uint64_t *ne,
                                      uint32_t type, uint64_t offset) {
    gw_buf_str(&w->ti, name, strlen(name));
    gw_buf_u32(&w->ti, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) gw_buf_u64(&w->ti, ne[d]);
    gw_buf_u32(&w->ti, type);
    gw_buf_u64(&w->ti, offset);
    w->n_tensors++;
}

/* Raw bytes appended to the data section (no padding). */
static inline void gw_add_data(struct gw *w, const void *p, size_t n) {
    gw_buf_put(&w->data, p, n);
    w->data_used = w->data.n;
}

/* Zero bytes up to the alignment. */
static inline void gw_pad_data(struct gw *w) {
    gw_buf_zeros(&w->data, (w->alignment - w->data.n % w->alignment) % w->alignment);
}

/* Bytes of a tensor of type `type` and shape ne[0..n_dims) (0 for an unknown type or a row that
 * is not a whole number of blocks). */
static inline size_t gw_tensor_bytes(uint32_t type, uint32_t n_dims, const int64_t *ne) {
    const struct spc_type_traits *tr = spc__type_traits(type);
    if (!tr || n_dims == 0 || ne[0] % tr->blck) return 0;
    size_t nel = 1;
    for (uint32_t d = 0; d < n_dims; d++) nel *= (size_t)ne[d];
    return nel / (size_t)tr->blck * tr->type_size;
}

/* A well-formed tensor (n_dims 1..4): its info with the next offset, its bytes, then padding.
 * Returns the number of data bytes it took (gw_tensor_bytes). */
static inline size_t gw_add_tensor(struct gw *w, const char *name, uint32_t type, uint32_t n_dims,
                                   const int64_t *ne, const void *data) {
    uint64_t une[4] = { 1, 1, 1, 1 };
    for (uint32_t d = 0; d < n_dims && d < 4; d++) une[d] = (uint64_t)ne[d];
    size_t size = gw_tensor_bytes(type, n_dims, ne);
    gw_pad_data(w);
    gw_add_tensor_info(w, name, n_dims, une, type, w->data.n);
    gw_add_data(w, data, size);
    gw_pad_data(w);
    return size;
}

/* Same from floats, converted with the reference quantizer of `type`. Types without one (q2_K,
 * ...) get deterministic filler bytes derived from the floats. */
static inline size_t gw_add_tensor_f(struct gw *w, const char *name, uint32_t type, uint32_t n_dims,
                                     const int64_t *ne, const float *x) {
    size_t size = gw_tensor_bytes(type, n_dims, ne), nel = 1;
    for (uint32_t d = 0; d < n_dims; d++) nel *= (size_t)ne[d];
    uint8_t *q = malloc(size ? size : 1);
    if (!q) {
        w->data.oom = 1;
        return 0;
    }
    const struct spc_type_traits *tr = spc__type_traits(type);
    if (tr && tr->from_float && size) spc__quantize_ref(type, x, q, (int64_t)nel);
    else
        for (size_t i = 0; i < size; i++) q[i] = (uint8_t)((int)(x[i % nel] * 1000.0f) ^ (int)i);
    gw_add_tensor(w, name, type, n_dims, ne, q);
    free(q);
    return size;
}

/* The whole file (malloc'ed; the caller frees) or NULL when memory ran out. Also records
 * ti_offset, data_offset and data_end. */
static inline uint8_t *gw_finish(struct gw *w, size_t *size) {
    struct gw_buf out = { 0 };
    gw_buf_put(&out, "GGUF", 4);
    gw_buf_u32(&out, w->version);
    gw_buf_u64(&out, w->n_tensors);
    gw_buf_u64(&out, w->n_kv);
    gw_buf_put(&out, w->kv.p, w->kv.n);
    w->ti_offset = out.n;
    gw_buf_put(&out, w->ti.p, w->ti.n);
    gw_buf_zeros(&out, (w->alignment - out.n % w->alignment) % w->alignment);
    w->data_offset = out.n;
    gw_buf_put(&out, w->data.p, w->data.n);
    w->data_end = w->data_offset + w->data_used;
    if (out.oom || gw_oom(w)) {
        free(out.p);
        return NULL;
    }
    *size = out.n;
    return out.p;
}

static inline int gw_write_file(const char *path, const void *buf, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t k = fwrite(buf, 1, n, f);
    return fclose(f) == 0 && k == n ? 0 : -1;
}

/* ---- a tiny model ----------------------------------------------------------------------- */

struct gw_model_opts {
    const char *arch;           /* NULL: "llama"; "qwen2" adds q/k/v biases; others written as is */
    uint32_t wtype;             /* type of every matrix (token_embd, attention, ffn, output) */
    int n_embd, n_ff;           /* 0: 64 and 128, or 256 and 512 when wtype has 256-value blocks */
    int n_layer;                /* 0: 2 */
    int n_head, n_head_kv;      /* 0: 4 and 2 */
    int n_ctx;                  /* context_length; 0: 256 */
    uint32_t alignment;         /* 0: the default (32, no general.alignment key) */
    uint32_t seed;              /* weights */
    int tied;                   /* leave out output.weight (tied embeddings) */
    /* for error tests */
    const char *hparam;         /* this key (no "<arch>." prefix) is written as i64 hparam_value, */
    int64_t hparam_value;       /* in place of the u32 the shapes imply (or added if not written) */
    const char *skip_tensor;    /* leave this tensor out */
    const char *retype_tensor;  /* write this tensor with type `retype` instead */
    uint32_t retype;
};

/* Vocabulary of the tiny model: three control tokens, the 256 byte tokens (GPT-2's
 * bytes_to_unicode), then one token per merge. Texts are in the byte-encoded alphabet
 * ("\xc4\xa0" is 'Ġ', the encoded space). */
#define GW_SP "\xc4\xa0"
static const char *const gw_merges[] = {
    "H e", "l l", "ll o", "He llo", GW_SP " w", "o r", GW_SP "w or", "l d", GW_SP "wor ld",
    GW_SP " t", "h e", GW_SP "t he", "t h", "i n", GW_SP " a", "e r", "o n", GW_SP " s", "e n", "a t",
    "r e", GW_SP " c", "e s", "i s", "a n", "in g", GW_SP " i", "o u", "e d",
    GW_SP "i s", "1 2", "12 3", "he ll", "ll ll", "o w", "l o", "e l", "s t", "a r", "i t",
    "o m", "e c", GW_SP " b", "a l", GW_SP " f",
};
#define GW_N_MERGES ((int)(sizeof gw_merges / sizeof *gw_merges))
#define GW_N_CONTROL 3
#define GW_N_VOCAB (GW_N_CONTROL + 256 + GW_N_MERGES)

/* The UTF-8 text of byte b under GPT-2's bytes_to_unicode (1 or 2 bytes, NUL-terminated). */
static inline void gw_byte_text(int b, char out[3]) {
    int n = 0, cp = -1;
    for (int c = 0; c < 256; c++) {
        int direct = (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255);
        int v = direct ? c : 256 + n++;
        if (c == b) cp = v;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        out[2] = 0;
    }
}

/* Deterministic floats in [-1, 1). */
static inline float gw_randf(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) / 16777216.0f * 2 - 1;
}

static inline int gw_is_kquant(uint32_t t) { return t >= SPC_TYPE_Q2_K && t <= SPC_TYPE_Q8_K; }

/* One weight: `ne0 x ne1` values scaled by `scale` (+ `bias`), f32 for vectors. */
static inline void gw_model_tensor(struct gw *w, const struct gw_model_opts *o, const char *name,
                                   uint32_t type, int64_t ne0, int64_t ne1, float scale, float bias,
                                   uint32_t *rng) {
    if (o->skip_tensor && strcmp(o->skip_tensor, name) == 0) return;
    if (o->retype_tensor && strcmp(o->retype_tensor, name) == 0) type = o->retype;
    size_t n = (size_t)(ne0 * ne1);
    float *x = malloc(n * sizeof *x);
    if (!x) {
        w->data.oom = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) x[i] = bias + scale * gw_randf(rng);
    int64_t ne[2] = { ne0, ne1 };
    gw_add_tensor_f(w, name, type, ne1 == 1 ? 1 : 2, ne, x);
    free(x);
}

/* "<arch>.<suffix>" = v as a u32, unless o->hparam names it. Returns 1 when overridden. */
static inline int gw_model_hparam(struct gw *w, const struct gw_model_opts *o, const char *arch,
                                  const char *suffix, uint32_t v) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int hit = o->hparam && strcmp(o->hparam, suffix) == 0;
    if (hit) gw_add_i64(w, key, o->hparam_value);
    else gw_add_u32(w, key, v);
    return hit;
}

/* Builds the tiny model; returns the malloc'ed file (NULL when out of memory). */
static inline uint8_t *gw_build_model(const struct gw_model_opts *opts, size_t *size) {
    struct gw_model_opts o = *opts;
    const char *arch = o.arch ? o.arch : "llama";
    int big = gw_is_kquant(o.wtype) || gw_is_kquant(o.retype);
    if (!o.n_embd) o.n_embd = big ? 256 : 64;
    if (!o.n_ff) o.n_ff = big ? 512 : 128;
    if (!o.n_layer) o.n_layer = 2;
    if (!o.n_head) o.n_head = 4;
    if (!o.n_head_kv) o.n_head_kv = 2;
    if (!o.n_ctx) o.n_ctx = 256;
    const int e = o.n_embd, hd = e / o.n_head, kvd = hd * o.n_head_kv;
    struct gw w;
    gw_init(&w);
    gw_add_str(&w, "general.architecture", arch);
    gw_add_str(&w, "general.name", "specula tiny test model");
    if (o.alignment) gw_add_u32(&w, "general.alignment", o.alignment);
    int hit = gw_model_hparam(&w, &o, arch, "block_count", (uint32_t)o.n_layer) +
              gw_model_hparam(&w, &o, arch, "context_length", (uint32_t)o.n_ctx) +
              gw_model_hparam(&w, &o, arch, "embedding_length", (uint32_t)e) +
              gw_model_hparam(&w, &o, arch, "feed_forward_length", (uint32_t)o.n_ff) +
              gw_model_hparam(&w, &o, arch, "attention.head_count", (uint32_t)o.n_head) +
              gw_model_hparam(&w, &o, arch, "attention.head_count_kv", (uint32_t)o.n_head_kv) +
              gw_model_hparam(&w, &o, arch, "rope.dimension_count", (uint32_t)hd);
    char key[128];
    if (o.hparam && !hit) {
        snprintf(key, sizeof key, "%s.%s", arch, o.hparam);
        gw_add_i64(&w, key, o.hparam_value);
    }
    snprintf(key, sizeof key, "%s.rope.freq_base", arch);
    gw_add_f32(&w, key, 10000.0f);
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
    gw_add_f32(&w, key, 1e-5f);
    /* vocabulary */
    static const char *const control[GW_N_CONTROL] = { "<|endoftext|>", "<|im_start|>", "<|im_end|>" };
    const char *toks[GW_N_VOCAB];
    char bytes[256][3], merged[GW_N_MERGES][64];
    int32_t types[GW_N_VOCAB];
    for (int i = 0; i < GW_N_CONTROL; i++) {
        toks[i] = control[i];
        types[i] = 3;                                   /* control */
    }
    for (int b = 0; b < 256; b++) {
        gw_byte_text(b, bytes[b]);
        toks[GW_N_CONTROL + b] = bytes[b];
        types[GW_N_CONTROL + b] = 1;                    /* normal */
    }
    for (int i = 0; i < GW_N_MERGES; i++) {            /* "a b" -> "ab" */
        size_t k = 0;
        for (const char *p = gw_merges[i]; *p && k + 1 < sizeof merged[i]; p++)
            if (*p != ' ') merged[i][k++] = *p;
        merged[i][k] = 0;
        toks[GW_N_CONTROL + 256 + i] = merged[i];
        types[GW_N_CONTROL + 256 + i] = 1;
    }
    gw_add_str(&w, "tokenizer.ggml.model", "gpt2");
    gw_add_str(&w, "tokenizer.ggml.pre", "smollm");
    gw_add_arr_str(&w, "tokenizer.ggml.tokens", toks, NULL, GW_N_VOCAB);
    gw_add_arr(&w, "tokenizer.ggml.token_type", SPC_GGUF_INT32, types, GW_N_VOCAB);
    gw_add_arr_str(&w, "tokenizer.ggml.merges", gw_merges, NULL, GW_N_MERGES);
    gw_add_u32(&w, "tokenizer.ggml.bos_token_id", 1);
    gw_add_u32(&w, "tokenizer.ggml.eos_token_id", 2);
    gw_add_bool(&w, "tokenizer.ggml.add_bos_token", 0);
    /* weights: matrices scaled so activations stay O(1) */
    uint32_t rng = o.seed * 2654435761u + 12345u;
    const uint32_t wt = o.wtype, f32 = SPC_TYPE_F32;
    const float se = 1.0f / sqrtf((float)e), sf = 1.0f / sqrtf((float)o.n_ff);
    const int qwen2 = strcmp(arch, "qwen2") == 0;
    gw_model_tensor(&w, &o, "token_embd.weight", wt, e, GW_N_VOCAB, 1.0f, 0, &rng);
    for (int il = 0; il < o.n_layer; il++) {
        char n[64];
#define GW_T(suffix, type, ne0, ne1, scale, bias) \
        (snprintf(n, sizeof n, "blk.%d.%s", il, suffix),                                    \
         gw_model_tensor(&w, &o, n, type, ne0, ne1, scale, bias, &rng))
        GW_T("attn_norm.weight", f32, e, 1, 0.1f, 1.0f);
        GW_T("attn_q.weight", wt, e, e, se, 0);
        GW_T("attn_k.weight", wt, e, kvd, se, 0);
        GW_T("attn_v.weight", wt, e, kvd, se, 0);
        if (qwen2) {
            GW_T("attn_q.bias", f32, e, 1, 0.1f, 0);
            GW_T("attn_k.bias", f32, kvd, 1, 0.1f, 0);
            GW_T("attn_v.bias", f32, kvd, 1, 0.1f, 0);
        }
        GW_T("attn_output.weight", wt, e, e, se, 0);
        GW_T("ffn_norm.weight", f32, e, 1, 0.1f, 1.0f);
        GW_T("ffn_gate.weight", wt, e, o.n_ff, se, 0);
        GW_T("ffn_up.weight", wt, e, o.n_ff, se, 0);
        GW_T("ffn_down.weight", wt, o.n_ff, e, sf, 0);
#undef GW_T
    }
    gw_model_tensor(&w, &o, "output_norm.weight", f32, e, 1, 0.1f, 1.0f, &rng);
    if (!o.tied) gw_model_tensor(&w, &o, "output.weight", wt, e, GW_N_VOCAB, se, 0, &rng);
    uint8_t *buf = gw_finish(&w, size);
    gw_free(&w);
    return buf;
}

/* Builds the tiny model and writes it to path; 0 on success. */
static inline int gw_write_model(const char *path, const struct gw_model_opts *o) {
    size_t n = 0;
    uint8_t *buf = gw_build_model(o, &n);
    if (!buf) return -1;
    int rc = gw_write_file(path, buf, n);
    free(buf);
    return rc;
}

#endif
