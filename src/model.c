/*
 * model.c: loading a model from GGUF: architecture, hyperparameters (every count bounded before it
 * sizes anything), weights bound by name with their shapes and types checked, vocabulary.
 * Depends on: base, gguf, quant, vocab (through model.h).
 */
#include "model.h"

#include "kernels.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>

static int get_u(const struct spc_gguf *g, const char *arch, const char *suffix, int64_t lo, int64_t hi,
                 bool required, int64_t def, int *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t v;
    int st = spc_gguf_get_int(g, key, &v);
    if (st == SPC_ERR_NOTFOUND && !required) v = def;
    else if (st == SPC_ERR_NOTFOUND) return spc__err(SPC_ERR_FORMAT, "model: missing key %s", key);
    else if (st) return spc__err(SPC_ERR_FORMAT, "model: %s is not an integer", key);
    if (v < lo || v > hi) return spc__err(SPC_ERR_FORMAT, "model: %s = %lld is out of range [%lld, %lld]",
                                          key, (long long)v, (long long)lo, (long long)hi);
    *out = (int)v;
    return SPC_OK;
}

static int get_f(const struct spc_gguf *g, const char *arch, const char *suffix, double def, float *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    double v;
    int st = spc_gguf_get_float(g, key, &v);
    if (st == SPC_ERR_NOTFOUND) v = def;
    else if (st) return spc__err(SPC_ERR_FORMAT, "model: %s is not a number", key);
    if (!(v > 0) || v > 1e12) return spc__err(SPC_ERR_FORMAT, "model: %s = %g is out of range", key, v);
    *out = (float)v;
    return SPC_OK;
}

/* Binds tensor `name` expecting shape {ne0, ne1} (ne1 = 1 for vectors). */
static int bind(struct spc_model *m, struct spc_w *w, const char *name, int64_t ne0, int64_t ne1, bool required) {
    const struct spc_gguf_tensor *t = spc_gguf_find_tensor(m->gguf, name);
    if (!t) {
        if (!required) return SPC_OK;
        return spc__err(SPC_ERR_FORMAT, "model: missing tensor %s", name);
    }
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1)
        return spc__err(SPC_ERR_FORMAT, "model: tensor %s has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]",
                        name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                        (long long)t->ne[3], (long long)ne0, (long long)ne1);
    const struct spc_type_traits *tr = spc__type_traits(t->type);
    if (!tr->supported || !tr->vec_dot)
        return spc__err(SPC_ERR_UNSUPPORTED, "model: tensor %s has type %s, which specula does not support",
                        name, tr->name);
    if (ne1 == 1 && t->type != SPC_TYPE_F32)
        return spc__err(SPC_ERR_UNSUPPORTED, "model: vector %s must be f32, not %s", name, tr->name);
    const struct spc_type_traits *vt = spc__type_traits(tr->vec_dot_type);
    if (ne0 % vt->blck)
        return spc__err(SPC_ERR_FORMAT, "model: tensor %s rows of %lld do not fit %s blocks", name,
                        (long long)ne0, vt->name);
    w->type = t->type;
    w->ne0 = ne0;
    w->ne1 = ne1;
    w->row_bytes = spc__row_size(t->type, ne0);
    w->data = t->data;
    return SPC_OK;
}

static int load_hparams(struct spc_model *m) {
    const struct spc_gguf *g = m->gguf;
    const char *a = m->arch_name;
    struct spc_hparams *hp = &m->hp;
    int st;
    if ((st = get_u(g, a, "block_count", 1, SPC_MAX_LAYERS, true, 0, &hp->n_layer)) ||
        (st = get_u(g, a, "embedding_length", 1, 65536, true, 0, &hp->n_embd)) ||
        (st = get_u(g, a, "feed_forward_length", 1, 1 << 20, true, 0, &hp->n_ff)) ||
        (st = get_u(g, a, "attention.head_count", 1, 1024, true, 0, &hp->n_head)) ||
        (st = get_u(g, a, "attention.head_count_kv", 1, 1024, false, hp->n_head, &hp->n_head_kv)) ||
        (st = get_u(g, a, "context_length", 1, 1 << 24, false, 4096, &hp->n_ctx_train)))
        return st;
    int def_hd = hp->n_embd / hp->n_head;
    if ((st = get_u(g, a, "attention.key_length", 1, 4096, false, def_hd, &hp->head_dim))) return st;
    int vdim;
    if ((st = get_u(g, a, "attention.value_length", 1, 4096, false, hp->head_dim, &vdim))) return st;
    if (vdim != hp->head_dim) return spc__err(SPC_ERR_UNSUPPORTED, "model: key and value head sizes differ");
    if (hp->n_head % hp->n_head_kv)
        return spc__err(SPC_ERR_FORMAT, "model: %d heads are not a multiple of %d kv heads", hp->n_head, hp->n_head_kv);
    if (hp->head_dim % 2) return spc__err(SPC_ERR_FORMAT, "model: odd head size %d", hp->head_dim);
    if ((st = get_u(g, a, "rope.dimension_count", 2, hp->head_dim, false, hp->head_dim, &hp->n_rot))) return st;
    if (hp->n_rot % 2) return spc__err(SPC_ERR_FORMAT, "model: odd rope dimension %d", hp->n_rot);
    if ((st = get_f(g, a, "attention.layer_norm_rms_epsilon", 1e-6, &hp->eps)) ||
        (st = get_f(g, a, "rope.freq_base", 10000.0, &hp->rope_base)))
        return st;
    hp->rope = m->arch == SPC_ARCH_LLAMA ? SPC_ROPE_NORM : SPC_ROPE_NEOX;
    hp->embd_scale = 1;
    hp->q_scale = 1;
    if (m->arch == SPC_ARCH_GEMMA3) {
        hp->embd_scale = sqrtf((float)hp->n_embd);
        hp->q_scale = 1.0f / sqrtf((float)hp->head_dim);  /* query_pre_attn_scalar = head_dim */
        if ((st = get_u(g, a, "attention.sliding_window", 1, 1 << 24, true, 0, &hp->n_swa)) ||
            (st = get_f(g, a, "rope.freq_base_swa", 10000.0, &hp->rope_base_swa)))
            return st;
    }
    const struct spc_gguf_tensor *te = spc_gguf_find_tensor(g, "token_embd.weight");
    if (!te) return spc__err(SPC_ERR_FORMAT, "model: missing tensor token_embd.weight");
    if (te->ne[1] < 1 || te->ne[1] > (1 << 22)) return spc__err(SPC_ERR_FORMAT, "model: vocabulary size out of range");
    hp->n_vocab = (int)te->ne[1];
    return SPC_OK;
}

static int bind_weights(struct spc_model *m) {
    const struct spc_hparams *hp = &m->hp;
    int64_t e = hp->n_embd, qd = (int64_t)hp->n_head * hp->head_dim, kvd = (int64_t)hp->n_head_kv * hp->head_dim;
    int st;
    if ((st = bind(m, &m->tok_embd, "token_embd.weight", e, hp->n_vocab, true)) ||
        (st = bind(m, &m->output_norm, "output_norm.weight", e, 1, true)) ||
        (st = bind(m, &m->output, "output.weight", e, hp->n_vocab, false)))
        return st;
    if (!m->output.data) m->output = m->tok_embd;     /* tied embeddings */
    m->layers = spc__calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return spc__err(SPC_ERR_NOMEM, "model: out of memory");
    bool bias = m->arch == SPC_ARCH_QWEN2, gemma = m->arch == SPC_ARCH_GEMMA3;
    int swa_pattern = 6;            /* gemma3: 5 sliding-window layers, then 1 global */
    if (gemma) {
        int64_t pat;
        char key[96];
        snprintf(key, sizeof key, "%s.attention.sliding_window_pattern", m->arch_name);
        if (spc_gguf_get_int(m->gguf, key, &pat) == SPC_OK) {
            if (pat < 1 || pat > SPC_MAX_LAYERS) return spc__err(SPC_ERR_FORMAT, "model: %s out of range", key);
            swa_pattern = (int)pat;
        }
    }
    float rope_scale = 1;
    double factor;
    char fkey[96];
    snprintf(fkey, sizeof fkey, "%s.rope.scaling.factor", m->arch_name);
    if (spc_gguf_get_float(m->gguf, fkey, &factor) == SPC_OK && factor > 0) rope_scale = (float)(1.0 / factor);
    for (int il = 0; il < hp->n_layer; il++) {
        struct spc_layer *L = &m->layers[il];
        char n[64];
#define B(field, suffix, ne0, ne1, req) \
        (snprintf(n, sizeof n, "blk.%d." suffix, il), (st = bind(m, &L->field, n, ne0, ne1, req)))
        if (B(attn_norm, "attn_norm.weight", e, 1, true) || B(wq, "attn_q.weight", e, qd, true) ||
            B(wk, "attn_k.weight", e, kvd, true) || B(wv, "attn_v.weight", e, kvd, true) ||
            B(wo, "attn_output.weight", qd, e, true) || B(bq, "attn_q.bias", qd, 1, bias) ||
            B(bk, "attn_k.bias", kvd, 1, bias) || B(bv, "attn_v.bias", kvd, 1, bias) ||
            B(ffn_norm, "ffn_norm.weight", e, 1, true) || B(gate, "ffn_gate.weight", e, hp->n_ff, true) ||
            B(up, "ffn_up.weight", e, hp->n_ff, true) || B(down, "ffn_down.weight", hp->n_ff, e, true))
            return st;
        if (gemma && (B(q_norm, "attn_q_norm.weight", hp->head_dim, 1, true) ||
                      B(k_norm, "attn_k_norm.weight", hp->head_dim, 1, true) ||
                      B(post_attn_norm, "post_attention_norm.weight", e, 1, true) ||
                      B(post_ffn_norm, "post_ffw_norm.weight", e, 1, true)))
            return st;
#undef B
        L->swa = gemma && swa_pattern > 1 && il % swa_pattern < swa_pattern - 1;
        L->rope_base = L->swa ? hp->rope_base_swa : hp->rope_base;
        L->rope_scale = L->swa ? 1.0f : rope_scale;
        const struct spc_w *mats[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down };
        for (size_t k = 0; k < sizeof mats / sizeof *mats; k++)
            m->weight_bytes += mats[k]->row_bytes * (uint64_t)mats[k]->ne1;
    }
    m->weight_bytes += m->output.row_bytes * (uint64_t)m->output.ne1;
    return SPC_OK;
}

/* Copies the matmul weights that have a 16-row kernel on this CPU into the interleaved layout
   (quant.h), one aligned buffer for all. Untied token embeddings keep the file's layout (only single
   rows are read from them); tied ones are interleaved for the output matmul and spc__get_row reads
   their rows back. SPECULA_NO_REPACK keeps every weight as is. */
static int repack_weights(struct spc_model *m) {
    if (getenv("SPECULA_NO_REPACK")) return SPC_OK;
    struct spc_w *ws[SPC_MAX_LAYERS * 7 + 1];
    int nw = 0;
    size_t total = 0;
    for (int il = 0; il < m->hp.n_layer; il++) {
        struct spc_layer *L = &m->layers[il];
        struct spc_w *mats[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down };
        for (size_t k = 0; k < sizeof mats / sizeof *mats; k++) ws[nw++] = mats[k];
    }
    bool tied = m->output.data == m->tok_embd.data;
    ws[nw++] = tied ? &m->tok_embd : &m->output;
    int keep = 0;
    for (int i = 0; i < nw; i++)
        if (ws[i]->ne1 % 16 == 0 && spc__dot_x16(ws[i]->type)) {
            ws[keep++] = ws[i];
            total += ws[i]->row_bytes * (size_t)ws[i]->ne1;
        }
    if (!keep) return SPC_OK;
    m->repacked = spc__alloc(total + 64);
    if (!m->repacked) return spc__err(SPC_ERR_NOMEM, "model: out of memory for %zu bytes of repacked weights", total);
    uint8_t *dst = (uint8_t *)(((uintptr_t)m->repacked + 63) & ~(uintptr_t)63);
    spc__advise_huge(dst, total);       /* fewer page faults while repacking, fewer TLB misses after */
    for (int i = 0; i < keep; i++) {
        struct spc_w *w = ws[i];
        size_t group = w->row_bytes * 16;
        for (int64_t r = 0; r < w->ne1; r += 16) spc__repack_x16(w->type, dst + r * w->row_bytes, w->data + r * w->row_bytes, w->ne0);
        spc__gguf_release(m->gguf, w->data, w->row_bytes * (size_t)w->ne1);
        w->data = dst;
        w->x16 = true;
        dst += group * (size_t)(w->ne1 / 16);
    }
    if (tied) m->output = m->tok_embd;
    return SPC_OK;
}

int spc_model_load(struct spc_model **out, const char *path) {
    if (!out || !path) return spc__err(SPC_ERR_INVALID, "model: NULL argument");
    *out = NULL;
    struct spc_model *m = spc__calloc(1, sizeof *m);
    if (!m) return spc__err(SPC_ERR_NOMEM, "model: out of memory");
    int st = spc_gguf_open(&m->gguf, path);
    if (st) goto fail;
    const char *a;
    size_t alen;
    if (spc_gguf_get_str(m->gguf, "general.architecture", &a, &alen) != SPC_OK) {
        st = spc__err(SPC_ERR_FORMAT, "model: general.architecture is missing or not a string");
        goto fail;
    }
    if (alen == 0 || alen >= sizeof m->arch_name) {
        st = spc__err(SPC_ERR_FORMAT, "model: bad general.architecture");
        goto fail;
    }
    memcpy(m->arch_name, a, alen);
    if (strcmp(m->arch_name, "llama") == 0) m->arch = SPC_ARCH_LLAMA;
    else if (strcmp(m->arch_name, "qwen2") == 0) m->arch = SPC_ARCH_QWEN2;
    else if (strcmp(m->arch_name, "gemma3") == 0) m->arch = SPC_ARCH_GEMMA3;
    else {
        st = spc__err(SPC_ERR_UNSUPPORTED, "model: architecture '%s' is not supported (llama, qwen2, gemma3)",
                      m->arch_name);
        goto fail;
    }
    if ((st = load_hparams(m)) || (st = bind_weights(m)) || (st = repack_weights(m)) ||
        (st = spc__vocab_load(&m->vocab, m->gguf))) goto fail;
    *out = m;
    return SPC_OK;
fail:;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", spc_errmsg());
    spc_model_free(m);
    return spc__err(st, "%s", msg);
}

void spc_model_free(struct spc_model *m) {
    if (!m) return;
    spc__vocab_free(m->vocab);
    spc__free(m->layers);
    spc__free(m->repacked);
    spc_gguf_close(m->gguf);
    spc__free(m);
}

const struct spc_gguf *spc_model_gguf(const struct spc_model *m) { return m->gguf; }
const struct spc_vocab *spc_model_vocab(const struct spc_model *m) { return m->vocab; }
const char *spc_model_arch(const struct spc_model *m) { return m->arch_name; }
int spc_model_n_vocab(const struct spc_model *m) { return m->hp.n_vocab; }
int spc_model_n_ctx_train(const struct spc_model *m) { return m->hp.n_ctx_train; }
int spc_model_n_layer(const struct spc_model *m) { return m->hp.n_layer; }
int spc_model_n_embd(const struct spc_model *m) { return m->hp.n_embd; }
uint64_t spc_model_weight_bytes(const struct spc_model *m) { return m->weight_bytes; }
