/*
 * base.c: allocation hook, error messages, logging, fp16 tables, RNG, CPU feature detection.
 * Invariant: nothing here prints, exits or aborts.
 */
#include "base.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

/* ---- allocation ---- */

static void *default_alloc(void *ud, size_t n) { (void)ud; return malloc(n); }
static void *default_realloc(void *ud, void *p, size_t n) { (void)ud; return realloc(p, n); }
static void default_free(void *ud, void *p) { (void)ud; free(p); }

static struct spc_allocator g_alloc = { default_alloc, default_realloc, default_free, NULL };

void spc_set_allocator(const struct spc_allocator *a) {
    if (a && a->alloc && a->realloc && a->free) g_alloc = *a;
    else g_alloc = (struct spc_allocator){ default_alloc, default_realloc, default_free, NULL };
}

void *spc__alloc(size_t size) { return g_alloc.alloc(g_alloc.ud, size ? size : 1); }

void spc__advise_huge(void *p, size_t n) {
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t h0 = ((uintptr_t)p + huge - 1) & ~(huge - 1), h1 = ((uintptr_t)p + n) & ~(huge - 1);
    if (p && h1 > h0) madvise((void *)h0, h1 - h0, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

void *spc__calloc(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    void *p = spc__alloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

void *spc__realloc(void *p, size_t size) { return g_alloc.realloc(g_alloc.ud, p, size ? size : 1); }

void spc__free(void *p) { if (p) g_alloc.free(g_alloc.ud, p); }

char *spc__strndup(const char *s, size_t n) {
    char *d = spc__alloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

/* ---- status and errors ---- */

const char *spc_status_str(int status) {
    switch (status) {
#define SPC_X_CASE(name, val, str) case val: return str;
        SPC_STATUS_LIST(SPC_X_CASE)
#undef SPC_X_CASE
    }
    return "unknown status";
}

static _Thread_local char t_errmsg[512];

const char *spc_errmsg(void) { return t_errmsg; }

int spc__err(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t_errmsg, sizeof t_errmsg, fmt, ap);
    va_end(ap);
    return status;
}

/* ---- logging ---- */

static spc_log_fn g_log_fn;
static void *g_log_ud;

void spc_set_log(spc_log_fn fn, void *ud) { g_log_fn = fn; g_log_ud = ud; }

void spc__log(int level, const char *fmt, ...) {
    if (!g_log_fn) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g_log_fn(level, buf, g_log_ud);
}

/* ---- fp16 / bf16 ---- */

float spc__f16_table[65536];
static pthread_once_t g_tables_once = PTHREAD_ONCE_INIT;

float spc__f16_to_f32_slow(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else {                                    /* subnormal: normalize */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t spc__f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffff;
    if (absx >= 0x7f800000) return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000 ? 0x200 : 0));
    if (absx >= 0x477ff000) return (uint16_t)(sign | 0x7c00);          /* overflow -> inf */
    if (absx < 0x38800000) {                                            /* subnormal or zero */
        if (absx < 0x33000000) return (uint16_t)sign;
        uint32_t e = absx >> 23, m = (absx & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e;                                       /* 14..24 */
        uint32_t half = m >> shift, rem = m & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = ((absx - 0x38000000) >> 13), rem = absx & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

uint16_t spc__f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 64);   /* quiet NaN */
    return (uint16_t)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

static void init_tables_once(void) {
    for (uint32_t i = 0; i < 65536; i++) spc__f16_table[i] = spc__f16_to_f32_slow((uint16_t)i);
}

void spc__init_tables(void) { pthread_once(&g_tables_once, init_tables_once); }

/* ---- rng ---- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void spc__rng_seed(struct spc_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t spc__rng_next(struct spc_rng *r) {
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
    return out;
}

double spc__rng_uniform(struct spc_rng *r) { return (double)(spc__rng_next(r) >> 11) * 0x1.0p-53; }

/* ---- cpu features ---- */

static struct spc_cpu g_cpu;
static pthread_once_t g_cpu_once = PTHREAD_ONCE_INIT;

static void detect_cpu(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    bool osxsave = c & (1u << 27);
    g_cpu.fma = c & (1u << 12);
    g_cpu.f16c = c & (1u << 29);
    if (!osxsave) return;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    bool ymm = (xlo & 6) == 6, zmm = (xlo & 0xe6) == 0xe6;
    if (!ymm) { g_cpu.fma = g_cpu.f16c = false; return; }
    if (__get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    g_cpu.avx2 = b & (1u << 5);
    if (zmm) {
        g_cpu.avx512f = b & (1u << 16);
        g_cpu.avx512bw = b & (1u << 30);
        g_cpu.avx512vl = b & (1u << 31);
        g_cpu.avx512vnni = c & (1u << 11);
        __cpuid_count(7, 1, a, b, c, d);
        g_cpu.avx512bf16 = a & (1u << 5);
    }
#endif
}

const struct spc_cpu *spc__cpu(void) {
    pthread_once(&g_cpu_once, detect_cpu);
    if (getenv("SPECULA_NO_SIMD")) {            /* force the scalar reference everywhere */
        static const struct spc_cpu none;
        return &none;
    }
    return &g_cpu;
}
