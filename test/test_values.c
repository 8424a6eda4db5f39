/* Series value types (bf16, f16) and half-precision operands: rounding once
 * after an exact selection, stats of the rounded series, resident bytes, every
 * backend's kernels (narrow and wide n, odd shapes, strides) against a
 * double-precision reference of the ROUNDED series, B in bf16/f16, C in bf16,
 * NaN/Inf in half B, and the option checks. */
#include "harness.h"
#include "tasd.h"
#include "core/dispatch.h"

#include <stdint.h>

static const tasd_dtype vtypes[] = {TASD_F32, TASD_BF16, TASD_F16};
static const char *const configs[] = {"2:4", "1:8", "2:4+1:8", "1:4", "3:8", "1:16+2:4"};
#define NCONFIGS ((int)(sizeof configs / sizeof *configs))

static float round_to(tasd_dtype t, float x)
{
    if (t == TASD_BF16)
        return tasdi_bf16_to_f32(tasdi_f32_to_bf16(x));
    if (t == TASD_F16)
        return tasdi_f16_to_f32(tasdi_f32_to_f16(x));
    return x;
}

static float *rand_matrix(int64_t count)
{
    float *w = malloc((size_t)(count ? count : 1) * sizeof *w);
    for (int64_t i = 0; i < count; i++)
        w[i] = test_rand_u64() % 10 == 0 ? 0.0f : test_rand_float();
    return w;
}

static tasd_series *decompose(tasd_context *ctx, const float *w, int64_t m, int64_t k,
                              const char *cfg, tasd_dtype values)
{
    tasd_config *c = NULL;
    tasd_series *s = NULL;
    CHECK_OK(tasd_config_parse(NULL, cfg, &c));
    tasd_view v = tasd_view_2d(w, TASD_F32, m, k, k);
    tasd_decompose_options o = {sizeof o, values};
    CHECK_OK(tasd_decompose_ex(ctx, &v, c, TASD_GREEDY, &o, &s));
    tasd_config_destroy(c);
    return s;
}

/* Same selection as f32, values = the f32 values rounded once; stats match
 * the rounded reconstruction; the value type is reported. */
static void test_rounding_and_stats(void)
{
    test_seed(11);
    const int64_t m = 37, k = 203;
    float *w = rand_matrix(m * k);
    float *rec = malloc((size_t)(m * k) * sizeof *rec);
    for (int ci = 0; ci < NCONFIGS; ci++) {
        tasd_series *ref = decompose(NULL, w, m, k, configs[ci], TASD_F32);
        for (int vi = 1; vi < 3; vi++) {
            tasd_series *s = decompose(NULL, w, m, k, configs[ci], vtypes[vi]);
            if (!s || !ref)
                continue;
            CHECK(tasd_series_value_type(s) == vtypes[vi]);
            const tasd_config *c = tasd_series_config(s);
            for (int t = 0; t < tasd_config_terms(c); t++) {
                int64_t g;
                int n;
                tasd_series_term_layout(s, t, &n, NULL, &g);
                int64_t slots = m * g * n;
                float *v0 = malloc((size_t)slots * 4), *v1 = malloc((size_t)slots * 4);
                uint8_t *i0 = malloc((size_t)slots), *i1 = malloc((size_t)slots);
                CHECK_OK(tasd_series_export_term(ref, t, v0, i0, slots));
                CHECK_OK(tasd_series_export_term(s, t, v1, i1, slots));
                int bad = 0;
                for (int64_t q = 0; q < slots; q++)
                    bad += i0[q] != i1[q] || v1[q] != round_to(vtypes[vi], v0[q]);
                CHECKF(bad == 0, "%s %s term %d: %d slots differ", configs[ci],
                       tasd_dtype_name(vtypes[vi]), t, bad);
                free(v0), free(v1), free(i0), free(i1);
            }
            tasd_view rv = tasd_view_2d(rec, TASD_F32, m, k, k);
            CHECK_OK(tasd_series_reconstruct(s, &rv));
            double e = 0, in = 0;
            for (int64_t q = 0; q < m * k; q++) {
                e += ((double)w[q] - rec[q]) * ((double)w[q] - rec[q]);
                in += (double)w[q] * w[q];
            }
            tasd_stats st = {.size = sizeof st};
            CHECK_OK(tasd_series_stats(s, &st));
            CHECKF(fabs(st.rel_error - sqrt(e / in)) <= 1e-9 + 1e-6 * sqrt(e / in),
                   "%s %s: rel_error %.9g, reconstruction says %.9g", configs[ci],
                   tasd_dtype_name(vtypes[vi]), st.rel_error, sqrt(e / in));
            tasd_series_destroy(s);
        }
        CHECK(tasd_series_value_type(ref) == TASD_F32);
        tasd_series_destroy(ref);
    }
    CHECK(tasd_series_value_type(NULL) == TASD_F32);
    free(w);
    free(rec);
}

/* The budget: 2:4 bf16 <= 1.2 bytes per weight, 2:4+1:8 <= 1.5. */
static void test_bytes(void)
{
    test_seed(3);
    const int64_t m = 512, k = 1024;
    float *w = rand_matrix(m * k);
    const char *cfg[] = {"2:4", "2:4+1:8", "1:8"};
    const double limit[] = {1.2, 1.5, 0.35};
    for (int i = 0; i < 3; i++)
        for (int vi = 1; vi < 3; vi++) {
            tasd_series *s = decompose(NULL, w, m, k, cfg[i], vtypes[vi]);
            double bpw = (double)tasd_series_bytes(s) / (double)(m * k);
            CHECKF(bpw <= limit[i], "%s %s: %.3f bytes per weight", cfg[i],
                   tasd_dtype_name(vtypes[vi]), bpw);
            tasd_series_destroy(s);
        }
    free(w);
}

static void store(tasd_dtype t, void *base, int64_t at, float v)
{
    if (t == TASD_F32)
        ((float *)base)[at] = v;
    else if (t == TASD_BF16)
        ((uint16_t *)base)[at] = tasdi_f32_to_bf16(v);
    else
        ((uint16_t *)base)[at] = tasdi_f32_to_f16(v);
}

static float load(tasd_dtype t, const void *base, int64_t at)
{
    if (t == TASD_F32)
        return ((const float *)base)[at];
    uint16_t h = ((const uint16_t *)base)[at];
    return t == TASD_BF16 ? tasdi_bf16_to_f32(h) : tasdi_f16_to_f32(h);
}

/* C = alpha * S * B + beta * C on backend be, B of type bt (strided: ldb >
 * n), C of type ct, against double sums over the rounded series'
 * reconstruction and the B values as stored. Tolerance: fp32 accumulation
 * over K terms (the series' values are exact in f32), plus one rounding of
 * C when C is bf16. */
static int check_gemm(tasd_backend be, const char *cfg, tasd_dtype vt, int64_t m, int64_t k,
                      int64_t n, tasd_dtype bt, tasd_dtype ct, float beta)
{
    tasd_context *ctx = NULL;
    tasd_context_create(NULL, &ctx);
    CHECK_OK(tasd_context_set_backend(ctx, be));
    float *w = rand_matrix(m * k);
    tasd_series *s = decompose(ctx, w, m, k, cfg, vt);
    const int64_t ldb = n + 3, ldc = n + 1;
    void *b = malloc((size_t)(k * ldb) * 4), *c = malloc((size_t)(m * ldc) * 4);
    for (int64_t q = 0; q < k * ldb; q++)
        store(bt, b, q, test_rand_float());
    for (int64_t q = 0; q < m * ldc; q++)
        store(ct, c, q, test_rand_float());
    float *rec = malloc((size_t)(m * k) * 4);
    tasd_view rv = tasd_view_2d(rec, TASD_F32, m, k, k);
    CHECK_OK(tasd_series_reconstruct(s, &rv));
    double *want = malloc((size_t)(m * n) * sizeof(double));
    double *mag = malloc((size_t)(m * n) * sizeof(double));
    const float alpha = 0.75f;
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0, am = 0;
            for (int64_t q = 0; q < k; q++) {
                double x = load(bt, b, q * ldb + j);
                acc += (double)rec[r * k + q] * x;
                am += fabs((double)rec[r * k + q] * x);
            }
            double c0 = load(ct, c, r * ldc + j);
            want[r * n + j] = alpha * acc + beta * c0;
            mag[r * n + j] = fabs(alpha) * am + fabs(beta * c0);
        }
    tasd_view bv = tasd_view_2d(b, bt, k, n, ldb), cv = tasd_view_2d(c, ct, m, n, ldc);
    CHECK_OK(tasd_gemm(ctx, alpha, s, &bv, beta, &cv));
    const double eps = (double)k * 1.2e-7 + (ct == TASD_BF16 ? 1.0 / 256 : 0.0);
    int bad = 0;
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < n; j++) {
            double got = load(ct, c, r * ldc + j);
            if (!(fabs(got - want[r * n + j]) <= eps * mag[r * n + j] + 1e-30))
                bad++;
        }
    CHECKF(bad == 0, "%s %s values=%s %lldx%lldx%lld b=%s c=%s beta=%g: %d wrong",
           tasd_backend_name(be), cfg, tasd_dtype_name(vt), (long long)m, (long long)k,
           (long long)n, tasd_dtype_name(bt), tasd_dtype_name(ct), beta, bad);
    tasd_series_destroy(s);
    tasd_context_destroy(ctx);
    free(w), free(b), free(c), free(rec), free(want), free(mag);
    return bad;
}

static void test_backends_values(void)
{
    test_seed(5);
    for (int be = TASD_BACKEND_SCALAR; be <= TASD_BACKEND_NEON; be++) {
        if (!tasd_backend_available((tasd_backend)be))
            continue;
        for (int vi = 0; vi < 3; vi++)
            for (int ci = 0; ci < NCONFIGS; ci++) {
                for (int n = 1; n <= 17; n++)
                    check_gemm((tasd_backend)be, configs[ci], vtypes[vi], 45, 131, n, TASD_F32,
                               TASD_F32, n % 2 ? 0.0f : 0.5f);
                check_gemm((tasd_backend)be, configs[ci], vtypes[vi], 70, 200, 300, TASD_F32,
                           TASD_F32, 0.25f);
            }
    }
}

static void test_half_operands(void)
{
    test_seed(7);
    const int nn[] = {1, 4, 8, 9, 70};
    for (int be = TASD_BACKEND_SCALAR; be <= TASD_BACKEND_NEON; be++) {
        if (!tasd_backend_available((tasd_backend)be))
            continue;
        for (int vi = 0; vi < 3; vi++)
            for (int i = 0; i < 5; i++) {
                check_gemm((tasd_backend)be, "2:4", vtypes[vi], 33, 97, nn[i], TASD_BF16,
                           TASD_F32, 0.0f);
                check_gemm((tasd_backend)be, "1:8", vtypes[vi], 33, 97, nn[i], TASD_F16,
                           TASD_BF16, 0.5f);
                check_gemm((tasd_backend)be, "2:4+1:8", vtypes[vi], 33, 130, nn[i], TASD_BF16,
                           TASD_BF16, 0.0f);
            }
    }
    /* f16 C is refused */
    float w[16] = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8};
    tasd_series *s = decompose(NULL, w, 2, 8, "2:4", TASD_BF16);
    float b[8] = {0};
    uint16_t c[2] = {0};
    tasd_view bv = tasd_view_2d(b, TASD_F32, 8, 1, 1), cv = tasd_view_2d(c, TASD_F16, 2, 1, 1);
    CHECK_STATUS(tasd_gemm(NULL, 1.0f, s, &bv, 0.0f, &cv), TASD_ERR_DTYPE);
    tasd_series_destroy(s);
}

/* NaN/Inf in a bf16/f16 B behave as in a f32 B: only where a kept weight
 * selects them do they reach C. */
static void test_nonfinite_half_b(void)
{
    const float w[8] = {0, 0, 3, 4, 0, 0, 0, 0}; /* 2:4 keeps k = 2, 3 and nothing at 4..7 */
    const int nn[] = {1, 8, 70};
    for (int be = TASD_BACKEND_SCALAR; be <= TASD_BACKEND_NEON; be++) {
        if (!tasd_backend_available((tasd_backend)be))
            continue;
        tasd_context *ctx = NULL;
        tasd_context_create(NULL, &ctx);
        tasd_context_set_backend(ctx, (tasd_backend)be);
        for (int vi = 0; vi < 3; vi++) {
            tasd_series *s = decompose(ctx, w, 1, 8, "2:4", vtypes[vi]);
            for (int bi = 1; bi < 3; bi++)
                for (int i = 0; i < 3; i++) {
                    int n = nn[i];
                    uint16_t b[8 * 70];
                    float c[70];
                    for (int q = 0; q < 8 * n; q++)
                        store(vtypes[bi], b, q, 1.0f);
                    for (int j = 0; j < n; j++)
                        store(vtypes[bi], b, 5 * n + j, INFINITY); /* dropped row */
                    tasd_view bv = tasd_view_2d(b, vtypes[bi], 8, n, n);
                    tasd_view cv = tasd_view_2d(c, TASD_F32, 1, n, n);
                    CHECK_OK(tasd_gemm(ctx, 1.0f, s, &bv, 0.0f, &cv));
                    CHECKF(c[0] == 7.0f && c[n - 1] == 7.0f, "%s %s n=%d: %g",
                           tasd_backend_name((tasd_backend)be), tasd_dtype_name(vtypes[bi]),
                           n, c[0]);
                    store(vtypes[bi], b, 2 * n, NAN); /* kept row */
                    CHECK_OK(tasd_gemm(ctx, 1.0f, s, &bv, 0.0f, &cv));
                    CHECK(isnan(c[0]));
                }
            tasd_series_destroy(s);
        }
        tasd_context_destroy(ctx);
    }
}

static void test_options(void)
{
    float w[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    tasd_config *c = NULL;
    tasd_series *s = NULL;
    CHECK_OK(tasd_config_parse(NULL, "2:4", &c));
    tasd_view v = tasd_view_2d(w, TASD_F32, 1, 8, 8);
    CHECK_OK(tasd_decompose_ex(NULL, &v, c, TASD_GREEDY, NULL, &s));
    CHECK(tasd_series_value_type(s) == TASD_F32);
    tasd_series_destroy(s);
    s = NULL;
    tasd_decompose_options o = {sizeof o - 1, TASD_BF16};
    CHECK_STATUS(tasd_decompose_ex(NULL, &v, c, TASD_GREEDY, &o, &s), TASD_ERR_INVALID_ARGUMENT);
    o.size = sizeof o;
    o.values = 7;
    CHECK_STATUS(tasd_decompose_ex(NULL, &v, c, TASD_GREEDY, &o, &s), TASD_ERR_DTYPE);
    CHECK(s == NULL);
    /* a kept value past the f16 range is an error, a dropped one is not */
    float big[8] = {1e5f, 0, 0, 0, 1, 2, 3, 4};
    tasd_view bv = tasd_view_2d(big, TASD_F32, 1, 8, 8);
    o.values = TASD_F16;
    CHECK_STATUS(tasd_decompose_ex(NULL, &bv, c, TASD_GREEDY, &o, &s), TASD_ERR_OVERFLOW);
    o.values = TASD_BF16;
    CHECK_OK(tasd_decompose_ex(NULL, &bv, c, TASD_GREEDY, &o, &s));
    tasd_series_destroy(s);
    /* NaN in the weights: as for f32 */
    big[5] = NAN;
    CHECK_STATUS(tasd_decompose_ex(NULL, &bv, c, TASD_GREEDY, &o, &s), TASD_ERR_NONFINITE);
    tasd_config_destroy(c);
}

/* .tasd: each value type round-trips exactly (values, indices, stats); files
 * with only f32 series stay version 1, one with half values is version 2,
 * whose values are half the bytes; the golden version-1 file still loads. */
static void test_files(void)
{
    test_seed(9);
    const int64_t m = 19, k = 77;
    float *w = rand_matrix(m * k);
    size_t f32_size = 0;
    for (int vi = 0; vi < 3; vi++) {
        tasd_series *s = decompose(NULL, w, m, k, "2:4+1:8", vtypes[vi]), *back = NULL;
        size_t n = 0;
        tasd_series_save_buffer(s, NULL, 0, &n);
        unsigned char *b = malloc(n);
        CHECK_OK(tasd_series_save_buffer(s, b, n, NULL));
        CHECK(b[8] == (vtypes[vi] == TASD_F32 ? 1 : 2));
        if (vi == 0)
            f32_size = n;
        else
            CHECKF(n < f32_size * 3 / 4, "%zu bytes, f32 %zu", n, f32_size);
        CHECK_OK(tasd_series_load_buffer(NULL, b, n, &back));
        CHECK(tasd_series_value_type(back) == vtypes[vi]);
        float *r0 = malloc((size_t)(m * k) * 4), *r1 = malloc((size_t)(m * k) * 4);
        tasd_view v0 = tasd_view_2d(r0, TASD_F32, m, k, k), v1 = tasd_view_2d(r1, TASD_F32, m, k, k);
        CHECK_OK(tasd_series_reconstruct(s, &v0));
        CHECK_OK(tasd_series_reconstruct(back, &v1));
        CHECK(memcmp(r0, r1, (size_t)(m * k) * 4) == 0);
        tasd_stats a = {.size = sizeof a}, c = {.size = sizeof c};
        tasd_series_stats(s, &a);
        tasd_series_stats(back, &c);
        CHECK(a.rel_error == c.rel_error && a.kept_nonzeros == c.kept_nonzeros);
        /* a value type past the known ones, or one in a version-1 file, is refused */
        if (vi > 0) {
            unsigned char *bad = malloc(n);
            memcpy(bad, b, n);
            bad[8] = 1;
            CHECK(tasd_series_load_buffer(NULL, bad, n, &back) != TASD_OK);
            free(bad);
        }
        tasd_series_destroy(back);
        free(b), free(r0), free(r1);
        tasd_series_destroy(s);
    }
    tasd_series *g = NULL;
    CHECK_OK(tasd_series_load(NULL, "test/data/tiny_f32_2x4.tasd", &g));
    CHECK(tasd_series_value_type(g) == TASD_F32);
    tasd_series_destroy(g);
    free(w);
}

TEST_MAIN(RUN(test_options); RUN(test_files); RUN(test_rounding_and_stats); RUN(test_bytes);
          RUN(test_backends_values); RUN(test_half_operands); RUN(test_nonfinite_half_b);)
