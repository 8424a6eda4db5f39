/* Series value types (bf16, f16) and half-precision operands: rounding once
 * after an exact selection, stats of the rounded series, resident bytes, every
 * backend's kernels (narrow and wide n, odd shapes, strides) against a
 * double-precision reference of the ROUNDED series, B in bf16/f16, C in bf16,
 * NaN/Inf in half B, and the option checks. */
#include "harness.h"
#include "tasd.h"
#include "core/dispatch.h"
#include "support/util.h"

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
    tasd_backend tested[UTIL_MAX_BACKENDS];
    const int ntested = util_tested_backends(tested);
    for (int t = 0; t < ntested; t++) {
        const tasd_backend be = tested[t];
        for (int vi = 0; vi < 3; vi++)
            for (int ci = 0; ci < NCONFIGS; ci++) {
                for (int n = 1; n <= 17; n++)
                    check_gemm(be, configs[ci], vtypes[vi], 45, 131, n, TASD_F32,
                               TASD_F32, n % 2 ? 0.0f : 0.5f);
                check_gemm(be, configs[ci], vtypes[vi], 70, 200, 300, TASD_F32,
                           TASD_F32, 0.25f);
                /* 18 K blocks: the narrow kernel's visits of several blocks */
                for (int n = 1; n <= 5; n += 4)
                    check_gemm(be, configs[ci], vtypes[vi], 67, 1100, n,
                               TASD_F32, TASD_F32, 0.0f);
            }
    }
}

static void test_half_operands(void)
{
    test_seed(7);
    const int nn[] = {1, 4, 8, 9, 70};
    tasd_backend tested[UTIL_MAX_BACKENDS];
    const int ntested = util_tested_backends(tested);
    for (int t = 0; t < ntested; t++) {
        const tasd_backend be = tested[t];
        for (int vi = 0; vi < 3; vi++)
            for (int i = 0; i < 5; i++) {
                check_gemm(be, "2:4", vtypes[vi], 33, 97, nn[i], TASD_BF16,
                           TASD_F32, 0.0f);
                check_gemm(be, "1:8", vtypes[vi], 33, 97, nn[i], TASD_F16,
                           TASD_BF16, 0.5f);
                check_gemm(be, "2:4+1:8", vtypes[vi], 33, 130, nn[i], TASD_BF16,
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
    tasd_backend tested[UTIL_MAX_BACKENDS];
    const int ntested = util_tested_backends(tested);
    for (int t = 0; t < ntested; t++) {
        const tasd_backend be = tested[t];
        tasd_context *ctx = NULL;
        tasd_context_create(NULL, &ctx);
        tasd_context_set_backend(ctx, be);
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
                           tasd_backend_name(be), tasd_dtype_name(vtypes[bi]),
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

/* ---- half operands on tasd_gemm_act and tasd_layer_forward ---- */

/* Unit roundoff of a dtype: half its ulp relative to the value. */
static double unit_roundoff(tasd_dtype t)
{
    return t == TASD_BF16 ? 1.0 / 256 : t == TASD_F16 ? 1.0 / 2048 : 1.0 / 16777216;
}

/* The tolerance of an fp32-accumulated product over k terms stored as `out`,
 * relative to the sum of the magnitudes involved: the fp32 sum (k + 2
 * roundings of an f32 unit each, with room), then one rounding to out. The
 * inputs' own rounding is no error here: references are computed from the
 * values as stored (and from the series as rounded). */
static double product_tol(int64_t k, tasd_dtype out)
{
    return (double)(k + 2) * 2.0 * unit_roundoff(TASD_F32) +
           (out == TASD_F32 ? 0.0 : unit_roundoff(out));
}

/* A strided matrix of any dtype: element (r, c) at r * rs + c * cs. */
typedef struct hmat {
    void *p;
    tasd_dtype t;
    int64_t rows, cols, rs, cs, elems;
} hmat;

/* rows x cols of type t; layout 0: row-major with 3 elements of padding per
 * row, 1: column-major (a transposed view) with 2 of padding per column,
 * 2: column-major with every other element (no unit stride at all). The
 * padding holds a sentinel. */
static hmat hmat_new(tasd_dtype t, int64_t rows, int64_t cols, int layout)
{
    hmat m = {NULL, t, rows, cols, 0, 0, 0};
    if (layout == 0) {
        m.rs = cols + 3;
        m.cs = 1;
        m.elems = rows * m.rs;
    } else if (layout == 1) {
        m.rs = 1;
        m.cs = rows + 2;
        m.elems = cols * m.cs;
    } else {
        m.rs = 2;
        m.cs = 2 * rows + 1;
        m.elems = cols * m.cs;
    }
    m.p = malloc((size_t)(m.elems ? m.elems : 1) * 4);
    for (int64_t q = 0; q < m.elems; q++)
        store(t, m.p, q, 1234.5f);
    return m;
}

static float hget(const hmat *m, int64_t r, int64_t c)
{
    return load(m->t, m->p, r * m->rs + c * m->cs);
}

static void hset(const hmat *m, int64_t r, int64_t c, float v)
{
    store(m->t, m->p, r * m->rs + c * m->cs, v);
}

static tasd_view hview(const hmat *m)
{
    return tasd_view_2d_strided(m->p, m->t, m->rows, m->cols, m->rs, m->cs);
}

static void hfill(const hmat *m)
{
    for (int64_t r = 0; r < m->rows; r++)
        for (int64_t c = 0; c < m->cols; c++)
            hset(m, r, c, test_rand_u64() % 10 == 0 ? 0.0f : test_rand_float());
}

/* The f32 reconstruction of `cfg` decomposed from the view v (any dtype,
 * f32 values: what TASD-A computes) or, values != f32, from the f32 matrix
 * v with that value type (what a TASD-W layer keeps). */
static float *approx_of(const tasd_view *v, const char *cfg, tasd_dtype values)
{
    int64_t rows = v->shape[0], cols = v->shape[1];
    tasd_config *c = NULL;
    tasd_series *s = NULL;
    float *r = malloc((size_t)(rows * cols > 0 ? rows * cols : 1) * 4);
    tasd_decompose_options o = {sizeof o, values};
    CHECK_OK(tasd_config_parse(NULL, cfg, &c));
    CHECK_OK(tasd_decompose_ex(NULL, v, c, TASD_GREEDY, &o, &s));
    tasd_view rv = tasd_view_2d(r, TASD_F32, rows, cols, cols);
    CHECK_OK(tasd_series_reconstruct(s, &rv));
    tasd_series_destroy(s);
    tasd_config_destroy(c);
    return r;
}

/* got against the double reference want (mag: the summed magnitudes) with
 * tolerance tol, and against the scalar backend's result ref (NULL: none)
 * within twice that; the padding of got untouched. Returns the number of
 * wrong elements. */
static int compare_out(const hmat *got, const hmat *ref, const double *want,
                       const double *mag, double tol)
{
    int bad = 0;
    char *inside = calloc((size_t)(got->elems ? got->elems : 1), 1);
    for (int64_t r = 0; r < got->rows; r++)
        for (int64_t c = 0; c < got->cols; c++) {
            double g = hget(got, r, c), w = want[r * got->cols + c];
            double lim = tol * mag[r * got->cols + c] + 1e-30;
            inside[r * got->rs + c * got->cs] = 1;
            if (!(fabs(g - w) <= lim))
                bad++;
            if (ref && !(fabs(g - hget(ref, r, c)) <= 2 * lim))
                bad++;
        }
    for (int64_t q = 0; q < got->elems; q++) /* the padding keeps its sentinel */
        if (!inside[q] && load(got->t, got->p, q) != round_to(got->t, 1234.5f))
            bad++;
    free(inside);
    return bad;
}

static tasd_context *backend_ctx(tasd_backend be)
{
    tasd_context *ctx = NULL;
    CHECK_OK(tasd_context_create(NULL, &ctx));
    CHECK_OK(tasd_context_set_backend(ctx, be));
    return ctx;
}

/* C = alpha * Aa * B + beta * C through tasd_gemm_act (and _ws) on backend
 * be and on the scalar backend: A [m, k] of type at (padded rows), B [k, n]
 * of type bt (transposed when n is even), C [m, n] of type ct. Reference:
 * A decomposed as given (exact selection), in double. */
static int check_gemm_act(tasd_backend be, const char *cfg, int64_t m, int64_t k, int64_t n,
                          tasd_dtype at, tasd_dtype bt, tasd_dtype ct, float beta)
{
    tasd_context *ctx = backend_ctx(be), *sctx = backend_ctx(TASD_BACKEND_SCALAR);
    tasd_config *c = NULL;
    CHECK_OK(tasd_config_parse(NULL, cfg, &c));
    hmat a = hmat_new(at, m, k, 0), b = hmat_new(bt, k, n, (int)(n % 2 == 0));
    hmat cm = hmat_new(ct, m, n, (int)(m % 3)), cs = hmat_new(ct, m, n, (int)(m % 2));
    hfill(&a);
    hfill(&b);
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < n; j++) {
            float v = test_rand_float();
            hset(&cm, r, j, v);
            hset(&cs, r, j, v);
        }
    tasd_view av = hview(&a), bv = hview(&b), cv = hview(&cm), csv = hview(&cs);
    float *aa = approx_of(&av, cfg, TASD_F32);
    double *want = malloc((size_t)(m * n) * sizeof *want);
    double *mag = malloc((size_t)(m * n) * sizeof *mag);
    const float alpha = -1.25f;
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0, am = 0;
            for (int64_t q = 0; q < k; q++) {
                double x = (double)aa[r * k + q] * hget(&b, q, j);
                acc += x;
                am += fabs(x);
            }
            double c0 = hget(&cm, r, j);
            want[r * n + j] = alpha * acc + beta * c0;
            mag[r * n + j] = fabs(alpha) * am + fabs(beta * c0);
        }
    CHECK_OK(tasd_gemm_act(sctx, alpha, &av, c, TASD_GREEDY, &bv, beta, &csv));
    if (n % 3 == 1) { /* the _ws call: the same bits */
        size_t bytes = 0;
        CHECK_OK(tasd_gemm_act_workspace_size(ctx, c, m, k, n, &bytes));
        void *ws = malloc(bytes ? bytes : 1);
        CHECK_OK(tasd_gemm_act_ws(ctx, alpha, &av, c, TASD_GREEDY, &bv, beta, &cv, ws, bytes));
        free(ws);
    } else {
        CHECK_OK(tasd_gemm_act(ctx, alpha, &av, c, TASD_GREEDY, &bv, beta, &cv));
    }
    int bad = compare_out(&cs, NULL, want, mag, product_tol(k, ct)) +
              compare_out(&cm, &cs, want, mag, product_tol(k, ct));
    CHECKF(bad == 0, "gemm_act %s %s %lldx%lldx%lld a=%s b=%s c=%s beta=%g: %d wrong",
           tasd_backend_name(be), cfg, (long long)m, (long long)k, (long long)n,
           tasd_dtype_name(at), tasd_dtype_name(bt), tasd_dtype_name(ct), beta, bad);
    free(aa), free(want), free(mag);
    free(a.p), free(b.p), free(cm.p), free(cs.p);
    tasd_config_destroy(c);
    tasd_context_destroy(ctx);
    tasd_context_destroy(sctx);
    return bad;
}

static void test_gemm_act_half(void)
{
    test_seed(13);
    static const tasd_dtype ops[][3] = {
        {TASD_BF16, TASD_F32, TASD_F32}, {TASD_F16, TASD_BF16, TASD_BF16},
        {TASD_F32, TASD_F16, TASD_BF16}, {TASD_BF16, TASD_BF16, TASD_F32},
        {TASD_F16, TASD_F16, TASD_F32}};
    tasd_backend be[UTIL_MAX_BACKENDS];
    int nb = util_tested_backends(be);
    for (int i = 0; i < nb; i++)
        for (int o = 0; o < 5; o++) {
            for (int n = 1; n <= 17; n++)
                check_gemm_act(be[i], configs[(n + o) % NCONFIGS], 45, 131, n, ops[o][0],
                               ops[o][1], ops[o][2], n % 2 ? 0.0f : 0.5f);
            /* several tiles of rows, wide n */
            check_gemm_act(be[i], configs[o], 130, 75, 70, ops[o][0], ops[o][1], ops[o][2],
                           0.25f);
        }
}

/* Y = X * W^T + b through a layer of `mode` (0 dense, 1 TASD-W with series
 * values vt, 2 TASD-A) on backend be and on the scalar backend: X [tokens,
 * in] of type xt (padded rows), Y [tokens, out] of type yt (transposed when
 * tokens is odd). Reference in double from W (dense), the rounded series
 * (TASD-W) or X decomposed as given (TASD-A). */
static int check_layer_half(tasd_backend be, int mode, const char *cfg, tasd_dtype vt,
                            int64_t tokens, int64_t in, int64_t out, tasd_dtype xt,
                            tasd_dtype yt, int with_bias)
{
    tasd_context *ctx = backend_ctx(be), *sctx = backend_ctx(TASD_BACKEND_SCALAR);
    float *w = rand_matrix(out * in), *b = rand_matrix(out);
    tasd_view wv = tasd_view_2d(w, TASD_F32, out, in, in);
    tasd_view bv;
    memset(&bv, 0, sizeof bv);
    bv.data = b;
    bv.dtype = TASD_F32;
    bv.ndim = 1;
    bv.shape[0] = out;
    bv.strides[0] = 1;
    char line[96];
    snprintf(line, sizeof line, "l W=%s A=%s values=%s", mode == 1 ? cfg : "none",
             mode == 2 ? cfg : "none", tasd_dtype_name(vt));
    tasd_layer_config *lc = NULL;
    if (mode)
        CHECK_OK(tasd_layer_config_parse(NULL, line, &lc));
    tasd_layer *l = NULL;
    CHECK_OK(tasd_layer_create(ctx, &wv, with_bias ? &bv : NULL, lc, &l));
    hmat x = hmat_new(xt, tokens, in, 0);
    hmat y = hmat_new(yt, tokens, out, (int)(tokens % 3)), ys = hmat_new(yt, tokens, out, 0);
    hfill(&x);
    tasd_view xv = hview(&x), yv = hview(&y), ysv = hview(&ys);
    float *wa = mode == 1 ? approx_of(&wv, cfg, vt) : NULL;
    float *xa = mode == 2 ? approx_of(&xv, cfg, TASD_F32) : NULL;
    double *want = malloc((size_t)(tokens * out) * sizeof *want);
    double *mag = malloc((size_t)(tokens * out) * sizeof *mag);
    for (int64_t t = 0; t < tokens; t++)
        for (int64_t o = 0; o < out; o++) {
            double acc = with_bias ? b[o] : 0.0, am = fabs(acc);
            for (int64_t q = 0; q < in; q++) {
                double xq = xa ? xa[t * in + q] : hget(&x, t, q);
                double p = xq * (wa ? wa[o * in + q] : w[o * in + q]);
                acc += p;
                am += fabs(p);
            }
            want[t * out + o] = acc;
            mag[t * out + o] = am;
        }
    if (l) {
        CHECK_OK(tasd_layer_forward(sctx, l, &xv, &ysv));
        if (tokens % 3 == 2) {
            size_t bytes = 0;
            CHECK_OK(tasd_layer_forward_workspace_size(ctx, l, tokens, &bytes));
            void *ws = malloc(bytes ? bytes : 1);
            CHECK_OK(tasd_layer_forward_ws(ctx, l, &xv, &yv, ws, bytes));
            free(ws);
        } else {
            CHECK_OK(tasd_layer_forward(ctx, l, &xv, &yv));
        }
    }
    int bad = compare_out(&ys, NULL, want, mag, product_tol(in, yt)) +
              compare_out(&y, &ys, want, mag, product_tol(in, yt));
    CHECKF(bad == 0, "layer %s mode %d %s values=%s %lldx%lldx%lld x=%s y=%s bias %d: %d wrong",
           tasd_backend_name(be), mode, cfg, tasd_dtype_name(vt), (long long)tokens,
           (long long)in, (long long)out, tasd_dtype_name(xt), tasd_dtype_name(yt), with_bias,
           bad);
    tasd_layer_destroy(l);
    tasd_layer_config_destroy(lc);
    free(w), free(b), free(wa), free(xa), free(want), free(mag);
    free(x.p), free(y.p), free(ys.p);
    tasd_context_destroy(ctx);
    tasd_context_destroy(sctx);
    return bad;
}

static void test_layer_half(void)
{
    test_seed(17);
    tasd_backend be[UTIL_MAX_BACKENDS];
    int nb = util_tested_backends(be);
    for (int i = 0; i < nb; i++)
        for (int mode = 0; mode < 3; mode++)
            for (int xi = 0; xi < 3; xi++)
                for (int yi = 0; yi < 2; yi++) {
                    for (int tokens = 1; tokens <= 17; tokens++) {
                        tasd_dtype vt = mode == 1 ? vtypes[(tokens + xi) % 3] : TASD_F32;
                        check_layer_half(be[i], mode, configs[(tokens + yi) % NCONFIGS], vt,
                                         tokens, 37, 29, vtypes[xi], vtypes[yi],
                                         tokens % 4 != 0);
                    }
                    /* wide: several row blocks and B panels */
                    check_layer_half(be[i], mode, configs[xi + yi],
                                     mode == 1 ? vtypes[(xi + 1) % 3] : TASD_F32, 70, 131, 70,
                                     vtypes[xi], vtypes[yi], 1);
                }
}

/* A TASD-W layer with values=bf16 / f16 keeps the series with those values:
 * Y^T is bit for bit tasd_decompose_ex(values) + tasd_gemm with C preset to
 * the bias (f32 Y), and that f32 result rounded once (bf16 Y). */
static void test_layer_values_exact(void)
{
    test_seed(19);
    enum { TOKENS = 9, IN = 70, OUT = 33 };
    float *w = rand_matrix(OUT * IN), *b = rand_matrix(OUT), *x = rand_matrix(TOKENS * IN);
    tasd_view wv = tasd_view_2d(w, TASD_F32, OUT, IN, IN);
    tasd_view xv = tasd_view_2d(x, TASD_F32, TOKENS, IN, IN);
    tasd_view xtv = tasd_view_2d_strided(x, TASD_F32, IN, TOKENS, 1, IN);
    tasd_view bv;
    memset(&bv, 0, sizeof bv);
    bv.data = b;
    bv.dtype = TASD_F32;
    bv.ndim = 1;
    bv.shape[0] = OUT;
    bv.strides[0] = 1;
    for (int vi = 0; vi < 3; vi++) {
        char line[64];
        snprintf(line, sizeof line, "fc W=2:4+1:8 values=%s", tasd_dtype_name(vtypes[vi]));
        tasd_layer_config *lc = NULL;
        tasd_layer *l = NULL;
        CHECK_OK(tasd_layer_config_parse(NULL, line, &lc));
        CHECK_OK(tasd_layer_create(NULL, &wv, &bv, lc, &l));
        tasd_series *s = decompose(NULL, w, OUT, IN, "2:4+1:8", vtypes[vi]);
        float ref[TOKENS * OUT], y[TOKENS * OUT];
        uint16_t yb[TOKENS * OUT];
        for (int64_t q = 0; q < TOKENS * OUT; q++)
            ref[q] = b[q % OUT];
        tasd_view rtv = tasd_view_2d_strided(ref, TASD_F32, OUT, TOKENS, 1, OUT);
        tasd_view yv = tasd_view_2d(y, TASD_F32, TOKENS, OUT, OUT);
        tasd_view ybv = tasd_view_2d(yb, TASD_BF16, TOKENS, OUT, OUT);
        CHECK_OK(tasd_gemm(NULL, 1.0f, s, &xtv, 1.0f, &rtv));
        CHECK_OK(tasd_layer_forward(NULL, l, &xv, &yv));
        CHECK_OK(tasd_layer_forward(NULL, l, &xv, &ybv));
        int bad = 0;
        for (int64_t q = 0; q < TOKENS * OUT; q++)
            bad += y[q] != ref[q] || yb[q] != tasdi_f32_to_bf16(ref[q]);
        CHECKF(bad == 0, "values=%s: %d differ", tasd_dtype_name(vtypes[vi]), bad);
        tasd_series_destroy(s);
        tasd_layer_destroy(l);
        tasd_layer_config_destroy(lc);
    }
    free(w), free(b), free(x);
}

/* NaN / Inf in half inputs: TASD-A (gemm_act, a TASD-A layer) refuses them
 * with the output untouched; B of gemm_act and X of the other layer modes
 * let them through, as for f32. A bad dtype is refused with nothing
 * written. */
static void test_half_nonfinite_and_dtypes(void)
{
    tasd_backend be[UTIL_MAX_BACKENDS];
    int nb = util_tested_backends(be);
    const int64_t m = 5, k = 12, n = 3;
    tasd_config *c = NULL;
    CHECK_OK(tasd_config_parse(NULL, "2:4", &c));
    for (int i = 0; i < nb; i++) {
        tasd_context *ctx = backend_ctx(be[i]);
        for (int hi = 1; hi < 3; hi++) {
            tasd_dtype h = vtypes[hi];
            float a[5 * 12], bh[12 * 3]; /* of type h: room for f32 (store() has a f32 path) */
            uint16_t cb[5 * 3], keep[5 * 3];
            for (int q = 0; q < m * k; q++)
                store(h, a, q, (float)(q % 7) - 3.0f);
            for (int q = 0; q < k * n; q++)
                store(h, bh, q, 0.5f);
            for (int q = 0; q < m * n; q++)
                cb[q] = keep[q] = (uint16_t)(0x3f80 + q);
            tasd_view av = tasd_view_2d(a, h, m, k, k), bv = tasd_view_2d(bh, h, k, n, n);
            tasd_view cv = tasd_view_2d(cb, TASD_BF16, m, n, n);
            const float bad_values[2] = {NAN, INFINITY};
            for (int v = 0; v < 2; v++) {
                store(h, a, 2 * k + 5, bad_values[v]);
                CHECK_STATUS(tasd_gemm_act(ctx, 1.0f, &av, c, TASD_GREEDY, &bv, 0.5f, &cv),
                             TASD_ERR_NONFINITE);
                CHECK(memcmp(cb, keep, sizeof cb) == 0);
                CHECK(strstr(tasd_last_error_message(), "row 2") != NULL);
            }
            store(h, a, 2 * k + 5, 1.0f);
            /* f16 C: a clear dtype error, nothing written */
            tasd_view cf = tasd_view_2d(cb, TASD_F16, m, n, n);
            CHECK_STATUS(tasd_gemm_act(ctx, 1.0f, &av, c, TASD_GREEDY, &bv, 0.0f, &cf),
                         TASD_ERR_DTYPE);
            CHECK(strstr(tasd_last_error_message(), "f16") != NULL);
            CHECK(memcmp(cb, keep, sizeof cb) == 0);
            /* NaN in B reaches C through kept values only: row 2 of A
             * (1, 2, 3, -3 in columns 8..11) keeps column 11 */
            CHECK_OK(tasd_gemm_act(ctx, 1.0f, &av, c, TASD_GREEDY, &bv, 0.0f, &cv));
            int finite = 1;
            for (int q = 0; q < m * n; q++)
                finite &= isfinite(tasdi_bf16_to_f32(cb[q]));
            CHECK(finite);
            for (int j = 0; j < n; j++)
                store(h, bh, 11 * n + j, NAN); /* row 11: kept by some row of A */
            CHECK_OK(tasd_gemm_act(ctx, 1.0f, &av, c, TASD_GREEDY, &bv, 0.0f, &cv));
            int nans = 0;
            for (int q = 0; q < m * n; q++)
                nans += isnan(tasdi_bf16_to_f32(cb[q]));
            CHECK(nans > 0);
            for (int q = 0; q < m * n; q++)
                cb[q] = keep[q];

            /* layers: x of type h with NaN / Inf in row 1 */
            float w[4 * 12];
            for (int q = 0; q < 4 * 12; q++)
                w[q] = (float)((q * 5) % 11) - 5.0f;
            tasd_view wv = tasd_view_2d(w, TASD_F32, 4, k, k);
            uint16_t y[5 * 4], ykeep[5 * 4];
            for (int q = 0; q < 5 * 4; q++)
                y[q] = ykeep[q] = (uint16_t)(0x4000 + q);
            tasd_view xv = tasd_view_2d(a, h, m, k, k);
            tasd_view yv = tasd_view_2d(y, TASD_BF16, m, 4, 4);
            tasd_view yf16 = tasd_view_2d(y, TASD_F16, m, 4, 4);
            for (int mode = 0; mode < 3; mode++) {
                tasd_layer_config *lc = NULL;
                if (mode)
                    CHECK_OK(tasd_layer_config_parse(
                        NULL, mode == 1 ? "l W=2:4 values=bf16" : "l A=2:4", &lc));
                tasd_layer *l = NULL;
                CHECK_OK(tasd_layer_create(ctx, &wv, NULL, lc, &l));
                CHECK_STATUS(tasd_layer_forward(ctx, l, &xv, &yf16), TASD_ERR_DTYPE);
                CHECK(memcmp(y, ykeep, sizeof y) == 0);
                for (int v = 0; v < 2; v++) {
                    store(h, a, 1 * k + 4, bad_values[v]);
                    if (mode == 2) {
                        CHECK_STATUS(tasd_layer_forward(ctx, l, &xv, &yv), TASD_ERR_NONFINITE);
                        CHECK(memcmp(y, ykeep, sizeof y) == 0);
                        continue;
                    }
                    CHECK_OK(tasd_layer_forward(ctx, l, &xv, &yv));
                    int row1 = 0, other = 0;
                    for (int t = 0; t < m; t++)
                        for (int o = 0; o < 4; o++) {
                            int nf = !isfinite(tasdi_bf16_to_f32(y[t * 4 + o]));
                            *(t == 1 ? &row1 : &other) += nf;
                        }
                    CHECKF(row1 > 0 && other == 0, "%s mode %d x=%s: row 1 %d, others %d",
                           tasd_backend_name(be[i]), mode, tasd_dtype_name(h), row1, other);
                    memcpy(y, ykeep, sizeof y);
                }
                store(h, a, 1 * k + 4, 1.0f);
                tasd_layer_destroy(l);
                tasd_layer_config_destroy(lc);
            }
        }
        tasd_context_destroy(ctx);
    }
    tasd_config_destroy(c);
}

TEST_MAIN(RUN(test_options); RUN(test_files); RUN(test_rounding_and_stats); RUN(test_bytes);
          RUN(test_backends_values); RUN(test_half_operands); RUN(test_nonfinite_half_b);
          RUN(test_gemm_act_half); RUN(test_layer_half); RUN(test_layer_values_exact);
          RUN(test_half_nonfinite_and_dtypes);)
