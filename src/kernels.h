/*
 * kernels.h: the dot-product kernels the matmul calls, chosen once for this CPU.
 * A kernel computes one weight row against up to spc__dot_maxp(type) activation rows (each of the weight
 * type's partner type) in one call: s[p * ss] = dot(x, row p of y), rows ys bytes apart. The bits
 * of s[p * ss] must not depend on np (bit-identity across batch sizes); tests check this.
 * Depends on: base, quant.
 */
#ifndef SPC_KERNELS_H
#define SPC_KERNELS_H

#include "quant.h"

#define SPC_MAXP 16      /* the most activation rows any kernel takes; spc__dot_maxp() per type */

typedef void (*spc_dot_fn)(int n, const void *x, const void *y, size_t ys, int np, float *s, size_t ss);

/* SIMD kernels (src/simd/, compiled with their own ISA flags). */
#define SPC_SIMD_DECL(isa, t) \
    void spc__dot_##t##_##isa(int n, const void *x, const void *y, size_t ys, int np, float *s, size_t ss);
#define SPC_AVX2_TYPES(X) X(avx2, f32) X(avx2, f16) X(avx2, q4_0) X(avx2, q4_1) X(avx2, q5_0) X(avx2, q8_0) \
                          X(avx2, q4_K) X(avx2, q5_K) X(avx2, q6_K) X(avx2, q5_1) X(avx2, bf16) \
                          X(avx2, q4_0x16) X(avx2, q5_0x16) X(avx2, q4_1x16) X(avx2, q5_1x16) \
                          X(avx2, q4_Kx16) X(avx2, q5_Kx16) X(avx2, q6_Kx16)
#define SPC_AVX512_TYPES(X) X(avx512, q4_Kx16) X(avx512, q6_Kx16) X(avx512, q8_0x16) \
                            X(avx512, q5_0x16) X(avx512, q4_1x16) X(avx512, q4_0x16) X(avx512, q5_1x16) \
                            X(avx512, q5_Kx16) X(avx512, f32) X(avx512, f16) X(avx512bf16, bf16) X(avx512, q4_K) \
                            X(avx512, q6_K) X(avx512, q8_0) X(avx512, q5_0) X(avx512, q4_1)
SPC_AVX2_TYPES(SPC_SIMD_DECL)
SPC_AVX512_TYPES(SPC_SIMD_DECL)

/* The kernel for a weight type on this CPU (the scalar reference where no SIMD variant exists, or
 * when SPECULA_NO_SIMD is set). */
spc_dot_fn spc__dot(uint32_t type);
/* The kernel for 16 interleaved rows of a type (quant.h's x16 layouts), NULL where this CPU has
 * none: s[p * ss + r] = dot(row r, activation row p) for r < 16, up to spc__dot_maxp_x16() rows p
 * per call. spc__repack_x16 (quant.h) makes the layout from 16 rows of n values. */
spc_dot_fn spc__dot_x16(uint32_t type);
/* The activation type the x16 kernel of a type takes and its quantizer (q8_0 and q5_0 take q8_1i,
 * quant.h, where their row kernels take q8_0). */
uint32_t spc__x16_vec_dot_type(uint32_t type);
spc_from_float_fn spc__x16_quantizer(uint32_t type);
int spc__dot_maxp_x16(uint32_t type);
/* One ISA's kernel for a type (and its most activation rows), NULL where that ISA has none or this
 * CPU lacks it: for tests, which compare every ISA the machine has with the reference. */
enum { SPC_ISA_SCALAR, SPC_ISA_AVX2, SPC_ISA_AVX512, SPC_ISA_COUNT };
spc_dot_fn spc__dot_isa(uint32_t type, int isa, int *maxp);
/* The most activation rows the kernel of a type takes in one call (8, or 16 where registers allow). */
int spc__dot_maxp(uint32_t type);
/* The name of the instruction set the kernels use ("avx2", "scalar"). */
const char *spc__kernel_isa(void);

#endif
