/* tasd_gemm: argument checking, beta, and the parallel split over rows. */
#include "dispatch.h"

#include <string.h>

/* Rows per task chunk: fixed, so results never depend on the thread count. */
#define GEMM_ROW_BLOCK 16

typedef struct gemm_job {
    const tasd_series *s;
    const tasdi_ops *ops;
    tasdi_matrix b, c;
    float alpha, beta;
    int64_t nblocks, ntasks;
} gemm_job;

static void scale_rows(const gemm_job *job, int64_t r0, int64_t r1)
{
    float *c = (float *)(uintptr_t)job->c.data;
    for (int64_t r = r0; r < r1; r++) {
        float *row = c + r * job->c.rs;
        if (job->beta == 0.0f) {
            for (int64_t j = 0; j < job->c.cols; j++)
                row[j * job->c.cs] = 0.0f;
        } else if (job->beta != 1.0f) {
            for (int64_t j = 0; j < job->c.cols; j++)
                row[j * job->c.cs] *= job->beta;
        }
    }
}

static void gemm_task(void *arg, int64_t task)
{
    const gemm_job *job = arg;
    const tasd_series *s = job->s;
    for (int64_t blk = task; blk < job->nblocks; blk += job->ntasks) {
        int64_t r0 = blk * GEMM_ROW_BLOCK;
        int64_t r1 = r0 + GEMM_ROW_BLOCK < s->rows ? r0 + GEMM_ROW_BLOCK : s->rows;
        scale_rows(job, r0, r1);
        if (job->alpha == 0.0f || s->cols == 0)
            continue;
        for (int i = 0; i < s->terms; i++) {
            const tasdi_term *t = &s->term[i];
            job->ops->term_gemm(t->values, t->index, t->width, t->n, t->m, r0, r1,
                                (const float *)(uintptr_t)job->b.data, job->b.rs,
                                job->b.cs, job->b.cols, job->alpha,
                                (float *)(uintptr_t)job->c.data, job->c.rs, job->c.cs);
        }
    }
}

tasd_status tasd_gemm(tasd_context *ctx, float alpha, const tasd_series *s,
                      const tasd_view *bv, float beta, const tasd_view *cv)
{
    if (!s || !bv || !cv)
        return tasdi_fail(TASD_ERR_NULL_POINTER,
                          "tasd_gemm: series, b and c must not be NULL");
    gemm_job job;
    memset(&job, 0, sizeof job);
    tasd_status st = tasdi_matrix_from_view(bv, "tasd_gemm: b", &job.b);
    if (st)
        return st;
    st = tasdi_matrix_from_view(cv, "tasd_gemm: c", &job.c);
    if (st)
        return st;
    if (bv->ndim != 2 || cv->ndim != 2)
        return tasdi_fail(TASD_ERR_SHAPE, "tasd_gemm: b and c must be rank 2 (are %d, %d)",
                          (int)bv->ndim, (int)cv->ndim);
    if (job.b.dtype != TASD_F32 || job.c.dtype != TASD_F32)
        return tasdi_fail(TASD_ERR_DTYPE, "tasd_gemm: b and c must be f32 (are %s, %s)",
                          tasd_dtype_name(job.b.dtype), tasd_dtype_name(job.c.dtype));
    if (job.b.rows != s->cols || job.c.rows != s->rows || job.c.cols != job.b.cols)
        return tasdi_fail(TASD_ERR_SHAPE,
                          "tasd_gemm: series %lld x %lld times b %lld x %lld into c %lld x %lld",
                          (long long)s->rows, (long long)s->cols, (long long)job.b.rows,
                          (long long)job.b.cols, (long long)job.c.rows,
                          (long long)job.c.cols);
    if (!tasdi_matrix_writable_layout(&job.c))
        return tasdi_fail(TASD_ERR_ALIAS, "tasd_gemm: c has overlapping elements");
    uintptr_t blo, bhi, clo, chi;
    tasdi_matrix_span(&job.b, &blo, &bhi);
    tasdi_matrix_span(&job.c, &clo, &chi);
    if (blo < chi && clo < bhi)
        return tasdi_fail(TASD_ERR_ALIAS, "tasd_gemm: c overlaps b");
    return tasdi_gemm_run(ctx, alpha, s, &job.b, beta, &job.c);
}

tasd_status tasdi_gemm_run(const tasd_context *ctx, float alpha,
                           const tasd_series *s, const tasdi_matrix *b,
                           float beta, const tasdi_matrix *c)
{
    gemm_job job;
    memset(&job, 0, sizeof job);
    job.ops = tasdi_context_ops(ctx);
    if (!job.ops)
        return TASD_ERR_UNSUPPORTED;
    job.s = s;
    job.b = *b;
    job.c = *c;
    job.alpha = alpha;
    job.beta = beta;
    job.nblocks = (s->rows + GEMM_ROW_BLOCK - 1) / GEMM_ROW_BLOCK;
    job.ntasks = tasdi_threads(ctx);
    if (job.ntasks > job.nblocks)
        job.ntasks = job.nblocks;
    tasdi_parallel(ctx, job.ntasks, gemm_task, &job);
    return TASD_OK;
}
