/*
 * quant.h: tensor element types: block layouts (as ggml stores them in GGUF), a traits table, and
 * the scalar reference kernels (dequantize, quantize activations, dot product) that every SIMD
 * kernel is tested against. Depends on: base.
 */
#ifndef SPC_QUANT_H
#define SPC_QUANT_H

#include "base.h"

#define QK 32       /* block size of the legacy quants */
#define QK_K 256    /* super-block size of the k-quants */

struct block_q4_0 { uint16_t d; uint8_t qs[QK / 2]; };
struct block_q4_1 { uint16_t d, m; uint8_t qs[QK / 2]; };
struct block_q5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[QK / 2]; };
struct block_q5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[QK / 2]; };
struct block_q8_0 { uint16_t d; int8_t qs[QK]; };
struct block_q8_1 { uint16_t d, s; int8_t qs[QK]; };     /* s = d * sum(qs) */
struct block_q4_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[QK_K / 2]; };
struct block_q5_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; };
struct block_q6_K { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; uint16_t d; };
struct block_q8_K { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; };

_Static_assert(sizeof(struct block_q4_0) == 18, "q4_0");
_Static_assert(sizeof(struct block_q4_1) == 20, "q4_1");
_Static_assert(sizeof(struct block_q5_0) == 22, "q5_0");
_Static_assert(sizeof(struct block_q5_1) == 24, "q5_1");
_Static_assert(sizeof(struct block_q8_0) == 34, "q8_0");
_Static_assert(sizeof(struct block_q8_1) == 36, "q8_1");
_Static_assert(sizeof(struct block_q4_K) == 144, "q4_K");
_Static_assert(sizeof(struct block_q5_K) == 176, "q5_K");
_Static_assert(sizeof(struct block_q6_K) == 210, "q6_K");
_Static_assert(sizeof(struct block_q8_K) == 292, "q8_K");

/* s = dot(x, y) over n values; x is a row of the weight type, y of its vec_dot_type. */
typedef void (*spc_vec_dot_fn)(int n, float *s, const void *x, const void *y);
typedef void (*spc_to_float_fn)(const void *x, float *y, int64_t n);
typedef void (*spc_from_float_fn)(const float *x, void *y, int64_t n);

struct spc_type_traits {
    const char *name;
    int blck;                   /* values per block */
    size_t type_size;           /* bytes per block */
    bool supported;             /* false: size known (so files parse) but no kernels */
    uint32_t vec_dot_type;      /* activations are converted to this type for dot products */
    spc_to_float_fn to_float;
    spc_from_float_fn from_float;
    spc_vec_dot_fn vec_dot;     /* scalar reference */
};

/* NULL for an id that is not a known type. */
const struct spc_type_traits *spc__type_traits(uint32_t type);
static inline size_t spc__row_size(uint32_t type, int64_t n) {
    const struct spc_type_traits *t = spc__type_traits(type);
    return (size_t)(n / t->blck) * t->type_size;
}

/* Reference kernels, exposed for tests and the dev lab. */
void spc__quantize_q8_0(const float *x, void *y, int64_t n);
void spc__quantize_q8_1(const float *x, void *y, int64_t n);
void spc__quantize_q8_K(const float *x, void *y, int64_t n);
/* Reference quantizers for weight types (round to nearest; used to make test data). */
void spc__quantize_ref(uint32_t type, const float *x, void *y, int64_t n);

/* 16-row interleaved layouts ("x16"), made at load time for the batched kernels: 16 consecutive
 * rows of n values become one group per block column, of 16 blocks' size. The group holds each
 * block field of the 16 rows in turn, spread in chunks (quant.c, x16_layout): the f16 fields side
 * by side (16 x f16), the K-quants' scale bytes as planes of 16 (plane k = byte k of each row), and
 * the quants as chunks of 64 bytes, chunk c holding bytes 4c..4c+3 of each row, row after row.
 * So one 64-byte load gives 4 packed values (8 after a nibble split) of all 16 rows, and a vpdpbusd
 * against 4 broadcast activation bytes yields 16 rows' partial sums in 16 lanes (AVX2: vpmaddubsw on
 * each 32-byte half, 8 rows, 2 int16 lanes a row). Two changes to the
 * bytes: q8_0's values are stored + 128 (unsigned), and q5_0/q5_1's high bits are re-ordered so
 * that chunk c's bits are one shift away.
 *   q4_0: d | qs;  q4_1: d | m | qs;  q5_0: d | qh | qs;  q5_1: d | m | qh | qs;  q8_0: d | qs;
 *   q4_K: d | dmin | scales | qs;  q5_K: d | dmin | scales | qs | qh;  q6_K: d | scales | ql | qh.
 * The legacy kernels take q8_1-shaped activations: q8_0, q4_0 and q5_0 with s the integer sum of
 * the values (q8_1i, to remove the weights' offset exactly), q4_1 and q5_1 plain q8_1. */
void spc__repack_x16(uint32_t type, void *dst, const void *src, int64_t n);
/* Row r (< 16) of an interleaved group back in the file's layout (n values). */
void spc__row_x16(uint32_t type, void *dst, const void *src, int r, int64_t n);
/* q8_1's values and d, with s = the int16 sum of the values (reference). */
void spc__quantize_q8_1i(const float *x, void *y, int64_t n);

#endif
