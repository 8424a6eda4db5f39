/* The dense layer path (TASD_LAYER_DENSE) on every available backend against
 * a double-precision reference: odd shapes, 1..17 and 300 tokens (GEMV to
 * several token blocks), K past several K blocks, X packed whole (over 512
 * outputs) or a block at a time by each task (fused: fewer outputs, or X
 * over 16 MiB), strided X and Y, bias on and off; bit-identical results for
 * any thread count, any X and Y layout and any number of tokens in the call
 * (each output is one multiply-add chain). */
#include "harness.h"
#include "tasd.h"
#include "support/util.h"

#include <float.h>
#include <stdint.h>

static tasd_backend backends[UTIL_MAX_BACKENDS];
static int nbackends;

/* One layer, one forward with X rows padded (xpad extra floats) and Y either
 * row-major with padded rows or column-major, checked element by element
 * against the double sum within the rounding bound of an in-term sum. */
static void check_shape(tasd_backend be, int64_t tokens, int64_t in, int64_t out,
                        int with_bias, int strided)
{
    int64_t xrs = strided ? in + 5 : in;
    float *w = test_rand_buf((size_t)(out * in));
    float *b = with_bias ? test_rand_buf((size_t)out) : NULL;
    float *x = test_rand_buf((size_t)(tokens * xrs));
    int64_t yn = strided ? tokens * out : tokens * (out + 3);
    float *y = malloc((size_t)(yn ? yn : 1) * sizeof *y);
    for (int64_t i = 0; i < yn; i++)
        y[i] = NAN; /* every element must be written */
    tasd_context *ctx = util_context(NULL, be, 2);
    tasd_view wv = tasd_view_2d(w, TASD_F32, out, in, in);
    tasd_view bv = util_view_1d(b, out);
    tasd_layer *l = NULL;
    CHECK_OK(tasd_layer_create(ctx, &wv, b ? &bv : NULL, NULL, &l));
    tasd_view xv = tasd_view_2d(x, TASD_F32, tokens, in, xrs);
    /* strided: Y column-major (element (t, o) at o * tokens + t) */
    tasd_view yv = strided ? tasd_view_2d_strided(y, TASD_F32, tokens, out, 1, tokens)
                           : tasd_view_2d(y, TASD_F32, tokens, out, out + 3);
    if (l)
        CHECK_OK(tasd_layer_forward(ctx, l, &xv, &yv));
    int bad = 0;
    for (int64_t t = 0; t < tokens && l; t++)
        for (int64_t o = 0; o < out; o++) {
            double s = b ? b[o] : 0.0, mag = b ? fabs(b[o]) : 0.0;
            for (int64_t k = 0; k < in; k++) {
                double p = (double)x[t * xrs + k] * w[o * in + k];
                s += p;
                mag += fabs(p);
            }
            double got = strided ? y[o * tokens + t] : y[t * (out + 3) + o];
            double tol = (double)(in + 2) * FLT_EPSILON * mag + 1e-30;
            if (!(fabs(got - s) <= tol) && bad++ < 3)
                CHECKF(0, "%s %lldx%lldx%lld bias %d strided %d: y[%lld][%lld] = %.9g, want %.9g",
                       tasd_backend_name(be), (long long)tokens, (long long)in,
                       (long long)out, with_bias, strided, (long long)t, (long long)o, got, s);
        }
    tasd_layer_destroy(l);
    tasd_context_destroy(ctx);
    free(w);
    free(b);
    free(x);
    free(y);
}

static void test_dense_reference(void)
{
    static const int64_t dims[][2] = {{1, 1},   {3, 5},     {7, 17},   {33, 19},
                                      {64, 16}, {100, 31},  {257, 45}, {530, 70},
                                      {19, 100}};
    /* each backend against the double reference, in its own pass */
    nbackends = util_tested_backends(backends);
    for (int bi = 0; bi < nbackends; bi++) {
        test_seed(11 + (unsigned)bi);
        int i = 0;
        for (int64_t tokens = 1; tokens <= 17; tokens++)
            for (int d = 0; d < (int)(sizeof dims / sizeof *dims); d++, i++)
                check_shape(backends[bi], tokens, dims[d][0], dims[d][1], i % 2, (i / 2) % 2);
        check_shape(backends[bi], 300, 517, 83, 1, 0);
        check_shape(backends[bi], 300, 300, 47, 0, 1);
        check_shape(backends[bi], 150, 1, 40, 1, 1);
        /* X over 16 MiB: fused units whatever the outputs */
        check_shape(backends[bi], 300, 16000, 9, 1, 1);
        /* over 512 outputs: X packed whole, then the outputs split */
        check_shape(backends[bi], 40, 900, 530, 1, 1);
        check_shape(backends[bi], 45, 760, 600, 0, 0);
        /* fused with more outputs than one pass of the packed path takes */
        check_shape(backends[bi], 100, 400, 300, 1, 1);
    }
}

/* Y of every (backend, thread count, Y layout) bit-identical to one reference
 * run, and each token's row identical to a run of that token alone. */
static void check_exact(int64_t tokens, int64_t in, int64_t out)
{
    nbackends = util_available_backends(backends);
    test_seed(99);
    float *w = test_rand_buf((size_t)(out * in));
    float *b = test_rand_buf((size_t)out);
    float *x = test_rand_buf((size_t)(tokens * in));
    float *ref = malloc((size_t)(tokens * out) * sizeof *ref);
    float *y = malloc((size_t)(tokens * out) * sizeof *y);
    tasd_view wv = tasd_view_2d(w, TASD_F32, out, in, in);
    tasd_view bv = util_view_1d(b, out);
    for (int bi = 0; bi < nbackends; bi++) {
        tasd_context *c1 = util_context(NULL, backends[bi], 1);
        tasd_layer *l = NULL;
        CHECK_OK(tasd_layer_create(c1, &wv, &bv, NULL, &l));
        if (!l) {
            tasd_context_destroy(c1);
            continue;
        }
        tasd_view xv = tasd_view_2d(x, TASD_F32, tokens, in, in);
        tasd_view rv = tasd_view_2d(ref, TASD_F32, tokens, out, out);
        CHECK_OK(tasd_layer_forward(c1, l, &xv, &rv));
        static const int threads[] = {2, 3, 4, 7};
        for (int ti = 0; ti < 4; ti++)
            for (int strided = 0; strided < 2; strided++) {
                tasd_context *ct = util_context(NULL, backends[bi], threads[ti]);
                memset(y, 0, (size_t)(tokens * out) * sizeof *y);
                tasd_view yv = strided ? tasd_view_2d_strided(y, TASD_F32, tokens, out, 1, tokens)
                                       : tasd_view_2d(y, TASD_F32, tokens, out, out);
                CHECK_OK(tasd_layer_forward(ct, l, &xv, &yv));
                int same = 1;
                for (int64_t t = 0; t < tokens; t++)
                    for (int64_t o = 0; o < out; o++) {
                        float g = strided ? y[o * tokens + t] : y[t * out + o];
                        same &= memcmp(&g, &ref[t * out + o], sizeof g) == 0;
                    }
                CHECKF(same, "%s %lldx%lldx%lld: %d threads, strided %d differs from 1 thread",
                       tasd_backend_name(backends[bi]), (long long)tokens, (long long)in,
                       (long long)out, threads[ti], strided);
                tasd_context_destroy(ct);
            }
        /* X column-major (the fused units transpose it into strips, where
         * X's rows are read in place above): the same bits */
        float *xt = malloc((size_t)(tokens * in) * sizeof *xt);
        for (int64_t t = 0; t < tokens; t++)
            for (int64_t k = 0; k < in; k++)
                xt[k * tokens + t] = x[t * in + k];
        tasd_view xtv = tasd_view_2d_strided(xt, TASD_F32, tokens, in, 1, tokens);
        tasd_view yv = tasd_view_2d(y, TASD_F32, tokens, out, out);
        CHECK_OK(tasd_layer_forward(c1, l, &xtv, &yv));
        CHECKF(memcmp(y, ref, (size_t)(tokens * out) * sizeof *y) == 0,
               "%s %lldx%lldx%lld: X column-major differs", tasd_backend_name(backends[bi]),
               (long long)tokens, (long long)in, (long long)out);
        free(xt);
        /* token t alone (a GEMV) gives the same row */
        const int64_t rows[] = {0, 5, tokens / 2, tokens - 1};
        for (int ri = 0; ri < 4; ri++) {
            tasd_view x1 = tasd_view_2d(x + rows[ri] * in, TASD_F32, 1, in, in);
            tasd_view y1 = tasd_view_2d(y, TASD_F32, 1, out, out);
            CHECK_OK(tasd_layer_forward(c1, l, &x1, &y1));
            CHECKF(memcmp(y, ref + rows[ri] * out, (size_t)out * sizeof *y) == 0,
                   "%s: token %lld alone differs", tasd_backend_name(backends[bi]),
                   (long long)rows[ri]);
        }
        tasd_layer_destroy(l);
        tasd_context_destroy(c1);
    }
    free(w);
    free(b);
    free(x);
    free(ref);
    free(y);
}

/* fused units (77 outputs: X's rows read in place; 40 and 100 outputs, rows
 * 4 KiB apart: in place, and transposed into strips), then X packed whole
 * (530 outputs); in = 1024 and 1700 span several K blocks of every backend
 * (AVX-512's are 768 long) */
static void test_dense_exact(void)
{
    check_exact(301, 613, 77);
    check_exact(130, 1024, 40);
    check_exact(130, 1024, 100);
    check_exact(61, 1700, 530);
}

TEST_MAIN(RUN(test_dense_reference); RUN(test_dense_exact);)
