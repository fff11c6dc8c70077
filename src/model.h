/*
 * model.h: internal model representation: hyperparameters read from GGUF metadata, weights bound
 * by name to mmapped tensors, the vocabulary. Immutable after load.
 * Depends on: base, gguf, quant, vocab.
 */
#ifndef SPC_MODEL_H
#define SPC_MODEL_H

#include "base.h"
#include "gguf.h"
#include "quant.h"

#define SPC_MAX_LAYERS 512

enum spc_arch { SPC_ARCH_LLAMA, SPC_ARCH_QWEN2, SPC_ARCH_GEMMA3 };
enum spc_rope { SPC_ROPE_NORM, SPC_ROPE_NEOX };

/* A weight: rows of ne0 values, ne1 rows. */
struct spc_w {
    uint32_t type;
    int64_t ne0, ne1;
    size_t row_bytes;
    const uint8_t *data;
    bool x16;           /* rows interleaved in groups of 16 (quant.h) for the batched kernels:
                           only matmul reads it; row r's group still starts at data + r * row_bytes */
};

struct spc_layer {
    struct spc_w attn_norm, wq, wk, wv, wo, bq, bk, bv;
    struct spc_w q_norm, k_norm, post_attn_norm;    /* gemma3 */
    struct spc_w ffn_norm, gate, up, down, post_ffn_norm;
    bool swa;                                       /* sliding-window layer (gemma3) */
    float rope_base, rope_scale;                    /* theta = pos * rope_scale * base^(-2i/n_rot) */
};

struct spc_hparams {
    int n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_rot;
    float eps, rope_base, rope_base_swa;
    int n_swa;                  /* sliding window (gemma3); 0: none */
    enum spc_rope rope;
    float embd_scale;           /* token embeddings are multiplied by this (gemma3: sqrt(n_embd)) */
    float q_scale;              /* queries are multiplied by this before attention */
};

struct spc_vocab;

struct spc_model {
    struct spc_gguf *gguf;
    enum spc_arch arch;
    char arch_name[32];
    struct spc_hparams hp;
    struct spc_w tok_embd, output_norm, output;
    struct spc_layer *layers;
    struct spc_vocab *vocab;
    uint64_t weight_bytes;
    void *repacked;             /* the x16 copies of the weights that have them */
};

/* Vocabulary (vocab.c). */
int spc__vocab_load(struct spc_vocab **out, const struct spc_gguf *g);
/* spc_ctx_new, but running on pool_owner's thread pool (NULL: a pool of its own). For a drafter
 * that runs on the same thread as its target, so two pools never spin against each other. */
int spc__ctx_new_sharing(struct spc_ctx **out, const struct spc_model *m, const struct spc_ctx_params *p,
                         struct spc_ctx *pool_owner);
/* spc__ctx_new_sharing with room for a view of up to view_max slots of another context. */
int spc__ctx_new_view(struct spc_ctx **out, const struct spc_model *m, const struct spc_ctx_params *p,
                      struct spc_ctx *pool_owner, int view_max);
/* Sequence 0 of c attends first to slots[0..n) (ascending) of sequence seq of src, a context of the
 * same model and KV type, then to its own cache. Neither src nor slots (kept, not copied) may
 * change while the view is set; src NULL: no view. The positions of c's own tokens are c's as
 * usual (spc__ctx_set_next_pos for the first). Self-speculation drafts this way on the target's
 * cache (a full, windowed or retrieved view of it). */
int spc__ctx_set_view(struct spc_ctx *c, const struct spc_ctx *src, int seq, const int32_t *slots, int n);
/* Attention statistics: while chunk > 0, every forward adds the attention probability that sequence
 * 0's cached keys from slot `from` on receive (all layers, heads and positions of the batch) to a
 * sum per chunk of slots (peak: each head and position adds its largest probability in the chunk,
 * so a head that attends to one place counts and one that spreads thin hardly does);
 * spc__ctx_att_take copies up to n chunk sums into out, clears them and returns how many. chunk 0
 * stops collecting. */
int spc__ctx_att_collect(struct spc_ctx *c, int chunk, int from, bool peak);
/* For the next forward only: sequence 0's first position is pos (instead of one after the last
 * slot's); a drafter whose cache holds evicted history passes the true position this way. */
void spc__ctx_set_next_pos(struct spc_ctx *c, int pos);
/* For the next forward only: the batch (one chain of sequence 0) takes the given positions, one per
 * batch entry, strictly ascending, and each run of consecutive positions attends to the cached keys
 * of earlier positions and to the batch entries before it. No cached key may have a position inside
 * a run. A drafter re-inserts evicted stretches of its history this way in the same pass as the
 * tokens it catches up on (pos is kept, not copied, until that forward). */
void spc__ctx_set_next_positions(struct spc_ctx *c, const int32_t *pos);
int spc__ctx_att_take(struct spc_ctx *c, float *out, int n);
int spc__ctx_n_logits(const struct spc_ctx *c);
int spc__ctx_n_batch(const struct spc_ctx *c);
/* How many leading logits a forward computes (the rest read -inf): logits_vocab rounded, or n_vocab. */
int spc__ctx_logits_width(const struct spc_ctx *c);
/* The K (kv = 0) or V (kv = 1) row of KV head kvh at (seq, layer, slot) and its size; NULL past the
 * sequence's length. For tests (KV after rollback equals KV after a fresh prefill). */
const void *spc__ctx_kv_row(const struct spc_ctx *c, int kv, int seq, int il, int kvh, int slot, size_t *bytes);
/* One position's K and V over all layers and KV heads: spc__ctx_kv_pos_bytes bytes, which
 * spc__kv_get copies out of a slot and spc__kv_put appends as a new last slot (token tok at position
 * pos). A drafter keeps evicted stretches of its cache this way and brings them back without
 * re-forwarding them (the rows carry RoPE at their positions, so they must return to the same). */
size_t spc__ctx_kv_pos_bytes(const struct spc_ctx *c);
int spc__kv_get(const struct spc_ctx *c, int seq, int slot, void *dst);
int spc__kv_put(struct spc_ctx *c, int seq, const void *src, int32_t tok, int32_t pos);
void spc__vocab_free(struct spc_vocab *v);

#endif
