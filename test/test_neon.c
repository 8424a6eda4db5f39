/* The NEON backend against the scalar reference (aarch64; run it for real
 * with `make cross-test`, under qemu-aarch64). On other machines it checks
 * that the backend is reported unavailable and that forcing it fails cleanly.
 *
 * Both backends are forced through contexts, so the comparison runs whatever
 * TASD_BACKEND says. Decomposition must match bit for bit (selection is
 * exact); GEMM must match to a rounding tolerance scaled by the magnitudes
 * summed (NEON uses fused multiply-adds and other summation orders). */
#include "harness.h"
#include "tasd.h"

#include <stdint.h>

#if !defined(__aarch64__)

static void test_neon_unavailable_here(void)
{
    CHECK(!tasd_backend_available(TASD_BACKEND_NEON));
    tasd_context *ctx = NULL;
    CHECK_OK(tasd_context_create(NULL, &ctx));
    CHECK_STATUS(tasd_context_set_backend(ctx, TASD_BACKEND_NEON), TASD_ERR_UNSUPPORTED);
    CHECK(tasd_context_backend(ctx) != TASD_BACKEND_NEON);
    tasd_context_destroy(ctx);
}

TEST_MAIN(RUN(test_neon_unavailable_here);)

#else

static tasd_context *ctx_for(tasd_backend b, int threads)
{
    tasd_context *ctx = NULL;
    if (tasd_context_create(NULL, &ctx) != TASD_OK)
        return NULL;
    if (tasd_context_set_backend(ctx, b) != TASD_OK ||
        tasd_context_set_threads(ctx, threads) != TASD_OK) {
        tasd_context_destroy(ctx);
        return NULL;
    }
    return ctx;
}

static const char *const configs[] = {"2:4", "1:4", "3:4", "4:4", "1:2", "2:4+1:8",
                                      "1:8", "3:8", "5:16", "7:32", "1:8+2:4", "2:32+1:4"};
#define NCONFIGS (int)(sizeof configs / sizeof *configs)

enum { FILL_UNIFORM, FILL_TIES, FILL_SPARSE, NFILLS };

static void fill(float *w, int64_t count, int kind)
{
    for (int64_t i = 0; i < count; i++) {
        switch (kind) {
        case FILL_UNIFORM: w[i] = test_rand_float(); break;
        case FILL_TIES: w[i] = (float)test_rand_int(-2, 2); break; /* many ties, zeros */
        default: w[i] = test_rand_int(0, 3) == 0 ? test_rand_float() : 0.0f; break;
        }
    }
}

static void test_neon_is_available(void)
{
    CHECK(tasd_backend_available(TASD_BACKEND_NEON));
    tasd_context *ctx = ctx_for(TASD_BACKEND_NEON, 1);
    CHECK(ctx != NULL);
    CHECK(tasd_context_backend(ctx) == TASD_BACKEND_NEON);
    tasd_context_destroy(ctx);
    const char *env = getenv("TASD_BACKEND");
    if (!env || !*env) /* the default on aarch64 is NEON */
        CHECK(tasd_context_backend(NULL) == TASD_BACKEND_NEON);
}

/* Export every term of both series and compare bit for bit. */
static int same_series(const tasd_series *a, const tasd_series *b)
{
    const tasd_config *cfg = tasd_series_config(a);
    int same = 1;
    for (int t = 0; t < tasd_config_terms(cfg); t++) {
        int n, m;
        int64_t groups, rows, cols;
        if (tasd_series_term_layout(a, t, &n, &m, &groups) != TASD_OK ||
            tasd_series_shape(a, &rows, &cols) != TASD_OK)
            return 0;
        int64_t cap = rows * groups * n;
        float *va = malloc((size_t)(cap ? cap : 1) * sizeof *va);
        float *vb = malloc((size_t)(cap ? cap : 1) * sizeof *vb);
        uint8_t *ia = malloc((size_t)(cap ? cap : 1));
        uint8_t *ib = malloc((size_t)(cap ? cap : 1));
        if (!va || !vb || !ia || !ib ||
            tasd_series_export_term(a, t, va, ia, cap) != TASD_OK ||
            tasd_series_export_term(b, t, vb, ib, cap) != TASD_OK)
            same = 0;
        else if (cap && (memcmp(va, vb, (size_t)cap * sizeof *va) != 0 ||
                         memcmp(ia, ib, (size_t)cap) != 0))
            same = 0;
        free(va);
        free(vb);
        free(ia);
        free(ib);
    }
    return same;
}

static void test_select_matches_scalar(void)
{
    tasd_context *neon = ctx_for(TASD_BACKEND_NEON, 1);
    tasd_context *ref = ctx_for(TASD_BACKEND_SCALAR, 1);
    CHECK(neon && ref);
    static const int64_t ks[] = {1, 3, 4, 7, 8, 13, 16, 33, 64, 100, 131};
    test_seed(11);
    for (int ci = 0; ci < NCONFIGS; ci++) {
        tasd_config *cfg;
        CHECK_OK(tasd_config_parse(NULL, configs[ci], &cfg));
        for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
            for (int kind = 0; kind < NFILLS; kind++)
                for (int method = TASD_GREEDY; method <= TASD_OPTIMAL; method++) {
                    int64_t rows = 1 + test_rand_int(0, 6), k = ks[ki];
                    int64_t ld = k + test_rand_int(0, 3); /* strided rows */
                    float *w = malloc((size_t)(rows * ld) * sizeof *w);
                    fill(w, rows * ld, kind);
                    tasd_view v = tasd_view_2d(w, TASD_F32, rows, k, ld);
                    tasd_series *a = NULL, *b = NULL;
                    CHECK_OK(tasd_decompose(neon, &v, cfg, (tasd_method)method, &a));
                    CHECK_OK(tasd_decompose(ref, &v, cfg, (tasd_method)method, &b));
                    if (a && b) {
                        CHECKF(same_series(a, b), "config %s k %lld fill %d method %d",
                               configs[ci], (long long)k, kind, method);
                        tasd_stats sa = {.size = sizeof sa};
                        tasd_stats sb = {.size = sizeof sb};
                        CHECK_OK(tasd_series_stats(a, &sa));
                        CHECK_OK(tasd_series_stats(b, &sb));
                        CHECK(sa.kept_nonzeros == sb.kept_nonzeros);
                        CHECK(sa.retained_energy == sb.retained_energy);
                    }
                    tasd_series_destroy(a);
                    tasd_series_destroy(b);
                    free(w);
                }
        tasd_config_destroy(cfg);
    }
    tasd_context_destroy(neon);
    tasd_context_destroy(ref);
}

/* Layouts of a rows x cols operand inside a buffer. */
enum { LAY_DENSE, LAY_PADDED, LAY_COLSTRIDE, LAY_TRANSPOSED, NLAYS };

static tasd_view layout_view(float *buf, int64_t rows, int64_t cols, int lay)
{
    switch (lay) {
    case LAY_PADDED: return tasd_view_2d(buf, TASD_F32, rows, cols, cols + 3);
    case LAY_COLSTRIDE: return tasd_view_2d_strided(buf, TASD_F32, rows, cols, 2 * cols + 1, 2);
    case LAY_TRANSPOSED: return tasd_view_2d_strided(buf, TASD_F32, rows, cols, 1, rows);
    default: return tasd_view_2d(buf, TASD_F32, rows, cols, cols);
    }
}

static int64_t layout_elems(int64_t rows, int64_t cols)
{
    return rows * (2 * cols + 4) + 8; /* enough for every layout above */
}

static float *at(const tasd_view *v, int64_t i, int64_t j)
{
    return (float *)v->data + i * v->strides[0] + j * v->strides[1];
}

static void test_gemm_matches_scalar(void)
{
    tasd_context *neon = ctx_for(TASD_BACKEND_NEON, 1);
    tasd_context *ref = ctx_for(TASD_BACKEND_SCALAR, 1);
    CHECK(neon && ref);
    static const int64_t rows_list[] = {1, 5, 17, 70}; /* 70: two row blocks */
    static const int64_t ks[] = {3, 7, 8, 13, 64, 100, 257}; /* 257: three K blocks */
    static const int64_t ns[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 33, 64, 100};
    static const float ab[][2] = {{1.0f, 0.0f}, {0.5f, 1.0f}, {-2.0f, 0.25f}, {1.0f, 1.0f}};
    static const char *const gcfgs[] = {"2:4", "1:4", "2:4+1:8", "1:8", "3:8", "5:16+1:2"};
    test_seed(23);
    int cases = 0, bad = 0;
    for (size_t ci = 0; ci < sizeof gcfgs / sizeof *gcfgs; ci++) {
        tasd_config *cfg;
        CHECK_OK(tasd_config_parse(NULL, gcfgs[ci], &cfg));
        for (size_t ri = 0; ri < sizeof rows_list / sizeof *rows_list; ri++)
            for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
                for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++) {
                    int64_t m = rows_list[ri], k = ks[ki], n = ns[ni];
                    float *w = malloc((size_t)(m * k) * sizeof *w);
                    float *wa = malloc((size_t)(m * k) * sizeof *wa);
                    fill(w, m * k, (int)((ri + ni) % NFILLS));
                    tasd_view wv = tasd_view_2d(w, TASD_F32, m, k, k);
                    tasd_series *s = NULL;
                    /* f32, bf16 and f16 series values in turn: the NEON
                     * half-value kernels against the scalar ones */
                    static const tasd_dtype vts[] = {TASD_F32, TASD_BF16, TASD_F16};
                    tasd_decompose_options o = {sizeof o, vts[(ci + ri + ki + ni) % 3]};
                    CHECK_OK(tasd_decompose_ex(ref, &wv, cfg, TASD_GREEDY, &o, &s));
                    tasd_view wav = tasd_view_2d(wa, TASD_F32, m, k, k);
                    CHECK_OK(tasd_series_reconstruct(s, &wav));
                    int blay = test_rand_int(0, NLAYS - 1);
                    int clay = test_rand_int(0, NLAYS - 1);
                    const float *alpha_beta = ab[test_rand_int(0, 3)];
                    float *bbuf = calloc((size_t)layout_elems(k, n), sizeof *bbuf);
                    float *c0 = calloc((size_t)layout_elems(m, n), sizeof *c0);
                    float *c1 = calloc((size_t)layout_elems(m, n), sizeof *c1);
                    float *c2 = calloc((size_t)layout_elems(m, n), sizeof *c2);
                    tasd_view bv = layout_view(bbuf, k, n, blay);
                    tasd_view cv0 = layout_view(c0, m, n, clay);
                    tasd_view cv1 = layout_view(c1, m, n, clay);
                    tasd_view cv2 = layout_view(c2, m, n, clay);
                    for (int64_t i = 0; i < k; i++)
                        for (int64_t j = 0; j < n; j++)
                            *at(&bv, i, j) = test_rand_float();
                    for (int64_t i = 0; i < m; i++)
                        for (int64_t j = 0; j < n; j++)
                            *at(&cv0, i, j) = *at(&cv1, i, j) = *at(&cv2, i, j) =
                                test_rand_float();
                    CHECK_OK(tasd_gemm(ref, alpha_beta[0], s, &bv, alpha_beta[1], &cv1));
                    CHECK_OK(tasd_gemm(neon, alpha_beta[0], s, &bv, alpha_beta[1], &cv2));
                    for (int64_t i = 0; i < m; i++)
                        for (int64_t j = 0; j < n; j++) {
                            double mag = fabs(alpha_beta[1] * *at(&cv0, i, j));
                            for (int64_t q = 0; q < k; q++)
                                mag += fabs(alpha_beta[0] * wa[i * k + q] * *at(&bv, q, j));
                            double d = fabs((double)*at(&cv1, i, j) - *at(&cv2, i, j));
                            if (!(d <= 1e-5 * mag + 1e-30)) {
                                bad++;
                                CHECKF(0, "%s values=%s %lldx%lldx%lld b%d c%d (%d,%d): "
                                          "scalar %.9g neon %.9g",
                                       gcfgs[ci], tasd_dtype_name((tasd_dtype)o.values),
                                       (long long)m, (long long)k, (long long)n, blay, clay,
                                       (int)i, (int)j, *at(&cv1, i, j), *at(&cv2, i, j));
                            }
                        }
                    /* the padding around C is never written */
                    {
                        int64_t ne = layout_elems(m, n);
                        char *inside = calloc((size_t)ne, 1);
                        for (int64_t i = 0; i < m; i++)
                            for (int64_t j = 0; j < n; j++)
                                inside[at(&cv2, i, j) - c2] = 1;
                        for (int64_t e = 0; e < ne; e++)
                            CHECKF(inside[e] || c0[e] == c2[e],
                                   "neon wrote outside C at element %lld", (long long)e);
                        free(inside);
                    }
                    cases++;
                    tasd_series_destroy(s);
                    free(w);
                    free(wa);
                    free(bbuf);
                    free(c0);
                    free(c1);
                    free(c2);
                }
        tasd_config_destroy(cfg);
    }
    CHECK(cases == 6 * 4 * 7 * 12);
    CHECK(bad == 0);
    tasd_context_destroy(neon);
    tasd_context_destroy(ref);
}

/* A weight of 0 selects nothing: NaN in rows of B that no kept weight uses
 * (a group of zeros still "keeps" index 0..n-1 with value 0) must not reach
 * C, exactly as in the scalar reference. */
static void test_zero_weights_ignore_nan_in_b(void)
{
    tasd_context *neon = ctx_for(TASD_BACKEND_NEON, 1);
    tasd_context *ref = ctx_for(TASD_BACKEND_SCALAR, 1);
    const int64_t m = 3, k = 16;
    float w[3 * 16];
    for (int i = 0; i < 3 * 16; i++)
        w[i] = (i % 16) >= 8 ? 1.0f + (float)(i % 5) : 0.0f; /* first two groups zero */
    tasd_config *cfg;
    CHECK_OK(tasd_config_parse(NULL, "2:4", &cfg));
    tasd_view wv = tasd_view_2d(w, TASD_F32, m, k, k);
    static const int64_t ns[] = {1, 4, 17, 40};
    static const tasd_dtype vts[] = {TASD_F32, TASD_BF16, TASD_F16};
    for (size_t vi = 0; vi < 3; vi++) {
        for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++) {
            tasd_series *s = NULL;
            tasd_decompose_options o = {sizeof o, vts[vi]};
            CHECK_OK(tasd_decompose_ex(ref, &wv, cfg, TASD_GREEDY, &o, &s));
            int64_t n = ns[ni];
            float b[16 * 40], c1[3 * 40], c2[3 * 40];
            for (int64_t i = 0; i < k * n; i++)
                b[i] = i / n < 8 ? NAN : 0.5f;
            tasd_view bv = tasd_view_2d(b, TASD_F32, k, n, n);
            tasd_view cv1 = tasd_view_2d(c1, TASD_F32, m, n, n);
            tasd_view cv2 = tasd_view_2d(c2, TASD_F32, m, n, n);
            CHECK_OK(tasd_gemm(ref, 1.0f, s, &bv, 0.0f, &cv1));
            CHECK_OK(tasd_gemm(neon, 1.0f, s, &bv, 0.0f, &cv2));
            for (int64_t i = 0; i < m * n; i++) {
                CHECKF(c2[i] == c1[i], "values=%s n %lld elem %lld: scalar %g neon %g",
                       tasd_dtype_name(vts[vi]), (long long)n, (long long)i, c1[i], c2[i]);
                CHECK(isfinite(c2[i]));
            }
            tasd_series_destroy(s);
        }
    }
    tasd_config_destroy(cfg);
    tasd_context_destroy(neon);
    tasd_context_destroy(ref);
}

/* Results do not depend on the thread count. */
static void test_threads_bitwise_equal(void)
{
    tasd_context *one = ctx_for(TASD_BACKEND_NEON, 1);
    tasd_context *four = ctx_for(TASD_BACKEND_NEON, 4);
    CHECK(one && four);
    const int64_t m = 77, k = 90, n = 19;
    float *w = malloc((size_t)(m * k) * sizeof *w);
    float *b = malloc((size_t)(k * n) * sizeof *b);
    float *c1 = malloc((size_t)(m * n) * sizeof *c1);
    float *c4 = malloc((size_t)(m * n) * sizeof *c4);
    test_seed(5);
    fill(w, m * k, FILL_UNIFORM);
    fill(b, k * n, FILL_UNIFORM);
    tasd_config *cfg;
    CHECK_OK(tasd_config_parse(NULL, "2:4+1:8", &cfg));
    tasd_view wv = tasd_view_2d(w, TASD_F32, m, k, k);
    tasd_series *s1 = NULL, *s4 = NULL;
    CHECK_OK(tasd_decompose(one, &wv, cfg, TASD_GREEDY, &s1));
    CHECK_OK(tasd_decompose(four, &wv, cfg, TASD_GREEDY, &s4));
    CHECK(s1 && s4 && same_series(s1, s4));
    for (int64_t nn = 1; nn <= n; nn += 9) {
        tasd_view bv = tasd_view_2d(b, TASD_F32, k, nn, n);
        tasd_view cv1 = tasd_view_2d(c1, TASD_F32, m, nn, n);
        tasd_view cv4 = tasd_view_2d(c4, TASD_F32, m, nn, n);
        CHECK_OK(tasd_gemm(one, 1.0f, s1, &bv, 0.0f, &cv1));
        CHECK_OK(tasd_gemm(four, 1.0f, s1, &bv, 0.0f, &cv4));
        for (int64_t i = 0; i < m; i++)
            CHECK(memcmp(c1 + i * n, c4 + i * n, (size_t)nn * sizeof *c1) == 0);
    }
    tasd_series_destroy(s1);
    tasd_series_destroy(s4);
    tasd_config_destroy(cfg);
    free(w);
    free(b);
    free(c1);
    free(c4);
    tasd_context_destroy(one);
    tasd_context_destroy(four);
}

TEST_MAIN(RUN(test_neon_is_available); RUN(test_select_matches_scalar);
          RUN(test_gemm_matches_scalar); RUN(test_zero_weights_ignore_nan_in_b);
          RUN(test_threads_bitwise_equal);)

#endif
