/* Layers (Y = X*W^T + b) in three modes, the dense path, and the fused
 * TASD-A product tasd_gemm_act(). */
#include "tasder.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
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

static bool overlap(const tasdi_matrix *a, const tasdi_matrix *b)
{
    if (a->rows == 0 || a->cols == 0 || b->rows == 0 || b->cols == 0)
        return false;
    uintptr_t alo, ahi, blo, bhi;
    tasdi_matrix_span(a, &alo, &ahi);
    tasdi_matrix_span(b, &blo, &bhi);
    return alo < bhi && blo < ahi;
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

/* Rows per tile: one row block of the wide kernel. A tile is decomposed into
 * a per-task series shell (allocated once per call, rewritten for every
 * tile) and multiplied at once against the prepacked dense operand, while
 * its slots are still in cache; the compressed activations are never
 * materialized whole. Every row's products and their order are the same as
 * decomposing A whole and running tasdi_gemm_run, for any tile split and
 * any thread count. */
#define ACT_TILE 64

typedef struct act_job {
    tasd_context serial;
    const tasd_context *ctx;
    const tasdi_ops *ops;
    tasdi_matrix a, c;
    const tasdi_bpack *bp;
    float alpha, beta;
    int64_t ntiles, ntasks;
    int inner_parallel;    /* tiles in turn, each GEMM on ctx's threads */
    tasd_series **shell;   /* [ntasks] */
    float *scratch;        /* [ntasks][2 * a.cols] */
    tasd_status *status;   /* [ntasks] */
    atomic_llong next;     /* next tile to hand out */
} act_job;

static void act_task(void *arg, int64_t task)
{
    act_job *job = arg;
    tasd_series *s = job->shell[task];
    float *scratch = job->scratch + task * 2 * job->a.cols;
    const tasd_context *gctx = job->inner_parallel ? job->ctx : &job->serial;
    job->status[task] = TASD_OK;
    for (int64_t t; (t = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed)) <
                    job->ntiles;) {
        int64_t r0 = t * ACT_TILE;
        int64_t rows = job->a.rows - r0 < ACT_TILE ? job->a.rows - r0 : ACT_TILE;
        tasdi_matrix ct = job->c;
        ct.data += r0 * ct.rs * (int64_t)sizeof(float);
        ct.rows = rows;
        tasdi_series_set_rows(s, rows);
        tasdi_decompose_rows_into(job->ops, &job->a, r0, s, scratch);
        tasd_status st = tasdi_gemm_run_packed(gctx, job->alpha, s, job->bp, job->beta, &ct);
        if (st) {
            job->status[task] = st;
            return;
        }
    }
}

tasd_status tasdi_gemm_act_run(const tasd_context *ctx, float alpha,
                               const tasdi_matrix *a, const tasd_config *config,
                               tasd_method method, const tasdi_bpack *bp,
                               float beta, const tasdi_matrix *c)
{
    if (a->rows == 0)
        return TASD_OK;
    act_job job;
    memset(&job, 0, sizeof job);
    job.ops = tasdi_context_ops(ctx);
    if (!job.ops)
        return TASD_ERR_UNSUPPORTED;
    job.serial = tasdi_serial_context(ctx);
    job.ctx = ctx;
    job.a = *a;
    job.c = *c;
    job.bp = bp;
    job.alpha = alpha;
    job.beta = beta;
    int64_t threads = tasdi_threads(ctx);
    job.ntiles = (a->rows + ACT_TILE - 1) / ACT_TILE;
    /* Fewer tiles than threads (few tokens): the tiles in turn, each GEMM
     * split over the threads; otherwise one tile per task at a time. */
    job.inner_parallel = job.ntiles < threads;
    job.ntasks = job.inner_parallel ? 1 : threads;
    atomic_init(&job.next, 0);
    const tasd_allocator *al = tasdi_allocator(ctx);
    int64_t shell_rows = a->rows < ACT_TILE ? a->rows : ACT_TILE;
    size_t scratch_floats;
    tasd_status st = TASD_OK;
    if (!tasdi_mul_size((size_t)job.ntasks * 2, (size_t)a->cols, &scratch_floats))
        return tasdi_fail(TASD_ERR_OVERFLOW, "tasd_gemm_act: scratch size overflows");
    job.status = tasdi_calloc(al, (size_t)job.ntasks, sizeof(tasd_status));
    job.shell = tasdi_calloc(al, (size_t)job.ntasks, sizeof(tasd_series *));
    job.scratch = tasdi_alloc(al, (scratch_floats ? scratch_floats : 1) * sizeof(float));
    if (!job.status || !job.shell || !job.scratch) {
        st = TASD_ERR_OUT_OF_MEMORY;
        goto done;
    }
    for (int64_t i = 0; i < job.ntasks && !st; i++) {
        st = tasdi_series_alloc(al, shell_rows, a->cols, config, method, &job.shell[i]);
        if (!st)
            st = tasdi_series_pack_alloc(job.shell[i]);
    }
    if (st)
        goto done;
    tasdi_parallel(ctx, job.ntasks, act_task, &job);
    for (int64_t i = 0; i < job.ntasks && !st; i++)
        st = job.status[i];
    if (st)
        st = tasdi_fail(st, "tasd_gemm_act: a tile failed: %s", tasd_status_string(st));
done:
    for (int64_t i = 0; job.shell && i < job.ntasks; i++)
        tasd_series_destroy(job.shell[i]);
    tasdi_free(al, job.scratch, (scratch_floats ? scratch_floats : 1) * sizeof(float));
    tasdi_free(al, job.shell, (size_t)job.ntasks * sizeof(tasd_series *));
    tasdi_free(al, job.status, (size_t)job.ntasks * sizeof(tasd_status));
    return st;
}

tasd_status tasd_gemm_act(tasd_context *ctx, float alpha, const tasd_view *av,
                          const tasd_config *config, tasd_method method,
                          const tasd_view *bv, float beta, const tasd_view *cv)
{
    if (!av || !config || !bv || !cv)
        return tasdi_fail(TASD_ERR_NULL_POINTER,
                          "tasd_gemm_act: a, config, b and c must not be NULL");
    if (method != TASD_GREEDY && method != TASD_OPTIMAL)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "tasd_gemm_act: unknown method %d",
                          (int)method);
    tasdi_matrix a, b, c;
    tasd_status st = tasdi_matrix_from_view(av, "tasd_gemm_act: a", &a);
    if (!st)
        st = tasdi_matrix_from_view(bv, "tasd_gemm_act: b", &b);
    if (!st)
        st = tasdi_matrix_from_view(cv, "tasd_gemm_act: c", &c);
    if (st)
        return st;
    if (av->ndim != 2 || bv->ndim != 2 || cv->ndim != 2)
        return tasdi_fail(TASD_ERR_SHAPE, "tasd_gemm_act: a, b and c must be rank 2");
    if (a.dtype != TASD_F32 || b.dtype != TASD_F32 || c.dtype != TASD_F32)
        return tasdi_fail(TASD_ERR_DTYPE, "tasd_gemm_act: a, b and c must be f32 (are %s, %s, %s)",
                          tasd_dtype_name(a.dtype), tasd_dtype_name(b.dtype),
                          tasd_dtype_name(c.dtype));
    if (a.cols != b.rows || c.rows != a.rows || c.cols != b.cols)
        return tasdi_fail(TASD_ERR_SHAPE,
                          "tasd_gemm_act: a %lld x %lld times b %lld x %lld into c %lld x %lld",
                          (long long)a.rows, (long long)a.cols, (long long)b.rows,
                          (long long)b.cols, (long long)c.rows, (long long)c.cols);
    if (!tasdi_matrix_writable_layout(&c))
        return tasdi_fail(TASD_ERR_ALIAS, "tasd_gemm_act: c has overlapping elements");
    if (overlap(&c, &a) || overlap(&c, &b))
        return tasdi_fail(TASD_ERR_ALIAS, "tasd_gemm_act: c overlaps a or b");
    int64_t bad = tasdi_matrix_nonfinite_row(&a);
    if (bad >= 0)
        return tasdi_fail(TASD_ERR_NONFINITE, "tasd_gemm_act: a row %lld holds NaN or Inf",
                          (long long)bad);
    if (!tasdi_context_ops(ctx))
        return TASD_ERR_UNSUPPORTED;
    if (a.rows == 0)
        return TASD_OK;
    /* B is packed once per call, not per tile */
    tasdi_bpack *bp = NULL;
    st = tasdi_bpack_create(ctx, &b, &bp);
    if (st)
        return st;
    st = tasdi_gemm_act_run(ctx, alpha, &a, config, method, bp, beta, &c);
    tasdi_bpack_destroy(bp);
    return st;
}

/* ---- layers ---- */

struct tasd_layer {
    tasd_allocator allocator;
    int64_t out, in;
    tasd_layer_mode mode;
    tasd_layer_config *config; /* NULL for a dense layer made without one */
    tasd_series *series;       /* TASD-W */
    tasdi_dense dense;         /* dense */
    tasdi_bpack *wt;           /* TASD-A: W^T [in, out], prepacked once */
    float *bias;               /* [out] or NULL */
};

void tasd_layer_destroy(tasd_layer *l)
{
    if (!l)
        return;
    tasd_allocator a = l->allocator;
    tasd_layer_config_destroy(l->config);
    tasd_series_destroy(l->series);
    tasdi_dense_free(&a, &l->dense);
    tasdi_bpack_destroy(l->wt);
    tasdi_free(&a, l->bias, (size_t)(l->out ? l->out : 1) * sizeof(float));
    tasdi_free(&a, l, sizeof *l);
}

tasd_status tasd_layer_create(tasd_context *ctx, const tasd_view *weights,
                              const tasd_view *bias, const tasd_layer_config *config,
                              tasd_layer **out)
{
    if (!weights || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER,
                          "tasd_layer_create: weights and out must not be NULL");
    tasdi_matrix w;
    tasd_status st = tasdi_matrix_from_view(weights, "tasd_layer_create: weights", &w);
    if (st)
        return st;
    if (w.rows < 1 || w.cols < 1)
        return tasdi_fail(TASD_ERR_SHAPE, "tasd_layer_create: weights are %lld x %lld, want >= 1 x 1",
                          (long long)w.rows, (long long)w.cols);
    if (config && config->w && config->a)
        return tasdi_fail(TASD_ERR_UNSUPPORTED,
                          "tasd_layer_create: layer \"%.64s\" has both a weight-side and an "
                          "activation-side series; a layer runs at most one",
                          config->name);
    if (config && config->method != TASD_GREEDY && config->method != TASD_OPTIMAL)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "tasd_layer_create: unknown method");
    const float *bp = NULL;
    int64_t bs = 0;
    if (bias) {
        if (bias->ndim != 1 || bias->shape[0] != w.rows)
            return tasdi_fail(TASD_ERR_SHAPE,
                              "tasd_layer_create: bias must be rank 1 of %lld elements",
                              (long long)w.rows);
        if (bias->dtype != TASD_F32)
            return tasdi_fail(TASD_ERR_DTYPE, "tasd_layer_create: bias must be f32, is %s",
                              tasd_dtype_name((tasd_dtype)bias->dtype));
        if (!bias->data)
            return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_layer_create: bias data is NULL");
        bp = bias->data;
        bs = bias->strides[0];
        for (int64_t o = 0; o < w.rows; o++)
            if (!isfinite(bp[o * bs]))
                return tasdi_fail(TASD_ERR_NONFINITE, "tasd_layer_create: bias[%lld] is NaN or Inf",
                                  (long long)o);
    }
    const tasd_allocator *a = tasdi_allocator(ctx);
    tasd_layer *l = tasdi_calloc(a, 1, sizeof *l);
    if (!l)
        return TASD_ERR_OUT_OF_MEMORY;
    l->allocator = *a;
    l->out = w.rows;
    l->in = w.cols;
    l->mode = TASD_LAYER_DENSE;
    if (config) {
        st = tasdi_layer_config_copy(a, config, &l->config);
        if (st)
            goto fail;
        if (config->w)
            l->mode = TASD_LAYER_WEIGHTS;
        else if (config->a)
            l->mode = TASD_LAYER_ACTIVATIONS;
    }
    if (bp) {
        l->bias = tasdi_alloc(a, (size_t)w.rows * sizeof(float));
        if (!l->bias) {
            st = TASD_ERR_OUT_OF_MEMORY;
            goto fail;
        }
        for (int64_t o = 0; o < w.rows; o++)
            l->bias[o] = bp[o * bs];
    }
    switch (l->mode) {
    case TASD_LAYER_WEIGHTS:
        st = tasdi_decompose_matrix(ctx, &w, config->w, config->method, &l->series);
        if (st == TASD_ERR_NONFINITE)
            st = tasdi_fail(st, "tasd_layer_create: weights hold NaN or Inf");
        break;
    case TASD_LAYER_ACTIVATIONS: {
        int64_t bad = tasdi_matrix_nonfinite_row(&w);
        if (bad >= 0) {
            st = tasdi_fail(TASD_ERR_NONFINITE,
                            "tasd_layer_create: weights row %lld holds NaN or Inf",
                            (long long)bad);
            break;
        }
        /* W^T is W with its strides swapped; other dtypes go through an
         * f32 copy first */
        float *w32 = NULL;
        size_t w32_bytes = 0;
        tasdi_matrix wf = w;
        if (w.dtype != TASD_F32) {
            size_t n;
            if (!tasdi_mul_size((size_t)w.rows, (size_t)w.cols, &n) ||
                !tasdi_mul_size(n, sizeof(float), &w32_bytes)) {
                st = tasdi_fail(TASD_ERR_OVERFLOW, "tasd_layer_create: weights too large");
                break;
            }
            w32 = tasdi_alloc(a, w32_bytes);
            if (!w32) {
                st = TASD_ERR_OUT_OF_MEMORY;
                break;
            }
            for (int64_t o = 0; o < w.rows; o++)
                tasdi_matrix_load_row(&w, o, w32 + o * w.cols);
            tasdi_matrix m32 = {(const char *)w32, TASD_F32, w.rows, w.cols, w.cols, 1};
            wf = m32;
        }
        tasdi_matrix wt = {wf.data, TASD_F32, wf.cols, wf.rows, wf.cs, wf.rs};
        st = tasdi_bpack_create(ctx, &wt, &l->wt);
        tasdi_free(a, w32, w32_bytes);
        break;
    }
    case TASD_LAYER_DENSE:
        st = tasdi_dense_pack(a, &w, true, &l->dense);
        if (st == TASD_ERR_NONFINITE) {
            char msg[256]; /* the message buffer cannot be its own source */
            snprintf(msg, sizeof msg, "%s", tasd_last_error_message());
            st = tasdi_fail(st, "tasd_layer_create: %s", msg);
        }
        if (!st)
            st = tasdi_dense_add_series(ctx, &w, &l->dense);
        break;
    }
    if (st)
        goto fail;
    *out = l;
    return TASD_OK;
fail:
    tasd_layer_destroy(l);
    return st;
}

tasd_status tasd_layer_shape(const tasd_layer *l, int64_t *out_features, int64_t *in_features)
{
    if (!l)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_layer_shape: layer is NULL");
    if (out_features)
        *out_features = l->out;
    if (in_features)
        *in_features = l->in;
    return TASD_OK;
}

tasd_layer_mode tasd_layer_get_mode(const tasd_layer *l)
{
    return l ? l->mode : TASD_LAYER_DENSE;
}

/* Y = bias broadcast over rows (or 0). */
static void fill_bias(const tasd_layer *l, const tasdi_matrix *y)
{
    float *yp = (float *)(uintptr_t)y->data;
    for (int64_t t = 0; t < y->rows; t++)
        for (int64_t o = 0; o < y->cols; o++)
            yp[t * y->rs + o * y->cs] = l->bias ? l->bias[o] : 0.0f;
}

tasd_status tasd_layer_forward(tasd_context *ctx, const tasd_layer *l,
                               const tasd_view *xv, const tasd_view *yv)
{
    if (!l || !xv || !yv)
        return tasdi_fail(TASD_ERR_NULL_POINTER,
                          "tasd_layer_forward: layer, x and y must not be NULL");
    tasdi_matrix x, y;
    tasd_status st = tasdi_matrix_from_view(xv, "tasd_layer_forward: x", &x);
    if (!st)
        st = tasdi_matrix_from_view(yv, "tasd_layer_forward: y", &y);
    if (st)
        return st;
    if (xv->ndim != 2 || yv->ndim != 2)
        return tasdi_fail(TASD_ERR_SHAPE, "tasd_layer_forward: x and y must be rank 2 (are %d, %d)",
                          (int)xv->ndim, (int)yv->ndim);
    if (x.dtype != TASD_F32 || y.dtype != TASD_F32)
        return tasdi_fail(TASD_ERR_DTYPE, "tasd_layer_forward: x and y must be f32 (are %s, %s)",
                          tasd_dtype_name(x.dtype), tasd_dtype_name(y.dtype));
    if (x.cols != l->in || y.cols != l->out || y.rows != x.rows)
        return tasdi_fail(TASD_ERR_SHAPE,
                          "tasd_layer_forward: layer [%lld out, %lld in] with x %lld x %lld "
                          "and y %lld x %lld (want x [tokens, %lld], y [tokens, %lld])",
                          (long long)l->out, (long long)l->in, (long long)x.rows,
                          (long long)x.cols, (long long)y.rows, (long long)y.cols,
                          (long long)l->in, (long long)l->out);
    if (!tasdi_matrix_writable_layout(&y))
        return tasdi_fail(TASD_ERR_ALIAS, "tasd_layer_forward: y has overlapping elements");
    if (overlap(&x, &y))
        return tasdi_fail(TASD_ERR_ALIAS, "tasd_layer_forward: y overlaps x");
    if (!tasdi_context_ops(ctx))
        return TASD_ERR_UNSUPPORTED;
    if (x.rows == 0)
        return TASD_OK;
    switch (l->mode) {
    case TASD_LAYER_DENSE:
        return tasdi_dense_run(ctx, &l->dense, &x, l->bias, 1, &y);
    case TASD_LAYER_WEIGHTS: {
        /* Y^T [out, tokens] = S [out, in] * X^T [in, tokens]: transposed
         * views are the same memory with swapped strides. */
        tasdi_matrix xt = {x.data, TASD_F32, x.cols, x.rows, x.cs, x.rs};
        tasdi_matrix yt = {y.data, TASD_F32, y.cols, y.rows, y.cs, y.rs};
        if (l->bias)
            fill_bias(l, &y);
        return tasdi_gemm_run(ctx, 1.0f, l->series, &xt, l->bias ? 1.0f : 0.0f, &yt);
    }
    case TASD_LAYER_ACTIVATIONS: {
        int64_t bad = tasdi_matrix_nonfinite_row(&x);
        if (bad >= 0)
            return tasdi_fail(TASD_ERR_NONFINITE, "tasd_layer_forward: x row %lld holds NaN or Inf",
                              (long long)bad);
        if (l->bias)
            fill_bias(l, &y);
        return tasdi_gemm_act_run(ctx, 1.0f, &x, l->config->a, l->config->method, l->wt,
                                  l->bias ? 1.0f : 0.0f, &y);
    }
    }
    return tasdi_fail(TASD_ERR_INTERNAL, "tasd_layer_forward: bad mode");
}
