/* libtasd demo: what a series keeps and what it costs, on built-in data.
 *
 * A synthetic 1024 x 1024 layer (Gaussian weights) and the same weights
 * magnitude-pruned to 75% unstructured sparsity are decomposed with several
 * series; for each we print the density, retained energy, relative error and
 * the time of W*X (X: 1024 x 64) against a dense loop in this program. */
#include <tasd.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ROWS = 1024, COLS = 1024, BATCH = 64, REPS = 5 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static unsigned long long rng = 88172645463325252ull;
static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((rng >> 11) + 0.5) / 9007199254740992.0;
}
static float gaussian(void)
{
    return (float)(sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform()));
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Zero the `fraction` smallest-magnitude weights (unstructured pruning). */
static void prune(float *w, size_t count, double fraction)
{
    float *mag = malloc(count * sizeof *mag);
    for (size_t i = 0; i < count; i++)
        mag[i] = fabsf(w[i]);
    qsort(mag, count, sizeof *mag, cmp_float);
    float cut = mag[(size_t)(fraction * (double)count)];
    for (size_t i = 0; i < count; i++)
        if (fabsf(w[i]) < cut)
            w[i] = 0.0f;
    free(mag);
}

/* The dense baseline: a plain row-times-matrix loop the compiler vectorizes. */
static void dense_gemm(const float *w, const float *x, float *y)
{
    for (int i = 0; i < ROWS; i++) {
        float *yr = y + (size_t)i * BATCH;
        memset(yr, 0, BATCH * sizeof *yr);
        for (int k = 0; k < COLS; k++) {
            float a = w[(size_t)i * COLS + k];
            const float *xr = x + (size_t)k * BATCH;
            for (int j = 0; j < BATCH; j++)
                yr[j] += a * xr[j];
        }
    }
}

static double median(double *t, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && t[j - 1] > t[j]; j--) {
            double s = t[j];
            t[j] = t[j - 1];
            t[j - 1] = s;
        }
    return t[n / 2];
}

static int fail(const char *what)
{
    fprintf(stderr, "demo: %s: %s\n", what, tasd_last_error_message());
    return 1;
}

int main(void)
{
    size_t nw = (size_t)ROWS * COLS;
    float *dense = malloc(nw * sizeof(float)), *sparse = malloc(nw * sizeof(float));
    float *x = malloc((size_t)COLS * BATCH * sizeof(float));
    float *y = malloc((size_t)ROWS * BATCH * sizeof(float));
    if (!dense || !sparse || !x || !y)
        return 1;
    for (size_t i = 0; i < nw; i++)
        dense[i] = sparse[i] = gaussian();
    prune(sparse, nw, 0.75);
    for (size_t i = 0; i < (size_t)COLS * BATCH; i++)
        x[i] = gaussian();

    tasd_context *ctx;
    if (tasd_context_create(NULL, &ctx) != TASD_OK)
        return fail("context");
    tasd_context_set_threads(ctx, 1);

    printf("libtasd %s demo: %d x %d weights times %d x %d activations, backend %s, 1 thread\n",
           tasd_version(), ROWS, COLS, COLS, BATCH, tasd_backend_name(tasd_context_backend(ctx)));
    double td[REPS];
    for (int r = 0; r < REPS; r++) {
        double t0 = now();
        dense_gemm(dense, x, y);
        td[r] = now() - t0;
    }
    double dense_ms = median(td, REPS) * 1e3;
    printf("dense loop in this demo (not a BLAS; `make bench` compares with OpenBLAS/oneDNN): %.2f ms\n\n",
           dense_ms);

    static const struct {
        const char *config;
        tasd_method method;
    } runs[] = {
        {"2:4", TASD_GREEDY},     {"1:4", TASD_GREEDY},     {"2:4+1:8", TASD_GREEDY},
        {"1:8+2:4", TASD_GREEDY}, {"1:8+2:4", TASD_OPTIMAL}, {"2:4+2:4", TASD_GREEDY},
    };
    const struct {
        const char *name;
        const float *w;
    } layers[] = {{"gaussian", dense}, {"pruned-75%", sparse}};

    printf("%-11s %-8s %-8s %8s %9s %9s %9s %9s %8s\n", "weights", "config", "method", "density",
           "retained", "rel_err", "coverage", "gemm_ms", "vs_dense");
    for (unsigned l = 0; l < 2; l++) {
        for (unsigned i = 0; i < sizeof runs / sizeof *runs; i++) {
            tasd_config *cfg;
            tasd_series *s;
            tasd_stats st = {.size = sizeof st};
            if (tasd_config_parse(ctx, runs[i].config, &cfg) != TASD_OK)
                return fail("config");
            tasd_view wv = tasd_view_2d(layers[l].w, TASD_F32, ROWS, COLS, COLS);
            if (tasd_decompose(ctx, &wv, cfg, runs[i].method, &s) != TASD_OK)
                return fail("decompose");
            tasd_series_stats(s, &st);
            tasd_view xv = tasd_view_2d(x, TASD_F32, COLS, BATCH, BATCH);
            tasd_view yv = tasd_view_2d(y, TASD_F32, ROWS, BATCH, BATCH);
            double tt[REPS];
            for (int r = 0; r < REPS; r++) {
                double t0 = now();
                if (tasd_gemm(ctx, 1.0f, s, &xv, 0.0f, &yv) != TASD_OK)
                    return fail("gemm");
                tt[r] = now() - t0;
            }
            double ms = median(tt, REPS) * 1e3;
            printf("%-11s %-8s %-8s %8.4f %9.5f %9.5f %9.4f %9.2f %7.2fx\n", layers[l].name,
                   runs[i].config, tasd_method_name(runs[i].method), st.density,
                   st.retained_energy, st.rel_error, st.coverage, ms, dense_ms / ms);
            tasd_series_destroy(s);
            tasd_config_destroy(cfg);
        }
        printf("\n");
    }
    printf("density: kept nonzeros / elements; retained: ||Wa||^2/||W||^2; rel_err: "
           "||W-Wa||/||W||;\ncoverage: kept / original nonzeros; vs_dense: dense loop time / "
           "tasd_gemm time (> 1 is faster).\n");
    tasd_context_destroy(ctx);
    free(dense);
    free(sparse);
    free(x);
    free(y);
    return 0;
}
