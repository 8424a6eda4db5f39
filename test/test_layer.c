/* Layers in every mode, the dense path and tasd_gemm_act against reference
 * maths, with odd shapes, strided views and bad arguments. */
#include "tasd.h"
#include "harness.h"
#include "support/util.h"

#include <stdint.h>

/* Y[t][o] = sum_k X[t][k] * W[o][k] + b[o], in double. X, W dense row-major. */
static void ref_linear(const float *x, const float *w, const float *b, int64_t tokens,
                       int64_t in, int64_t out, double *y)
{
    for (int64_t t = 0; t < tokens; t++)
        for (int64_t o = 0; o < out; o++) {
            double s = b ? b[o] : 0.0;
            for (int64_t k = 0; k < in; k++)
                s += (double)x[t * in + k] * w[o * in + k];
            y[t * out + o] = s;
        }
}

/* Reconstruction of a decomposition of m [rows, cols] (row-major). */
static float *approx(const float *m, int64_t rows, int64_t cols, const char *cfg,
                     tasd_method method)
{
    tasd_config *c = NULL;
    tasd_series *s = NULL;
    float *r = calloc((size_t)(rows * cols) + 1, sizeof *r);
    tasd_view v = tasd_view_2d(m, TASD_F32, rows, cols, cols);
    tasd_view rv = tasd_view_2d(r, TASD_F32, rows, cols, cols);
    if (tasd_config_parse(NULL, cfg, &c) || tasd_decompose(NULL, &v, c, method, &s) ||
        tasd_series_reconstruct(s, &rv)) {
        free(r);
        r = NULL;
    }
    tasd_series_destroy(s);
    tasd_config_destroy(c);
    return r;
}

static tasd_layer_config *lcfg(const char *w, const char *a, tasd_method method)
{
    tasd_config *cw = NULL, *ca = NULL;
    tasd_layer_config *lc = NULL;
    if (w)
        tasd_config_parse(NULL, w, &cw);
    if (a)
        tasd_config_parse(NULL, a, &ca);
    tasd_layer_config_create(NULL, "l", cw, ca, method, NULL, &lc);
    tasd_config_destroy(cw);
    tasd_config_destroy(ca);
    return lc;
}

/* Run one layer with strided X (padded rows) and a transposed (column-major)
 * Y, and compare with the reference. mode: 0 dense, 1 W, 2 A. */
static void check_layer(int mode, const char *cfg, tasd_method method, int64_t tokens,
                        int64_t in, int64_t out, int with_bias, int strided)
{
    float *w = test_rand_buf((size_t)(out * in));
    float *b = with_bias ? test_rand_buf((size_t)out) : NULL;
    int64_t xrs = strided ? in + 3 : in;
    float *xs = test_rand_buf((size_t)(tokens * xrs));
    float *x = malloc((size_t)(tokens * in + 1) * sizeof *x); /* packed copy */
    for (int64_t t = 0; t < tokens; t++)
        for (int64_t k = 0; k < in; k++)
            x[t * in + k] = xs[t * xrs + k];
    float *y = malloc((size_t)(tokens * out + 1) * sizeof *y);
    for (int64_t i = 0; i < tokens * out; i++)
        y[i] = NAN; /* must be overwritten */
    double *ref = malloc((size_t)(tokens * out + 1) * sizeof *ref);
    tasd_layer_config *lc = mode == 0 ? NULL
                            : lcfg(mode == 1 ? cfg : NULL, mode == 2 ? cfg : NULL, method);
    tasd_layer *layer = NULL;
    tasd_view bv = util_view_1d(b, out);
    tasd_view wv = tasd_view_2d(w, TASD_F32, out, in, in);
    CHECK_OK(tasd_layer_create(NULL, &wv, b ? &bv : NULL, lc, &layer));
    if (!layer)
        goto done;
    CHECK((int)tasd_layer_get_mode(layer) == mode);
    const float *xe = x, *we = w;
    float *xa = NULL, *wa = NULL;
    if (mode == 1)
        we = wa = approx(w, out, in, cfg, method);
    if (mode == 2)
        xe = xa = approx(x, tokens, in, cfg, method);
    CHECK(xe && we);
    if (xe && we)
        ref_linear(xe, we, b, tokens, in, out, ref);
    tasd_view xv = tasd_view_2d(xs, TASD_F32, tokens, in, xrs);
    /* Y stored column-major: element (t, o) at o * tokens + t */
    tasd_view yv = strided ? tasd_view_2d_strided(y, TASD_F32, tokens, out, 1, tokens)
                           : tasd_view_2d(y, TASD_F32, tokens, out, out);
    CHECK_OK(tasd_layer_forward(NULL, layer, &xv, &yv));
    double maxdiff = 0.0, scale = 1e-6;
    for (int64_t t = 0; t < tokens; t++)
        for (int64_t o = 0; o < out; o++) {
            double got = strided ? y[o * tokens + t] : y[t * out + o];
            double want = ref[t * out + o];
            double d = fabs(got - want);
            if (!(d <= maxdiff))
                maxdiff = isnan(d) ? INFINITY : d;
            if (fabs(want) > scale)
                scale = fabs(want);
        }
    CHECKF(maxdiff <= 1e-5 * scale * (1.0 + (double)in / 64.0),
           "mode %d cfg %s %lldx%lldx%lld bias %d strided %d: max diff %g (scale %g)", mode,
           cfg ? cfg : "-", (long long)tokens, (long long)in, (long long)out, with_bias,
           strided, maxdiff, scale);
    free(xa);
    free(wa);
done:
    tasd_layer_destroy(layer);
    tasd_layer_config_destroy(lc);
    free(w);
    free(b);
    free(xs);
    free(x);
    free(y);
    free(ref);
}

static const int64_t shapes[][3] = {
    {1, 1, 1}, {3, 5, 7}, {17, 33, 19}, {64, 40, 16}, {5, 8, 100}, {130, 37, 9}, {2, 64, 33}};
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

static void test_dense_forward(void)
{
    for (int s = 0; s < NSHAPES; s++)
        for (int bias = 0; bias < 2; bias++)
            for (int strided = 0; strided < 2; strided++)
                check_layer(0, NULL, TASD_GREEDY, shapes[s][0], shapes[s][1], shapes[s][2],
                            bias, strided);
}

static void test_weights_forward(void)
{
    const char *cfgs[] = {"2:4", "2:4+1:8", "1:8+2:4", "1:2"};
    for (int c = 0; c < 4; c++)
        for (int s = 0; s < NSHAPES; s++)
            for (int bias = 0; bias < 2; bias++)
                check_layer(1, cfgs[c], c == 2 ? TASD_OPTIMAL : TASD_GREEDY, shapes[s][0],
                            shapes[s][1], shapes[s][2], bias, (s + c) % 2);
}

static void test_activations_forward(void)
{
    const char *cfgs[] = {"2:4", "2:4+1:8", "1:8+2:4", "4:16"};
    for (int c = 0; c < 4; c++)
        for (int s = 0; s < NSHAPES; s++)
            for (int bias = 0; bias < 2; bias++)
                check_layer(2, cfgs[c], c == 2 ? TASD_OPTIMAL : TASD_GREEDY, shapes[s][0],
                            shapes[s][1], shapes[s][2], bias, (s + c + 1) % 2);
}

/* tasd_gemm_act == tasd_decompose + tasd_gemm, bit for bit, over tile edges,
 * strided operands, alpha/beta, and thread counts. */
static void test_gemm_act_exact(void)
{
    const int64_t dims[][3] = {{1, 5, 3}, {63, 37, 9}, {64, 16, 4}, {65, 31, 17}, {200, 24, 5}};
    const char *cfgs[] = {"2:4", "2:4+1:8", "3:8+1:4"};
    for (int d = 0; d < 5; d++)
        for (int c = 0; c < 3; c++) {
            int64_t m = dims[d][0], k = dims[d][1], n = dims[d][2];
            int64_t ars = k + 2;
            float *a = test_rand_buf((size_t)(m * ars));
            float *b = test_rand_buf((size_t)(k * n));
            float *c1 = test_rand_buf((size_t)(m * n));
            float *c2 = malloc((size_t)(m * n) * sizeof *c2);
            float *c3 = malloc((size_t)(m * n) * sizeof *c3);
            memcpy(c2, c1, (size_t)(m * n) * sizeof *c2);
            memcpy(c3, c1, (size_t)(m * n) * sizeof *c3);
            tasd_config *cfg = NULL;
            CHECK_OK(tasd_config_parse(NULL, cfgs[c], &cfg));
            tasd_method method = c == 2 ? TASD_OPTIMAL : TASD_GREEDY;
            tasd_view av = tasd_view_2d(a, TASD_F32, m, k, ars);
            /* B transposed in memory: (i, j) at j * k + i */
            tasd_view bv = tasd_view_2d_strided(b, TASD_F32, k, n, 1, k);
            tasd_view cv1 = tasd_view_2d(c1, TASD_F32, m, n, n);
            tasd_view cv2 = tasd_view_2d(c2, TASD_F32, m, n, n);
            tasd_view cv3 = tasd_view_2d(c3, TASD_F32, m, n, n);
            float alpha = 0.75f, beta = d % 2 ? 0.5f : 0.0f;
            CHECK_OK(tasd_gemm_act(NULL, alpha, &av, cfg, method, &bv, beta, &cv1));
            tasd_series *s = NULL;
            CHECK_OK(tasd_decompose(NULL, &av, cfg, method, &s));
            CHECK_OK(tasd_gemm(NULL, alpha, s, &bv, beta, &cv2));
            tasd_context *ctx = NULL;
            CHECK_OK(tasd_context_create(NULL, &ctx));
            CHECK_OK(tasd_context_set_threads(ctx, 1));
            CHECK_OK(tasd_gemm_act(ctx, alpha, &av, cfg, method, &bv, beta, &cv3));
            CHECKF(memcmp(c1, c2, (size_t)(m * n) * sizeof *c1) == 0, "%s %lldx%lldx%lld",
                   cfgs[c], (long long)m, (long long)k, (long long)n);
            CHECK(memcmp(c1, c3, (size_t)(m * n) * sizeof *c1) == 0);
            tasd_context_destroy(ctx);
            tasd_series_destroy(s);
            tasd_config_destroy(cfg);
            free(a);
            free(b);
            free(c1);
            free(c2);
            free(c3);
        }
}

/* A TASD-A layer (W^T prepacked at create time, tiles decomposed into reused
 * shells) == tasd_decompose(X) + tasd_gemm(series, W^T) with C preset to
 * the bias, bit for bit: tile edges, a transposed X (rows read with a
 * stride), bf16 weights, narrow and wide out, 1, 2 and 3 threads. */
static void test_act_layer_exact(void)
{
    const int64_t dims[][3] = {{1, 37, 5},    {63, 64, 70},  {64, 130, 9},
                               {65, 40, 130}, {129, 33, 8},  {200, 70, 66}};
    const char *cfgs[] = {"2:4", "2:4+1:8", "3:8+1:4"};
    for (int d = 0; d < 6; d++)
        for (int c = 0; c < 3; c++) {
            int64_t tokens = dims[d][0], in = dims[d][1], out = dims[d][2];
            int bf16 = (d + c) % 2, with_bias = d % 2 == 0, xt = c != 1;
            tasd_method method = c == 2 ? TASD_OPTIMAL : TASD_GREEDY;
            /* weights exact in bf16: k / 64, |k| <= 64 */
            float *w = malloc((size_t)(out * in) * sizeof *w);
            uint16_t *wb = malloc((size_t)(out * in) * sizeof *wb);
            for (int64_t i = 0; i < out * in; i++) {
                w[i] = (float)test_rand_int(-64, 64) / 64.0f;
                uint32_t u;
                memcpy(&u, &w[i], 4);
                wb[i] = (uint16_t)(u >> 16);
            }
            float *b = test_rand_buf((size_t)out);
            float *x = test_rand_buf((size_t)(tokens * in));
            float *y = malloc((size_t)(tokens * out) * sizeof *y);
            float *ref = malloc((size_t)(tokens * out) * sizeof *ref);
            tasd_view bv = util_view_1d(b, out);
            /* X (t, k) at k * tokens + t when transposed */
            tasd_view xv = xt ? tasd_view_2d_strided(x, TASD_F32, tokens, in, 1, tokens)
                              : tasd_view_2d(x, TASD_F32, tokens, in, in);
            tasd_view wv = bf16 ? tasd_view_2d(wb, TASD_BF16, out, in, in)
                                : tasd_view_2d(w, TASD_F32, out, in, in);
            tasd_view wtv = tasd_view_2d_strided(w, TASD_F32, in, out, 1, in);
            tasd_view yv = tasd_view_2d(y, TASD_F32, tokens, out, out);
            tasd_view rv = tasd_view_2d(ref, TASD_F32, tokens, out, out);
            tasd_layer_config *lc = lcfg(NULL, cfgs[c], method);
            tasd_config *cfg = NULL;
            tasd_series *s = NULL;
            tasd_layer *l = NULL;
            CHECK_OK(tasd_config_parse(NULL, cfgs[c], &cfg));
            CHECK_OK(tasd_decompose(NULL, &xv, cfg, method, &s));
            for (int64_t t = 0; t < tokens; t++)
                for (int64_t o = 0; o < out; o++)
                    ref[t * out + o] = with_bias ? b[o] : 0.0f;
            CHECK_OK(tasd_gemm(NULL, 1.0f, s, &wtv, with_bias ? 1.0f : 0.0f, &rv));
            CHECK_OK(tasd_layer_create(NULL, &wv, with_bias ? &bv : NULL, lc, &l));
            for (int threads = 1; threads <= 3 && l; threads++) {
                tasd_context *ctx = NULL;
                CHECK_OK(tasd_context_create(NULL, &ctx));
                CHECK_OK(tasd_context_set_threads(ctx, threads));
                for (int64_t i = 0; i < tokens * out; i++)
                    y[i] = NAN;
                CHECK_OK(tasd_layer_forward(ctx, l, &xv, &yv));
                CHECKF(memcmp(y, ref, (size_t)(tokens * out) * sizeof *y) == 0,
                       "%s %lldx%lldx%lld bf16 %d bias %d xt %d threads %d", cfgs[c],
                       (long long)tokens, (long long)in, (long long)out, bf16, with_bias, xt,
                       threads);
                tasd_context_destroy(ctx);
            }
            tasd_layer_destroy(l);
            tasd_series_destroy(s);
            tasd_config_destroy(cfg);
            tasd_layer_config_destroy(lc);
            free(w);
            free(wb);
            free(b);
            free(x);
            free(y);
            free(ref);
        }
}

/* TASD-A forward and tasd_gemm_act through a counting allocator: every
 * block (the prepack; the one scratch block of test_workspace.c's plan,
 * kept by the context between calls) freed with its size; each allocation
 * of a call on a fresh context failing in turn gives OUT_OF_MEMORY, no
 * leak, and leaves the layer usable. */
static void test_act_allocations(void)
{
    int64_t tokens = 70, in = 40, out = 66;
    float *w = test_rand_buf((size_t)(out * in)), *x = test_rand_buf((size_t)(tokens * in));
    float *y = malloc((size_t)(tokens * out) * sizeof *y);
    float *y0 = malloc((size_t)(tokens * out) * sizeof *y0);
    tasd_view wv = tasd_view_2d(w, TASD_F32, out, in, in);
    tasd_view wtv = tasd_view_2d_strided(w, TASD_F32, in, out, 1, in);
    tasd_view xv = tasd_view_2d(x, TASD_F32, tokens, in, in);
    tasd_view yv = tasd_view_2d(y, TASD_F32, tokens, out, out);
    tasd_view yv0 = tasd_view_2d(y0, TASD_F32, tokens, out, out);
    util_counting_allocator al;
    util_counting_allocator_init(&al);
    tasd_context *ctx = NULL;
    CHECK_OK(tasd_context_create(&al.hooks, &ctx));
    CHECK_OK(tasd_context_set_threads(ctx, 2));
    tasd_layer_config *lc = lcfg(NULL, "2:4+1:8", TASD_GREEDY);
    tasd_config *cfg = util_config("2:4+1:8");
    long blocks0 = al.live_blocks;
    long long bytes0 = al.live_bytes;
    tasd_layer *l = NULL;
    CHECK_OK(tasd_layer_create(ctx, &wv, NULL, lc, &l));
    CHECK_OK(tasd_layer_forward(ctx, l, &xv, &yv0));
    long before = al.total_allocs;
    CHECK_OK(tasd_layer_forward(ctx, l, &xv, &yv));
    CHECK(al.total_allocs == before); /* the context's kept scratch */
    CHECK(memcmp(y, y0, (size_t)(tokens * out) * sizeof *y) == 0);
    /* each call on a fresh context; tasd_gemm_act: B packed per call, same
     * result as the layer */
    for (int op = 0; op < 2; op++) {
        long per_call = 0;
        for (long f = 0; f <= per_call; f++) {
            tasd_context *fresh = NULL;
            CHECK_OK(tasd_context_create(&al.hooks, &fresh));
            CHECK_OK(tasd_context_set_threads(fresh, 2));
            long blocks = al.live_blocks, injected = al.injected;
            before = al.total_allocs;
            al.fail_after = f ? al.total_allocs + f : 0;
            tasd_status st = op ? tasd_gemm_act(fresh, 1.0f, &xv, cfg, TASD_GREEDY, &wtv, 0.0f, &yv)
                                : tasd_layer_forward(fresh, l, &xv, &yv);
            al.fail_after = 0;
            if (f == 0) { /* count the call's allocations */
                CHECK_OK(st);
                CHECK(memcmp(y, y0, (size_t)(tokens * out) * sizeof *y) == 0);
                per_call = al.total_allocs - before;
                CHECK(per_call > 0);
            } else {
                CHECK_STATUS(st, TASD_ERR_OUT_OF_MEMORY);
                CHECK(al.injected == injected + 1);
                CHECK(al.live_blocks == blocks);
                /* the failing allocation's own message */
                CHECKF(strstr(tasd_last_error_message(), "allocation of") != NULL,
                       "message: %s", tasd_last_error_message());
            }
            tasd_context_destroy(fresh);
        }
    }
    CHECK_OK(tasd_layer_forward(ctx, l, &xv, &yv));
    CHECK(memcmp(y, y0, (size_t)(tokens * out) * sizeof *y) == 0);
    tasd_layer_destroy(l);
    CHECK(al.live_blocks == blocks0 + 1); /* the context's kept scratch */
    CHECK(al.live_bytes > bytes0);
    tasd_config_destroy(cfg);
    tasd_layer_config_destroy(lc);
    tasd_context_destroy(ctx);
    CHECK(al.live_blocks == 0 && al.live_bytes == 0);
    free(w);
    free(x);
    free(y);
    free(y0);
}

static void test_gemm_act_errors(void)
{
    float a[12] = {0}, b[12] = {0}, c[16];
    for (int i = 0; i < 16; i++)
        c[i] = 7.0f;
    tasd_config *cfg = NULL;
    CHECK_OK(tasd_config_parse(NULL, "2:4", &cfg));
    tasd_view av = tasd_view_2d(a, TASD_F32, 3, 4, 4);
    tasd_view bv = tasd_view_2d(b, TASD_F32, 4, 3, 3);
    tasd_view cv = tasd_view_2d(c, TASD_F32, 3, 3, 3);
    CHECK_STATUS(tasd_gemm_act(NULL, 1, NULL, cfg, TASD_GREEDY, &bv, 0, &cv), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_gemm_act(NULL, 1, &av, NULL, TASD_GREEDY, &bv, 0, &cv), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_gemm_act(NULL, 1, &av, cfg, TASD_GREEDY, NULL, 0, &cv), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_gemm_act(NULL, 1, &av, cfg, TASD_GREEDY, &bv, 0, NULL), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_gemm_act(NULL, 1, &av, cfg, (tasd_method)7, &bv, 0, &cv),
                 TASD_ERR_INVALID_ARGUMENT);
    tasd_view bad = tasd_view_2d(b, TASD_F32, 3, 3, 3); /* k mismatch */
    CHECK_STATUS(tasd_gemm_act(NULL, 1, &av, cfg, TASD_GREEDY, &bad, 0, &cv), TASD_ERR_SHAPE);
    bad = tasd_view_2d(c, TASD_F32, 2, 3, 3); /* m mismatch */
    CHECK_STATUS(tasd_gemm_act(NULL, 1, &av, cfg, TASD_GREEDY, &bv, 0, &bad), TASD_ERR_SHAPE);
    /* a and b may be f32, bf16 or f16 (test_values.c), c f32 or bf16 */
    bad = cv;
    bad.dtype = TASD_F16;
    CHECK_STATUS(tasd_gemm_act(NULL, 1, &av, cfg, TASD_GREEDY, &bv, 0, &bad), TASD_ERR_DTYPE);
    bad = av;
    bad.dtype = 9;
    CHECK_STATUS(tasd_gemm_act(NULL, 1, &bad, cfg, TASD_GREEDY, &bv, 0, &cv), TASD_ERR_DTYPE);
    bad = av;
    bad.ndim = 1;
    CHECK_STATUS(tasd_gemm_act(NULL, 1, &bad, cfg, TASD_GREEDY, &bv, 0, &cv), TASD_ERR_SHAPE);
    /* c overlapping a, c overlapping itself */
    tasd_view ca = tasd_view_2d(a, TASD_F32, 3, 3, 3);
    CHECK_STATUS(tasd_gemm_act(NULL, 1, &av, cfg, TASD_GREEDY, &bv, 0, &ca), TASD_ERR_ALIAS);
    tasd_view cself = tasd_view_2d_strided(c, TASD_F32, 3, 3, 1, 1);
    CHECK_STATUS(tasd_gemm_act(NULL, 1, &av, cfg, TASD_GREEDY, &bv, 0, &cself), TASD_ERR_ALIAS);
    /* NaN in a: error, c untouched */
    a[5] = NAN;
    CHECK_STATUS(tasd_gemm_act(NULL, 1, &av, cfg, TASD_GREEDY, &bv, 0, &cv), TASD_ERR_NONFINITE);
    for (int i = 0; i < 9; i++)
        CHECK(c[i] == 7.0f);
    CHECK(strstr(tasd_last_error_message(), "row 1") != NULL);
    /* Empty operands are views of any length: a C of 2^62 rows and no
     * columns is done at once (it was a walk over 2^62 rows, twice). */
    const int64_t huge = (int64_t)1 << 62;
    tasd_view ea = tasd_view_2d(a, TASD_F32, huge, 0, 0), eb = tasd_view_2d(b, TASD_F32, 0, 0, 0);
    tasd_view ec = tasd_view_2d(c, TASD_F32, huge, 0, 0);
    CHECK_OK(tasd_gemm_act(NULL, 1, &ea, cfg, TASD_GREEDY, &eb, 0, &ec));
    ea = tasd_view_2d(a, TASD_F32, huge, 3, 3);
    eb = tasd_view_2d(b, TASD_F32, 3, 0, 0);
    ec = tasd_view_2d(c, TASD_F32, huge, 0, 0);
    CHECK_STATUS(tasd_gemm_act(NULL, 1, &ea, cfg, TASD_GREEDY, &eb, 0, &ec), TASD_ERR_OVERFLOW);
    tasd_config_destroy(cfg);
}

static void test_conv_weights(void)
{
    /* [out=6, in=3, kh=2, kw=3] seen as [6, 18] */
    int64_t out = 6, inner = 18, tokens = 5;
    float *w = test_rand_buf((size_t)(out * inner));
    float *x = test_rand_buf((size_t)(tokens * inner));
    float y1[30], y2[30];
    tasd_view w4;
    memset(&w4, 0, sizeof w4);
    w4.data = w;
    w4.dtype = TASD_F32;
    w4.ndim = 4;
    w4.shape[0] = 6, w4.shape[1] = 3, w4.shape[2] = 2, w4.shape[3] = 3;
    w4.strides[0] = 18, w4.strides[1] = 6, w4.strides[2] = 3, w4.strides[3] = 1;
    tasd_view w2 = tasd_view_2d(w, TASD_F32, out, inner, inner);
    for (int mode = 0; mode < 3; mode++) {
        tasd_layer_config *lc = mode ? lcfg(mode == 1 ? "2:4" : NULL, mode == 2 ? "2:4" : NULL,
                                            TASD_GREEDY)
                                     : NULL;
        tasd_layer *l1 = NULL, *l2 = NULL;
        CHECK_OK(tasd_layer_create(NULL, &w4, NULL, lc, &l1));
        CHECK_OK(tasd_layer_create(NULL, &w2, NULL, lc, &l2));
        int64_t o = 0, i = 0;
        CHECK_OK(tasd_layer_shape(l1, &o, &i));
        CHECK(o == 6 && i == 18);
        tasd_view xv = tasd_view_2d(x, TASD_F32, tokens, inner, inner);
        tasd_view yv1 = tasd_view_2d(y1, TASD_F32, tokens, out, out);
        tasd_view yv2 = tasd_view_2d(y2, TASD_F32, tokens, out, out);
        CHECK_OK(tasd_layer_forward(NULL, l1, &xv, &yv1));
        CHECK_OK(tasd_layer_forward(NULL, l2, &xv, &yv2));
        CHECK(memcmp(y1, y2, sizeof y1) == 0);
        tasd_layer_destroy(l1);
        tasd_layer_destroy(l2);
        tasd_layer_config_destroy(lc);
    }
    free(w);
    free(x);
}

static void test_bf16_weights(void)
{
    /* bf16 weights give the same layer as their f32 values */
    uint16_t wb[4 * 8];
    float wf[4 * 8], x[3 * 8], y1[12], y2[12];
    for (int i = 0; i < 32; i++) {
        float v = test_rand_float();
        uint32_t u;
        memcpy(&u, &v, 4);
        wb[i] = (uint16_t)(u >> 16);
        u = (uint32_t)wb[i] << 16;
        memcpy(&wf[i], &u, 4);
    }
    for (int i = 0; i < 24; i++)
        x[i] = test_rand_float();
    tasd_view vb = tasd_view_2d(wb, TASD_BF16, 4, 8, 8);
    tasd_view vf = tasd_view_2d(wf, TASD_F32, 4, 8, 8);
    tasd_layer *l1 = NULL, *l2 = NULL;
    CHECK_OK(tasd_layer_create(NULL, &vb, NULL, NULL, &l1));
    CHECK_OK(tasd_layer_create(NULL, &vf, NULL, NULL, &l2));
    tasd_view xv = tasd_view_2d(x, TASD_F32, 3, 8, 8);
    tasd_view yv1 = tasd_view_2d(y1, TASD_F32, 3, 4, 4);
    tasd_view yv2 = tasd_view_2d(y2, TASD_F32, 3, 4, 4);
    CHECK_OK(tasd_layer_forward(NULL, l1, &xv, &yv1));
    CHECK_OK(tasd_layer_forward(NULL, l2, &xv, &yv2));
    CHECK(memcmp(y1, y2, sizeof y1) == 0);
    tasd_layer_destroy(l1);
    tasd_layer_destroy(l2);
}

static void test_layer_errors(void)
{
    float w[4 * 8], bias[4], x[3 * 8], y[3 * 4];
    for (int i = 0; i < 32; i++)
        w[i] = test_rand_float();
    for (int i = 0; i < 4; i++)
        bias[i] = 0.5f;
    for (int i = 0; i < 24; i++)
        x[i] = test_rand_float();
    tasd_view wv = tasd_view_2d(w, TASD_F32, 4, 8, 8);
    tasd_view bv = util_view_1d(bias, 4);
    tasd_layer *l = NULL;
    CHECK_STATUS(tasd_layer_create(NULL, NULL, NULL, NULL, &l), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_layer_create(NULL, &wv, NULL, NULL, NULL), TASD_ERR_NULL_POINTER);
    tasd_view empty = tasd_view_2d(w, TASD_F32, 0, 8, 8);
    CHECK_STATUS(tasd_layer_create(NULL, &empty, NULL, NULL, &l), TASD_ERR_SHAPE);
    tasd_view b2 = bv;
    b2.shape[0] = 3;
    CHECK_STATUS(tasd_layer_create(NULL, &wv, &b2, NULL, &l), TASD_ERR_SHAPE);
    b2 = bv;
    b2.ndim = 2;
    CHECK_STATUS(tasd_layer_create(NULL, &wv, &b2, NULL, &l), TASD_ERR_SHAPE);
    b2 = bv;
    b2.dtype = TASD_F16;
    CHECK_STATUS(tasd_layer_create(NULL, &wv, &b2, NULL, &l), TASD_ERR_DTYPE);
    b2 = bv;
    b2.data = NULL;
    CHECK_STATUS(tasd_layer_create(NULL, &wv, &b2, NULL, &l), TASD_ERR_NULL_POINTER);
    /* the stride limit of every other view (INT64_MIN wrapped every bias
     * element onto the first) */
    b2 = bv;
    b2.strides[0] = INT64_MIN;
    CHECK_STATUS(tasd_layer_create(NULL, &wv, &b2, NULL, &l), TASD_ERR_OVERFLOW);
    bias[2] = INFINITY;
    CHECK_STATUS(tasd_layer_create(NULL, &wv, &bv, NULL, &l), TASD_ERR_NONFINITE);
    bias[2] = 0.5f;
    tasd_layer_config *both = lcfg("2:4", "2:4", TASD_GREEDY);
    CHECK_STATUS(tasd_layer_create(NULL, &wv, NULL, both, &l), TASD_ERR_UNSUPPORTED);
    tasd_layer_config_destroy(both);
    /* NaN weights in every mode */
    w[9] = NAN;
    for (int mode = 0; mode < 3; mode++) {
        tasd_layer_config *lc = mode ? lcfg(mode == 1 ? "2:4" : NULL, mode == 2 ? "2:4" : NULL,
                                            TASD_GREEDY)
                                     : NULL;
        CHECK_STATUS(tasd_layer_create(NULL, &wv, NULL, lc, &l), TASD_ERR_NONFINITE);
        tasd_layer_config_destroy(lc);
    }
    CHECK(l == NULL);
    w[9] = 1.0f;
    CHECK_OK(tasd_layer_create(NULL, &wv, &bv, NULL, &l));
    tasd_view xv = tasd_view_2d(x, TASD_F32, 3, 8, 8);
    tasd_view yv = tasd_view_2d(y, TASD_F32, 3, 4, 4);
    CHECK_STATUS(tasd_layer_forward(NULL, NULL, &xv, &yv), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_layer_forward(NULL, l, NULL, &yv), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_layer_forward(NULL, l, &xv, NULL), TASD_ERR_NULL_POINTER);
    tasd_view bad = tasd_view_2d(x, TASD_F32, 3, 7, 8);
    CHECK_STATUS(tasd_layer_forward(NULL, l, &bad, &yv), TASD_ERR_SHAPE);
    bad = tasd_view_2d(y, TASD_F32, 2, 4, 4);
    CHECK_STATUS(tasd_layer_forward(NULL, l, &xv, &bad), TASD_ERR_SHAPE);
    bad = tasd_view_2d(y, TASD_F32, 3, 3, 4);
    CHECK_STATUS(tasd_layer_forward(NULL, l, &xv, &bad), TASD_ERR_SHAPE);
    /* x may be f32, bf16 or f16 (test_values.c), y f32 or bf16 */
    bad = yv;
    bad.dtype = TASD_F16;
    CHECK_STATUS(tasd_layer_forward(NULL, l, &xv, &bad), TASD_ERR_DTYPE);
    bad = xv;
    bad.dtype = 9;
    CHECK_STATUS(tasd_layer_forward(NULL, l, &bad, &yv), TASD_ERR_DTYPE);
    bad = tasd_view_2d(x, TASD_F32, 3, 4, 4); /* y inside x */
    CHECK_STATUS(tasd_layer_forward(NULL, l, &xv, &bad), TASD_ERR_ALIAS);
    bad = tasd_view_2d_strided(y, TASD_F32, 3, 4, 0, 1); /* rows share memory */
    CHECK_STATUS(tasd_layer_forward(NULL, l, &xv, &bad), TASD_ERR_ALIAS);
    /* zero tokens is fine */
    tasd_view x0 = tasd_view_2d(x, TASD_F32, 0, 8, 8), y0 = tasd_view_2d(y, TASD_F32, 0, 4, 4);
    CHECK_OK(tasd_layer_forward(NULL, l, &x0, &y0));
    x0 = tasd_view_2d_strided(x, TASD_F32, 0, 8, 0, 0); /* numpy's strides of a [0, n] array */
    y0 = tasd_view_2d_strided(x, TASD_F32, 0, 4, 0, 0);
    CHECK_OK(tasd_layer_forward(NULL, l, &x0, &y0));
    int64_t o = -1, i = -1;
    CHECK_STATUS(tasd_layer_shape(NULL, &o, &i), TASD_ERR_NULL_POINTER);
    CHECK_OK(tasd_layer_shape(l, NULL, NULL));
    CHECK(tasd_layer_get_mode(NULL) == TASD_LAYER_DENSE);
    tasd_layer_destroy(l);
    tasd_layer_destroy(NULL);
    /* TASD-A layer: NaN activations are an error, y untouched */
    tasd_layer_config *lc = lcfg(NULL, "2:4", TASD_GREEDY);
    CHECK_OK(tasd_layer_create(NULL, &wv, &bv, lc, &l));
    for (int k = 0; k < 12; k++)
        y[k] = 3.0f;
    x[10] = NAN;
    CHECK_STATUS(tasd_layer_forward(NULL, l, &xv, &yv), TASD_ERR_NONFINITE);
    for (int k = 0; k < 12; k++)
        CHECK(y[k] == 3.0f);
    tasd_layer_destroy(l);
    tasd_layer_config_destroy(lc);
}

static void test_threads_identical(void)
{
    int64_t tokens = 70, in = 48, out = 40;
    float *w = test_rand_buf((size_t)(out * in)), *x = test_rand_buf((size_t)(tokens * in));
    float *y1 = malloc((size_t)(tokens * out) * sizeof *y1);
    float *y2 = malloc((size_t)(tokens * out) * sizeof *y2);
    tasd_view wv = tasd_view_2d(w, TASD_F32, out, in, in);
    tasd_view xv = tasd_view_2d(x, TASD_F32, tokens, in, in);
    tasd_view yv1 = tasd_view_2d(y1, TASD_F32, tokens, out, out);
    tasd_view yv2 = tasd_view_2d(y2, TASD_F32, tokens, out, out);
    tasd_context *one = NULL, *two = NULL;
    CHECK_OK(tasd_context_create(NULL, &one));
    CHECK_OK(tasd_context_create(NULL, &two));
    CHECK_OK(tasd_context_set_threads(one, 1));
    CHECK_OK(tasd_context_set_threads(two, 2));
    for (int mode = 0; mode < 3; mode++) {
        tasd_layer_config *lc = mode ? lcfg(mode == 1 ? "2:4+1:8" : NULL,
                                            mode == 2 ? "2:4+1:8" : NULL, TASD_GREEDY)
                                     : NULL;
        tasd_layer *l = NULL;
        CHECK_OK(tasd_layer_create(two, &wv, NULL, lc, &l));
        CHECK_OK(tasd_layer_forward(one, l, &xv, &yv1));
        CHECK_OK(tasd_layer_forward(two, l, &xv, &yv2));
        CHECKF(memcmp(y1, y2, (size_t)(tokens * out) * sizeof *y1) == 0, "mode %d", mode);
        tasd_layer_destroy(l);
        tasd_layer_config_destroy(lc);
    }
    tasd_context_destroy(one);
    tasd_context_destroy(two);
    free(w);
    free(x);
    free(y1);
    free(y2);
}

TEST_MAIN(RUN(test_dense_forward); RUN(test_weights_forward); RUN(test_activations_forward);
          RUN(test_gemm_act_exact); RUN(test_act_layer_exact); RUN(test_act_allocations); RUN(test_gemm_act_errors); RUN(test_conv_weights);
          RUN(test_bf16_weights); RUN(test_layer_errors); RUN(test_threads_identical);)
