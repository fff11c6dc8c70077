/*
 * matmul.c: see matmul.h. Rows are split across the pool's threads in contiguous ranges; each
 * thread walks its rows in tiles (see dot_task), so a weight row is read from memory once per
 * batch and reused from cache for the other positions.
 */
#include "matmul.h"

#include "kernels.h"
#include "ops.h"

size_t spc__matmul_scratch(int64_t ne0, int n_pos) {
    /* q8_1 (36 bytes per 32) is the widest partner format; f32 needs 4 bytes a value */
    size_t per = (size_t)ne0 * 4;
    return per * (size_t)n_pos + 64;
}

struct mm_task {
    const struct spc_w *w;
    const float *x;
    int n_pos;
    float *y;
    const uint8_t *qx;
    size_t qrow;
    spc_dot_fn dot;
    int chunk;          /* positions per kernel call: n_pos split into equal chunks of <= maxp */
};

/* The activation quantizer for a partner type: the SIMD version of the reference, same bits. */
static spc_from_float_fn quantizer(uint32_t vdt) {
    const struct spc_ops *ops = spc__ops();
    switch (vdt) {
    case SPC_TYPE_Q8_0: return ops->quantize_q8_0;
    case SPC_TYPE_Q8_1: return ops->quantize_q8_1;
    case SPC_TYPE_Q8_K: return ops->quantize_q8_K;
    default: return spc__type_traits(vdt)->from_float;
    }
}

static void quantize_task(void *va, int ith, int nth) {
    struct mm_task *t = va;
    spc_from_float_fn q = quantizer(spc__type_traits(t->w->type)->vec_dot_type);
    for (int p = ith; p < t->n_pos; p += nth)
        q(t->x + (size_t)p * t->w->ne0, (uint8_t *)t->qx + (size_t)p * t->qrow, t->w->ne0);
}

/* Rows are walked in tiles: for a tile of rows, every chunk of positions, every row of the tile.
   The tile's weights stay in L2 and a chunk's activations in L1, so a prompt of hundreds of
   positions reads each weight row from memory once and its activations from L1. */
#define ROW_TILE 32

static void dot_task(void *va, int ith, int nth) {
    struct mm_task *t = va;
    const struct spc_w *w = t->w;
    int64_t r0 = w->ne1 * ith / nth, r1 = w->ne1 * (ith + 1) / nth;
    int n = (int)w->ne0;
    for (int64_t rt = r0; rt < r1; rt += ROW_TILE) {
        int64_t rt1 = rt + ROW_TILE < r1 ? rt + ROW_TILE : r1;
        for (int p = 0; p < t->n_pos; p += t->chunk) {
            int np = t->n_pos - p < t->chunk ? t->n_pos - p : t->chunk;
            const uint8_t *qx = t->qx + (size_t)p * t->qrow;
            for (int64_t r = rt; r < rt1; r++)
                t->dot(n, w->data + (size_t)r * w->row_bytes, qx, t->qrow, np, &t->y[(size_t)p * w->ne1 + r],
                       (size_t)w->ne1);
        }
    }
}

void spc__matmul(struct spc_pool *pool, const struct spc_w *w, const float *x, int n_pos, float *y,
                 void *scratch) {
    const struct spc_type_traits *tr = spc__type_traits(w->type);
    int maxp = spc__dot_maxp(w->type), n_chunks = (n_pos + maxp - 1) / maxp;
    struct mm_task t = { w, x, n_pos, y, NULL, 0, spc__dot(w->type), (n_pos + n_chunks - 1) / n_chunks };
    if (tr->vec_dot_type == SPC_TYPE_F32) {
        t.qx = (const uint8_t *)x;
        t.qrow = (size_t)w->ne0 * 4;
    } else {
        t.qx = scratch;
        t.qrow = spc__row_size(tr->vec_dot_type, w->ne0);
        if (n_pos == 1) quantize_task(&t, 0, 1);
        else spc__pool_run(pool, quantize_task, &t);
    }
    spc__pool_run(pool, dot_task, &t);
}

void spc__get_row(const struct spc_w *w, int64_t row, float *out) {
    spc__type_traits(w->type)->to_float(w->data + (size_t)row * w->row_bytes, out, w->ne0);
}
