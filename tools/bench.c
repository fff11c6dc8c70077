/*
 * bench.c: `specula bench`, the speed of one model on this machine, shaped like llama-bench: a
 * markdown table on stdout and, with --json, one JSON object in a file.
 *
 * What it measures, each as the median over repetitions:
 *   pp   prompt processing: one spc_forward over a pp-token prompt (fresh KV each rep);
 *   tg   generation: tg greedy tokens, one position per spc_forward, after an 8-token prompt;
 *   v(k) the cost of verifying k drafts: one spc_forward over a chain of k+1 positions with logits
 *        for all of them after a prefix of --depth tokens (64; llama-bench's -d), rolled back after
 *        each call, relative to k = 0 at the same depth (attention grows with depth x positions).
 * And two properties of the machine, so the speeds can be read against ceilings:
 *   the memory read bandwidth with the same number of threads, probed just before and just after tg
 *   (generation reads every weight once per token, so bandwidth / weight bytes bounds tg), and the
 *   fp32 FMA peak (pp's ceiling, as GFLOP/s with 2 flops per matmul weight per token).
 * The cores may be shared, so the run also reports how much CPU time other processes took while
 * it measured (from /proc/stat), and warns above 10%.
 * Token ids are deterministic pseudo-random ids, so runs compare. The machine probes are plain C
 * and intrinsics under target attributes chosen at run time, so the binary still runs on any
 * x86-64. Uses only the public header (and tools.h).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BENCH_X86 1
#endif

#include "specula.h"
#include "tools.h"

enum { PREFIX_TG = 8 };

struct bench_opts {
    const char *model, *json;
    int n_threads, reps, pp, tg, kmax, depth;
};

/* Everything the tables and the JSON report. */
struct bench_result {
    char path[PATH_MAX], label[128], cpu[256], date[32], features[96];
    const char *arch, *peak_isa;
    uint64_t size_bytes, n_params, n_params_matmul, weight_bytes;
    double *pp_tps, *tg_tps, *verify_ms, *verify_cost;   /* reps, reps, kmax+1, kmax+1 */
    double pp_med, tg_med;
    double mem_bw_gbs, bw_before, bw_after;     /* the mean of the probes just before and after tg */
    double tg_bound, tg_pct;
    double peak_gflops, peak_gflops_avx512, pp_gflops, pp_pct;  /* avx512: 0 when unsupported */
    double other_load_pct;      /* CPU time other processes took during the run, % of all CPUs */
};

/* ---- options ---- */

static int usage_bench(void) {
    fprintf(stderr, "usage: specula bench -m MODEL [-t THREADS] [-r REPS] [--pp N] [--tg N] [--kmax K]"
                    " [--depth N] [--json OUT]\n");
    return 2;
}

static int parse_bench(int argc, char **argv, struct bench_opts *o) {
    *o = (struct bench_opts){ .model = "smollm2-135m", .n_threads = 2, .reps = 5, .pp = 512, .tg = 128,
                              .kmax = 16, .depth = 64 };
    for (int i = 2; i < argc; i += 2) {                 /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (!strcmp(a, "-m")) o->model = v;
        else if (!strcmp(a, "--json")) o->json = v;
        else if (!strcmp(a, "-t")) ok = v && parse_int(v, 1, 512, &o->n_threads);
        else if (!strcmp(a, "-r")) ok = v && parse_int(v, 1, 1000, &o->reps);
        else if (!strcmp(a, "--pp")) ok = v && parse_int(v, 1, 65536, &o->pp);
        else if (!strcmp(a, "--tg")) ok = v && parse_int(v, 1, 65536, &o->tg);
        else if (!strcmp(a, "--depth")) ok = v && parse_int(v, 1, 1 << 20, &o->depth);
        else if (!strcmp(a, "--kmax")) ok = v && parse_int(v, 0, 256, &o->kmax);
        else {
            fprintf(stderr, "specula bench: unknown option '%s'\n", a);
            return usage_bench();
        }
        if (!v) {
            fprintf(stderr, "specula bench: option '%s' needs a value\n", a);
            return usage_bench();
        }
        if (!ok) {
            fprintf(stderr, "specula bench: bad value '%s' for %s\n", v, a);
            return 2;
        }
    }
    return 0;
}

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of n <= 3000 values (3 x the most reps). */
static double median(const double *v, int n) {
    double s[3000];
    memcpy(s, v, sizeof *s * (size_t)n);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

static double stddev(const double *v, int n) {
    if (n < 2) return 0;
    double mean = 0, ss = 0;
    for (int i = 0; i < n; i++) mean += v[i] / n;
    for (int i = 0; i < n; i++) ss += (v[i] - mean) * (v[i] - mean);
    return sqrt(ss / (n - 1));
}

/* ---- machine probes: memory read bandwidth and FMA peak ---- */

enum probe_isa { ISA_SCALAR, ISA_AVX2, ISA_AVX512 };

/* The start signal of a probe: threads wait until go is 1 (run) or -1 (give up). */
struct probe_start {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int go;
};

/* One thread's share of a probe. */
struct probe {
    int isa;
    const uint64_t *p;          /* read probe: the slice (32-byte aligned, n a multiple of 16) */
    size_t n;
    long iters;                 /* FMA probe (p == NULL) */
    struct probe_start *start;
    double t0, t1, sink;
};

static uint64_t read_scalar(const uint64_t *p, size_t n) {
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i + 4 <= n; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    return s0 + s1 + s2 + s3;
}

/* 12 independent chains of acc = acc * m + c: 2 flops per element. */
static float fma_scalar(long iters) {
    float a[12], m = 0.999999f, c = 1e-7f, s = 0;
    for (int j = 0; j < 12; j++) a[j] = (float)j;
    for (long i = 0; i < iters; i++)
        for (int j = 0; j < 12; j++) a[j] = a[j] * m + c;
    for (int j = 0; j < 12; j++) s += a[j];
    return s;
}

#ifdef BENCH_X86
__attribute__((target("avx2"))) static uint64_t read_avx2(const uint64_t *p, size_t n) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 16 <= n; i += 16) {
        a0 = _mm256_add_epi64(a0, _mm256_load_si256((const __m256i *)(p + i)));
        a1 = _mm256_add_epi64(a1, _mm256_load_si256((const __m256i *)(p + i + 4)));
        a2 = _mm256_add_epi64(a2, _mm256_load_si256((const __m256i *)(p + i + 8)));
        a3 = _mm256_add_epi64(a3, _mm256_load_si256((const __m256i *)(p + i + 12)));
    }
    a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    uint64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, a0);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

/* The same chains as fma_scalar, VEC floats wide, as one FMA each: 12 accumulators cover the
 * FMA latency times the FMA ports of current x86 cores. */
#define FMA_BODY(VEC, SET1, FMADD, ADD)                                             \
    const VEC m = SET1(0.999999f), c = SET1(1e-7f);                                 \
    VEC a0 = SET1(0.0f), a1 = SET1(1.0f), a2 = SET1(2.0f), a3 = SET1(3.0f);         \
    VEC a4 = SET1(4.0f), a5 = SET1(5.0f), a6 = SET1(6.0f), a7 = SET1(7.0f);         \
    VEC a8 = SET1(8.0f), a9 = SET1(9.0f), a10 = SET1(10.0f), a11 = SET1(11.0f);     \
    for (long i = 0; i < iters; i++) {                                              \
        a0 = FMADD(a0, m, c); a1 = FMADD(a1, m, c); a2 = FMADD(a2, m, c);           \
        a3 = FMADD(a3, m, c); a4 = FMADD(a4, m, c); a5 = FMADD(a5, m, c);           \
        a6 = FMADD(a6, m, c); a7 = FMADD(a7, m, c); a8 = FMADD(a8, m, c);           \
        a9 = FMADD(a9, m, c); a10 = FMADD(a10, m, c); a11 = FMADD(a11, m, c);       \
    }                                                                               \
    a0 = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));         \
    a0 = ADD(a0, ADD(ADD(a8, a9), ADD(a10, a11)));                                  \
    float out[sizeof(VEC) / sizeof(float)];                                         \
    memcpy(out, &a0, sizeof out);                                                   \
    return out[0];

__attribute__((target("avx2,fma"))) static float fma_avx2(long iters) {
    FMA_BODY(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps)
}

__attribute__((target("avx512f"))) static float fma_avx512(long iters) {
    FMA_BODY(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps)
}
#endif

static void *probe_thread(void *arg) {
    struct probe *pr = arg;
    pthread_mutex_lock(&pr->start->mu);
    while (!pr->start->go) pthread_cond_wait(&pr->start->cv, &pr->start->mu);
    int go = pr->start->go;
    pthread_mutex_unlock(&pr->start->mu);
    if (go < 0) return NULL;
    pr->t0 = now_s();
#ifdef BENCH_X86
    if (pr->p) pr->sink = (double)(pr->isa ? read_avx2(pr->p, pr->n) : read_scalar(pr->p, pr->n));
    else if (pr->isa == ISA_AVX512) pr->sink = fma_avx512(pr->iters);
    else if (pr->isa == ISA_AVX2) pr->sink = fma_avx2(pr->iters);
    else pr->sink = fma_scalar(pr->iters);
#else
    pr->sink = pr->p ? (double)read_scalar(pr->p, pr->n) : fma_scalar(pr->iters);
#endif
    pr->t1 = now_s();
    return NULL;
}

/* Runs n probes on n threads at once; the wall time from the first start to the last end, or -1
 * when threads cannot be made. */
static double run_probes(struct probe *pr, int n) {
    pthread_t th[512];
    struct probe_start start = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    int made = 0;
    for (; made < n; made++) {
        pr[made].start = &start;
        if (pthread_create(&th[made], NULL, probe_thread, &pr[made])) break;
    }
    pthread_mutex_lock(&start.mu);
    start.go = made == n ? 1 : -1;
    pthread_cond_broadcast(&start.cv);
    pthread_mutex_unlock(&start.mu);
    for (int i = 0; i < made; i++) pthread_join(th[i], NULL);
    if (made < n) return -1;
    double t0 = pr[0].t0, t1 = pr[0].t1;
    for (int i = 1; i < n; i++) {
        if (pr[i].t0 < t0) t0 = pr[i].t0;
        if (pr[i].t1 > t1) t1 = pr[i].t1;
    }
    return t1 - t0;
}

static bool cpu_has(const char *feature) {
#ifdef BENCH_X86
    __builtin_cpu_init();
    if (!strcmp(feature, "avx2")) return __builtin_cpu_supports("avx2");
    if (!strcmp(feature, "fma")) return __builtin_cpu_supports("fma");
    if (!strcmp(feature, "avx512f")) return __builtin_cpu_supports("avx512f");
#endif
    (void)feature;
    return false;
}

/* The bandwidth probe's buffer: far larger than any last-level cache, touched once up front. */
enum { BW_BYTES = 1 << 30 };

static void *bw_map(void) {
    void *buf = mmap(NULL, BW_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) {
        fprintf(stderr, "specula bench: cannot map %d MiB for the bandwidth probe: %s\n", BW_BYTES >> 20,
                strerror(errno));
        return NULL;
    }
    madvise(buf, BW_BYTES, MADV_HUGEPAGE);  /* fewer TLB misses where THP is on; harmless if not */
    memset(buf, 1, BW_BYTES);               /* touch every page before timing */
    return buf;
}

/* Best-of-5-passes read bandwidth over buf in GB/s, split across n_threads; -1 on failure. */
static double measure_bandwidth(const void *buf, int n_threads) {
    struct probe pr[512];
    size_t per = (size_t)BW_BYTES / 8 / (size_t)n_threads / 16 * 16;     /* words per thread */
    int isa = cpu_has("avx2") ? ISA_AVX2 : ISA_SCALAR;
    double best = -1;
    for (int pass = 0; pass < 5; pass++) {
        for (int t = 0; t < n_threads; t++)
            pr[t] = (struct probe){ .isa = isa, .p = (const uint64_t *)buf + (size_t)t * per, .n = per };
        double s = run_probes(pr, n_threads);
        if (s <= 0) {
            fprintf(stderr, "specula bench: cannot start the bandwidth probe threads\n");
            return -1;
        }
        double gbs = (double)per * 8 * n_threads / s * 1e-9;
        if (gbs > best) best = gbs;
    }
    return best;
}

/* Best-of-3 fp32 GFLOP/s of the given ISA on n_threads; -1 on failure. */
static double measure_peak(int n_threads, int isa) {
    const long iters = 1L << 23;
    const int lanes = isa == ISA_AVX512 ? 16 : isa == ISA_AVX2 ? 8 : 1;
    struct probe pr[512];
    double best = -1;
    for (int pass = 0; pass < 3; pass++) {
        for (int t = 0; t < n_threads; t++) pr[t] = (struct probe){ .isa = isa, .iters = iters };
        double s = run_probes(pr, n_threads);
        if (s <= 0) return -1;
        double gf = 2.0 * 12 * lanes * (double)iters * n_threads / s * 1e-9;
        if (gf > best) best = gf;
    }
    return best;
}

/* ---- facts about the machine and the model ---- */

static void read_cpu_model(char *out, size_t cap) {
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) || !colon) continue;
        colon += 1 + (colon[1] == ' ');
        colon[strcspn(colon, "\n")] = 0;
        snprintf(out, cap, "%s", colon);
        break;
    }
    fclose(f);
}

/* CPU seconds: busy time of the whole machine (from /proc/stat) and of this process. */
static void cpu_seconds(double *machine, double *self) {
    unsigned long long v[8] = { 0 };
    FILE *f = fopen("/proc/stat", "r");
    if (!f || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                     &v[5], &v[6], &v[7]) != 8)
        memset(v, 0, sizeof v);
    if (f) fclose(f);
    /* user nice system idle iowait irq softirq steal: all but idle and iowait are busy */
    *machine = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *self = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* Sizes from the GGUF tensor table. Matmul parameters: every 2-D tensor but the token embedding,
 * plus the embedding once more when the output layer is tied to it (no output.weight). */
static void count_params(const struct spc_gguf *g, struct bench_result *r) {
    const struct spc_gguf_tensor *emb = spc_gguf_find_tensor(g, "token_embd.weight");
    for (int64_t i = 0; i < spc_gguf_n_tensors(g); i++) {
        const struct spc_gguf_tensor *t = spc_gguf_tensor(g, i);
        uint64_t ne = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) ne *= (uint64_t)t->ne[d];
        r->n_params += ne;
        r->size_bytes += t->size;
        if (t->n_dims == 2 && t != emb) r->n_params_matmul += ne;
    }
    if (emb && !spc_gguf_find_tensor(g, "output.weight"))
        r->n_params_matmul += (uint64_t)emb->ne[0] * (uint64_t)emb->ne[1];
}

/* ---- the model measurements ---- */

/* Prompt ids: deterministic (splitmix64 from 0), in [100, min(n_vocab, 30000)). */
static void fill_tokens(int32_t *toks, int n, int n_vocab) {
    int hi = n_vocab < 30000 ? n_vocab : 30000, lo = hi > 200 ? 100 : 0;
    uint64_t x = 0;
    for (int i = 0; i < n; i++) {
        uint64_t z = (x += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        toks[i] = lo + (int32_t)((z ^ (z >> 31)) % (uint64_t)(hi - lo));
    }
}

/* A chain of n positions of sequence 0, logits for all of them or (all_logits == 0) the last. */
static int forward_chain(struct spc_ctx *ctx, const int32_t *toks, int n, const uint8_t *all_logits) {
    struct spc_batch b = { .n = n, .token = toks, .logits = all_logits };
    int st = spc_forward(ctx, &b);
    return st ? fail("forward", st) : 0;
}

static int bench_pp(struct spc_ctx *ctx, const int32_t *toks, const struct bench_opts *o,
                    struct bench_result *r) {
    for (int rep = -1; rep < o->reps; rep++) {      /* rep -1 warms up pages and caches */
        spc_kv_truncate(ctx, 0, 0);
        double t0 = now_s();
        if (forward_chain(ctx, toks, o->pp, NULL)) return 1;
        if (rep >= 0) r->pp_tps[rep] = o->pp / (now_s() - t0);
    }
    r->pp_med = median(r->pp_tps, o->reps);
    return 0;
}

/* Greedy generation; the time covers the tg forward calls and the argmax after each. */
static int bench_tg(struct spc_ctx *ctx, const int32_t *toks, int n_vocab, const struct bench_opts *o,
                    struct bench_result *r) {
    for (int rep = 0; rep < o->reps; rep++) {
        spc_kv_truncate(ctx, 0, 0);
        if (forward_chain(ctx, toks, PREFIX_TG, NULL)) return 1;
        int32_t tok = spc_argmax(spc_ctx_logits(ctx, PREFIX_TG - 1), n_vocab);
        double t0 = now_s();
        for (int i = 0; i < o->tg; i++) {
            if (forward_chain(ctx, &tok, 1, NULL)) return 1;
            tok = spc_argmax(spc_ctx_logits(ctx, 0), n_vocab);
        }
        r->tg_tps[rep] = o->tg / (now_s() - t0);
    }
    r->tg_med = median(r->tg_tps, o->reps);
    return 0;
}

/* v(k): the k's interleave within each rep, so drift in clock or temperature hits all alike. */
static int bench_verify(struct spc_ctx *ctx, const int32_t *toks, const struct bench_opts *o,
                        struct bench_result *r) {
    int nk = o->kmax + 1, n_rep = 3 * o->reps;
    double *ms = malloc(sizeof *ms * (size_t)nk * (size_t)n_rep);
    uint8_t *all = malloc((size_t)nk);
    int rc = 1;
    if (!ms || !all) {
        fprintf(stderr, "specula bench: out of memory\n");
        goto done;
    }
    memset(all, 1, (size_t)nk);
    spc_kv_truncate(ctx, 0, 0);
    for (int at = 0, nb = o->pp > o->kmax + 1 ? o->pp : o->kmax + 1; at < o->depth; at += nb)
        if (forward_chain(ctx, toks + at, o->depth - at < nb ? o->depth - at : nb, NULL)) goto done;
    const int32_t *draft = toks + o->depth;
    for (int rep = -1; rep < n_rep; rep++) {         /* rep -1 warms up */
        for (int k = 0; k < nk; k++) {
            double t0 = now_s();
            if (forward_chain(ctx, draft, k + 1, all)) goto done;
            double dt = (now_s() - t0) * 1e3;
            if (rep >= 0) ms[(size_t)k * n_rep + rep] = dt;
            spc_kv_truncate(ctx, 0, o->depth);
        }
    }
    for (int k = 0; k < nk; k++) r->verify_ms[k] = median(ms + (size_t)k * n_rep, n_rep);
    for (int k = 0; k < nk; k++) r->verify_cost[k] = r->verify_ms[k] / r->verify_ms[0];
    rc = 0;
done:
    free(ms);
    free(all);
    return rc;
}

/* ---- output ---- */

static void fmt_params(uint64_t n, char *out, size_t cap) {
    if (n >= 1000000000ull) snprintf(out, cap, "%.2f B", n * 1e-9);
    else snprintf(out, cap, "%.2f M", n * 1e-6);
}

static void print_tables(const struct bench_opts *o, const struct bench_result *r) {
    char size[32], params[32], test[32], tps[48];
    snprintf(size, sizeof size, "%.2f MiB", r->size_bytes / 1048576.0);
    fmt_params(r->n_params, params, sizeof params);
    printf("| %-24s | %12s | %10s | %7s | %10s | %20s |\n", "model", "size", "params", "threads", "test", "t/s");
    printf("| ------------------------ | -----------: | ---------: | ------: | ---------: | -------------------: |\n");
    for (int row = 0; row < 2; row++) {
        const double *v = row ? r->tg_tps : r->pp_tps;
        snprintf(test, sizeof test, "%s%d", row ? "tg" : "pp", row ? o->tg : o->pp);
        snprintf(tps, sizeof tps, "%.2f ± %.2f", row ? r->tg_med : r->pp_med, stddev(v, o->reps));
        /* "±" is two bytes that print as one column */
        printf("| %-24s | %12s | %10s | %7d | %10s | %21s |\n", r->label, size, params, o->n_threads, test, tps);
    }
    printf("\nverification after a prefix of %d tokens:\n", o->depth);
    printf("\n| %4s | %9s | %9s | %6s |\n", "k", "positions", "ms", "v(k)");
    printf("| ---: | --------: | --------: | -----: |\n");
    for (int k = 0; k <= o->kmax; k++)
        printf("| %4d | %9d | %9.3f | %6.3f |\n", k, k + 1, r->verify_ms[k], r->verify_cost[k]);
    printf("\nroofline: memory read %.1f GB/s (%d threads; %.1f before tg, %.1f after); %.1f MB of weights per"
           " token -> tg bound %.1f t/s; tg %.1f t/s = %.1f%% of bound\n", r->mem_bw_gbs, o->n_threads,
           r->bw_before, r->bw_after, r->weight_bytes * 1e-6, r->tg_bound, r->tg_med, r->tg_pct);
    printf("compute: fp32 FMA peak %.1f GFLOP/s (%s", r->peak_gflops, r->peak_isa);
    if (r->peak_gflops_avx512 > 0) printf("; avx512 %.1f", r->peak_gflops_avx512);
    printf("); pp %.1f GFLOP/s (%.1f GFLOP/token) = %.1f%% of peak\n", r->pp_gflops,
           2.0 * r->n_params_matmul * 1e-9, r->pp_pct);
    printf("other processes used %.1f%% of the CPUs during the run\n", r->other_load_pct);
}

static void json_list(FILE *f, const char *key, const double *v, int n) {
    fprintf(f, "  \"%s\": [", key);
    for (int i = 0; i < n; i++) fprintf(f, "%s%.6g", i ? ", " : "", v[i]);
    fprintf(f, "],\n");
}

static void json_kstr(FILE *f, const char *key, const char *s) {
    fprintf(f, "  \"%s\": ", key);
    json_str(f, s, strlen(s));
    fprintf(f, ",\n");
}

static void write_json(FILE *f, int argc, char **argv, const struct bench_opts *o,
                       const struct bench_result *r) {
    fprintf(f, "{\n");
    json_kstr(f, "model", o->model);
    json_kstr(f, "model_path", r->path);
    json_kstr(f, "arch", r->arch);
    json_kstr(f, "cpu_model", r->cpu);
    json_kstr(f, "cpu_features", r->features);
    json_kstr(f, "date", r->date);
    char cmd[4096];
    size_t w = 0;
    for (int i = 0; i < argc && w < sizeof cmd; i++)
        w += (size_t)snprintf(cmd + w, sizeof cmd - w, "%s%s", i ? " " : "", argv[i]);
    json_kstr(f, "command", cmd);
    fprintf(f, "  \"n_threads\": %d,\n  \"reps\": %d,\n  \"verify_reps\": %d,\n", o->n_threads, o->reps,
            3 * o->reps);
    fprintf(f, "  \"pp\": %d,\n  \"tg\": %d,\n  \"kmax\": %d,\n  \"depth\": %d,\n", o->pp, o->tg, o->kmax, o->depth);
    fprintf(f, "  \"size_bytes\": %llu,\n  \"n_params\": %llu,\n  \"n_params_matmul\": %llu,\n",
            (unsigned long long)r->size_bytes, (unsigned long long)r->n_params,
            (unsigned long long)r->n_params_matmul);
    fprintf(f, "  \"weight_bytes\": %llu,\n", (unsigned long long)r->weight_bytes);
    fprintf(f, "  \"pp_tok_per_s\": %.6g,\n", r->pp_med);
    json_list(f, "pp_tok_per_s_reps", r->pp_tps, o->reps);
    fprintf(f, "  \"tg_tok_per_s\": %.6g,\n", r->tg_med);
    json_list(f, "tg_tok_per_s_reps", r->tg_tps, o->reps);
    json_list(f, "verify_ms", r->verify_ms, o->kmax + 1);
    json_list(f, "verify_cost", r->verify_cost, o->kmax + 1);
    fprintf(f, "  \"mem_bw_gbs\": %.6g,\n  \"mem_bw_gbs_before_tg\": %.6g,\n  \"mem_bw_gbs_after_tg\": %.6g,\n",
            r->mem_bw_gbs, r->bw_before, r->bw_after);
    fprintf(f, "  \"tg_bound_tok_per_s\": %.6g,\n  \"tg_roofline_pct\": %.6g,\n", r->tg_bound, r->tg_pct);
    fprintf(f, "  \"peak_isa\": \"%s\",\n  \"peak_gflops\": %.6g,\n", r->peak_isa, r->peak_gflops);
    if (r->peak_gflops_avx512 > 0) fprintf(f, "  \"peak_gflops_avx512\": %.6g,\n", r->peak_gflops_avx512);
    else fprintf(f, "  \"peak_gflops_avx512\": null,\n");
    fprintf(f, "  \"pp_gflops\": %.6g,\n  \"pp_pct_of_peak\": %.6g,\n", r->pp_gflops, r->pp_pct);
    fprintf(f, "  \"other_load_pct\": %.3g\n}\n", r->other_load_pct);
}

/* ---- the subcommand ---- */

static void fill_labels(struct bench_result *r) {
    const char *base = strrchr(r->path, '/');
    snprintf(r->label, sizeof r->label, "%.120s", base ? base + 1 : r->path);
    size_t n = strlen(r->label);
    if (n > 5 && !strcmp(r->label + n - 5, ".gguf")) r->label[n - 5] = 0;
    read_cpu_model(r->cpu, sizeof r->cpu);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(r->date, sizeof r->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(r->features, sizeof r->features, "%s%s%s", cpu_has("avx2") ? "avx2 " : "",
             cpu_has("fma") ? "fma " : "", cpu_has("avx512f") ? "avx512f " : "");
    n = strlen(r->features);
    if (n) r->features[n - 1] = 0;
}

int cmd_bench(int argc, char **argv) {
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--prompts") || !strcmp(argv[i], "--long")) return cmd_bench_prompts(argc, argv);
    struct bench_opts o;
    int rc = parse_bench(argc, argv, &o);
    if (rc) return rc;
    struct bench_result r = { 0 };
    struct spc_model *m = NULL;
    struct spc_ctx *ctx = NULL;
    int32_t *toks = NULL;
    FILE *jf = NULL;
    void *bw_buf = NULL;
    rc = 1;
    if (o.json && !(jf = fopen(o.json, "w"))) {     /* fail before minutes of measuring, not after */
        fprintf(stderr, "specula bench: cannot write '%s': %s\n", o.json, strerror(errno));
        return 1;
    }
    if (resolve_model(o.model, r.path, sizeof r.path) || load_model(r.path, &m)) goto done;
    fill_labels(&r);
    /* the cores are shared: measure how much of them others took while we measured */
    double t_start = now_s(), busy0, self0, busy1, self1;
    cpu_seconds(&busy0, &self0);
    r.arch = spc_model_arch(m);
    count_params(spc_model_gguf(m), &r);
    r.weight_bytes = spc_model_weight_bytes(m);
    int n_vocab = spc_model_n_vocab(m);
    int n_ctx = (o.pp > o.depth ? o.pp : o.depth) + o.tg + o.kmax + PREFIX_TG;
    if (n_ctx > spc_model_n_ctx_train(m)) {
        fprintf(stderr, "specula bench: --pp %d, --tg %d and --kmax %d need a context of %d, more than the"
                        " model's %d\n", o.pp, o.tg, o.kmax, n_ctx, spc_model_n_ctx_train(m));
        goto done;
    }

    /* the machine first, while no thread pool exists */
    fprintf(stderr, "specula bench: probing FMA peak on %d threads\n", o.n_threads);
    int isa = cpu_has("avx2") && cpu_has("fma") ? ISA_AVX2 : ISA_SCALAR;
    r.peak_isa = isa == ISA_AVX2 ? "avx2+fma" : "scalar";
    r.peak_gflops = measure_peak(o.n_threads, isa);
    r.peak_gflops_avx512 = cpu_has("avx512f") ? measure_peak(o.n_threads, ISA_AVX512) : 0;
    if (r.peak_gflops <= 0 || !(bw_buf = bw_map())) goto done;

    struct spc_ctx_params cp = spc_ctx_default_params();
    cp.n_ctx = n_ctx;
    cp.n_batch = o.pp > o.kmax + 1 ? o.pp : o.kmax + 1;
    cp.n_logits = o.kmax + 1;
    cp.n_threads = o.n_threads;
    int st = spc_ctx_new(&ctx, m, &cp);
    if (st) { fail("cannot create context", st); goto done; }
    int n_toks = cp.n_batch > o.depth + o.kmax + 1 ? cp.n_batch : o.depth + o.kmax + 1;
    toks = malloc(sizeof *toks * (size_t)n_toks);
    r.pp_tps = calloc((size_t)o.reps, sizeof(double));
    r.tg_tps = calloc((size_t)o.reps, sizeof(double));
    r.verify_ms = calloc((size_t)o.kmax + 1, sizeof(double));
    r.verify_cost = calloc((size_t)o.kmax + 1, sizeof(double));
    if (!toks || !r.pp_tps || !r.tg_tps || !r.verify_ms || !r.verify_cost) {
        fprintf(stderr, "specula bench: out of memory\n");
        goto done;
    }
    fill_tokens(toks, n_toks, n_vocab);

    fprintf(stderr, "specula bench: pp%d x %d\n", o.pp, o.reps);
    if (bench_pp(ctx, toks, &o, &r)) goto done;
    /* the memory bus is shared with other machines too: probe it right around tg, which it bounds */
    fprintf(stderr, "specula bench: memory bandwidth, tg%d x %d, memory bandwidth\n", o.tg, o.reps);
    if ((r.bw_before = measure_bandwidth(bw_buf, o.n_threads)) <= 0) goto done;
    if (bench_tg(ctx, toks, n_vocab, &o, &r)) goto done;
    if ((r.bw_after = measure_bandwidth(bw_buf, o.n_threads)) <= 0) goto done;
    r.mem_bw_gbs = 0.5 * (r.bw_before + r.bw_after);
    munmap(bw_buf, BW_BYTES);
    bw_buf = NULL;
    fprintf(stderr, "specula bench: verify k = 0..%d x %d\n", o.kmax, 3 * o.reps);
    if (bench_verify(ctx, toks, &o, &r)) goto done;

    r.tg_bound = r.mem_bw_gbs * 1e9 / (double)r.weight_bytes;
    r.tg_pct = 100 * r.tg_med / r.tg_bound;
    r.pp_gflops = 2.0 * (double)r.n_params_matmul * r.pp_med * 1e-9;
    r.pp_pct = 100 * r.pp_gflops / r.peak_gflops;
    cpu_seconds(&busy1, &self1);
    long n_cpu = sysconf(_SC_NPROCESSORS_ONLN);
    r.other_load_pct = 100 * ((busy1 - busy0) - (self1 - self0)) / ((now_s() - t_start) * (n_cpu > 0 ? n_cpu : 1));
    if (r.other_load_pct < 0) r.other_load_pct = 0;
    print_tables(&o, &r);
    if (r.other_load_pct > 10)
        fprintf(stderr, "specula bench: warning: other processes used %.0f%% of the CPUs during the run; the"
                        " numbers are not reliable\n", r.other_load_pct);
    if (jf) {
        write_json(jf, argc, argv, &o, &r);
        int bad = ferror(jf);
        bad |= fclose(jf);
        jf = NULL;
        if (bad) {
            fprintf(stderr, "specula bench: cannot write '%s'\n", o.json);
            goto done;
        }
    }
    rc = 0;
done:
    if (jf) {
        fclose(jf);
        remove(o.json);
    }
    if (bw_buf) munmap(bw_buf, BW_BYTES);
    free(toks);
    free(r.pp_tps);
    free(r.tg_tps);
    free(r.verify_ms);
    free(r.verify_cost);
    spc_ctx_free(ctx);
    spc_model_free(m);
    return rc;
}
