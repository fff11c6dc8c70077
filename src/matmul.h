/*
 * matmul.h: y = W x for a batch of positions, the one hot operation of the forward pass.
 * Activations are first converted to the weight type's partner (vec_dot_type: q8_0, q8_1, q8_K
 * or f32), then every (row, position) pair is one call of the dot kernel, so a position's result
 * never depends on which other positions share the batch (bit-identity).
 * Depends on: base, quant, pool, model (struct spc_w).
 */
#ifndef SPC_MATMUL_H
#define SPC_MATMUL_H

#include "model.h"
#include "pool.h"

/* Bytes of scratch that spc__matmul needs for n_pos positions of ne0 values. */
size_t spc__matmul_scratch(int64_t ne0, int n_pos);
/* y[p * w->ne1 + r] = dot(row r of w, x[p * w->ne0 ...]) for p < n_pos. */
void spc__matmul(struct spc_pool *pool, const struct spc_w *w, const float *x, int n_pos, float *y,
                 void *scratch);
/* The same for up to SPC_MATMUL_MAXW weights that read the same input (q/k/v, gate/up): the input
 * is quantized once and all of them go through one dispatch of the pool. */
#define SPC_MATMUL_MAXW 4
void spc__matmul_n(struct spc_pool *pool, const struct spc_w *const *ws, float *const *ys, int nw,
                   const float *x, int n_pos, void *scratch);
/* One row of a weight as floats (embedding lookup). */
void spc__get_row(const struct spc_w *w, int64_t row, float *out);

#endif
