/* The fused TASD-A product tasd_gemm_act(): A decomposed tile by tile and
 * multiplied at once against a prepacked B. */
#include "dispatch.h"

#include <stdatomic.h>
#include <string.h>

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
    float *scratch;        /* [ntasks][TASDI_DECOMPOSE_SCRATCH(a.cols)] */
    tasdi_task_error *err; /* [ntasks] */
    atomic_llong next;     /* next tile to hand out */
} act_job;

static void act_task(void *arg, int64_t task)
{
    act_job *job = arg;
    tasd_series *s = job->shell[task];
    float *scratch = job->scratch + task * TASDI_DECOMPOSE_SCRATCH(job->a.cols);
    const tasd_context *gctx = job->inner_parallel ? job->ctx : &job->serial;
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
            tasdi_task_error_capture(&job->err[task], st);
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
    if (!tasdi_mul_size((size_t)job.ntasks, TASDI_DECOMPOSE_SCRATCH(a->cols), &scratch_floats))
        return tasdi_fail(TASD_ERR_OVERFLOW, "tasd_gemm_act: scratch size overflows");
    job.err = tasdi_calloc(al, (size_t)job.ntasks, sizeof(tasdi_task_error));
    job.shell = tasdi_calloc(al, (size_t)job.ntasks, sizeof(tasd_series *));
    job.scratch = tasdi_alloc(al, (scratch_floats ? scratch_floats : 1) * sizeof(float));
    if (!job.err || !job.shell || !job.scratch) {
        st = TASD_ERR_OUT_OF_MEMORY;
        goto done;
    }
    for (int64_t i = 0; i < job.ntasks && !st; i++) {
        st = tasdi_series_alloc(al, shell_rows, a->cols, config, method, &job.shell[i]);
    }
    if (st)
        goto done;
    tasdi_parallel(ctx, job.ntasks, act_task, &job);
    for (int64_t i = 0; i < job.ntasks && !st; i++)
        st = tasdi_task_error_raise(&job.err[i]); /* the worker's own message */
done:
    for (int64_t i = 0; job.shell && i < job.ntasks; i++)
        tasd_series_destroy(job.shell[i]);
    tasdi_free(al, job.scratch, (scratch_floats ? scratch_floats : 1) * sizeof(float));
    tasdi_free(al, job.shell, (size_t)job.ntasks * sizeof(tasd_series *));
    tasdi_free(al, job.err, (size_t)job.ntasks * sizeof(tasdi_task_error));
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
    if (tasdi_matrix_overlap(&c, &a) || tasdi_matrix_overlap(&c, &b))
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

