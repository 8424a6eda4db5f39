/* tasd_gemm against a plain dense GEMM of the reconstructed series. */
#include "harness.h"
#include "support/util.h"
#include <tasd.h>

/* C = alpha * A * B + beta * C in double, A row-major m x k, B and C strided. */
static void dense_ref(int64_t m, int64_t k, int64_t n, float alpha, const float *a,
                      const float *b, int64_t brs, int64_t bcs, float beta, double *c)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t p = 0; p < k; p++)
                acc += (double)a[i * k + p] * b[p * brs + j * bcs];
            c[i * n + j] = alpha * acc + (beta == 0.0f ? 0.0 : beta * c[i * n + j]);
        }
}

/* |got - want| within fp32 accumulation error of the terms' magnitudes. */
static int close_enough(double got, double want, double scale)
{
    return fabs(got - want) <= 1e-5 * scale + 1e-6;
}

typedef struct gemm_case {
    int64_t m, k, n;
    const char *config;
    int b_layout; /* 0 row-major, 1 padded rows, 2 transposed (column-major) */
    int c_layout; /* same meaning for C */
    float alpha, beta;
} gemm_case;

static int run_case(tasd_context *ctx, const gemm_case *gc, unsigned seed)
{
    int64_t m = gc->m, k = gc->k, n = gc->n;
    float *w = malloc(sizeof(float) * (size_t)(m * k + 1));
    util_fill_random(w, m * k, seed);
    tasd_series *s = util_decompose(ctx, w, m, k, gc->config, TASD_OPTIMAL);
    float *wa = util_reconstruct(s);

    int64_t bpad = gc->b_layout == 1 ? 5 : 0, cpad = gc->c_layout == 1 ? 3 : 0;
    int64_t bsize = (k + 1) * (n + bpad) + 1, csize = (m + 1) * (n + cpad) + 1;
    float *b = malloc(sizeof(float) * (size_t)bsize), *c = malloc(sizeof(float) * (size_t)csize);
    util_fill_random(b, bsize, seed + 1);
    util_fill_random(c, csize, seed + 2);
    tasd_view bv, cv;
    int64_t brs, bcs, crs, ccs;
    if (gc->b_layout == 2) {
        brs = 1, bcs = k;
    } else {
        brs = n + bpad, bcs = 1;
    }
    if (gc->c_layout == 2) {
        crs = 1, ccs = m;
    } else {
        crs = n + cpad, ccs = 1;
    }
    bv = tasd_view_2d_strided(b, TASD_F32, k, n, brs, bcs);
    cv = tasd_view_2d_strided(c, TASD_F32, m, n, crs, ccs);
    if (gc->beta == 0.0f) /* beta == 0: C is not read, so NaN must not leak */
        for (int64_t i = 0; i < csize; i++)
            c[i] = NAN;
    double *ref = malloc(sizeof(double) * (size_t)(m * n + 1));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            ref[i * n + j] = c[i * crs + j * ccs];
    dense_ref(m, k, n, gc->alpha, wa, b, brs, bcs, gc->beta, ref);

    int bad = 0;
    tasd_status st = tasd_gemm(ctx, gc->alpha, s, &bv, gc->beta, &cv);
    if (st != TASD_OK) {
        fprintf(stderr, "tasd_gemm: %s\n", tasd_last_error_message());
        bad = 1;
    }
    for (int64_t i = 0; i < m && !bad; i++)
        for (int64_t j = 0; j < n; j++) {
            double scale = fabs(gc->beta * ref[i * n + j]);
            for (int64_t p = 0; p < k; p++)
                scale += fabs((double)gc->alpha * wa[i * k + p] * b[p * brs + j * bcs]);
            if (!close_enough(c[i * crs + j * ccs], ref[i * n + j], scale)) {
                fprintf(stderr, "  c[%lld,%lld] = %.9g, want %.9g\n", (long long)i,
                        (long long)j, c[i * crs + j * ccs], ref[i * n + j]);
                bad++;
                break;
            }
        }
    free(ref);
    free(b);
    free(c);
    free(wa);
    free(w);
    tasd_series_destroy(s);
    return bad;
}

/* Every shape with every config, cycling through the B and C layouts. */
static void run_grid(const int64_t (*shapes)[3], unsigned nshapes, const char *const *cfgs,
                     unsigned ncfgs, float alpha, float beta, unsigned seed)
{
    for (unsigned sh = 0; sh < nshapes; sh++)
        for (unsigned c = 0; c < ncfgs; c++) {
            gemm_case gc = {shapes[sh][0], shapes[sh][1], shapes[sh][2], cfgs[c],
                            (int)(seed % 3), (int)((seed / 3) % 3), alpha, beta};
            CHECKF(run_case(NULL, &gc, seed) == 0, "%lldx%lldx%lld %s b%d c%d",
                   (long long)gc.m, (long long)gc.k, (long long)gc.n, gc.config,
                   gc.b_layout, gc.c_layout);
            seed++;
        }
}

static void test_shapes_configs_layouts(void)
{
    const int64_t shapes[][3] = {{1, 1, 1},   {4, 8, 1},   {5, 10, 3}, {7, 13, 17},
                                 {16, 64, 16}, {3, 33, 2},  {33, 40, 9}, {9, 100, 64},
                                 {2, 31, 100}, {20, 96, 7}, {1, 5, 8}};
    const char *cfgs[] = {"2:4", "1:4", "1:8", "2:4+1:8", "1:8+2:4", "1:2+1:4+1:8", "3:32"};
    run_grid(shapes, 11, cfgs, 7, 1.0f, 0.0f, 1);
}

/* n past one group of B panels (more than 256 columns), odd m and k, every
 * layout: against the double-precision reference. */
static void test_wide_n(void)
{
    const int64_t shapes[][3] = {{37, 70, 300}, {19, 131, 520}, {5, 9, 257}};
    const char *cfgs[] = {"2:4", "2:4+1:8", "1:8"};
    run_grid(shapes, 3, cfgs, 3, 0.75f, 0.5f, 500);
}

static void test_alpha_beta(void)
{
    const float ab[][2] = {{1, 0}, {1, 1}, {-2, 0.5f}, {0.25f, -1}, {0, 2}, {0, 0}};
    for (unsigned i = 0; i < sizeof ab / sizeof *ab; i++)
        for (int layout = 0; layout < 3; layout++) {
            gemm_case gc = {13, 22, 5, "2:4+1:8", layout, 2 - layout, ab[i][0], ab[i][1]};
            CHECKF(run_case(NULL, &gc, 100 + i) == 0, "alpha %g beta %g layout %d", ab[i][0],
                   ab[i][1], layout);
        }
}

static void test_threads_give_identical_results(void)
{
    enum { M = 70, K = 48, N = 19 };
    float *w = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * K * N);
    float *c1 = malloc(sizeof(float) * M * N), *c2 = malloc(sizeof(float) * M * N);
    util_fill_random(w, M * K, 5);
    util_fill_random(b, K * N, 6);
    tasd_series *s = util_decompose(NULL, w, M, K, "2:4+1:8", TASD_GREEDY);
    tasd_view bv = tasd_view_2d(b, TASD_F32, K, N, N);
    for (int threads = 1; threads <= 3; threads++) {
        tasd_context *ctx;
        tasd_context_create(NULL, &ctx);
        tasd_context_set_threads(ctx, threads);
        tasd_view cv = tasd_view_2d(threads == 1 ? c1 : c2, TASD_F32, M, N, N);
        CHECK_OK(tasd_gemm(ctx, 1.0f, s, &bv, 0.0f, &cv));
        if (threads > 1)
            CHECK(memcmp(c1, c2, sizeof(float) * M * N) == 0);
        tasd_context_destroy(ctx);
    }
    tasd_series_destroy(s);
    free(w);
    free(b);
    free(c1);
    free(c2);
}

static void test_bad_arguments_leave_c_untouched(void)
{
    enum { M = 6, K = 8, N = 4 };
    float w[M * K], b[K * N + 64], c[M * N + 64];
    util_fill_random(w, M * K, 1);
    util_fill_random(b, K * N + 64, 2);
    for (int i = 0; i < M * N + 64; i++)
        c[i] = 7.0f;
    tasd_series *s = util_decompose(NULL, w, M, K, "2:4", TASD_GREEDY);
    tasd_view bv = tasd_view_2d(b, TASD_F32, K, N, N);
    tasd_view cv = tasd_view_2d(c, TASD_F32, M, N, N);
    CHECK_STATUS(tasd_gemm(NULL, 1, NULL, &bv, 0, &cv), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_gemm(NULL, 1, s, NULL, 0, &cv), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_gemm(NULL, 1, s, &bv, 0, NULL), TASD_ERR_NULL_POINTER);
    tasd_view v = tasd_view_2d(b, TASD_F32, K + 1, N, N); /* k mismatch */
    CHECK_STATUS(tasd_gemm(NULL, 1, s, &v, 0, &cv), TASD_ERR_SHAPE);
    v = tasd_view_2d(c, TASD_F32, M, N + 1, N + 1); /* n mismatch */
    CHECK_STATUS(tasd_gemm(NULL, 1, s, &bv, 0, &v), TASD_ERR_SHAPE);
    v = tasd_view_2d(c, TASD_F32, M - 1, N, N); /* m mismatch */
    CHECK_STATUS(tasd_gemm(NULL, 1, s, &bv, 0, &v), TASD_ERR_SHAPE);
    v = tasd_view_2d(c, TASD_F16, M, N, N); /* B may be f16, C only f32 or bf16 */
    CHECK_STATUS(tasd_gemm(NULL, 1, s, &bv, 0, &v), TASD_ERR_DTYPE);
    v = bv;
    v.ndim = 3;
    v.shape[2] = 1;
    v.strides[2] = 1;
    CHECK_STATUS(tasd_gemm(NULL, 1, s, &v, 0, &cv), TASD_ERR_SHAPE);
    v = tasd_view_2d_strided(c, TASD_F32, M, N, 0, 1); /* rows on top of each other */
    CHECK_STATUS(tasd_gemm(NULL, 1, s, &bv, 0, &v), TASD_ERR_ALIAS);
    v = tasd_view_2d(b + 8, TASD_F32, M, N, N); /* C inside B */
    CHECK_STATUS(tasd_gemm(NULL, 1, s, &bv, 0, &v), TASD_ERR_ALIAS);
    v = bv;
    v.data = NULL;
    CHECK_STATUS(tasd_gemm(NULL, 1, s, &v, 0, &cv), TASD_ERR_NULL_POINTER);
    v = bv;
    v.strides[0] = (int64_t)1 << 50;
    CHECK_STATUS(tasd_gemm(NULL, 1, s, &v, 0, &cv), TASD_ERR_OVERFLOW);
    /* INT64_MIN has no absolute value: it must not slip past the limit
     * (times 4 bytes it wraps to 0, every row of C on the first). */
    v = cv;
    v.strides[0] = INT64_MIN;
    CHECK_STATUS(tasd_gemm(NULL, 1, s, &bv, 0, &v), TASD_ERR_OVERFLOW);
    v = bv;
    v.strides[1] = INT64_MIN;
    CHECK_STATUS(tasd_gemm(NULL, 1, s, &v, 0, &cv), TASD_ERR_OVERFLOW);
    for (int i = 0; i < M * N + 64; i++)
        CHECKF(c[i] == 7.0f, "c[%d] changed", i);
    tasd_series_destroy(s);
}

/* C's rows may interleave without meeting: 2 x 4 at row stride 2 and column
 * stride 3 is elements 0 3 6 9 and 2 5 8 11, written as a plain C would be
 * (it was TASD_ERR_ALIAS); 4 x 3 at the same strides puts (0, 2) and (3, 0)
 * both on element 6: TASD_ERR_ALIAS, nothing written. */
static void test_interleaved_c(void)
{
    float w[4 * 8], b[8 * 4], ref[4 * 4], c[16];
    util_fill_random(w, 4 * 8, 5);
    util_fill_random(b, 8 * 4, 6);
    tasd_series *s = util_decompose(NULL, w, 2, 8, "2:4", TASD_GREEDY);
    tasd_view bv = tasd_view_2d(b, TASD_F32, 8, 4, 4), rv = tasd_view_2d(ref, TASD_F32, 2, 4, 4);
    CHECK_OK(tasd_gemm(NULL, 1, s, &bv, 0, &rv));
    for (int i = 0; i < 16; i++)
        c[i] = 7.0f;
    tasd_view cv = tasd_view_2d_strided(c, TASD_F32, 2, 4, 2, 3);
    CHECK_OK(tasd_gemm(NULL, 1, s, &bv, 0, &cv));
    for (int r = 0; r < 2; r++)
        for (int j = 0; j < 4; j++)
            CHECK(c[r * 2 + j * 3] == ref[r * 4 + j]);
    const int untouched[] = {1, 4, 7, 10, 12, 13, 14, 15};
    for (int i = 0; i < 8; i++)
        CHECK(c[untouched[i]] == 7.0f);
    tasd_series_destroy(s);
    s = util_decompose(NULL, w, 4, 8, "2:4", TASD_GREEDY);
    for (int i = 0; i < 16; i++)
        c[i] = 7.0f;
    bv = tasd_view_2d(b, TASD_F32, 8, 3, 4);
    cv = tasd_view_2d_strided(c, TASD_F32, 4, 3, 2, 3);
    CHECK_STATUS(tasd_gemm(NULL, 1, s, &bv, 0, &cv), TASD_ERR_ALIAS);
    cv = tasd_view_2d_strided(c + 6, TASD_F32, 4, 3, -2, 3); /* the same, a row stride < 0 */
    CHECK_STATUS(tasd_gemm(NULL, 1, s, &bv, 0, &cv), TASD_ERR_ALIAS);
    for (int i = 0; i < 16; i++)
        CHECK(c[i] == 7.0f);
    tasd_series_destroy(s);
}

static void test_empty_dimensions(void)
{
    float w[8] = {1, 2, 3, 4, 5, 6, 7, 8}, b[8] = {1}, c[8];
    /* n = 0: nothing to compute, nothing touched. */
    tasd_series *s = util_decompose(NULL, w, 2, 4, "2:4", TASD_GREEDY);
    tasd_view bv = tasd_view_2d(b, TASD_F32, 4, 0, 1), cv = tasd_view_2d(c, TASD_F32, 2, 0, 1);
    CHECK_OK(tasd_gemm(NULL, 1, s, &bv, 0, &cv));
    tasd_series_destroy(s);
    /* k = 0: C = beta * C. */
    s = util_decompose(NULL, w, 2, 0, "2:4", TASD_GREEDY);
    for (int i = 0; i < 4; i++)
        c[i] = 3.0f;
    bv = tasd_view_2d(b, TASD_F32, 0, 2, 2);
    cv = tasd_view_2d(c, TASD_F32, 2, 2, 2);
    CHECK_OK(tasd_gemm(NULL, 1, s, &bv, 0.5f, &cv));
    for (int i = 0; i < 4; i++)
        CHECK(c[i] == 1.5f);
    tasd_series_destroy(s);
    /* Empty views with strides 0 (numpy's zero-size arrays) hold no elements:
     * neither self-overlapping nor overlapping another view. */
    s = util_decompose(NULL, w, 2, 4, "2:4", TASD_GREEDY);
    bv = tasd_view_2d_strided(b, TASD_F32, 4, 0, 0, 0);
    cv = tasd_view_2d_strided(c, TASD_F32, 2, 0, 0, 0);
    CHECK_OK(tasd_gemm(NULL, 1, s, &bv, 0, &cv));
    cv = tasd_view_2d_strided(b, TASD_F32, 2, 0, 0, 0); /* same address as b */
    CHECK_OK(tasd_gemm(NULL, 1, s, &bv, 0, &cv));
    tasd_series_destroy(s);
    int64_t shapes[2][2] = {{0, 4}, {2, 0}};
    for (int i = 0; i < 2; i++) {
        s = util_decompose(NULL, w, shapes[i][0], shapes[i][1], "2:4", TASD_GREEDY);
        cv = tasd_view_2d_strided(c, TASD_F32, shapes[i][0], shapes[i][1], 0, 0);
        CHECK_OK(tasd_series_reconstruct(s, &cv));
        tasd_series_destroy(s);
    }
    /* ...while a non-empty one with a zero stride still does. */
    s = util_decompose(NULL, w, 2, 0, "2:4", TASD_GREEDY);
    bv = tasd_view_2d(b, TASD_F32, 0, 2, 2);
    cv = tasd_view_2d_strided(c, TASD_F32, 2, 2, 0, 1);
    CHECK_STATUS(tasd_gemm(NULL, 1, s, &bv, 0, &cv), TASD_ERR_ALIAS);
    tasd_series_destroy(s);
}

TEST_MAIN(RUN(test_shapes_configs_layouts); RUN(test_wide_n); RUN(test_alpha_beta);
          RUN(test_threads_give_identical_results); RUN(test_bad_arguments_leave_c_untouched);
          RUN(test_empty_dimensions); RUN(test_interleaved_c);)
