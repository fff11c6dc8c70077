/*
 * base.h: the bottom layer shared by every module: allocation through the hook, the thread-local
 * error message, logging through the callback, fp16/bf16 conversion, a small RNG, CPU features.
 * Depends on nothing but libc. Internal: not part of the public API.
 */
#ifndef SPC_BASE_H
#define SPC_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "specula.h"

void *spc__alloc(size_t size);
void *spc__calloc(size_t n, size_t size);     /* zeroed; overflow-checked */
void *spc__realloc(void *p, size_t size);
void spc__free(void *p);
char *spc__strndup(const char *s, size_t n);
/* Asks for transparent huge pages over the whole 2 MiB pages inside [p, p + n), where the system
   offers them (large buffers streamed every pass: fewer TLB misses). */
void spc__advise_huge(void *p, size_t n);

/* Records the message and returns status, so callers can `return spc__err(...)`. */
int spc__err(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void spc__log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* fp16 <-> fp32, exact IEEE conversion (round to nearest even on the way down). */
extern float spc__f16_table[65536];
void spc__init_tables(void);        /* idempotent, thread-safe */
static inline float spc__f16_to_f32(uint16_t h) { return spc__f16_table[h]; }
uint16_t spc__f32_to_f16(float f);
float spc__f16_to_f32_slow(uint16_t h);
static inline float spc__bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
uint16_t spc__f32_to_bf16(float f);

/* xoshiro256** seeded by splitmix64: reproducible across platforms. */
struct spc_rng { uint64_t s[4]; };
void spc__rng_seed(struct spc_rng *r, uint64_t seed);
uint64_t spc__rng_next(struct spc_rng *r);
double spc__rng_uniform(struct spc_rng *r);   /* [0,1) with 53 bits */

/* CPU features, detected once. */
struct spc_cpu { bool avx2, fma, f16c, avx512f, avx512bw, avx512vl, avx512vnni, avx512bf16; };
const struct spc_cpu *spc__cpu(void);

static inline int64_t spc__min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t spc__max64(int64_t a, int64_t b) { return a > b ? a : b; }

#endif
