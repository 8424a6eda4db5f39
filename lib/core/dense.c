/* The dense path (Y = X*W^T on packed W^T panels) and the helpers that the
 * layers share with it. */
#include "dispatch.h"

#include <math.h>
#include <string.h>

/* ---- helpers ---- */

int64_t tasdi_matrix_nonfinite_row(const tasdi_matrix *m)
{
    if (m->dtype == TASD_F32) {
        /* x * 0 is 0 for finite x and NaN for NaN or Inf */
        for (int64_t r = 0; r < m->rows; r++) {
            const float *row = (const float *)(const void *)m->data + r * m->rs;
            float acc = 0.0f;
            for (int64_t j = 0; j < m->cols; j++)
                acc += row[j * m->cs] * 0.0f;
            if (acc != acc)
                return r;
        }
        return -1;
    }
    for (int64_t r = 0; r < m->rows; r++) {
        const char *row = m->data + r * m->rs * (int64_t)tasd_dtype_size(m->dtype);
        for (int64_t j = 0; j < m->cols; j++) {
            float v;
            switch (m->dtype) {
            case TASD_F32: v = ((const float *)row)[j * m->cs]; break;
            case TASD_F16: v = tasdi_f16_to_f32(((const uint16_t *)row)[j * m->cs]); break;
            default: v = tasdi_bf16_to_f32(((const uint16_t *)row)[j * m->cs]); break;
            }
            if (!isfinite(v))
                return r;
        }
    }
    return -1;
}

/* A context for work that one task runs serially inside an outer parallel
 * loop: same allocator and backend, one thread, no pool. */
tasd_context tasdi_serial_context(const tasd_context *ctx)
{
    tasd_context s;
    if (ctx) {
        s = *ctx;
    } else {
        memset(&s, 0, sizeof s);
        s.allocator = *tasdi_allocator(NULL);
        s.backend = TASD_BACKEND_AUTO;
    }
    s.threads = 1;
    s.parallel_for = NULL;
    s.pool = NULL;
    return s;
}

/* ---- dense path ---- */

tasd_status tasdi_dense_pack(const tasd_allocator *a, const tasdi_matrix *w,
                             bool check_finite, tasdi_dense *out)
{
    tasdi_dense d;
    memset(&d, 0, sizeof d);
    d.out = w->rows;
    d.in = w->cols;
    d.panels = (w->rows + TASDI_DENSE_NR - 1) / TASDI_DENSE_NR;
    size_t floats;
    if (!tasdi_mul_size((size_t)d.panels * TASDI_DENSE_NR, (size_t)d.in, &floats) ||
        !tasdi_mul_size(floats, sizeof(float), &d.bytes))
        return tasdi_fail(TASD_ERR_OVERFLOW, "dense weights of %lld x %lld overflow",
                          (long long)w->rows, (long long)w->cols);
    d.p = tasdi_calloc(a, floats ? floats : 1, sizeof(float));
    float *row = tasdi_alloc(a, (size_t)(d.in ? d.in : 1) * sizeof(float));
    if (!d.p || !row) {
        tasdi_free(a, d.p, floats ? d.bytes : sizeof(float));
        tasdi_free(a, row, (size_t)(d.in ? d.in : 1) * sizeof(float));
        return TASD_ERR_OUT_OF_MEMORY;
    }
    if (!floats)
        d.bytes = sizeof(float);
    for (int64_t o = 0; o < d.out; o++) {
        tasdi_matrix_load_row(w, o, row);
        float *dst = d.p + (o / TASDI_DENSE_NR) * d.in * TASDI_DENSE_NR + o % TASDI_DENSE_NR;
        for (int64_t k = 0; k < d.in; k++) {
            if (check_finite && !isfinite(row[k])) {
                tasdi_free(a, d.p, d.bytes);
                tasdi_free(a, row, (size_t)(d.in ? d.in : 1) * sizeof(float));
                return tasdi_fail(TASD_ERR_NONFINITE, "weights row %lld holds NaN or Inf",
                                  (long long)o);
            }
            dst[k * TASDI_DENSE_NR] = row[k];
        }
    }
    tasdi_free(a, row, (size_t)(d.in ? d.in : 1) * sizeof(float));
    *out = d;
    return TASD_OK;
}

tasd_status tasdi_dense_add_series(const tasd_context *ctx, const tasdi_matrix *w,
                                   tasdi_dense *d)
{
    const tasdi_ops *ops = tasdi_context_ops(ctx);
    if (!ops || ops->id == TASD_BACKEND_SCALAR || d->series)
        return TASD_OK;
    tasd_config all;
    memset(&all, 0, sizeof all);
    all.allocator = *tasdi_allocator(ctx);
    all.terms = 1;
    all.n[0] = 8;
    all.m[0] = 8;
    return tasdi_decompose_matrix(ctx, w, &all, TASD_GREEDY, &d->series);
}

void tasdi_dense_free(const tasd_allocator *a, tasdi_dense *d)
{
    tasd_series_destroy(d->series);
    d->series = NULL;
    tasdi_free(a, d->p, d->bytes);
    d->p = NULL;
    d->bytes = 0;
}

typedef struct dense_job {
    const tasdi_dense *d;
    tasdi_matrix x, y;
    const float *bias;
    int64_t bias_stride;
    int64_t ntasks;
} dense_job;

#define DENSE_MR 4

static void dense_task(void *arg, int64_t task)
{
    const dense_job *job = arg;
    const tasdi_dense *d = job->d;
    const float *x = (const float *)(const void *)job->x.data;
    float *y = (float *)(uintptr_t)job->y.data;
    int64_t in = d->in, xcs = job->x.cs;
    for (int64_t p = task; p < d->panels; p += job->ntasks) {
        const float *wp = d->p + p * in * TASDI_DENSE_NR;
        int64_t o0 = p * TASDI_DENSE_NR;
        int64_t on = d->out - o0 < TASDI_DENSE_NR ? d->out - o0 : TASDI_DENSE_NR;
        for (int64_t t0 = 0; t0 < job->x.rows; t0 += DENSE_MR) {
            int64_t rb = job->x.rows - t0 < DENSE_MR ? job->x.rows - t0 : DENSE_MR;
            const float *x0 = x + t0 * job->x.rs;
            const float *x1 = x + (t0 + (rb > 1 ? 1 : 0)) * job->x.rs;
            const float *x2 = x + (t0 + (rb > 2 ? 2 : 0)) * job->x.rs;
            const float *x3 = x + (t0 + (rb > 3 ? 3 : 0)) * job->x.rs;
            float a0[TASDI_DENSE_NR] = {0}, a1[TASDI_DENSE_NR] = {0};
            float a2[TASDI_DENSE_NR] = {0}, a3[TASDI_DENSE_NR] = {0};
            for (int64_t k = 0; k < in; k++) {
                const float *wk = wp + k * TASDI_DENSE_NR;
                float v0 = x0[k * xcs], v1 = x1[k * xcs], v2 = x2[k * xcs], v3 = x3[k * xcs];
                for (int j = 0; j < TASDI_DENSE_NR; j++) {
                    a0[j] += v0 * wk[j];
                    a1[j] += v1 * wk[j];
                    a2[j] += v2 * wk[j];
                    a3[j] += v3 * wk[j];
                }
            }
            float *acc[DENSE_MR] = {a0, a1, a2, a3};
            for (int64_t r = 0; r < rb; r++) {
                float *yr = y + (t0 + r) * job->y.rs;
                for (int64_t j = 0; j < on; j++) {
                    float v = acc[r][j];
                    if (job->bias)
                        v += job->bias[(o0 + j) * job->bias_stride];
                    yr[(o0 + j) * job->y.cs] = v;
                }
            }
        }
    }
}

tasd_status tasdi_dense_run(const tasd_context *ctx, const tasdi_dense *d,
                            const tasdi_matrix *x, const float *bias, int64_t bias_stride,
                            const tasdi_matrix *y)
{
    if (d->series && x->rows >= TASDI_DENSE_SERIES_MIN_TOKENS) {
        const tasdi_ops *ops = tasdi_context_ops(ctx);
        if (!ops)
            return TASD_ERR_UNSUPPORTED;
        if (ops->id != TASD_BACKEND_SCALAR) {
            /* Y^T = W * X^T on the wide kernels; bias preloaded into Y */
            float *yp = (float *)(uintptr_t)y->data;
            if (bias)
                for (int64_t t = 0; t < y->rows; t++)
                    for (int64_t o = 0; o < y->cols; o++)
                        yp[t * y->rs + o * y->cs] = bias[o * bias_stride];
            tasdi_matrix xt = {x->data, TASD_F32, x->cols, x->rows, x->cs, x->rs};
            tasdi_matrix yt = {y->data, TASD_F32, y->cols, y->rows, y->cs, y->rs};
            return tasdi_gemm_run(ctx, 1.0f, d->series, &xt, bias ? 1.0f : 0.0f, &yt);
        }
    }
    dense_job job;
    memset(&job, 0, sizeof job);
    job.d = d;
    job.x = *x;
    job.y = *y;
    job.bias = bias;
    job.bias_stride = bias_stride;
    job.ntasks = tasdi_threads(ctx);
    if (job.ntasks > d->panels)
        job.ntasks = d->panels;
    tasdi_parallel(ctx, job.ntasks, dense_task, &job);
    return TASD_OK;
}

/* ---- TASD-A: tasd_gemm_act ---- */

