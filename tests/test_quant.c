/*
 * test_quant.c: every tensor type's scalar reference: dequantization of hand-built blocks with
 * known values, quantize/dequantize round trips, and dot products against the dequantized
 * floats; fp16/bf16 conversion; each SIMD kernel against the reference on random data.
 */
#include "test.h"

#include <math.h>

#include "base.h"
#include "kernels.h"
#include "ops.h"
#include "quant.h"

static const uint32_t TYPES[] = { SPC_TYPE_F32, SPC_TYPE_F16, SPC_TYPE_BF16, SPC_TYPE_Q4_0, SPC_TYPE_Q4_1,
                                  SPC_TYPE_Q5_0, SPC_TYPE_Q5_1, SPC_TYPE_Q8_0, SPC_TYPE_Q4_K, SPC_TYPE_Q5_K,
                                  SPC_TYPE_Q6_K };
#define N_TYPES (sizeof TYPES / sizeof *TYPES)

TEST(fp16_conversion) {
    spc__init_tables();
    CHECK(spc__f32_to_f16(1.0f) == 0x3c00);
    CHECK(spc__f32_to_f16(-2.0f) == 0xc000);
    CHECK(spc__f32_to_f16(65504.0f) == 0x7bff);
    CHECK(spc__f32_to_f16(1e6f) == 0x7c00);
    CHECK(spc__f32_to_f16(5.9604645e-8f) == 0x0001);         /* smallest subnormal */
    CHECK(spc__f16_to_f32(0x0001) == 5.9604645e-8f);
    CHECK(spc__f16_to_f32(0x3555) == 0.333251953125f);
    for (uint32_t h = 0; h < 65536; h++) {                    /* every finite half round-trips */
        if ((h & 0x7c00) == 0x7c00) continue;
        CHECK_MSG(spc__f32_to_f16(spc__f16_to_f32((uint16_t)h)) == h || (h == 0x8000), "h=%04x", h);
    }
    CHECK(spc__f32_to_f16(1.0f + 1.0f / 2048) == 0x3c00);    /* tie to even */
    CHECK(spc__f32_to_f16(1.0f + 3.0f / 2048) == 0x3c02);
    CHECK(spc__f32_to_bf16(1.0f) == 0x3f80);
    CHECK(spc__bf16_to_f32(0x4049) == 3.140625f);
}

TEST(known_blocks) {
    spc__init_tables();
    float y[256];
    struct block_q4_0 b40 = { spc__f32_to_f16(0.5f), { 0 } };
    for (int j = 0; j < 16; j++) b40.qs[j] = (uint8_t)(j | ((15 - j) << 4));
    spc__type_traits(SPC_TYPE_Q4_0)->to_float(&b40, y, 32);
    CHECK(y[0] == -4.0f && y[15] == 3.5f && y[16] == 3.5f && y[31] == -4.0f);
    struct block_q4_1 b41 = { spc__f32_to_f16(2.0f), spc__f32_to_f16(-1.0f), { 0 } };
    b41.qs[3] = 0x52;
    spc__type_traits(SPC_TYPE_Q4_1)->to_float(&b41, y, 32);
    CHECK(y[3] == 3.0f && y[19] == 9.0f && y[0] == -1.0f);
    struct block_q5_0 b50 = { spc__f32_to_f16(1.0f), { 0x01, 0, 0, 0x80 }, { 0 } };
    b50.qs[0] = 0x33;
    b50.qs[15] = 0xf0;
    spc__type_traits(SPC_TYPE_Q5_0)->to_float(&b50, y, 32);
    CHECK(y[0] == 3.0f);            /* 3 | 16 - 16 */
    CHECK(y[16] == -13.0f);         /* 3 - 16 */
    CHECK(y[31] == 15.0f);          /* 15 | 16 (bit 31) - 16 */
    CHECK(y[15] == -16.0f);
    struct block_q8_0 b80 = { spc__f32_to_f16(0.25f), { 0 } };
    b80.qs[5] = -128;
    b80.qs[6] = 127;
    spc__type_traits(SPC_TYPE_Q8_0)->to_float(&b80, y, 32);
    CHECK(y[5] == -32.0f && y[6] == 31.75f);
    /* q4_K: sub-block 0 scale 2 min 1, sub-block 5 scale 33 min 17 (6-bit packing) */
    struct block_q4_K k4;
    memset(&k4, 0, sizeof k4);
    k4.d = spc__f32_to_f16(1.0f);
    k4.dmin = spc__f32_to_f16(0.5f);
    k4.scales[0] = 2;
    k4.scales[4] = 1;
    k4.scales[9] = (33 & 0xf) | ((17 & 0xf) << 4);
    k4.scales[1] |= (33 >> 4) << 6;
    k4.scales[5] |= (17 >> 4) << 6;
    k4.qs[0] = 0x07;                 /* value 0 (low nibble, group 0) = 7 */
    k4.qs[64 + 3] = 0x90;            /* group 2: value 128+32+3 (sub-block 5) = 9 */
    spc__type_traits(SPC_TYPE_Q4_K)->to_float(&k4, y, 256);
    CHECK(y[0] == 2 * 7 - 0.5f);
    CHECK(y[163] == 33 * 9 - 0.5f * 17);
    CHECK(y[1] == -0.5f);
    /* q6_K: value 0 = ql low nibble 5 | qh bits 2 -> 37 - 32 = 5, scale 3, d 0.5 */
    struct block_q6_K k6;
    memset(&k6, 0, sizeof k6);
    k6.d = spc__f32_to_f16(0.5f);
    for (int g = 0; g < 16; g++) k6.scales[g] = (int8_t)(g == 0 ? 3 : -1);
    k6.ql[0] = 0x05;
    k6.qh[0] = 0x02;
    spc__type_traits(SPC_TYPE_Q6_K)->to_float(&k6, y, 256);
    CHECK(y[0] == 0.5f * 3 * (0x25 - 32));
    CHECK(y[1] == 0.5f * 3 * -32);
    CHECK(y[255] == 0.5f * -1 * -32);
}

TEST(roundtrip_and_dot_reference) {
    spc__init_tables();
    enum { N = 512 };
    static float x[N], y[N], back[N];
    static uint8_t qx[N * 4], qy[N * 4];
    unsigned seed = 7;
    for (int i = 0; i < N; i++) { x[i] = test_randf(&seed); y[i] = test_randf(&seed); }
    for (size_t k = 0; k < N_TYPES; k++) {
        const struct spc_type_traits *tr = spc__type_traits(TYPES[k]);
        tr->from_float(x, qx, N);
        tr->to_float(qx, back, N);
        double err = 0, ref = 0;
        for (int i = 0; i < N; i++) { err += (x[i] - back[i]) * (x[i] - back[i]); ref += x[i] * x[i]; }
        double rel = sqrt(err / ref);
        CHECK_MSG(rel < 0.12, "%s round-trip relative error %g", tr->name, rel);
        /* dot of the quantized row with the partner-quantized activations vs the float dot of the
           dequantized row with the dequantized activations */
        const struct spc_type_traits *vt = spc__type_traits(tr->vec_dot_type);
        vt->from_float(y, qy, N);
        static float yd[N];
        vt->to_float(qy, yd, N);
        float got, want = 0;
        tr->vec_dot(N, &got, qx, qy);
        for (int i = 0; i < N; i++) want += back[i] * yd[i];
        CHECK_MSG(fabsf(got - want) <= 1e-3f * (1 + fabsf(want)), "%s dot %g vs %g", tr->name, got, want);
    }
}

/* Every SIMD kernel of every ISA this CPU has, against the scalar reference; an ISA the CPU lacks
   is reported as skipped. */
TEST(simd_matches_reference) {
    spc__init_tables();
    enum { N = 1024, P = SPC_MAXP };
    static float x[N], y[P][N];
    static uint8_t qx[N * 4], qy[P][N * 4];
    static const char *isa_name[] = { "scalar", "avx2", "avx512" };
    unsigned seed = 11;
    printf("    chosen kernels: %s\n", spc__kernel_isa());
    for (int isa = SPC_ISA_AVX2; isa < SPC_ISA_COUNT; isa++) {
        int compared = 0;
        char names[256] = "";
        for (size_t k = 0; k < N_TYPES; k++) {
            int mp;
            spc_dot_fn fast = spc__dot_isa(TYPES[k], isa, &mp);
            if (!fast) continue;
            const struct spc_type_traits *tr = spc__type_traits(TYPES[k]);
            const struct spc_type_traits *vt = spc__type_traits(tr->vec_dot_type);
            CHECK(mp >= 1 && mp <= P);
            snprintf(names + strlen(names), sizeof names - strlen(names), " %s", tr->name);
            for (int rep = 0; rep < 20; rep++) {
                for (int i = 0; i < N; i++) x[i] = test_randf(&seed) * (1 + rep);
                for (int p = 0; p < P; p++)
                    for (int i = 0; i < N; i++) y[p][i] = test_randf(&seed);
                tr->from_float(x, qx, N);
                size_t ys = sizeof qy[0];
                for (int p = 0; p < P; p++) vt->from_float(y[p], qy[p], N);
                float all[P], one;
                fast(N, qx, qy, ys, mp, all, 1);
                for (int p = 0; p < mp; p++) {
                    float ref;
                    tr->vec_dot(N, &ref, qx, qy[p]);
                    CHECK_MSG(fabsf(ref - all[p]) <= 1e-4f * (1 + fabsf(ref)), "%s %s p=%d: ref %.8g kernel %.8g",
                              isa_name[isa], tr->name, p, ref, all[p]);
                    /* bit-identity: alone, or with any number of companions, the same bits */
                    fast(N, qx, qy[p], ys, 1, &one, 1);
                    CHECK_MSG(memcmp(&one, &all[p], 4) == 0, "%s %s p=%d: %.9g alone vs %.9g in a batch", isa_name[isa],
                              tr->name, p, one, all[p]);
                    float part[P];
                    fast(N, qx, qy[0], ys, p + 1, part, 1);
                    CHECK(memcmp(part, all, sizeof(float) * (size_t)(p + 1)) == 0);
                }
            }
            compared++;
        }
        if (compared) printf("    %s:%s\n", isa_name[isa], names);
        else printf("    %s: not on this CPU, skipped\n", isa_name[isa]);
    }
}

/* The 16-row interleaved kernels (x16, made at load time): every row and activation row against
   the scalar reference on the file's layout, the same bits for any number of activation rows, and
   the layout's rows read back byte for byte. */
TEST(x16_matches_reference) {
    spc__init_tables();
    enum { N = 1024, P = SPC_MAXP, R = 16 };
    static float x[R][N], y[P][N];
    static uint8_t qx[R][N * 4], g16[R * N * 4], back[N * 4], qy[P][N * 4], qy16[P][N * 4];
    unsigned seed = 23;
    int compared = 0;
    for (size_t k = 0; k < N_TYPES; k++) {
        spc_dot_fn fast = spc__dot_x16(TYPES[k]);
        const struct spc_type_traits *tr = spc__type_traits(TYPES[k]);
        if (!fast) continue;
        const struct spc_type_traits *vt = spc__type_traits(tr->vec_dot_type);
        size_t rb = spc__row_size(TYPES[k], N), ys = sizeof qy16[0];
        spc_from_float_fn q16 = spc__x16_quantizer(TYPES[k]);      /* the kernel's partner */
        CHECK(q16 != NULL);
        int mp = spc__dot_maxp_x16(TYPES[k]);
        CHECK(mp >= 1 && mp <= P);
        for (int rep = 0; rep < 10; rep++) {
            for (int r = 0; r < R; r++) {
                for (int i = 0; i < N; i++) x[r][i] = test_randf(&seed) * (1 + r % 5) * (rep % 2 ? 1 : 0.01f);
                tr->from_float(x[r], qx[r], N);
                memcpy(g16 + r * rb, qx[r], rb);
            }
            static uint8_t tmp[R * N * 4];
            memcpy(tmp, g16, R * rb);
            spc__repack_x16(TYPES[k], g16, tmp, N);
            for (int r = 0; r < R; r++) {
                spc__row_x16(TYPES[k], back, g16, r, N);
                CHECK_MSG(memcmp(back, qx[r], rb) == 0, "%s x16 row %d does not read back", tr->name, r);
            }
            for (int p = 0; p < P; p++) {
                for (int i = 0; i < N; i++) y[p][i] = test_randf(&seed);
                vt->from_float(y[p], qy[p], N);
                q16(y[p], qy16[p], N);
            }
            float all[P][R], one[R], part[P][R];
            fast(N, g16, qy16, ys, mp, &all[0][0], R);
            for (int p = 0; p < mp; p++) {
                for (int r = 0; r < R; r++) {
                    float ref;
                    tr->vec_dot(N, &ref, qx[r], qy[p]);
                    CHECK_MSG(fabsf(ref - all[p][r]) <= 1e-4f * (1 + fabsf(ref)), "%s x16 p=%d r=%d: ref %.8g kernel %.8g",
                              tr->name, p, r, ref, all[p][r]);
                }
                fast(N, g16, qy16[p], ys, 1, one, R);
                CHECK_MSG(memcmp(one, all[p], sizeof one) == 0, "%s x16 p=%d: alone differs from in a batch", tr->name, p);
                fast(N, g16, qy16, ys, p + 1, &part[0][0], R);
                CHECK(memcmp(part, all, sizeof(float) * R * (size_t)(p + 1)) == 0);
            }
            compared++;
        }
        printf("    x16 kernel: %s\n", tr->name);
    }
    if (!compared) printf("    x16 kernels: none on this CPU (they need AVX2 or AVX-512 VNNI); skipped\n");
}

TEST(activation_quantizers_match_reference) {
    spc__init_tables();
    enum { N = 2048 };
    static float x[N];
    static uint8_t a[N * 2], b[N * 2];
    const struct spc_ops *ops = spc__ops();
    unsigned seed = 5;
    for (int rep = 0; rep < 50; rep++) {
        for (int i = 0; i < N; i++) x[i] = test_randf(&seed) * (rep % 7 == 0 ? 1e-3f : 10.0f);
        if (rep == 3) memset(x, 0, 256 * sizeof *x);                     /* an all-zero block */
        if (rep == 4) { x[5] = 7.0f; x[9] = -7.0f; }                     /* ties in magnitude */
        spc__quantize_q8_0(x, a, N);
        ops->quantize_q8_0(x, b, N);
        CHECK(memcmp(a, b, spc__row_size(SPC_TYPE_Q8_0, N)) == 0);
        spc__quantize_q8_1(x, a, N);
        ops->quantize_q8_1(x, b, N);
        CHECK(memcmp(a, b, spc__row_size(SPC_TYPE_Q8_1, N)) == 0);
        spc__quantize_q8_1i(x, a, N);
        ops->quantize_q8_1i(x, b, N);
        CHECK(memcmp(a, b, spc__row_size(SPC_TYPE_Q8_1, N)) == 0);
        spc__quantize_q8_K(x, a, N);
        ops->quantize_q8_K(x, b, N);
        CHECK(memcmp(a, b, spc__row_size(SPC_TYPE_Q8_K, N)) == 0);
    }
}

/* The f16 rounding ops (attention probabilities, KV stores) give spc__f32_to_f16's bits, over
 * random values and the edges: subnormals, ties, overflow, zeros. The grouped attention kernels
 * give each query the bits of the one-query kernels. */
TEST(attention_ops_match_reference) {
    spc__init_tables();
    const struct spc_ops *ops = spc__ops();
    enum { N = 4099 };
    static float x[N], y[N];
    static uint16_t h[N];
    unsigned seed = 11;
    for (int i = 0; i < N; i++) {
        uint32_t u = (seed = seed * 1664525u + 1013904223u);
        float f;
        memcpy(&f, &u, 4);
        x[i] = i % 3 == 0 ? test_randf(&seed) * 1e-5f : i % 3 == 1 ? test_randf(&seed) * 70000.0f : (f == f ? f : 1.0f);
    }
    const float edge[] = { 0.0f, -0.0f, 5.9604645e-08f, 2.9802322e-08f, 6.1035156e-05f, 65504.0f, 65520.0f, 1.00048828125f,
                           1.00146484375f, -3.0517578e-05f, 1e-8f, 1e30f };
    memcpy(x, edge, sizeof edge);
    ops->to_f16(h, x, N);
    long bad = 0;
    for (int i = 0; i < N; i++) bad += h[i] != spc__f32_to_f16(x[i]);
    ops->round_f16(y, x, N, 0.75f);
    for (int i = 0; i < N; i++) {
        float want = spc__f16_to_f32(spc__f32_to_f16(x[i] * 0.75f));
        bad += memcmp(&y[i], &want, 4) != 0;
    }
    CHECK_MSG(bad == 0, "%ld values differ from the reference", bad);
    memcpy(y, x + 100, sizeof(float) * 1000);
    float m1 = ops->scale_max(y, 1000, 0.125f), m2 = -INFINITY;
    for (int i = 0; i < 1000; i++) {
        CHECK(y[i] == x[100 + i] * 0.125f);
        if (y[i] > m2) m2 = y[i];
    }
    CHECK(m1 == m2);
    /* grouped dot/axpy vs one query at a time: every query count (the kernels take 1..8 queries
       and 1..8 keys or lane chunks at a time), head sizes 64, 128 and 256, key counts across tiles */
    enum { HDM = 256, NK = 77, NQM = 11 };
    static uint16_t kv[NK * 2 * HDM];
    static float q[NQM * HDM], sc[NQM * 80], out[NQM * HDM], ref[NQM * HDM];
    int32_t keys[NK];
    for (int i = 0; i < NK * 2 * HDM; i++) kv[i] = spc__f32_to_f16(test_randf(&seed));
    for (int i = 0; i < NQM * HDM; i++) q[i] = test_randf(&seed);
    for (int s = 0; s < NK; s++) keys[s] = (s * 7) % NK;
    for (int HD = 64; HD <= HDM; HD *= 2)
        for (int NQ = 1; NQ <= NQM; NQ++) {
            ops->att_dot_f16(q, NQ, HD, (const uint8_t *)kv, 2 * HD * 2, keys, NK, sc, 80);
            for (int j = 0; j < NQ; j++)
                for (int s = 0; s < NK; s++) {
                    float want = ops->dot_f16(q + j * HD, kv + (size_t)keys[s] * 2 * HD, HD);
                    bad += memcmp(&sc[j * 80 + s], &want, 4) != 0;
                }
            memset(out, 0, sizeof out);
            memset(ref, 0, sizeof ref);
            ops->att_axpy_f16(out, NQ, HD, sc, 80, (const uint8_t *)kv, 2 * HD * 2, keys, NK);
            for (int s = 0; s < NK; s++)
                for (int j = 0; j < NQ; j++) ops->axpy_f16(ref + j * HD, sc[j * 80 + s], kv + (size_t)keys[s] * 2 * HD, HD);
            bad += memcmp(out, ref, sizeof out) != 0;
        }
    CHECK_MSG(bad == 0, "grouped attention differs from one query at a time (%ld)", bad);
}

int main(int argc, char **argv) {
    test_init(argc, argv);
    RUN(fp16_conversion);
    RUN(known_blocks);
    RUN(roundtrip_and_dot_reference);
    RUN(simd_matches_reference);
    RUN(x16_matches_reference);
    RUN(activation_quantizers_match_reference);
    RUN(attention_ops_match_reference);
    return test_done();
}
