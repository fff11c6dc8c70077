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
    spc_from_float_fn quant;    /* activations to the kernel's partner type (NULL: f32 as is) */
    spc_dot_fn dot;
    int rstep;          /* rows per kernel call: 1, or 16 for interleaved (x16) weights */
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
    for (int p = ith; p < t->n_pos; p += nth)
        t->quant(t->x + (size_t)p * t->w->ne0, (uint8_t *)t->qx + (size_t)p * t->qrow, t->w->ne0);
}

/* The partner type and quantizer of a weight's kernel. */
static uint32_t partner(const struct spc_w *w, spc_from_float_fn *q) {
    uint32_t vdt = w->x16 ? spc__x16_vec_dot_type(w->type) : spc__type_traits(w->type)->vec_dot_type;
    *q = vdt == SPC_TYPE_F32 ? NULL : w->x16 ? spc__x16_quantizer(w->type) : quantizer(vdt);
    return vdt;
}

/* Rows are walked in tiles: for a tile of rows, every chunk of positions, every row of the tile.
   The tile's weights stay in L2 and a chunk's activations in L1, so a prompt of hundreds of
   positions reads each weight row from memory once and its activations from L1. */
#define ROW_TILE 32

static void dot_task(void *va, int ith, int nth) {
    struct mm_task *t = va;
    const struct spc_w *w = t->w;
    const int64_t ng = w->ne1 / t->rstep, r0 = ng * ith / nth * t->rstep, r1 = ng * (ith + 1) / nth * t->rstep;
    int n = (int)w->ne0, rstep = t->rstep;
    for (int64_t rt = r0; rt < r1; rt += ROW_TILE) {
        int64_t rt1 = rt + ROW_TILE < r1 ? rt + ROW_TILE : r1;
        for (int p = 0; p < t->n_pos; p += t->chunk) {
            int np = t->n_pos - p < t->chunk ? t->n_pos - p : t->chunk;
            const uint8_t *qx = t->qx + (size_t)p * t->qrow;
            for (int64_t r = rt; r < rt1; r += rstep)
                t->dot(n, w->data + (size_t)r * w->row_bytes, qx, t->qrow, np, &t->y[(size_t)p * w->ne1 + r],
                       (size_t)w->ne1);
        }
    }
}

struct mm_multi { struct mm_task *t; int nw; };

static void multi_dot_task(void *va, int ith, int nth) {
    struct mm_multi *m = va;
    for (int i = 0; i < m->nw; i++) dot_task(&m->t[i], ith, nth);
}

void spc__matmul_n(struct spc_pool *pool, const struct spc_w *const *ws, float *const *ys, int nw,
                   const float *x, int n_pos, void *scratch) {
    struct mm_task t[SPC_MATMUL_MAXW];
    spc_from_float_fn q0, qi;
    uint32_t vdt = partner(ws[0], &q0);
    for (int i = 1; i < nw; i++)
        if (partner(ws[i], &qi) != vdt || qi != q0 || ws[i]->ne0 != ws[0]->ne0 || nw > SPC_MATMUL_MAXW) {
            for (int j = 0; j < nw; j++) spc__matmul_n(pool, &ws[j], &ys[j], 1, x, n_pos, scratch);
            return;
        }
    for (int i = 0; i < nw; i++) {
        bool x16 = ws[i]->x16;
        int maxp = x16 ? spc__dot_maxp_x16(ws[i]->type) : spc__dot_maxp(ws[i]->type);
        int n_chunks = (n_pos + maxp - 1) / maxp;
        t[i] = (struct mm_task){ ws[i], x, n_pos, ys[i], NULL, 0, q0, x16 ? spc__dot_x16(ws[i]->type) : spc__dot(ws[i]->type),
                                 x16 ? 16 : 1, (n_pos + n_chunks - 1) / n_chunks };
        if (vdt == SPC_TYPE_F32) {
            t[i].qx = (const uint8_t *)x;
            t[i].qrow = (size_t)ws[i]->ne0 * 4;
        } else {
            t[i].qx = scratch;
            t[i].qrow = spc__row_size(vdt, ws[i]->ne0);
        }
    }
    if (vdt != SPC_TYPE_F32) {          /* one quantization of x serves every weight */
        if (n_pos == 1) quantize_task(&t[0], 0, 1);
        else spc__pool_run(pool, quantize_task, &t[0]);
    }
    struct mm_multi m = { t, nw };
    spc__pool_run(pool, multi_dot_task, &m);
}

void spc__matmul(struct spc_pool *pool, const struct spc_w *w, const float *x, int n_pos, float *y,
                 void *scratch) {
    spc__matmul_n(pool, &w, &y, 1, x, n_pos, scratch);
}

void spc__get_row(const struct spc_w *w, int64_t row, float *out) {
    const struct spc_type_traits *tr = spc__type_traits(w->type);
    if (w->x16) {           /* tied embeddings, interleaved for the output matmul: block by block */
        uint8_t blk[256];
        const uint8_t *g = w->data + (size_t)(row & ~(int64_t)15) * w->row_bytes;
        for (int64_t b = 0; b < w->ne0 / tr->blck; b++) {
            spc__row_x16(w->type, blk, g + (size_t)b * 16 * tr->type_size, (int)(row & 15), tr->blck);
            tr->to_float(blk, out + b * tr->blck, tr->blck);
        }
        return;
    }
    spc__type_traits(w->type)->to_float(w->data + (size_t)row * w->row_bytes, out, w->ne0);
}
