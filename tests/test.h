/*
 * test.h: the in-house test harness. Each test program defines tests with TEST(name) and lists
 * them in main through RUN(name); one line is printed per test and the program closes with
 * "N passed, N failed". A test fails on the first CHECK that does not hold.
 * Tests that need a real model call test_model_path(), which skips the test (visibly) when the
 * model is not cached and SPECULA_REQUIRE_MODELS is unset.
 */
#ifndef SPC_TEST_H
#define SPC_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specula.h"

static int t_passed, t_failed, t_skipped, t_cur_failed, t_cur_skipped;
static const char *t_filter;

#define TEST(name) static void test_##name(void)
#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            printf("    %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);             \
            t_cur_failed = 1;                                                               \
            return;                                                                         \
        }                                                                                   \
    } while (0)
#define CHECK_MSG(cond, ...)                                                                \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            printf("    %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);             \
            printf(__VA_ARGS__);                                                            \
            printf("\n");                                                                   \
            t_cur_failed = 1;                                                               \
            return;                                                                         \
        }                                                                                   \
    } while (0)
#define CHECK_OK(expr)                                                                      \
    do {                                                                                    \
        int st_ = (expr);                                                                   \
        if (st_ != SPC_OK) {                                                                \
            printf("    %s:%d: %s returned %d (%s): %s\n", __FILE__, __LINE__, #expr, st_,  \
                   spc_status_str(st_), spc_errmsg());                                      \
            t_cur_failed = 1;                                                               \
            return;                                                                         \
        }                                                                                   \
    } while (0)
#define SKIP(...)                                                                           \
    do {                                                                                    \
        printf("    skipped: ");                                                            \
        printf(__VA_ARGS__);                                                                \
        printf("\n");                                                                       \
        t_cur_skipped = 1;                                                                  \
        return;                                                                             \
    } while (0)

#define RUN(name)                                                                           \
    do {                                                                                    \
        if (t_filter && !strstr(#name, t_filter)) break;                                    \
        t_cur_failed = t_cur_skipped = 0;                                                   \
        test_##name();                                                                      \
        if (t_cur_failed) t_failed++;                                                       \
        else if (t_cur_skipped) t_skipped++;                                                \
        else t_passed++;                                                                    \
        printf("%s %s\n", t_cur_failed ? "FAIL" : t_cur_skipped ? "SKIP" : "ok  ", #name);   \
        fflush(stdout);                                                                     \
    } while (0)

static inline void test_init(int argc, char **argv) { t_filter = argc > 1 ? argv[1] : NULL; }

static inline int test_done(void) {
    printf("%d passed, %d failed, %d skipped\n", t_passed, t_failed, t_skipped);
    return t_failed ? 1 : 0;
}

/* Path of a cached real model, or NULL (and the caller skips) when it is not there. */
static inline const char *test_model_path(const char *name) {
    static char buf[4096];
    const char *cache = getenv("SPECULA_CACHE"), *home = getenv("HOME");
    if (cache && *cache) snprintf(buf, sizeof buf, "%s/models/%s.gguf", cache, name);
    else snprintf(buf, sizeof buf, "%s/.cache/specula/models/%s.gguf", home ? home : ".", name);
    FILE *f = fopen(buf, "rb");
    if (!f) {
        if (getenv("SPECULA_REQUIRE_MODELS")) {
            printf("    model %s is required (SPECULA_REQUIRE_MODELS) but missing at %s\n", name, buf);
            exit(1);
        }
        return NULL;
    }
    fclose(f);
    return buf;
}

/* Deterministic pseudo-random floats for test data. */
static inline float test_randf(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return ((*s >> 8) / 16777216.0f) * 2 - 1;
}

#endif
