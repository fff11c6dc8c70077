/*
 * test_sampler.c: the sampling pipeline: greedy, temperature, top-k, top-p, min-p, seeds, and the
 * exposed final distribution (what speculative sampling will verify against).
 */
#include "test.h"

static struct spc_sampler *mk(float temp, int top_k, float top_p, float min_p, uint64_t seed, int nv) {
    struct spc_sampler_params p = { temp, top_k, top_p, min_p, seed };
    struct spc_sampler *s = NULL;
    if (spc_sampler_new(&s, &p, nv) != SPC_OK) return NULL;
    return s;
}

TEST(greedy_is_argmax) {
    float l[5] = { 0.1f, 3.0f, -2.0f, 2.9f, 3.0f };
    struct spc_sampler *s = mk(0, 0, 1, 0, 1, 5);
    CHECK(s);
    CHECK(spc_sampler_sample(s, l) == 1);          /* ties: lowest id */
    const int32_t *ids; const float *pr; int n;
    CHECK_OK(spc_sampler_dist(s, l, &ids, &pr, &n));
    CHECK(n == 1 && ids[0] == 1 && pr[0] == 1.0f);
    spc_sampler_free(s);
}

TEST(softmax_with_temperature) {
    float l[4] = { 1.0f, 2.0f, 0.0f, -1.0f };
    struct spc_sampler *s = mk(0.5f, 0, 1, 0, 1, 4);
    const int32_t *ids; const float *pr; int n;
    CHECK_OK(spc_sampler_dist(s, l, &ids, &pr, &n));
    CHECK(n == 4 && ids[0] == 1 && ids[1] == 0 && ids[2] == 2 && ids[3] == 3);
    double z = exp(4.0) + exp(2.0) + exp(0.0) + exp(-2.0);
    CHECK(fabs(pr[0] - exp(4.0) / z) < 1e-6 && fabs(pr[3] - exp(-2.0) / z) < 1e-6);
    spc_sampler_free(s);
}

TEST(top_k_top_p_min_p) {
    float l[6] = { 5.0f, 4.0f, 3.0f, 2.0f, 1.0f, 0.0f };
    const int32_t *ids; const float *pr; int n;
    struct spc_sampler *s = mk(1, 3, 1, 0, 1, 6);
    CHECK_OK(spc_sampler_dist(s, l, &ids, &pr, &n));
    CHECK(n == 3);
    CHECK(fabsf(pr[0] + pr[1] + pr[2] - 1) < 1e-6f);
    spc_sampler_free(s);
    /* top-p 0.7: p = softmax -> 0.636, 0.234, ...: keeps two */
    s = mk(1, 0, 0.7f, 0, 1, 6);
    CHECK_OK(spc_sampler_dist(s, l, &ids, &pr, &n));
    CHECK(n == 2 && ids[1] == 1);
    spc_sampler_free(s);
    /* min-p 0.1: keeps tokens with p >= 0.1 p_max: e^-2 = 0.135 passes, e^-3 = 0.05 does not */
    s = mk(1, 0, 1, 0.1f, 1, 6);
    CHECK_OK(spc_sampler_dist(s, l, &ids, &pr, &n));
    CHECK(n == 3);
    spc_sampler_free(s);
}

TEST(seeded_sampling_matches_distribution) {
    float l[3] = { 0.0f, (float)log(2.0), (float)log(3.0) };   /* p = 1/6, 2/6, 3/6 */
    struct spc_sampler *a = mk(1, 0, 1, 0, 123, 3), *b = mk(1, 0, 1, 0, 123, 3);
    int count[3] = { 0 };
    enum { N = 60000 };
    for (int i = 0; i < N; i++) {
        int32_t x = spc_sampler_sample(a, l);
        CHECK(x == spc_sampler_sample(b, l));               /* same seed, same stream */
        count[x]++;
    }
    double chi = 0, expect[3] = { N / 6.0, N / 3.0, N / 2.0 };
    for (int i = 0; i < 3; i++) chi += (count[i] - expect[i]) * (count[i] - expect[i]) / expect[i];
    CHECK_MSG(chi < 13.8, "chi-square %.2f (2 dof, p=0.001 critical 13.8)", chi);
    spc_sampler_free(a);
    spc_sampler_free(b);
}

TEST(bad_params_rejected) {
    struct spc_sampler_params p = { NAN, 0, 1, 0, 1 };
    struct spc_sampler *s = NULL;
    CHECK(spc_sampler_new(&s, &p, 10) == SPC_ERR_INVALID);
    p.temp = 1;
    CHECK(spc_sampler_new(&s, &p, 0) == SPC_ERR_INVALID);
    p.min_p = 2;
    CHECK(spc_sampler_new(&s, &p, 10) == SPC_ERR_INVALID);
    spc_sampler_free(NULL);
}

int main(int argc, char **argv) {
    test_init(argc, argv);
    RUN(greedy_is_argmax);
    RUN(softmax_with_temperature);
    RUN(top_k_top_p_min_p);
    RUN(seeded_sampling_matches_distribution);
    RUN(bad_params_rejected);
    return test_done();
}
