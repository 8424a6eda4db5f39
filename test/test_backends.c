/* Every available backend against the scalar reference: GEMM over a table of
 * shapes, configs, strides and alpha/beta; bit-identical results across
 * thread counts and a custom parallel-for pool; the vectorized select against
 * the scalar select; forcing unavailable backends. */
#include "harness.h"
#include "tasd.h"
#include "core/dispatch.h"
#include "support/util.h"

#include <pthread.h>
#include <stdint.h>

static const char *const configs[] = {"2:4",   "1:4",     "1:8",     "2:8",
                                      "4:8",   "1:16",    "2:4+1:8", "1:8+2:4",
                                      "2:4+1:8+1:16", "3:32", "3:8", "1:2",
                                      "4:4", "16:32", "8:16+1:4", "1:32", "1:16+2:4",
                                      "1:4+1:8", "2:16", "2:4+1:4"};
#define NCONFIGS ((int)(sizeof configs / sizeof *configs))

static const int ns[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 64, 100};
#define NNS ((int)(sizeof ns / sizeof *ns))

static tasd_backend backends[UTIL_MAX_BACKENDS];
static int nbackends;

static float *rand_matrix(int64_t count, double sparsity)
{
    float *w = malloc((size_t)(count ? count : 1) * sizeof *w);
    for (int64_t i = 0; i < count; i++) {
        float v = test_rand_float();
        w[i] = (double)(test_rand_u64() % 1000) / 1000.0 < sparsity ? 0.0f : v;
    }
    return w;
}

/* A series of cfg over a random m x k matrix, its values stored as `values`. */
static tasd_series *make_series(const char *cfg, int64_t m, int64_t k, unsigned seed,
                                tasd_dtype values)
{
    test_seed(seed);
    float *w = rand_matrix(m * k, 0.1);
    tasd_config *c = NULL;
    tasd_series *s = NULL;
    tasd_context *ctx = NULL;
    tasd_context_create(NULL, &ctx);
    tasd_context_set_backend(ctx, TASD_BACKEND_SCALAR);
    tasd_config_parse(NULL, cfg, &c);
    tasd_view v = tasd_view_2d(w, TASD_F32, m, k, k);
    tasd_decompose_options o = {sizeof o, values};
    tasd_status st = tasd_decompose_ex(ctx, &v, c, TASD_GREEDY, &o, &s);
    CHECKF(st == TASD_OK, "decompose %s %lldx%lld: %s", cfg, (long long)m, (long long)k,
           tasd_last_error_message());
    tasd_config_destroy(c);
    tasd_context_destroy(ctx);
    free(w);
    return s;
}

/* The GEMM operands: B [k, n] and C [m, n] as views over buffers with a
 * chosen layout. layout 0: row-major; 1: transposed (column-major);
 * 2: padded rows and a column stride of 2; 3: padded rows of contiguous
 * columns (a C the wide kernel sums whole panels into directly). */
typedef struct operand {
    float *buf;
    int64_t size;
    tasd_view v;
} operand;

static operand make_operand(int64_t rows, int64_t cols, int layout)
{
    operand o;
    int64_t rs, cs;
    if (layout == 0) {
        rs = cols;
        cs = 1;
        o.size = rows * cols;
    } else if (layout == 1) {
        rs = 1;
        cs = rows;
        o.size = rows * cols;
    } else {
        cs = layout == 2 ? 2 : 1;
        rs = cs * cols + 5;
        o.size = rows * rs;
    }
    o.buf = malloc((size_t)(o.size ? o.size : 1) * sizeof(float));
    for (int64_t i = 0; i < o.size; i++)
        o.buf[i] = test_rand_float();
    o.v = tasd_view_2d_strided(o.buf, TASD_F32, rows, cols, rs, cs);
    return o;
}

static float *at(const operand *o, int64_t r, int64_t c)
{
    return o->buf + r * o->v.strides[0] + c * o->v.strides[1];
}

/* Double-precision reference from the reconstructed dense approximation;
 * also the bound sum |alpha w b| + |beta c| for the tolerance. */
static void reference(const tasd_series *s, float alpha, const operand *b, float beta,
                      const operand *c0, double *ref, double *bound)
{
    int64_t m, k, n = b->v.shape[1];
    tasd_series_shape(s, &m, &k);
    float *wa = malloc((size_t)(m * k > 0 ? m * k : 1) * sizeof *wa);
    tasd_view wv = tasd_view_2d(wa, TASD_F32, m, k, k);
    CHECK_OK(tasd_series_reconstruct(s, &wv));
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0, bd = 0;
            for (int64_t q = 0; q < k; q++) {
                double p = (double)wa[r * k + q] * *at(b, q, j);
                acc += p;
                bd += fabs(p);
            }
            double cv = beta == 0.0f ? 0.0 : (double)beta * *at(c0, r, j);
            ref[r * n + j] = alpha * acc + cv;
            bound[r * n + j] = fabs(alpha) * bd + fabs(cv);
        }
    free(wa);
}

/* Whether a backend's float result is close enough to the double reference:
 * fp32 rounding grows with the dot product's length k, relative to its
 * bound sum |alpha w b| + |beta c|. */
static bool within_tolerance(double got, double want, double bound, int64_t k)
{
    return fabs(got - want) <= 3e-6 * (double)(k + 8) * bound / 8 + 1e-6;
}

/* The first element of C (m x n, any layout) off the reference, as r * n + j;
 * -1 when all are within tolerance. */
static int64_t first_mismatch(const operand *c, int64_t m, int64_t n, int64_t k,
                              const double *ref, const double *bound)
{
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < n; j++)
            if (!within_tolerance(*at(c, r, j), ref[r * n + j], bound[r * n + j], k))
                return r * n + j;
    return -1;
}

static int run_gemm(tasd_backend be, int threads, const tasd_series *s, float alpha,
                    const operand *b, float beta, operand *c)
{
    tasd_context *ctx = NULL;
    CHECK_OK(tasd_context_create(NULL, &ctx));
    CHECK_OK(tasd_context_set_backend(ctx, be));
    CHECK_OK(tasd_context_set_threads(ctx, threads));
    tasd_status st = tasd_gemm(ctx, alpha, s, &b->v, beta, &c->v);
    CHECKF(st == TASD_OK, "gemm on %s: %s", tasd_backend_name(be), tasd_last_error_message());
    tasd_context_destroy(ctx);
    return st == TASD_OK;
}

/* Check every backend on one case, run on `threads` threads; returns the
 * number of mismatches. */
static int check_case_threads(const char *cfg, int64_t m, int64_t k, int64_t n, int blayout,
                              int clayout, float alpha, float beta, int threads)
{
    tasd_series *s = make_series(cfg, m, k, (unsigned)(m * 131 + k * 7 + n), TASD_F32);
    if (!s)
        return 1;
    operand b = make_operand(k, n, blayout);
    operand c0 = make_operand(m, n, clayout);
    if (beta == 0.0f)
        for (int64_t i = 0; i < c0.size; i++)
            c0.buf[i] = NAN;
    double *ref = malloc((size_t)(m * n > 0 ? m * n : 1) * sizeof *ref);
    double *bound = malloc((size_t)(m * n > 0 ? m * n : 1) * sizeof *bound);
    reference(s, alpha, &b, beta, &c0, ref, bound);
    int bad = 0;
    for (int bi = 0; bi < nbackends; bi++) {
        operand c = c0;
        c.buf = malloc((size_t)c0.size * sizeof(float));
        memcpy(c.buf, c0.buf, (size_t)c0.size * sizeof(float));
        c.v.data = c.buf;
        if (run_gemm(backends[bi], threads, s, alpha, &b, beta, &c)) {
            const int64_t e = bad ? -1 : first_mismatch(&c, m, n, k, ref, bound);
            if (e >= 0) {
                CHECKF(0, "%s %s m=%lld k=%lld n=%lld B%d C%d a=%g b=%g: "
                       "C[%lld,%lld] = %.9g, want %.9g",
                       tasd_backend_name(backends[bi]), cfg, (long long)m, (long long)k,
                       (long long)n, blayout, clayout, alpha, beta, (long long)(e / n),
                       (long long)(e % n), *at(&c, e / n, e % n), ref[e]);
                bad++;
            }
            /* elements outside the view (padding of layouts 2 and 3) untouched */
            if (clayout >= 2)
                for (int64_t i = 0; i < c.size; i++) {
                    int64_t rr = i / c.v.strides[0], cc = i % c.v.strides[0];
                    int64_t cs = c.v.strides[1];
                    if ((cc % cs != 0 || cc / cs >= n || rr >= m) &&
                        memcmp(&c.buf[i], &c0.buf[i], sizeof(float)) != 0) {
                        CHECKF(0, "%s wrote outside the C view at %lld",
                               tasd_backend_name(backends[bi]), (long long)i);
                        bad++;
                        break;
                    }
                }
        }
        free(c.buf);
    }
    free(ref);
    free(bound);
    free(b.buf);
    free(c0.buf);
    tasd_series_destroy(s);
    return bad;
}

static int check_case(const char *cfg, int64_t m, int64_t k, int64_t n, int blayout,
                      int clayout, float alpha, float beta)
{
    return check_case_threads(cfg, m, k, n, blayout, clayout, alpha, beta, 1);
}

static void test_configs_and_n(void)
{
    /* every config family x every n, with K not a multiple of M and rows not a
     * multiple of the row blocks */
    for (int ci = 0; ci < NCONFIGS; ci++)
        for (int ni = 0; ni < NNS; ni++)
            check_case(configs[ci], 37, 133, ns[ni], 0, 0, 1.0f, 0.0f);
    /* K long enough (18 blocks, the last short) that the narrow kernel
     * visits a row for several K blocks at a time, in two row blocks */
    static const int narrow_ns[] = {1, 3, 5, 8};
    for (int ci = 0; ci < NCONFIGS; ci++)
        for (int ni = 0; ni < 4; ni++)
            check_case(configs[ci], 67, 1100, narrow_ns[ni], 0, 0, 1.0f, 0.0f);
}

static void test_shapes(void)
{
    static const int64_t shapes[][3] = {
        {1, 1, 1},     {1, 3, 17},    {5, 4, 3},    {3, 7, 9},     {70, 300, 130},
        {64, 128, 64}, {65, 129, 65}, {130, 257, 8}, {33, 1000, 1}, {2, 4096, 16},
        {9, 31, 100},  {100, 64, 2},
    };
    for (unsigned i = 0; i < sizeof shapes / sizeof *shapes; i++)
        for (int ci = 0; ci < NCONFIGS; ci += 3)
            check_case(configs[ci], shapes[i][0], shapes[i][1], shapes[i][2], 0, 0, 1.0f,
                       0.0f);
}

static void test_strides_alpha_beta(void)
{
    static const float ab[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {-0.5f, 2.5f}, {0.0f, 0.5f},
                                  {0.0f, 0.0f}, {2.0f, -1.0f}};
    static const int nn[] = {1, 3, 8, 17, 100};
    for (int bl = 0; bl < 3; bl++)
        for (int cl = 0; cl < 3; cl++)
            for (unsigned a = 0; a < sizeof ab / sizeof *ab; a++)
                for (unsigned q = 0; q < sizeof nn / sizeof *nn; q++)
                    check_case(q % 2 ? "2:4+1:8" : "2:4", 23, 70, nn[q], bl, cl, ab[a][0],
                               ab[a][1]);
}

/* Large n (several 256-column wide units, a partial last panel) on odd
 * shapes. */
static void test_large_n(void)
{
    check_case("2:4", 37, 133, 300, 0, 0, 1.0f, 0.0f);
    check_case("2:4+1:8", 19, 200, 520, 2, 1, 0.5f, 1.0f);
    check_case("1:8", 70, 77, 300, 1, 0, 1.0f, 0.0f);
}

/* C = S B (alpha 1, beta 0) into an f32 C of padded rows (layout 3), where
 * the wide kernel sums the units of whole panels in C itself: every
 * backend, one and two threads; C starts as NaN (never read) and its
 * padding stays untouched (check_case_threads). */
static void test_direct_c(void)
{
    static const int64_t widths[] = {64, 128, 192, 256, 300, 320};
    for (unsigned ni = 0; ni < sizeof widths / sizeof *widths; ni++)
        for (int threads = 1; threads <= 2; threads++) {
            check_case_threads("2:4", 130, 200, widths[ni], 0, 3, 1.0f, 0.0f, threads);
            check_case_threads("2:4+1:8", 130, 200, widths[ni], 0, 3, 1.0f, 0.0f, threads);
        }
}

/* NaN and Inf in B: the product is that of the kept values only, on every
 * backend and for narrow and wide n. W keeps only column 0 of every group of
 * 4 (nonzero); the other columns are zero, so each 2:4 group also holds a
 * value-0 slot, and K = 4*q + 3 leaves a padded last group. */
static void test_nonfinite_b(void)
{
    static const char *const cfgs[] = {"2:4", "2:4+1:8", "1:4", "3:8", "1:2"};
    static const int nn[] = {1, 3, 8, 17, 64, 66, 300};
    const int64_t m = 21, k = 4 * 37 + 3;
    test_seed(77);
    float *w = calloc((size_t)(m * k), sizeof *w);
    for (int64_t r = 0; r < m; r++)
        for (int64_t q = 0; q < k; q += 4)
            w[r * k + q] = test_rand_float() + 2.0f;
    tasd_view wv = tasd_view_2d(w, TASD_F32, m, k, k);
    for (unsigned ci = 0; ci < sizeof cfgs / sizeof *cfgs; ci++)
        for (int kept = 0; kept < 4; kept++)
            for (unsigned ni = 0; ni < sizeof nn / sizeof *nn; ni++) {
                const int64_t n = nn[ni];
                tasd_config *c = NULL;
                tasd_series *s = NULL;
                CHECK_OK(tasd_config_parse(NULL, cfgs[ci], &c));
                CHECK_OK(tasd_decompose(NULL, &wv, c, TASD_GREEDY, &s));
                float *wa = malloc((size_t)(m * k) * sizeof *wa);
                tasd_view av = tasd_view_2d(wa, TASD_F32, m, k, k);
                CHECK_OK(tasd_series_reconstruct(s, &av));
                /* dropped rows of B (k % 4 != 0) get Inf/NaN; with kept == 1
                 * also kept rows 0 (+Inf in column 0) and 8 (NaN in column 1);
                 * kept == 2: one Inf alone, in dropped row 1 of column 0
                 * (the first K block; at n = 1 a contiguous column, which
                 * the narrow path copies by blocks); kept == 3: the same in
                 * the last column (at n = 66, where the narrow kernel may
                 * take the columns past the whole panels) */
                float *b = malloc((size_t)(k * n) * sizeof *b);
                for (int64_t q = 0; q < k; q++)
                    for (int64_t j = 0; j < n; j++)
                        b[q * n + j] = q % 4 == 0 || kept >= 2 ? test_rand_float()
                                       : (q + j) % 3           ? INFINITY
                                                               : NAN;
                if (kept == 2)
                    b[1 * n] = INFINITY;
                if (kept == 3)
                    b[1 * n + n - 1] = INFINITY;
                if (kept == 1) {
                    b[0] = INFINITY;
                    if (n > 1)
                        b[8 * n + 1] = NAN;
                }
                tasd_view bv = tasd_view_2d(b, TASD_F32, k, n, n);
                float *cbuf = malloc((size_t)(m * n) * sizeof *cbuf);
                tasd_view cv = tasd_view_2d(cbuf, TASD_F32, m, n, n);
                for (int bi = 0; bi < nbackends; bi++) {
                    tasd_context *ctx = NULL;
                    CHECK_OK(tasd_context_create(NULL, &ctx));
                    CHECK_OK(tasd_context_set_backend(ctx, backends[bi]));
                    CHECK_OK(tasd_gemm(ctx, 1.0f, s, &bv, 0.0f, &cv));
                    int bad = 0;
                    for (int64_t r = 0; r < m && !bad; r++)
                        for (int64_t j = 0; j < n && !bad; j++) {
                            double want = 0, bound = 0;
                            for (int64_t q = 0; q < k; q++)
                                if (wa[r * k + q] != 0.0f) { /* kept values only */
                                    want += (double)wa[r * k + q] * b[q * n + j];
                                    bound += fabs((double)wa[r * k + q] * b[q * n + j]);
                                }
                            double got = cbuf[r * n + j];
                            bad = isnan(want) ? !isnan(got)
                                  : isinf(want) ? got != want
                                                : !(fabs(got - want) <= 1e-5 * bound + 1e-6);
                            CHECKF(!bad, "%s %s n=%lld kept=%d: C[%lld,%lld] = %g, want %g",
                                   tasd_backend_name(backends[bi]), cfgs[ci], (long long)n,
                                   kept, (long long)r, (long long)j, got, want);
                        }
                    tasd_context_destroy(ctx);
                }
                free(cbuf);
                free(b);
                free(wa);
                tasd_series_destroy(s);
                tasd_config_destroy(c);
            }
    free(w);
}

/* ---- thread counts and a custom pool ---- */

typedef struct pool_call {
    tasd_task_fn task;
    void *arg;
    int64_t ntasks;
    int64_t next;
    pthread_mutex_t lock;
} pool_call;

static int pool_calls;

static void *pool_worker(void *p)
{
    pool_call *pc = p;
    for (;;) {
        pthread_mutex_lock(&pc->lock);
        int64_t t = pc->next++;
        pthread_mutex_unlock(&pc->lock);
        if (t >= pc->ntasks)
            return NULL;
        pc->task(pc->arg, t);
    }
}

/* A simple pool: 3 threads per call pull task indices from a counter. */
static void test_pool_for(void *pool, int64_t ntasks, tasd_task_fn task, void *arg)
{
    (void)pool;
    pool_call pc = {task, arg, ntasks, 0, PTHREAD_MUTEX_INITIALIZER};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, pool_worker, &pc);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    __atomic_add_fetch(&pool_calls, 1, __ATOMIC_SEQ_CST);
}

static void test_thread_counts(void)
{
    static const int64_t shapes[][3] = {{200, 300, 1}, {200, 300, 8}, {200, 300, 100},
                                        {130, 520, 64}, {7, 64, 3}};
    for (unsigned si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        int64_t m = shapes[si][0], k = shapes[si][1], n = shapes[si][2];
        tasd_series *s = make_series("2:4+1:8", m, k, 99 + si, TASD_F32);
        operand b = make_operand(k, n, 0);
        for (int bi = 0; bi < nbackends; bi++) {
            float *first = NULL;
            for (int t = 0; t <= 3; t++) {
                operand c = make_operand(m, n, 0);
                tasd_context *ctx = NULL;
                CHECK_OK(tasd_context_create(NULL, &ctx));
                CHECK_OK(tasd_context_set_backend(ctx, backends[bi]));
                if (t == 0) { /* custom pool, 3 threads allowed */
                    CHECK_OK(tasd_context_set_threads(ctx, 3));
                    CHECK_OK(tasd_context_set_parallel_for(ctx, test_pool_for, NULL));
                } else {
                    CHECK_OK(tasd_context_set_threads(ctx, t));
                }
                int before = pool_calls;
                CHECK_OK(tasd_gemm(ctx, 1.5f, s, &b.v, 0.0f, &c.v));
                if (t == 0 && m > 64)
                    CHECK(pool_calls > before);
                tasd_context_destroy(ctx);
                if (!first) {
                    first = c.buf;
                    continue;
                }
                CHECKF(memcmp(first, c.buf, (size_t)(m * n) * sizeof(float)) == 0,
                       "%s %lldx%lldx%lld: threads=%d differs from the pool run",
                       tasd_backend_name(backends[bi]), (long long)m, (long long)k,
                       (long long)n, t);
                free(c.buf);
            }
            free(first);
        }
        free(b.buf);
        tasd_series_destroy(s);
    }
}

/* ---- the plain-C packed kernels (contract spec) against the reference ---- */

/* Series cfg (m x k, seed, values) through ops on an n-column B of the given
 * layout, C = 0.75 S B + 0.5 C, checked against the reference: 0 when C
 * matched, 1 after reporting its first wrong element (or a missing series). */
static int check_series_on_ops(const tasdi_ops *ops, const char *what, const char *cfg,
                               int64_t m, int64_t k, int64_t n, unsigned seed,
                               tasd_dtype values, int b_layout)
{
    tasd_series *s = make_series(cfg, m, k, seed, values);
    operand b = make_operand(k, n, b_layout);
    operand c0 = make_operand(m, n, 0), c = make_operand(m, n, 0);
    memcpy(c.buf, c0.buf, (size_t)(m * n) * sizeof(float));
    double *ref = malloc((size_t)(m * n) * sizeof *ref);
    double *bound = malloc((size_t)(m * n) * sizeof *bound);
    int bad = 0;
    if (s && ref && bound) {
        reference(s, 0.75f, &b, 0.5f, &c0, ref, bound);
        tasdi_matrix bm, cm;
        CHECK_OK(tasdi_matrix_from_view(&b.v, "b", &bm));
        CHECK_OK(tasdi_matrix_from_view(&c.v, "c", &cm));
        CHECK_OK(tasdi_gemm_run_ops(NULL, ops, 0.75f, s, &bm, 0.5f, &cm));
        const int64_t e = first_mismatch(&c, m, n, k, ref, bound);
        if (e >= 0) {
            CHECKF(0, "%s %s %lldx%lldx%lld: [%lld] %.9g want %.9g", what, cfg, (long long)m,
                   (long long)k, (long long)n, (long long)e, c.buf[e], ref[e]);
            bad = 1;
        }
    } else {
        CHECKF(0, "%s %s: no series or memory", what, cfg);
        bad = 1;
    }
    free(ref);
    free(bound);
    free(b.buf);
    free(c.buf);
    free(c0.buf);
    tasd_series_destroy(s);
    return bad;
}

static void check_ops(const tasdi_ops *ops, const char *what, const int64_t (*shapes)[3],
                      int nshapes, tasd_dtype values)
{
    for (int ci = 0; ci < NCONFIGS; ci++)
        for (int si = 0; si < nshapes; si++)
            check_series_on_ops(ops, what, configs[ci], shapes[si][0], shapes[si][1],
                                shapes[si][2], 5 + ci, values, si % 2);
}

static void test_scalar_packed_kernels(void)
{
    /* two panels per wide call, as AVX-512 runs them */
    static const tasdi_ops packed_ops = {TASD_BACKEND_SCALAR, tasdi_scalar_select,
                                         tasdi_scalar_wide, tasdi_scalar_narrow, tasdi_scalar_stats,
                                         {TASDI_NARROW_MAX, TASDI_NARROW_MAX, TASDI_NARROW_MAX},
                                         2, &tasdi_scalar_dense,
                                         tasdi_scalar_wide, tasdi_scalar_wide,
                                         tasdi_scalar_narrow, tasdi_scalar_narrow, NULL, 0, NULL,
                                         tasdi_scalar_transpose, tasdi_scalar_panel_row};
    static const int64_t shapes[][3] = {{37, 133, 1}, {37, 133, 5}, {37, 300, 17},
                                        {70, 260, 100}};
    check_ops(&packed_ops, "scalar packed", shapes, 4, TASD_F32);
}

/* Each SIMD backend's narrow kernel for every n up to TASDI_NARROW_MAX and
 * its wide kernel for every small n, whatever crossover the backend picks. */
static void test_narrow_wide_all_n(void)
{
    static const int64_t shapes[][3] = {{37, 133, 1}, {37, 133, 2}, {37, 133, 3},
                                        {37, 133, 4}, {37, 200, 5}, {37, 200, 6},
                                        {37, 200, 7}, {37, 200, 8},
                                        /* K a multiple of the K block (the
                                         * compile-time N:M narrow paths run
                                         * every block), two row blocks */
                                        {70, 256, 1}, {70, 256, 2}, {70, 192, 3},
                                        {70, 192, 4}, {70, 256, 5}, {70, 192, 6},
                                        {70, 256, 7}, {70, 192, 8}};
    for (int bi = 0; bi < nbackends; bi++) {
        const tasdi_ops *ops = tasdi_ops_for(backends[bi]);
        if (!ops || !ops->wide)
            continue;
        tasdi_ops forced = *ops;
        const int nshapes = (int)(sizeof shapes / sizeof *shapes);
        for (int c = 0; c < 3; c++)
            forced.narrow_max[c] = TASDI_NARROW_MAX;
        forced.narrow_fast_max = TASDI_NARROW_MAX;
        forced.narrow_gathers = NULL;
        check_ops(&forced, "narrow kernel", shapes, nshapes, TASD_F32);
        for (int c = 0; c < 3; c++)
            forced.narrow_max[c] = 0;
        forced.narrow_fast_max = 0;
        check_ops(&forced, "wide kernel", shapes, nshapes, TASD_F32);
    }
}

/* n past whole panels by 1..TASDI_NARROW_MAX columns: the wide kernel on
 * the whole panels, the narrow one on the rest, into the right columns of
 * C; with the narrow kernel allowed up to TASDI_NARROW_MAX columns for
 * every series (this CPU's crossovers may give the tail to it for fewer
 * series) and as dispatched. */
static void test_tail_columns_narrow(void)
{
    static const int64_t shapes[][3] = {{37, 133, 65}, {70, 200, 66}, {37, 133, 71},
                                        {70, 256, 72}, {37, 200, 130}, {70, 133, 197},
                                        {37, 256, 200}, {130, 300, 264}};
    const int nshapes = (int)(sizeof shapes / sizeof *shapes);
    for (int bi = 0; bi < nbackends; bi++) {
        const tasdi_ops *ops = tasdi_ops_for(backends[bi]);
        if (!ops || !ops->wide)
            continue;
        tasdi_ops forced = *ops;
        for (int c = 0; c < 3; c++)
            forced.narrow_max[c] = TASDI_NARROW_MAX;
        forced.narrow_fast_max = TASDI_NARROW_MAX;
        forced.narrow_gathers = NULL;
        check_ops(&forced, "wide + narrow tail", shapes, nshapes, TASD_F32);
        check_ops(ops, "as dispatched", shapes, nshapes, TASD_F32);
    }
}

/* Both AVX-512 wide kernels, whichever one this CPU's dispatch picks: the
 * plain one (Intel) and the one that spreads the values (AMD), for f32,
 * bf16 and f16 values at n over 1..8 vectors per row, K with and without a
 * short last block. */
static void test_avx512_wide_entries(void)
{
#if defined(__x86_64__) || defined(_M_X64)
    const tasdi_ops *ops = tasdi_ops_for(TASD_BACKEND_AVX512);
    if (!ops) {
        printf("  (AVX-512 not available here: its wide kernels not run)\n");
        return;
    }
    if (!util_backend_tested(TASD_BACKEND_AVX512))
        return; /* run in the avx512 pass */
    static const int64_t shapes[][3] = {{37, 133, 9},   {70, 256, 16}, {37, 200, 33},
                                        {70, 192, 48},  {70, 192, 32}, {37, 133, 17},
                                        {37, 192, 49},  {70, 133, 64}, {37, 256, 80},
                                        {37, 200, 100}, {70, 256, 128}, {37, 133, 120}};
    const int nshapes = (int)(sizeof shapes / sizeof *shapes);
    static const tasd_dtype vtypes[] = {TASD_F32, TASD_BF16, TASD_F16};
    for (int spread = 0; spread < 2; spread++) {
        tasdi_ops forced = *ops;
        forced.wide = spread ? tasdi_avx512_wide_spread : tasdi_avx512_wide;
        forced.wide_bf16 = spread ? tasdi_avx512_wide_spread_bf16 : tasdi_avx512_wide_bf16;
        forced.wide_f16 = spread ? tasdi_avx512_wide_spread_f16 : tasdi_avx512_wide_f16;
        for (int c = 0; c < 3; c++)
            forced.narrow_max[c] = 0;
        forced.narrow_fast_max = 0;
        for (int vi = 0; vi < 3; vi++) {
            char what[64];
            snprintf(what, sizeof what, "avx512 %s, %s values", spread ? "wide_spread" : "wide",
                     tasd_dtype_name(vtypes[vi]));
            check_ops(&forced, what, shapes, nshapes, vtypes[vi]);
        }
    }
#endif
}

/* ---- the vectorized select equals the scalar one exactly ---- */

/* Which series AVX-512's narrow kernel fetches by gathers (on AMD CPUs
 * they run wide, dispatch.c): terms of M/N > 8 on the generic path, 1:16
 * and 2:16 on the fast one; windows and 3:8's blocks are no gathers. */
static void test_avx512_narrow_gathers(void)
{
#if defined(__x86_64__) || defined(_M_X64)
    if (!tasdi_ops_for(TASD_BACKEND_AVX512)) {
        printf("  (AVX-512 not available here: its gather predicate not run)\n");
        return;
    }
    static const struct {
        const char *config;
        int gathers;
    } cases[] = {{"1:16", 1},    {"2:16", 1},    {"1:32", 1},     {"2:4+1:16", 1},
                 {"1:8+1:16", 1}, {"1:4+1:32", 1}, {"2:4", 0},     {"1:8", 0},
                 {"2:8", 0},     {"2:4+1:8", 0}, {"1:8+1:8", 0}, {"3:8", 0},
                 {"2:16+2:16", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tasd_series *s = make_series(cases[i].config, 37, 133, 3, TASD_F32);
        if (!s)
            continue;
        const int got = tasdi_avx512_narrow_gathers(s->packed) != 0;
        CHECKF(got == cases[i].gathers, "%s: %d, want %d", cases[i].config, got, cases[i].gathers);
        tasd_series_destroy(s);
    }
#endif
}

/* The routing of columns between the two kernels (gemm.c's use_narrow and
 * wide_cols), seen through spies around the plain-C kernels: the crossover
 * classes, the fast path's own limit, the gather rule and the tail past the
 * last whole panel. */
static int spied_wide, spied_narrow;
static void spy_wide(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                     const float *bblk, int64_t bnext, int ncols, float *tile, int64_t tnext,
                     int64_t tld, int accumulate)
{
    spied_wide++;
    tasdi_scalar_wide(p, r0, r1, kb, bblk, bnext, ncols, tile, tnext, tld, accumulate);
}
static void spy_narrow(const tasdi_packed *p, int64_t r0, int64_t r1, const float *x,
                       int64_t ldx, int nx, float *y, int64_t ldy)
{
    spied_narrow++;
    tasdi_scalar_narrow(p, r0, r1, x, ldx, nx, y, ldy);
}
static int gathers_if_two_terms(const tasdi_packed *p) { return p->terms == 2; }
static int fast_four_if_one_term(const tasdi_packed *p) { return p->terms == 1 ? 4 : 0; }

/* Which kernels ran series cfg at n columns (1: wide only, 2: narrow only,
 * 3: both), after checking C against the reference (-1 if it was wrong). */
static int routed(const tasdi_ops *ops, const char *cfg, int64_t n)
{
    spied_wide = spied_narrow = 0;
    if (check_series_on_ops(ops, "routed", cfg, 37, 133, n, 11, TASD_F32, 0))
        return -1;
    return (spied_wide > 0) | ((spied_narrow > 0) << 1);
}

static void test_column_routing(void)
{
    enum { WIDE = 1, NARROW = 2, BOTH = 3 };
    tasdi_ops ops = *tasdi_ops_for(TASD_BACKEND_SCALAR);
    ops.wide = spy_wide;
    ops.narrow = spy_narrow;
    ops.narrow_fast = NULL;
    ops.narrow_gathers = NULL;
    /* classes by M/N over the slots: 2:4 is 2, 1:4 4, 1:8 8 */
    ops.narrow_max[0] = 6, ops.narrow_max[1] = 3, ops.narrow_max[2] = 0;
    CHECK(routed(&ops, "2:4", 6) == NARROW && routed(&ops, "2:4", 7) == WIDE);
    CHECK(routed(&ops, "1:4", 3) == NARROW && routed(&ops, "1:4", 4) == WIDE);
    CHECK(routed(&ops, "1:8", 1) == WIDE);
    /* 2:4+1:8: 2 terms / (1/2 + 1/8) = 3.2, the class of 1:4 */
    CHECK(routed(&ops, "2:4+1:8", 3) == NARROW && routed(&ops, "2:4+1:8", 4) == WIDE);
    /* the tail past the last whole panel runs narrow where its class takes it */
    CHECK(routed(&ops, "2:4", TASDI_NR + 5) == BOTH);
    CHECK(routed(&ops, "2:4", TASDI_NR + 7) == WIDE);
    CHECK(routed(&ops, "1:8", TASDI_NR + 1) == WIDE);
    /* a fast path runs narrow up to min(its columns, narrow_fast_max) */
    ops.narrow_fast = fast_four_if_one_term;
    ops.narrow_fast_max = 8;
    CHECK(routed(&ops, "1:8", 4) == NARROW && routed(&ops, "1:8", 5) == WIDE);
    ops.narrow_fast_max = 2;
    CHECK(routed(&ops, "1:8", 2) == NARROW && routed(&ops, "1:8", 3) == WIDE);
    CHECK(routed(&ops, "2:4", 6) == NARROW);
    /* series the narrow kernel would gather run wide at every n */
    ops.narrow_gathers = gathers_if_two_terms;
    CHECK(routed(&ops, "2:4+1:8", 1) == WIDE && routed(&ops, "2:4+1:8", TASDI_NR + 1) == WIDE);
    CHECK(routed(&ops, "2:4", 1) == NARROW);
}

static void test_select(void)
{
    static const int64_t ks[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64,
                                 65, 100, 127, 128, 129, 255, 1000};
    for (int bi = 0; bi < nbackends; bi++) {
        const tasdi_ops *ops = tasdi_ops_for(backends[bi]);
        CHECK(ops != NULL);
        if (!ops)
            continue;
        for (int m = 2; m <= 32; m *= 2)
            for (int n = 1; n <= m; n++)
                for (unsigned ki = 0; ki < sizeof ks / sizeof *ks; ki++)
                    for (int ties = 0; ties < 2; ties++) {
                        int64_t k = ks[ki], groups = (k + m - 1) / m;
                        float *x = malloc((size_t)k * sizeof *x);
                        float *y = malloc((size_t)k * sizeof *y);
                        size_t slots = (size_t)(groups * n);
                        float *v1 = malloc(slots * sizeof *v1), *v2 = malloc(slots * sizeof *v2);
                        uint8_t *i1 = malloc(slots), *i2 = malloc(slots);
                        for (int64_t i = 0; i < k; i++) {
                            /* ties: few distinct magnitudes, both signs, zeros */
                            x[i] = ties ? (float)((int)(test_rand_u64() % 5) - 2)
                                        : test_rand_float();
                            if (ties && test_rand_u64() % 7 == 0)
                                x[i] = -0.0f;
                        }
                        memcpy(y, x, (size_t)k * sizeof *x);
                        memset(v1, 0x7f, slots * sizeof *v1);
                        memset(v2, 0x7f, slots * sizeof *v2);
                        memset(i1, 0xee, slots);
                        memset(i2, 0xee, slots);
                        tasdi_scalar_select(x, k, n, m, v1, i1);
                        ops->select(y, k, n, m, v2, i2);
                        CHECKF(memcmp(x, y, (size_t)k * sizeof *x) == 0 &&
                                   memcmp(v1, v2, slots * sizeof *v1) == 0 &&
                                   memcmp(i1, i2, slots) == 0,
                               "%s select %d:%d k=%lld ties=%d differs from scalar",
                               tasd_backend_name(backends[bi]), n, m, (long long)k, ties);
                        free(x);
                        free(y);
                        free(v1);
                        free(v2);
                        free(i1);
                        free(i2);
                    }
    }
}

/* Decomposing with each backend gives the same series as the scalar one. */
static void test_decompose_backends(void)
{
    static const char *const cfgs[] = {"2:4", "2:4+1:8", "1:8+2:4", "3:8+1:16"};
    int64_t m = 41, k = 517;
    test_seed(1234);
    float *w = rand_matrix(m * k, 0.2);
    tasd_view v = tasd_view_2d(w, TASD_F32, m, k, k);
    for (unsigned ci = 0; ci < sizeof cfgs / sizeof *cfgs; ci++) {
        tasd_config *c = NULL;
        CHECK_OK(tasd_config_parse(NULL, cfgs[ci], &c));
        /* the reference: the scalar backend's greedy series (whichever
         * backends this pass tests) */
        tasd_series *ref = NULL;
        tasd_context *sctx = util_context(NULL, TASD_BACKEND_SCALAR, 1);
        CHECK_OK(tasd_decompose(sctx, &v, c, TASD_GREEDY, &ref));
        tasd_context_destroy(sctx);
        for (int bi = 0; bi < nbackends; bi++)
            for (int method = 0; method < 2; method++) {
                tasd_context *ctx = NULL;
                tasd_context_create(NULL, &ctx);
                tasd_context_set_backend(ctx, backends[bi]);
                tasd_series *s = NULL;
                CHECK_OK(tasd_decompose(ctx, &v, c, (tasd_method)method, &s));
                if (s && ref) {
                    for (int t = 0; t < c->terms; t++) {
                        if (method == 1 && c->m[0] > c->m[c->terms - 1])
                            continue; /* optimal differs for coarse-first configs */
                        size_t sl = (size_t)(m * s->term[t].width);
                        float *v1 = malloc(sl * 4), *v2 = malloc(sl * 4);
                        uint8_t *i1 = malloc(sl), *i2 = malloc(sl);
                        CHECK_OK(tasd_series_export_term(s, t, v1, i1, (int64_t)sl));
                        CHECK_OK(tasd_series_export_term(ref, t, v2, i2, (int64_t)sl));
                        CHECKF(memcmp(v1, v2, sl * 4) == 0 && memcmp(i1, i2, sl) == 0,
                               "%s decompose %s method %d term %d differs",
                               tasd_backend_name(backends[bi]), cfgs[ci], method, t);
                        free(v1);
                        free(v2);
                        free(i1);
                        free(i2);
                    }
                    tasd_series_destroy(s);
                }
                tasd_context_destroy(ctx);
            }
        tasd_series_destroy(ref);
        tasd_config_destroy(c);
    }
    free(w);
}

/* The row-statistics kernel agrees with the scalar one; NaN/Inf anywhere
 * (vector body or tail) makes decomposition fail on every backend. */
static void test_stats(void)
{
    static const int64_t lens[] = {0, 1, 7, 8, 15, 16, 17, 33, 100, 1000};
    for (int bi = 0; bi < nbackends; bi++) {
        const tasdi_ops *ops = tasdi_ops_for(backends[bi]);
        tasdi_stats_fn fn = ops && ops->stats ? ops->stats : tasdi_scalar_stats;
        for (unsigned li = 0; li < sizeof lens / sizeof *lens; li++) {
            int64_t n = lens[li];
            float *x = rand_matrix(n, 0.3);
            for (int bad = 0; bad < 3; bad++) {
                if (bad && n > 0)
                    x[test_rand_u64() % (uint64_t)n] = bad == 1 ? NAN : -INFINITY;
                int64_t nz1 = 0, nz2 = 0;
                int f1 = -1, f2 = -1;
                /* the second call also copies x (the decomposer's residual) */
                float *copy = malloc((size_t)(n + 1) * sizeof *copy);
                copy[n] = 42.0f;
                double s1 = tasdi_scalar_stats(x, n, &nz1, &f1, NULL);
                double s2 = fn(x, n, &nz2, &f2, copy);
                CHECKF(memcmp(copy, x, (size_t)n * sizeof *x) == 0 && copy[n] == 42.0f,
                       "%s stats n=%lld: the copy differs from x or overruns",
                       tasd_backend_name(backends[bi]), (long long)n);
                free(copy);
                CHECKF(f1 == f2 && nz1 == nz2, "%s stats n=%lld bad=%d: finite %d/%d nnz %lld/%lld",
                       tasd_backend_name(backends[bi]), (long long)n, bad, f1, f2,
                       (long long)nz1, (long long)nz2);
                CHECK(f1 == (bad == 0 || n == 0));
                if (f1)
                    CHECK(fabs(s1 - s2) <= 1e-12 * s1);
                /* the sum alone (the residual's energy) is the same value */
                double s3 = fn(x, n, NULL, NULL, NULL);
                CHECKF(!f1 || s3 == s2, "%s stats n=%lld: the sum alone %.17g, with counts %.17g",
                       tasd_backend_name(backends[bi]), (long long)n, s3, s2);
            }
            free(x);
        }
        /* decomposition rejects non-finite weights on this backend */
        static const int64_t where[] = {0, 5, 16 * 3 + 2, 40 * 77 - 1};
        for (unsigned wi = 0; wi < sizeof where / sizeof *where; wi++) {
            float *w = rand_matrix(40 * 77, 0.0);
            w[where[wi]] = wi % 2 ? INFINITY : NAN;
            tasd_view v = tasd_view_2d(w, TASD_F32, 40, 77, 77);
            tasd_config *c = NULL;
            tasd_series *s = NULL;
            tasd_context *ctx = NULL;
            CHECK_OK(tasd_config_parse(NULL, "2:4", &c));
            CHECK_OK(tasd_context_create(NULL, &ctx));
            CHECK_OK(tasd_context_set_backend(ctx, backends[bi]));
            CHECK_STATUS(tasd_decompose(ctx, &v, c, TASD_GREEDY, &s), TASD_ERR_NONFINITE);
            CHECK(s == NULL);
            tasd_context_destroy(ctx);
            tasd_config_destroy(c);
            free(w);
        }
    }
}

static void test_dispatch(void)
{
    CHECK(tasd_backend_available(TASD_BACKEND_SCALAR));
    CHECK(!tasd_backend_available(TASD_BACKEND_AUTO));
    tasd_context *ctx = NULL;
    CHECK_OK(tasd_context_create(NULL, &ctx));
    for (int b = TASD_BACKEND_SCALAR; b <= TASD_BACKEND_NEON; b++) {
        if (tasd_backend_available((tasd_backend)b)) {
            CHECK_OK(tasd_context_set_backend(ctx, (tasd_backend)b));
            CHECK(tasd_context_backend(ctx) == (tasd_backend)b);
        } else {
            printf("backend %s is not available here: forcing it must fail\n",
                   tasd_backend_name((tasd_backend)b));
            CHECK_STATUS(tasd_context_set_backend(ctx, (tasd_backend)b), TASD_ERR_UNSUPPORTED);
            CHECK(strstr(tasd_last_error_message(), tasd_backend_name((tasd_backend)b)));
        }
    }
    CHECK_STATUS(tasd_context_set_backend(ctx, (tasd_backend)42), TASD_ERR_INVALID_ARGUMENT);
    CHECK_OK(tasd_context_set_backend(ctx, TASD_BACKEND_AUTO));
#if defined(__x86_64__)
    CHECK(tasd_backend_available(TASD_BACKEND_AVX512) ==
          (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")));
    CHECK(tasd_backend_available(TASD_BACKEND_AVX2) ==
          (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")));
    CHECK(!tasd_backend_available(TASD_BACKEND_NEON));
#endif
    /* The process default follows TASD_BACKEND (run.sh forces each one). */
    const char *env = getenv("TASD_BACKEND");
    tasd_backend want;
    if (env && *env && tasd_backend_parse(env, &want) == TASD_OK &&
        want != TASD_BACKEND_AUTO) {
        tasd_series *s = make_series("2:4", 4, 8, 3, TASD_F32);
        float bb[8 * 2] = {0}, cc[4 * 2];
        tasd_view bv = tasd_view_2d(bb, TASD_F32, 8, 2, 2);
        tasd_view cv = tasd_view_2d(cc, TASD_F32, 4, 2, 2);
        if (tasd_backend_available(want)) {
            CHECK(tasd_context_backend(NULL) == want);
            CHECK(tasd_context_backend(ctx) == want);
            CHECK_OK(tasd_gemm(NULL, 1.0f, s, &bv, 0.0f, &cv));
        } else {
            printf("TASD_BACKEND=%s is unavailable: calls must fail cleanly\n", env);
            CHECK(tasd_context_backend(NULL) == TASD_BACKEND_AUTO);
            CHECK_STATUS(tasd_gemm(NULL, 1.0f, s, &bv, 0.0f, &cv), TASD_ERR_UNSUPPORTED);
            CHECK(strstr(tasd_last_error_message(), env) != NULL);
        }
        tasd_series_destroy(s);
    }
    tasd_context_destroy(ctx);
}

static int forced_unavailable(void)
{
    const char *env = getenv("TASD_BACKEND");
    tasd_backend b;
    return env && *env &&
           (tasd_backend_parse(env, &b) != TASD_OK ||
            (b != TASD_BACKEND_AUTO && !tasd_backend_available(b)));
}

/* Each backend's transpose (the packing of a layer's X, the store of its
 * Y^T) against its definition: every value bit for bit (NaN and -Inf among
 * them, in tile bodies and in the overlapping last tiles), nothing else of
 * dst written (the sentinel stays in the gaps and past the end), blocks
 * under one tile, a negative source stride. */
static void test_transpose(void)
{
    static const int64_t dims[] = {1, 3, 5, 7, 8, 9, 14, 16, 23, 64, 192};
    const uint32_t sentinel = 0x7fc0dead;
    for (int bi = 0; bi < nbackends; bi++) {
        tasdi_transpose_fn fn = tasdi_ops_transpose(tasdi_ops_for(backends[bi]));
        const char *name = tasd_backend_name(backends[bi]);
        for (unsigned ri = 0; ri < sizeof dims / sizeof *dims; ri++)
            for (unsigned ci = 0; ci < sizeof dims / sizeof *dims; ci++)
                for (int v = 0; v < 4; v++) {
                    const int64_t rows = dims[ri], cols = dims[ci];
                    const int64_t lds = (v & 1 ? -1 : 1) * (cols + (v & 2 ? 3 : 0));
                    const int64_t ldd = rows + (v & 2 ? 5 : 0);
                    const int64_t slen = rows * (cols + 3), dlen = cols * ldd + 8;
                    float *s = rand_matrix(slen, 0.2), *d = malloc((size_t)dlen * sizeof *d);
                    const float *src = lds < 0 ? s + (rows - 1) * -lds : s;
                    /* a NaN and a -Inf at random places: copied as any value */
                    for (int q = 0; q < 2; q++)
                        ((float *)src)[(int64_t)(test_rand_u64() % (uint64_t)rows) * lds +
                                       (int64_t)(test_rand_u64() % (uint64_t)cols)] =
                            q ? -INFINITY : NAN;
                    for (int64_t i = 0; i < dlen; i++)
                        memcpy(&d[i], &sentinel, sizeof sentinel);
                    fn(src, lds, rows, cols, d, ldd);
                    int64_t wrong = 0;
                    for (int64_t c = 0; c < cols; c++)
                        for (int64_t r = 0; r < ldd; r++) {
                            const void *want = r < rows ? (const void *)&src[r * lds + c]
                                                        : (const void *)&sentinel;
                            wrong += memcmp(&d[c * ldd + r], want, sizeof(float)) != 0;
                        }
                    for (int64_t i = cols * ldd; i < dlen; i++)
                        wrong += memcmp(&d[i], &sentinel, sizeof sentinel) != 0;
                    CHECKF(wrong == 0, "%s transpose %lldx%lld lds %lld ldd %lld: %lld values wrong",
                           name, (long long)rows, (long long)cols, (long long)lds,
                           (long long)ldd, (long long)wrong);
                    free(s);
                    free(d);
                }
    }
}

/* Each backend's panel row (the packing of row-major B) against its
 * definition: every value bit for bit into its panel, the gaps between
 * panels untouched, and "finite" exactly when no float has an exponent of
 * all ones: -0, subnormals and FLT_MAX are finite; each of NaN (quiet,
 * signalling, negative) and +-Inf, at the first, the last or any place,
 * makes the row not finite. */
static void test_panel_row(void)
{
    /* floats of the row: whole panels, and a last panel in part (a multiple
     * of TASDI_NR_READ) */
    static const int64_t counts[] = {TASDI_NR,     2 * TASDI_NR,     3 * TASDI_NR,
                                     5 * TASDI_NR, TASDI_NR_READ,    3 * TASDI_NR_READ,
                                     TASDI_NR + TASDI_NR_READ, 2 * TASDI_NR + 3 * TASDI_NR_READ};
    static const uint32_t finite_edge[] = {0x80000000u, 0x00000001u, 0x7f7fffffu, 0xff7fffffu};
    static const uint32_t nonfinite[] = {0x7fc00000u, 0x7f800001u, 0xffc00000u, 0x7f800000u,
                                         0xff800000u};
    const uint32_t sentinel = 0x7fc0dead;
    for (int bi = 0; bi < nbackends; bi++) {
        tasdi_panel_row_fn fn = tasdi_ops_panel_row(tasdi_ops_for(backends[bi]));
        const char *name = tasd_backend_name(backends[bi]);
        for (unsigned pi = 0; pi < sizeof counts / sizeof *counts; pi++)
            for (int64_t gap = 0; gap <= 24; gap += 24)
                for (int bad = -1; bad < (int)(sizeof nonfinite / sizeof *nonfinite); bad++) {
                    const int64_t n = counts[pi], dnext = TASDI_NR + gap;
                    const int64_t panels = (n + TASDI_NR - 1) / TASDI_NR;
                    const int64_t dlen = panels * dnext + 8;
                    float *src = rand_matrix(n, 0.2), *d = malloc((size_t)dlen * sizeof *d);
                    for (unsigned e = 0; e < sizeof finite_edge / sizeof *finite_edge; e++)
                        memcpy(&src[test_rand_u64() % (uint64_t)n], &finite_edge[e],
                               sizeof(uint32_t));
                    if (bad >= 0) { /* at the first float, the last, then anywhere */
                        const int64_t at = bad == 0   ? 0
                                           : bad == 1 ? n - 1
                                                      : (int64_t)(test_rand_u64() % (uint64_t)n);
                        memcpy(&src[at], &nonfinite[bad], sizeof(uint32_t));
                    }
                    for (int64_t i = 0; i < dlen; i++)
                        memcpy(&d[i], &sentinel, sizeof sentinel);
                    const int finite = fn(src, n, d, dnext);
                    int64_t wrong = 0;
                    for (int64_t i = 0; i < dlen; i++) {
                        const int64_t q = i / dnext, j = i % dnext;
                        const void *want = q < panels && j < TASDI_NR && q * TASDI_NR + j < n
                                               ? (const void *)&src[q * TASDI_NR + j]
                                               : (const void *)&sentinel;
                        wrong += memcmp(&d[i], want, sizeof(float)) != 0;
                    }
                    CHECKF(wrong == 0, "%s panel row n %lld dnext %lld: %lld values wrong", name,
                           (long long)n, (long long)dnext, (long long)wrong);
                    CHECKF(!finite == (bad >= 0),
                           "%s panel row n %lld: finite %d with %s", name, (long long)n, finite,
                           bad >= 0 ? "a NaN/Inf" : "all finite");
                    free(src);
                    free(d);
                }
    }
}

int main(int argc, char **argv)
{
    /* run.sh asks: `test_backends --available NAME` exits 0 if it can run */
    if (argc == 3 && strcmp(argv[1], "--available") == 0) {
        tasd_backend b;
        return tasd_backend_parse(argv[2], &b) == TASD_OK && tasd_backend_available(b) ? 0
                                                                                      : 1;
    }
    /* each backend's checks stand alone (a double or a scalar reference) */
    nbackends = util_tested_backends(backends);
    printf("backends tested:");
    for (int i = 0; i < nbackends; i++)
        printf(" %s", tasd_backend_name(backends[i]));
    printf("\n");
    if (forced_unavailable()) {
        /* run.sh's check of an unavailable TASD_BACKEND: only dispatch */
        RUN(test_dispatch);
    } else {
        RUN(test_dispatch);
        RUN(test_select);
        RUN(test_stats);
        RUN(test_transpose);
        RUN(test_panel_row);
        RUN(test_decompose_backends);
        RUN(test_scalar_packed_kernels);
        RUN(test_narrow_wide_all_n);
        RUN(test_tail_columns_narrow);
        RUN(test_avx512_wide_entries);
        RUN(test_avx512_narrow_gathers);
        RUN(test_column_routing);
        RUN(test_configs_and_n);
        RUN(test_shapes);
        RUN(test_strides_alpha_beta);
        RUN(test_large_n);
        RUN(test_direct_c);
        RUN(test_nonfinite_b);
        RUN(test_thread_counts);
    }
    printf("%d passed, %d failed\n", harness_passed, harness_failed);
    return harness_failed ? 1 : 0;
}
