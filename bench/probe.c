/* Quick kernel probe (kernels branch): best-of and median timings of
 * tasd_gemm against OpenBLAS on one shape, same process, interleaved.
 * Not the official benchmark (bench/bench.c); used while tuning kernels.
 *   OPENBLAS_CORETYPE=Haswell build/bench/probe M K N CONFIG [threads] [reps] [copies]
 * copies > 1 rotates over that many weight copies (evicts them from cache). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tasd.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void openblas_set_num_threads(int);

/* `probe select CONFIG`: throughput of tasd_decompose on 4096 x 4096 and of
 * the select kernels alone on the same rows (the TASD-A activation path,
 * no allocation), single thread, best of 7. */
#include "core/dispatch.h"
static int select_probe(const char *cfg)
{
    int64_t m = 4096, k = 4096;
    float *w = malloc((size_t)(m * k) * sizeof(float)), *res = malloc((size_t)k * sizeof(float));
    for (int64_t j = 0; j < m * k; j++)
        w[j] = (float)rand() / RAND_MAX - 0.5f;
    tasd_config *c;
    if (tasd_config_parse(NULL, cfg, &c))
        return 2;
    tasd_context *ctx;
    tasd_context_create(NULL, &ctx);
    tasd_context_set_threads(ctx, 1);
    const tasdi_ops *ops = tasdi_context_ops(ctx);
    float *vals[TASD_MAX_TERMS];
    uint8_t *idx[TASD_MAX_TERMS];
    for (int t = 0; t < c->terms; t++) {
        vals[t] = malloc((size_t)k * sizeof(float));
        idx[t] = malloc((size_t)k);
    }
    double best_sel = 1e30, best_dec = 1e30;
    for (int rep = 0; rep < 7; rep++) {
        double t0 = now_ms();
        for (int64_t r = 0; r < m; r++) {
            memcpy(res, w + r * k, (size_t)k * sizeof(float));
            for (int t = 0; t < c->terms; t++)
                ops->select(res, k, c->n[t], c->m[t], vals[t], idx[t]);
        }
        double t1 = now_ms();
        tasd_series *s;
        tasd_view v = tasd_view_2d(w, TASD_F32, m, k, k);
        tasd_decompose(ctx, &v, c, TASD_GREEDY, &s);
        double t2 = now_ms();
        tasd_series_destroy(s);
        if (t1 - t0 < best_sel)
            best_sel = t1 - t0;
        if (t2 - t1 < best_dec)
            best_dec = t2 - t1;
    }
    double bytes = (double)(m * k) * 4;
    printf("select %s (%s): kernels on rows %.1f ms = %.2f GB/s; tasd_decompose %.1f ms = %.2f GB/s\n",
           cfg, tasd_backend_name(ops->id), best_sel, bytes / best_sel / 1e6, best_dec,
           bytes / best_dec / 1e6);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "select") == 0)
        return select_probe(argv[2]);
    if (argc < 5) {
        fprintf(stderr, "usage: probe M K N CONFIG [threads] [reps] [copies]\n");
        return 2;
    }
    int64_t m = atoll(argv[1]), k = atoll(argv[2]), n = atoll(argv[3]);
    const char *cfg = argv[4];
    int threads = argc > 5 ? atoi(argv[5]) : 1, reps = argc > 6 ? atoi(argv[6]) : 15;
    int copies = argc > 7 ? atoi(argv[7]) : 1;
    openblas_set_num_threads(threads);
    float **w = malloc(sizeof *w * copies);
    tasd_series **s = malloc(sizeof *s * copies);
    tasd_context *ctx;
    tasd_context_create(NULL, &ctx);
    tasd_context_set_threads(ctx, threads);
    tasd_config *c;
    if (tasd_config_parse(NULL, cfg, &c)) {
        fprintf(stderr, "bad config\n");
        return 2;
    }
    for (int i = 0; i < copies; i++) {
        w[i] = malloc((size_t)(m * k) * sizeof(float));
        for (int64_t j = 0; j < m * k; j++)
            w[i][j] = (float)rand() / RAND_MAX - 0.5f;
        tasd_view v = tasd_view_2d(w[i], TASD_F32, m, k, k);
        if (tasd_decompose(ctx, &v, c, TASD_GREEDY, &s[i])) {
            fprintf(stderr, "decompose: %s\n", tasd_last_error_message());
            return 1;
        }
    }
    float *b = malloc((size_t)(k * n) * sizeof(float)), *cc = malloc((size_t)(m * n) * sizeof(float));
    for (int64_t j = 0; j < k * n; j++)
        b[j] = (float)rand() / RAND_MAX - 0.5f;
    tasd_view bv = tasd_view_2d(b, TASD_F32, k, n, n), cv = tasd_view_2d(cc, TASD_F32, m, n, n);
    double *tt = malloc(sizeof(double) * reps), *td = malloc(sizeof(double) * reps);
    int ci = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now_ms();
        tasd_gemm(ctx, 1.0f, s[ci], &bv, 0.0f, &cv);
        tt[r] = now_ms() - t0;
        t0 = now_ms();
        if (n == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)m, (int)k, 1.0f, w[ci], (int)k, b, 1,
                        0.0f, cc, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f,
                        w[ci], (int)k, b, (int)n, 0.0f, cc, (int)n);
        td[r] = now_ms() - t0;
        ci = (ci + 1) % copies;
    }
    qsort(tt, reps, sizeof *tt, cmpd);
    qsort(td, reps, sizeof *td, cmpd);
    double gf = 2.0 * m * k * n / 1e6;
    printf("%lldx%lldx%lld %-8s %s T=%d: tasd best %.3f med %.3f ms | openblas best %.3f med %.3f"
           " | speedup best %.2fx med %.2fx | dense-eq GF/s best %.1f\n",
           (long long)m, (long long)k, (long long)n, cfg,
           tasd_backend_name(tasd_context_backend(ctx)), threads, tt[0], tt[reps / 2], td[0],
           td[reps / 2], td[0] / tt[0], td[reps / 2] / tt[reps / 2], gf / tt[0]);
    return 0;
}
