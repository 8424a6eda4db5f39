/* The prepacked dense operand (tasdi_bpack) and tasdi_gemm_run_packed: the
 * panel layout, bit-identical results against the per-call path on every
 * backend (narrow and wide n, the canonical path, strided B and C,
 * alpha/beta, thread counts) and against a double-precision reference,
 * shape mismatches and allocation failures. */
#include "harness.h"
#include "tasd.h"
#include "core/dispatch.h"
#include "support/util.h"

#include <string.h>

/* A k x n f32 B at b, row-major or stored transposed ((q, j) at j * k + q). */
static tasd_view b_view(const float *b, int64_t k, int64_t n, int transposed)
{
    return transposed ? tasd_view_2d_strided(b, TASD_F32, k, n, 1, k)
                      : tasd_view_2d(b, TASD_F32, k, n, n);
}

/* bv packed into panels on ctx (NULL after a failed check). */
static tasdi_bpack *pack_view(const tasd_context *ctx, const tasd_view *bv)
{
    tasdi_matrix bm;
    tasdi_bpack *bp = NULL;
    CHECK_OK(tasdi_matrix_from_view(bv, "b", &bm));
    CHECK_OK(tasdi_bpack_create(ctx, &bm, &bp));
    return bp;
}

/* p[panel][k][NR] holds B(k, panel*NR + j), zero past K and past n up to
 * the columns a kernel reads (n - panel*NR rounded up to TASDI_NR_READ);
 * the packing leaves the rest of a last panel unwritten. */
static void test_layout(void)
{
    /* 600 and 1100 columns: several units of panels in the packing */
    const int64_t dims[][2] = {{1, 1}, {5, 3}, {64, 64}, {65, 65}, {130, 200}, {70, 600}, {3, 1100}};
    for (int d = 0; d < 7; d++) {
        int64_t k = dims[d][0], n = dims[d][1];
        /* B stored transposed: (i, j) at j * k + i */
        float *b = malloc((size_t)(k * n) * sizeof *b);
        util_fill_random(b, k * n, 3 + (unsigned)d);
        tasd_view bv = b_view(b, k, n, 1);
        tasdi_bpack *bp = pack_view(NULL, &bv);
        if (!bp) {
            free(b);
            continue;
        }
        CHECK(bp->rows == k && bp->cols == n);
        CHECK(bp->nkb == (k + TASDI_KC - 1) / TASDI_KC);
        CHECK(bp->panels == (n + TASDI_NR - 1) / TASDI_NR);
        int bad = 0;
        for (int64_t panel = 0; panel < bp->panels && !bad; panel++) {
            const float *p = tasdi_bpack_panel(bp, panel);
            const int64_t read = (n - panel * TASDI_NR + TASDI_NR_READ - 1) / TASDI_NR_READ *
                                 TASDI_NR_READ;
            for (int64_t kk = 0; kk < bp->nkb * TASDI_KC && !bad; kk++)
                for (int64_t j = 0; j < TASDI_NR && j < read && !bad; j++) {
                    int64_t col = panel * TASDI_NR + j;
                    float want = kk < k && col < n ? b[col * k + kk] : 0.0f;
                    if (memcmp(&p[kk * TASDI_NR + j], &want, sizeof want) != 0) {
                        CHECKF(0, "%lldx%lld: panel %lld k %lld j %lld", (long long)k,
                               (long long)n, (long long)panel, (long long)kk, (long long)j);
                        bad = 1;
                    }
                }
        }
        tasdi_bpack_destroy(bp);
        free(b);
    }
    tasdi_bpack_destroy(NULL); /* no-op */
}

/* bp->finite is false exactly when B holds an Inf or NaN, wherever it
 * sits: each K block, first and last panel, every unit of the packing, a
 * row-major (copied a row at a time) and a strided B. */
static void test_finite_flag(void)
{
    const int64_t k = 3 * TASDI_KC + 5, n = 9 * TASDI_NR + 7;
    float *b = malloc((size_t)(k * n) * sizeof *b);
    util_fill_random(b, k * n, 11);
    static const float bad[] = {INFINITY, -INFINITY, NAN};
    /* columns at every place of a group of four (the transposed copy
     * takes four at a time) and in a panel's tail */
    const int64_t at[][2] = {{0, 0}, {k - 1, n - 1}, {TASDI_KC, 8 * TASDI_NR + 1},
                             {2 * TASDI_KC + 7, 5 * TASDI_NR}, {k - 1, 0}, {1, n - 1},
                             {TASDI_KC + 3, 2 * TASDI_NR + 2}, {5, 3 * TASDI_NR + 63}};
    const int nat = (int)(sizeof at / sizeof at[0]);
    for (int layout = 0; layout < 2; layout++)
        for (int a = -1; a < nat; a++) {
            /* layout 1: B stored transposed (b_view) */
            const int64_t q = a < 0 ? 0 : at[a][0], j = a < 0 ? 0 : at[a][1];
            const int64_t pos = layout ? j * k + q : q * n + j;
            const float keep = b[pos];
            if (a >= 0)
                b[pos] = bad[a % 3];
            tasd_view bv = b_view(b, k, n, layout);
            tasdi_bpack *bp = pack_view(NULL, &bv);
            if (bp)
                CHECKF(bp->finite == (a < 0), "layout %d, bad value at (%lld, %lld): finite %d",
                       layout, (long long)q, (long long)j, (int)bp->finite);
            tasdi_bpack_destroy(bp);
            b[pos] = keep;
        }
    free(b);
}

/* max |got - want| relative to the magnitude of the terms, against a
 * double-precision alpha * Wa * B + beta * C0 (Wa the reconstructed series). */
static double ref_error(int64_t m, int64_t k, int64_t n, const float *wa, const float *b,
                        int64_t brs, int64_t bcs, float alpha, float beta, const float *c0,
                        const float *got, int64_t crs)
{
    double worst = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0, mag = fabs((double)beta * c0[i * crs + j]);
            for (int64_t p = 0; p < k; p++) {
                double t = (double)wa[i * k + p] * b[p * brs + j * bcs];
                acc += t;
                mag += fabs((double)alpha * t);
            }
            double want = (double)alpha * acc + (double)beta * c0[i * crs + j];
            double e = fabs(got[i * crs + j] - want) / (mag + 1e-30);
            worst = e > worst ? e : worst;
        }
    return worst;
}

/* tasdi_gemm_run_packed == tasd_gemm on the same backend, bit for bit, on
 * one and three threads, and both agree with the double-precision
 * reference. */
static void test_matches_per_call(void)
{
    const char *cfgs[] = {"2:4", "2:4+1:8", "1:8", "3:8+1:4"};
    /* m x k x n: narrow n (1..8), the crossover (9, 15, 16), wide, several
     * panels, K not a multiple of the K block, K below one group; few rows
     * against several groups of panels, where the per-call path packs B
     * inside its units (beta 0; up to 1024 rows on one thread: 700; on three
     * threads a stripe of rows per task where n <= 128: 800) */
    const int64_t dims[][3] = {{1, 5, 3},     {17, 64, 1},    {33, 70, 8},    {65, 130, 9},
                               {40, 64, 16},  {70, 100, 65},  {64, 200, 130}, {5, 1, 300},
                               {3, 33, 17},   {64, 147, 600}, {300, 70, 530}, {700, 75, 130},
                               {800, 75, 100}, {1000, 70, 128}};
    const int ndims = (int)(sizeof dims / sizeof *dims);
    /* 1, 0: the wide kernel sums straight into C (whole panels) */
    const float ab[][2] = {{0.75f, 0.0f}, {1.25f, 0.5f}, {0.0f, 0.5f}, {-1.0f, 1.0f},
                           {1.0f, 0.0f}};
    const int nab = (int)(sizeof ab / sizeof *ab);
    tasd_backend tested[UTIL_MAX_BACKENDS];
    const int ntested = util_tested_backends(tested);
    for (int t = 0; t < ntested; t++) {
        const tasd_backend be = tested[t];
        for (int c = 0; c < 4; c++)
            for (int d = 0; d < ndims; d++) {
                int64_t m = dims[d][0], k = dims[d][1], n = dims[d][2];
                int strided = (c + d) % 2;
                int64_t crs = n + 3;
                float *a = malloc((size_t)(m * k) * sizeof *a);
                float *b = malloc((size_t)(k * n) * sizeof *b);
                float *c0 = malloc((size_t)(m * crs) * sizeof *c0);
                float *c1 = malloc((size_t)(m * crs) * sizeof *c1);
                float *c2 = malloc((size_t)(m * crs) * sizeof *c2);
                float *cin = malloc((size_t)(m * crs) * sizeof *cin);
                util_fill_random(a, m * k, 11 + (unsigned)(c * 16 + d));
                util_fill_random(b, k * n, 12 + (unsigned)(c * 16 + d));
                tasd_context *ctx1 = util_context(NULL, be, 1);
                tasd_context *ctx3 = util_context(NULL, be, 3);
                tasd_series *s = util_decompose(ctx1, a, m, k, cfgs[c], TASD_GREEDY);
                float *wa = util_reconstruct(s);
                tasd_view bv = b_view(b, k, n, strided);
                tasdi_bpack *bp = pack_view(ctx3, &bv);
                for (int i = 0; i < nab && bp; i++) {
                    util_fill_random(c0, m * crs, 13 + (unsigned)i);
                    memcpy(c1, c0, (size_t)(m * crs) * sizeof *c0);
                    memcpy(c2, c0, (size_t)(m * crs) * sizeof *c0);
                    memcpy(cin, c0, (size_t)(m * crs) * sizeof *c0);
                    tasd_view cv0 = tasd_view_2d(c0, TASD_F32, m, n, crs);
                    tasdi_matrix cm1, cm2;
                    tasd_view cv1 = tasd_view_2d(c1, TASD_F32, m, n, crs);
                    tasd_view cv2 = tasd_view_2d(c2, TASD_F32, m, n, crs);
                    CHECK_OK(tasdi_matrix_from_view(&cv1, "c1", &cm1));
                    CHECK_OK(tasdi_matrix_from_view(&cv2, "c2", &cm2));
                    CHECK_OK(tasd_gemm(ctx1, ab[i][0], s, &bv, ab[i][1], &cv0));
                    CHECK_OK(tasdi_gemm_run_packed(ctx1, ab[i][0], s, bp, ab[i][1], &cm1));
                    CHECK_OK(tasdi_gemm_run_packed(ctx3, ab[i][0], s, bp, ab[i][1], &cm2));
                    CHECKF(memcmp(c0, c1, (size_t)(m * crs) * sizeof *c0) == 0,
                           "%s %s %lldx%lldx%lld alpha %g beta %g",
                           tasd_backend_name(be), cfgs[c], (long long)m,
                           (long long)k, (long long)n, (double)ab[i][0], (double)ab[i][1]);
                    CHECK(memcmp(c0, c2, (size_t)(m * crs) * sizeof *c0) == 0);
                    /* per call on three threads (its units differ: fused or not) */
                    memcpy(c2, cin, (size_t)(m * crs) * sizeof *c0);
                    CHECK_OK(tasd_gemm(ctx3, ab[i][0], s, &bv, ab[i][1], &cv2));
                    CHECK(memcmp(c0, c2, (size_t)(m * crs) * sizeof *c0) == 0);
                    double err = ref_error(m, k, n, wa, b, strided ? 1 : n, strided ? k : 1,
                                           ab[i][0], ab[i][1], cin, c1, crs);
                    CHECKF(err < 1e-5, "%s %s %lldx%lldx%lld: relative error %g against the "
                           "double reference", tasd_backend_name(be), cfgs[c],
                           (long long)m, (long long)k, (long long)n, err);
                }
                free(wa);
                free(cin);
                tasdi_bpack_destroy(bp);
                tasd_series_destroy(s);
                tasd_context_destroy(ctx1);
                tasd_context_destroy(ctx3);
                free(a);
                free(b);
                free(c0);
                free(c1);
                free(c2);
            }
    }
}

/* An Inf in B's columns past the whole panels only (which the narrow kernel
 * may take), or in the whole panels only: the prepacked and the per-call
 * path still agree bit for bit (in both the wide kernel's fallback is
 * chosen from all of B, the narrow one's from its columns). At n = 760 on
 * three threads the per-call units pack their own B (three groups of 4
 * panels) and the one that meets the Inf stops them all. */
static void test_nonfinite_tail(void)
{
    const char *cfgs[] = {"2:4", "2:4+1:8", "3:8+1:4"};
    const int64_t m = 70, k = 133, ns[] = {66, 130, 760};
    tasd_backend tested[UTIL_MAX_BACKENDS];
    const int ntested = util_tested_backends(tested);
    for (int t = 0; t < ntested; t++) {
        const tasd_backend be = tested[t];
        tasd_context *ctx = util_context(NULL, be, 3);
        for (int c = 0; c < 3; c++)
            for (int ni = 0; ni < 3; ni++)
                for (int where = 0; where < 2; where++) {
                    const int64_t n = ns[ni];
                    float *a = malloc((size_t)(m * k) * sizeof *a);
                    float *b = malloc((size_t)(k * n) * sizeof *b);
                    float *c0 = calloc((size_t)(m * n), sizeof *c0);
                    float *c1 = calloc((size_t)(m * n), sizeof *c1);
                    util_fill_random(a, m * k, 21 + (unsigned)c);
                    util_fill_random(b, k * n, 22 + (unsigned)ni);
                    b[5 * n + (where ? n - 1 : 3)] = INFINITY; /* tail, or panel 0 */
                    tasd_series *s = util_decompose(ctx, a, m, k, cfgs[c], TASD_GREEDY);
                    tasd_view bv = tasd_view_2d(b, TASD_F32, k, n, n);
                    tasdi_bpack *bp = pack_view(ctx, &bv);
                    tasd_view cv0 = tasd_view_2d(c0, TASD_F32, m, n, n);
                    tasd_view cv1 = tasd_view_2d(c1, TASD_F32, m, n, n);
                    tasdi_matrix cm1;
                    CHECK_OK(tasdi_matrix_from_view(&cv1, "c1", &cm1));
                    CHECK_OK(tasd_gemm(ctx, 1.0f, s, &bv, 0.0f, &cv0));
                    if (bp)
                        CHECK_OK(tasdi_gemm_run_packed(ctx, 1.0f, s, bp, 0.0f, &cm1));
                    CHECKF(bp && memcmp(c0, c1, (size_t)(m * n) * sizeof *c0) == 0,
                           "%s %s n=%lld, Inf in the %s", tasd_backend_name(be),
                           cfgs[c], (long long)n, where ? "tail" : "whole panels");
                    tasdi_bpack_destroy(bp);
                    tasd_series_destroy(s);
                    free(a);
                    free(b);
                    free(c0);
                    free(c1);
                }
        tasd_context_destroy(ctx);
    }
}

static void test_errors(void)
{
    float a[6 * 8], b[8 * 4], c[6 * 4];
    util_fill_random(a, 48, 1);
    util_fill_random(b, 32, 2);
    tasd_series *s = util_decompose(NULL, a, 6, 8, "2:4", TASD_GREEDY);
    tasd_view bv = tasd_view_2d(b, TASD_F32, 8, 4, 4);
    tasdi_matrix bm, cm;
    CHECK_OK(tasdi_matrix_from_view(&bv, "b", &bm));
    tasdi_bpack *bp = NULL;
    CHECK_OK(tasdi_bpack_create(NULL, &bm, &bp));
    /* c of the wrong shape: rows, then columns */
    tasd_view cv = tasd_view_2d(c, TASD_F32, 5, 4, 4);
    CHECK_OK(tasdi_matrix_from_view(&cv, "c", &cm));
    CHECK_STATUS(tasdi_gemm_run_packed(NULL, 1.0f, s, bp, 0.0f, &cm), TASD_ERR_SHAPE);
    cv = tasd_view_2d(c, TASD_F32, 6, 3, 4);
    CHECK_OK(tasdi_matrix_from_view(&cv, "c", &cm));
    CHECK_STATUS(tasdi_gemm_run_packed(NULL, 1.0f, s, bp, 0.0f, &cm), TASD_ERR_SHAPE);
    /* B with the wrong K */
    tasdi_matrix bk = bm;
    bk.rows = 7;
    tasdi_bpack *bp7 = NULL;
    CHECK_OK(tasdi_bpack_create(NULL, &bk, &bp7));
    cv = tasd_view_2d(c, TASD_F32, 6, 4, 4);
    CHECK_OK(tasdi_matrix_from_view(&cv, "c", &cm));
    CHECK_STATUS(tasdi_gemm_run_packed(NULL, 1.0f, s, bp7, 0.0f, &cm), TASD_ERR_SHAPE);
    CHECK_OK(tasdi_gemm_run_packed(NULL, 1.0f, s, bp, 0.0f, &cm));
    /* not f32 */
    tasdi_matrix bh = bm;
    bh.dtype = TASD_F16;
    tasdi_bpack *bph = NULL;
    CHECK_STATUS(tasdi_bpack_create(NULL, &bh, &bph), TASD_ERR_DTYPE);
    CHECK(bph == NULL);
    /* allocation failures: the object, then the panels; nothing leaks */
    for (long fail = 1; fail <= 2; fail++) {
        util_counting_allocator al;
        util_counting_allocator_init(&al);
        tasd_context *ctx = NULL;
        CHECK_OK(tasd_context_create(&al.hooks, &ctx));
        long before = al.live_blocks;
        al.fail_after = al.total_allocs + fail;
        tasdi_bpack *bpf = NULL;
        CHECK_STATUS(tasdi_bpack_create(ctx, &bm, &bpf), TASD_ERR_OUT_OF_MEMORY);
        CHECK(bpf == NULL);
        CHECK(al.injected == 1);
        CHECK(al.live_blocks == before);
        tasd_context_destroy(ctx);
    }
    tasdi_bpack_destroy(bp7);
    tasdi_bpack_destroy(bp);
    tasd_series_destroy(s);
}

TEST_MAIN(RUN(test_layout); RUN(test_finite_flag); RUN(test_matches_per_call); RUN(test_nonfinite_tail);
          RUN(test_errors);)
