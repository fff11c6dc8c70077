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

/* 16-row interleaved q4_K ("q4_Kx16"), made at load time for the batched kernels: 16 consecutive
 * rows of n values become n/256 groups of 2304 bytes (the same size), one per block column b:
 *   d of rows 0..15 (16 x f16), dmin of rows 0..15 (16 x f16), the 12 scale bytes as 12 planes of
 *   16 (plane k = byte k of each row), then qs as 32 chunks of 64 bytes: chunk c holds bytes
 *   4c..4c+3 of each row's qs, row after row.
 * So one 64-byte load gives 4 packed values (8 after the nibble split) of all 16 rows, and a
 * vpdpbusd against 4 broadcast activation bytes yields 16 rows' partial sums in 16 lanes. */
void spc__repack_q4_Kx16(void *dst, const void *src, int64_t n);
/* Row r (< 16) of an interleaved group back in the file's layout (n values). */
void spc__row_q4_Kx16(void *dst, const void *src, int r, int64_t n);
/* q6_K x16: n/256 groups of 3360 bytes: d of the 16 rows (16 x f16), the 16 scales as 16 planes of
 * 16 bytes, ql as 32 chunks of 64 bytes, then qh as 16 chunks of 64 (chunk c: bytes 4c..4c+3 of
 * each row's ql or qh, row after row). */
void spc__repack_q6_Kx16(void *dst, const void *src, int64_t n);
void spc__row_q6_Kx16(void *dst, const void *src, int r, int64_t n);
/* Legacy quants x16, per 32-value block column: the 16 rows' d (and for q4_1 m) as f16, then:
 *   q8_0: 8 chunks of 64 bytes, the values + 128 as unsigned bytes (544 bytes in all);
 *   q5_0: the high bits (16 words, re-ordered: quant.c), then 4 chunks of qs (352 bytes);
 *   q4_1: 4 chunks of qs (320 bytes).
 * Their kernels take q8_1-shaped activations whose s is the integer sum of the values (q8_1i), not
 * d times it, for q8_0 and q5_0 (to remove the weights' offset exactly), and plain q8_1 for q4_1. */
void spc__repack_q8_0x16(void *dst, const void *src, int64_t n);
void spc__row_q8_0x16(void *dst, const void *src, int r, int64_t n);
void spc__repack_q5_0x16(void *dst, const void *src, int64_t n);
void spc__row_q5_0x16(void *dst, const void *src, int r, int64_t n);
void spc__repack_q4_1x16(void *dst, const void *src, int64_t n);
void spc__row_q4_1x16(void *dst, const void *src, int r, int64_t n);
/* q4_0 x16: d, then 4 chunks of qs (288 bytes; q8_1i partner). q5_1 x16: d, m, the re-ordered
 * high bits, 4 chunks of qs (384 bytes; q8_1 partner). q5_K x16: q4_K's x16 layout followed by qh
 * as 8 chunks of 64 bytes (2816 bytes). */
void spc__repack_q4_0x16(void *dst, const void *src, int64_t n);
void spc__row_q4_0x16(void *dst, const void *src, int r, int64_t n);
void spc__repack_q5_1x16(void *dst, const void *src, int64_t n);
void spc__row_q5_1x16(void *dst, const void *src, int r, int64_t n);
void spc__repack_q5_Kx16(void *dst, const void *src, int64_t n);
void spc__row_q5_Kx16(void *dst, const void *src, int r, int64_t n);
/* q8_1's values and d, with s = the int16 sum of the values (reference). */
void spc__quantize_q8_1i(const float *x, void *y, int64_t n);

#endif
