/* A tiny test harness. Each test file is one program:
 *
 *     static void test_something(void) { CHECK(1 + 1 == 2); }
 *     TEST_MAIN(RUN(test_something); RUN(test_other);)
 *
 * A test passes when none of its CHECKs fails. The program prints one line
 * per failure and "N passed, N failed" at the end, and exits non-zero if
 * anything failed. */
#ifndef TASD_TEST_HARNESS_H
#define TASD_TEST_HARNESS_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int harness_failures_in_test;
static int harness_passed, harness_failed;
static const char *harness_current;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            harness_failures_in_test++;                                          \
            if (harness_failures_in_test <= 5)                                   \
                fprintf(stderr, "FAIL %s (%s:%d): %s\n", harness_current,        \
                        __FILE__, __LINE__, #cond);                              \
        }                                                                        \
    } while (0)

/* CHECK with a printf-style explanation. */
#define CHECKF(cond, ...)                                                        \
    do {                                                                         \
        if (!(cond)) {                                                           \
            harness_failures_in_test++;                                          \
            if (harness_failures_in_test <= 5) {                                 \
                fprintf(stderr, "FAIL %s (%s:%d): %s: ", harness_current,        \
                        __FILE__, __LINE__, #cond);                              \
                fprintf(stderr, __VA_ARGS__);                                    \
                fputc('\n', stderr);                                             \
            }                                                                    \
        }                                                                        \
    } while (0)

/* Expect a tasd call to return `want`. */
#define CHECK_STATUS(call, want)                                                 \
    do {                                                                         \
        tasd_status st_ = (call);                                                \
        CHECKF(st_ == (want), "got %d (%s: %s), want %d", (int)st_,              \
               tasd_status_string(st_), tasd_last_error_message(), (int)(want)); \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, TASD_OK)

#define RUN(fn)                                                                  \
    do {                                                                         \
        harness_current = #fn;                                                   \
        harness_failures_in_test = 0;                                            \
        fn();                                                                    \
        if (harness_failures_in_test) {                                          \
            harness_failed++;                                                    \
            fprintf(stderr, "not ok %s (%d failed checks)\n", #fn,               \
                    harness_failures_in_test);                                   \
        } else {                                                                 \
            harness_passed++;                                                    \
        }                                                                        \
    } while (0)

#define TEST_MAIN(body)                                                          \
    int main(void)                                                               \
    {                                                                            \
        body;                                                                    \
        printf("%d passed, %d failed\n", harness_passed, harness_failed);       \
        return harness_failed ? 1 : 0;                                           \
    }

/* Deterministic random numbers for tests (xorshift64*). */
static unsigned long long harness_rng_state = 0x9e3779b97f4a7c15ull;
static inline void test_seed(unsigned long long s)
{
    harness_rng_state = s ? s : 0x9e3779b97f4a7c15ull;
}
static inline unsigned long long test_rand_u64(void)
{
    unsigned long long x = harness_rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    harness_rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}
/* Uniform in [-1, 1). */
static inline float test_rand_float(void)
{
    return (float)((double)(test_rand_u64() >> 11) / 4503599627370496.0 - 1.0);
}
static inline int test_rand_int(int lo, int hi) /* inclusive */
{
    return lo + (int)(test_rand_u64() % (unsigned long long)(hi - lo + 1));
}
/* n test_rand_float() values in a new malloc'd buffer (room for at least
 * one). Here rather than in support/util.c: it draws from this program's
 * harness RNG, the one test_seed() sets. */
static inline float *test_rand_buf(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = test_rand_float();
    return p;
}

#endif
