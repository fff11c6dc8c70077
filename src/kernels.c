/*
 * kernels.c: picks, once, the fastest dot-product kernel per tensor type for this CPU. Types
 * without a SIMD variant use the scalar reference of quant.c through a loop over activation rows.
 * Depends on: base, quant, simd/ (declared here, compiled with their own ISA flags).
 */
#include "kernels.h"

#include "ops.h"

#include <pthread.h>
#include <stdlib.h>

/* Reference kernels as spc_dot_fn: one reference call per activation row. */
#define REF_WRAP(t, id)                                                                          \
    static void ref_##t(int n, const void *x, const void *y, size_t ys, int np, float *s, size_t ss) { \
        spc_vec_dot_fn f = spc__type_traits(id)->vec_dot;                                        \
        for (int p = 0; p < np; p++) f(n, &s[p * ss], x, (const uint8_t *)y + (size_t)p * ys);   \
    }
REF_WRAP(f32, SPC_TYPE_F32)
REF_WRAP(f16, SPC_TYPE_F16)
REF_WRAP(bf16, SPC_TYPE_BF16)
REF_WRAP(q4_0, SPC_TYPE_Q4_0)
REF_WRAP(q4_1, SPC_TYPE_Q4_1)
REF_WRAP(q5_0, SPC_TYPE_Q5_0)
REF_WRAP(q5_1, SPC_TYPE_Q5_1)
REF_WRAP(q8_0, SPC_TYPE_Q8_0)
REF_WRAP(q4_K, SPC_TYPE_Q4_K)
REF_WRAP(q5_K, SPC_TYPE_Q5_K)
REF_WRAP(q6_K, SPC_TYPE_Q6_K)

/* Every ISA's kernels that this CPU can run (tests compare each with the reference), and the
   chosen ones: per type the widest ISA that has a kernel. */
static spc_dot_fn g_tab[SPC_ISA_COUNT][SPC_TYPE_COUNT], g_dot[SPC_TYPE_COUNT], g_dot_x16[SPC_TYPE_COUNT];
static int g_mp[SPC_ISA_COUNT][SPC_TYPE_COUNT], g_maxp[SPC_TYPE_COUNT];
static const char *g_isa = "scalar";
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void choose(void) {
    for (int i = 0; i < SPC_ISA_COUNT; i++)
        for (int t = 0; t < SPC_TYPE_COUNT; t++) g_mp[i][t] = 8;
    spc_dot_fn *sc = g_tab[SPC_ISA_SCALAR];
    sc[SPC_TYPE_F32] = ref_f32;
    sc[SPC_TYPE_F16] = ref_f16;
    sc[SPC_TYPE_BF16] = ref_bf16;
    sc[SPC_TYPE_Q4_0] = ref_q4_0;
    sc[SPC_TYPE_Q4_1] = ref_q4_1;
    sc[SPC_TYPE_Q5_0] = ref_q5_0;
    sc[SPC_TYPE_Q5_1] = ref_q5_1;
    sc[SPC_TYPE_Q8_0] = ref_q8_0;
    sc[SPC_TYPE_Q4_K] = ref_q4_K;
    sc[SPC_TYPE_Q5_K] = ref_q5_K;
    sc[SPC_TYPE_Q6_K] = ref_q6_K;
    int best = SPC_ISA_SCALAR;
#if defined(__x86_64__)
    const struct spc_cpu *cpu = spc__cpu();
    if (cpu->avx2 && cpu->fma && cpu->f16c) {
        spc_dot_fn *a2 = g_tab[SPC_ISA_AVX2];
        best = SPC_ISA_AVX2;
        g_isa = "avx2";
        a2[SPC_TYPE_F32] = spc__dot_f32_avx2;
        a2[SPC_TYPE_F16] = spc__dot_f16_avx2;
        a2[SPC_TYPE_BF16] = spc__dot_bf16_avx2;
        a2[SPC_TYPE_Q4_0] = spc__dot_q4_0_avx2;
        a2[SPC_TYPE_Q4_1] = spc__dot_q4_1_avx2;
        a2[SPC_TYPE_Q5_0] = spc__dot_q5_0_avx2;
        a2[SPC_TYPE_Q5_1] = spc__dot_q5_1_avx2;
        a2[SPC_TYPE_Q8_0] = spc__dot_q8_0_avx2;
        a2[SPC_TYPE_Q4_K] = spc__dot_q4_K_avx2;
        a2[SPC_TYPE_Q5_K] = spc__dot_q5_K_avx2;
        a2[SPC_TYPE_Q6_K] = spc__dot_q6_K_avx2;
        /* interleaved kernels (the AVX-512 ones replace them below); q8_0 keeps its row kernel: its
           x16 bytes are stored + 128, too wide for vpmaddubsw's int16 sums */
        g_dot_x16[SPC_TYPE_Q4_0] = spc__dot_q4_0x16_avx2;
        g_dot_x16[SPC_TYPE_Q4_1] = spc__dot_q4_1x16_avx2;
        g_dot_x16[SPC_TYPE_Q5_0] = spc__dot_q5_0x16_avx2;
        g_dot_x16[SPC_TYPE_Q5_1] = spc__dot_q5_1x16_avx2;
        g_dot_x16[SPC_TYPE_Q4_K] = spc__dot_q4_Kx16_avx2;
        g_dot_x16[SPC_TYPE_Q5_K] = spc__dot_q5_Kx16_avx2;
        g_dot_x16[SPC_TYPE_Q6_K] = spc__dot_q6_Kx16_avx2;
        if (cpu->avx512f && cpu->avx512bw && cpu->avx512vl && cpu->avx512vnni) {
            /* row kernels for the types whose x16 kernels need rows in groups of 16, and for the
               float types; the x16 kernels for every quantized type */
            spc_dot_fn *a5 = g_tab[SPC_ISA_AVX512];
            int *mp = g_mp[SPC_ISA_AVX512];
            a5[SPC_TYPE_F32] = spc__dot_f32_avx512;
            a5[SPC_TYPE_F16] = spc__dot_f16_avx512;
            a5[SPC_TYPE_Q4_K] = spc__dot_q4_K_avx512;
            a5[SPC_TYPE_Q6_K] = spc__dot_q6_K_avx512;
            a5[SPC_TYPE_Q8_0] = spc__dot_q8_0_avx512;
            a5[SPC_TYPE_Q5_0] = spc__dot_q5_0_avx512;
            a5[SPC_TYPE_Q4_1] = spc__dot_q4_1_avx512;
            mp[SPC_TYPE_F32] = mp[SPC_TYPE_F16] = mp[SPC_TYPE_Q4_K] = mp[SPC_TYPE_Q6_K] = 16;
            if (cpu->avx512bf16) {
                a5[SPC_TYPE_BF16] = spc__dot_bf16_avx512bf16;
                mp[SPC_TYPE_BF16] = 16;
            }
            if (!getenv("SPECULA_NO_AVX512")) {
                best = SPC_ISA_AVX512;
                g_isa = cpu->avx512bf16 ? "avx512+bf16" : "avx512";
                g_dot_x16[SPC_TYPE_Q4_0] = spc__dot_q4_0x16_avx512;
                g_dot_x16[SPC_TYPE_Q4_1] = spc__dot_q4_1x16_avx512;
                g_dot_x16[SPC_TYPE_Q5_0] = spc__dot_q5_0x16_avx512;
                g_dot_x16[SPC_TYPE_Q5_1] = spc__dot_q5_1x16_avx512;
                g_dot_x16[SPC_TYPE_Q8_0] = spc__dot_q8_0x16_avx512;
                g_dot_x16[SPC_TYPE_Q4_K] = spc__dot_q4_Kx16_avx512;
                g_dot_x16[SPC_TYPE_Q5_K] = spc__dot_q5_Kx16_avx512;
                g_dot_x16[SPC_TYPE_Q6_K] = spc__dot_q6_Kx16_avx512;
            }
        }
    }
#endif
    for (int t = 0; t < SPC_TYPE_COUNT; t++)
        for (int i = best; i >= 0; i--)
            if (g_tab[i][t]) {
                g_dot[t] = g_tab[i][t];
                g_maxp[t] = g_mp[i][t];
                break;
            }
}

spc_dot_fn spc__dot_isa(uint32_t type, int isa, int *maxp) {
    pthread_once(&g_once, choose);
    if (type >= SPC_TYPE_COUNT || isa < 0 || isa >= SPC_ISA_COUNT) return NULL;
    if (maxp) *maxp = g_mp[isa][type];
    return g_tab[isa][type];
}

spc_dot_fn spc__dot(uint32_t type) {
    pthread_once(&g_once, choose);
    return type < SPC_TYPE_COUNT ? g_dot[type] : NULL;
}

spc_dot_fn spc__dot_x16(uint32_t type) {
    pthread_once(&g_once, choose);
    return type < SPC_TYPE_COUNT ? g_dot_x16[type] : NULL;
}

int spc__dot_maxp_x16(uint32_t type) { (void)type; return 8; }

uint32_t spc__x16_vec_dot_type(uint32_t type) {
    switch (type) {
    case SPC_TYPE_Q8_0: case SPC_TYPE_Q5_0: case SPC_TYPE_Q4_0: case SPC_TYPE_Q4_1: case SPC_TYPE_Q5_1:
        return SPC_TYPE_Q8_1;
    default: return spc__type_traits(type)->vec_dot_type;
    }
}

spc_from_float_fn spc__x16_quantizer(uint32_t type) {
    const struct spc_ops *ops = spc__ops();
    switch (type) {
    case SPC_TYPE_Q8_0: case SPC_TYPE_Q5_0: case SPC_TYPE_Q4_0: return ops->quantize_q8_1i;
    case SPC_TYPE_Q4_1: case SPC_TYPE_Q5_1: return ops->quantize_q8_1;
    case SPC_TYPE_Q4_K: case SPC_TYPE_Q5_K: case SPC_TYPE_Q6_K: return ops->quantize_q8_K;
    default: return NULL;
    }
}

int spc__dot_maxp(uint32_t type) {
    pthread_once(&g_once, choose);
    return type < SPC_TYPE_COUNT ? g_maxp[type] : 1;
}

const char *spc__kernel_isa(void) {
    pthread_once(&g_once, choose);
    return g_isa;
}
