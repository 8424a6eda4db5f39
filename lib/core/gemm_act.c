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
    const tasdi_bias *bias;  /* per column of C, or NULL */
    float alpha, beta;
    int64_t ntiles, ntasks;
    int inner_parallel;    /* tiles in turn, each GEMM on ctx's threads */
    tasd_series **shell;   /* [ntasks] */
    float *scratch;        /* [ntasks][TASDI_DECOMPOSE_SCRATCH(a.cols)] */
    char *inner;           /* [ntasks][inner_stride]: each tile's GEMM scratch */
    size_t inner_bytes, inner_stride;
    tasdi_task_error *err; /* [ntasks] */
    atomic_llong next;     /* next tile to hand out */
} act_job;

static void act_task(void *arg, int64_t task)
{
    act_job *job = arg;
    tasd_series *s = job->shell[task];
    float *scratch = job->scratch + task * TASDI_DECOMPOSE_SCRATCH(job->a.cols);
    const tasd_context *gctx = job->inner_parallel ? job->ctx : &job->serial;
    /* the tile's GEMM takes its scratch from this task's block, never from
     * the allocator */
    tasdi_ws ws = {job->inner + (size_t)task * job->inner_stride, job->inner_bytes};
    for (int64_t t; (t = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed)) <
                    job->ntiles;) {
        int64_t r0 = t * ACT_TILE;
        int64_t rows = job->a.rows - r0 < ACT_TILE ? job->a.rows - r0 : ACT_TILE;
        const tasdi_matrix ct = tasdi_matrix_block(&job->c, r0, rows, 0, job->c.cols);
        tasdi_series_set_rows(s, rows);
        tasdi_decompose_rows_into(job->ops, &job->a, r0, s, scratch);
        tasd_status st = tasdi_gemm_run_packed_ws(gctx, job->alpha, s, job->bp, job->beta,
                                                  &ct, job->bias, &ws);
        if (st) {
            tasdi_task_error_capture(&job->err[task], st);
            return;
        }
    }
}

/* The scratch of one call on A [m, k] (job->a) with n columns of B, carved
 * from ar into job: B's panels (unless prepacked: bp NULL), and per task a
 * series shell of one tile, the decomposer's scratch, an error slot and
 * the tile GEMM's scratch. Fixes the split the run uses. */
static void act_carve(const tasd_context *ctx, act_job *job, const tasd_config *config,
                      tasd_method method, int64_t n, tasdi_bpack *bp, tasdi_arena *ar)
{
    const int64_t m = job->a.rows, k = job->a.cols;
    if (m == 0)
        return;
    if (bp)
        tasdi_bpack_carve(bp, k, n, ar);
    int64_t threads = tasdi_threads(ctx);
    job->ntiles = m / ACT_TILE + (m % ACT_TILE != 0); /* m + ACT_TILE - 1 may overflow */
    /* Fewer tiles than threads (few tokens): the tiles in turn, each GEMM
     * split over the threads; otherwise one tile per task at a time. */
    job->inner_parallel = job->ntiles < threads;
    job->ntasks = job->inner_parallel ? 1 : threads;
    const int64_t shell_rows = m < ACT_TILE ? m : ACT_TILE;
    size_t scratch_floats;
    if (!tasdi_mul_size((size_t)job->ntasks, TASDI_DECOMPOSE_SCRATCH(k), &scratch_floats) ||
        tasdi_gemm_need(job->inner_parallel ? ctx : &job->serial, NULL, shell_rows, k, n, true,
                        &job->inner_bytes)) {
        ar->failed = true;
        return;
    }
    job->inner_stride = (job->inner_bytes + TASDI_ALIGN - 1) / TASDI_ALIGN * TASDI_ALIGN;
    job->err = tasdi_arena_take_n(ar, (size_t)job->ntasks, sizeof(tasdi_task_error));
    job->shell = tasdi_arena_take_n(ar, (size_t)job->ntasks, sizeof(tasd_series *));
    job->scratch = tasdi_arena_take_n(ar, scratch_floats, sizeof(float));
    job->inner = tasdi_arena_take_n(ar, (size_t)job->ntasks, job->inner_stride);
    for (int64_t i = 0; i < job->ntasks; i++) {
        tasd_series *s;
        tasdi_series_carve(ar, tasdi_allocator(ctx), shell_rows, k, config, method, &s);
        if (job->shell)
            job->shell[i] = s;
    }
}

/* Set up job for A (checked, finite) into C on ctx; NULL ops: unsupported. */
static tasd_status act_job_init(act_job *job, const tasd_context *ctx, float alpha,
                                const tasdi_matrix *a, const tasdi_bpack *bp, float beta,
                                const tasdi_matrix *c, const tasdi_bias *bias)
{
    memset(job, 0, sizeof *job);
    job->ops = tasdi_context_ops(ctx);
    if (!job->ops)
        return TASD_ERR_UNSUPPORTED;
    job->serial = tasdi_serial_context(ctx);
    job->ctx = ctx;
    job->a = *a;
    if (c)
        job->c = *c;
    job->bp = bp;
    job->bias = bias;
    job->alpha = alpha;
    job->beta = beta;
    return TASD_OK;
}

tasd_status tasdi_gemm_act_run(const tasd_context *ctx, float alpha, const tasdi_matrix *a,
                               const tasd_config *config, tasd_method method,
                               const tasdi_bpack *bp, const tasdi_matrix *b, float beta,
                               const tasdi_matrix *c, const tasdi_bias *bias,
                               const tasdi_ws *ws, const char *fn)
{
    if (a->rows == 0 || (bp ? bp->cols : b->cols) == 0) /* C is empty: nothing to do */
        return TASD_OK;
    act_job job;
    tasd_status st = act_job_init(&job, ctx, alpha, a, bp, beta, c, bias);
    if (st)
        return st;
    const int64_t n = bp ? bp->cols : b->cols;
    tasdi_bpack panels; /* B packed once per call, not per tile */
    tasdi_bpack *own = bp ? NULL : &panels;
    tasdi_arena ar = tasdi_arena_counting();
    act_carve(ctx, &job, config, method, n, own, &ar);
    st = tasdi_arena_open(&ar, ctx, ws, fn);
    if (st)
        return st;
    act_carve(ctx, &job, config, method, n, own, &ar);
    st = tasdi_arena_check(&ar, fn);
    if (!st) {
        if (own) {
            tasdi_bpack_fill(ctx, b, own);
            job.bp = own;
        }
        memset(job.err, 0, (size_t)job.ntasks * sizeof *job.err);
        atomic_init(&job.next, 0);
        tasdi_parallel(ctx, job.ntasks, act_task, &job);
        for (int64_t i = 0; i < job.ntasks && !st; i++)
            st = tasdi_task_error_raise(&job.err[i]); /* the worker's own message */
    }
    tasdi_arena_close(&ar, ctx);
    return st;
}

tasd_status tasdi_gemm_act_need(const tasd_context *ctx, const tasd_config *config,
                                int64_t m, int64_t k, int64_t n, bool prepacked, size_t *bytes)
{
    act_job job;
    tasdi_matrix a = {NULL, TASD_F32, m, k, k, 1};
    tasd_status st = act_job_init(&job, ctx, 1.0f, &a, NULL, 0.0f, NULL, NULL);
    if (st)
        return st;
    tasdi_bpack panels;
    tasdi_arena ar = tasdi_arena_counting();
    act_carve(ctx, &job, config, TASD_GREEDY, n, prepacked ? NULL : &panels, &ar);
    if (ar.failed)
        return tasdi_fail(TASD_ERR_OVERFLOW, "the scratch of a %lld x %lld TASD-A product with "
                          "%lld columns overflows", (long long)m, (long long)k, (long long)n);
    *bytes = tasdi_arena_need(&ar);
    return TASD_OK;
}

static tasd_status gemm_act_checked(tasd_context *ctx, float alpha, const tasd_view *av,
                                    const tasd_config *config, tasd_method method,
                                    const tasd_view *bv, float beta, const tasd_view *cv,
                                    const tasdi_ws *ws)
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
    /* a and b: f32, bf16 or f16 (tasdi_matrix_from_view knows no other) */
    if (c.dtype == TASD_F16)
        return tasdi_fail(TASD_ERR_DTYPE, "tasd_gemm_act: c must be f32 or bf16 (is f16)");
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
    return tasdi_gemm_act_run(ctx, alpha, &a, config, method, NULL, &b, beta, &c, NULL, ws,
                              "tasd_gemm_act");
}

tasd_status tasd_gemm_act(tasd_context *ctx, float alpha, const tasd_view *a,
                          const tasd_config *config, tasd_method method,
                          const tasd_view *b, float beta, const tasd_view *c)
{
    return gemm_act_checked(ctx, alpha, a, config, method, b, beta, c, NULL);
}

tasd_status tasd_gemm_act_ws(tasd_context *ctx, float alpha, const tasd_view *a,
                             const tasd_config *config, tasd_method method,
                             const tasd_view *b, float beta, const tasd_view *c,
                             void *workspace, size_t workspace_bytes)
{
    tasdi_ws ws;
    tasd_status st = tasdi_ws_from("tasd_gemm_act_ws", workspace, workspace_bytes, &ws);
    return st ? st : gemm_act_checked(ctx, alpha, a, config, method, b, beta, c, &ws);
}

tasd_status tasd_gemm_act_workspace_size(const tasd_context *ctx, const tasd_config *config,
                                         int64_t m, int64_t k, int64_t n, size_t *bytes)
{
    if (!config || !bytes)
        return tasdi_fail(TASD_ERR_NULL_POINTER,
                          "tasd_gemm_act_workspace_size: config and bytes must not be NULL");
    if (m < 0 || k < 0 || n < 0)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "tasd_gemm_act_workspace_size: m, k, n = %lld, %lld, %lld",
                          (long long)m, (long long)k, (long long)n);
    if (!tasdi_elements_ok(m, k) || !tasdi_elements_ok(k, n) || !tasdi_elements_ok(m, n))
        return tasdi_fail(TASD_ERR_OVERFLOW,
                          "tasd_gemm_act_workspace_size: m, k, n = %lld, %lld, %lld is past "
                          "what the a, b and c views can hold",
                          (long long)m, (long long)k, (long long)n);
    return tasdi_gemm_act_need(ctx, config, m, k, n, false, bytes);
}
