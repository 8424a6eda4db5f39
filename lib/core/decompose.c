/* The decomposer: W -> W1 + ... + Wt, greedy or optimal. */
#include "dispatch.h"

#include <float.h>
#include <math.h>
#include <string.h>

const char *tasd_method_name(tasd_method method)
{
    switch (method) {
    case TASD_GREEDY: return "greedy";
    case TASD_OPTIMAL: return "optimal";
    }
    return "?";
}

tasd_status tasd_method_parse(const char *name, tasd_method *out)
{
    if (!name || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_method_parse: NULL argument");
    if (strcmp(name, "greedy") == 0)
        *out = TASD_GREEDY;
    else if (strcmp(name, "optimal") == 0)
        *out = TASD_OPTIMAL;
    else
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "unknown method \"%.32s\" (want greedy or optimal)", name);
    return TASD_OK;
}

/* The order in which terms take their elements. Greedy: the user's order.
 * Optimal: fine to coarse (ascending M, stable). The groups of power-of-two M
 * are nested, so the sets a series can keep in a window form a laminar
 * matroid, and filling the finest groups first reaches its maximum weight
 * basis (see docs/design.md). */
static void term_order(const tasd_config *c, tasd_method method, int *order)
{
    for (int i = 0; i < c->terms; i++)
        order[i] = i;
    if (method != TASD_OPTIMAL)
        return;
    for (int i = 1; i < c->terms; i++) /* insertion sort: stable */
        for (int j = i; j > 0 && c->m[order[j - 1]] > c->m[order[j]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
}

/* Rows are processed in fixed blocks whose partial sums are added in order,
 * so every result, stats included, is the same for any thread count. */
#define ROW_BLOCK 32

typedef struct decompose_job {
    tasdi_matrix w;
    tasd_series *s;
    const tasdi_ops *ops;
    int order[TASD_MAX_TERMS];
    float *scratch;        /* TASDI_DECOMPOSE_SCRATCH(cols) floats per task */
    int64_t ntasks, nblocks;
    double *block_energy;  /* [nblocks][2]: input, error */
    int64_t *block_nnz;    /* [nblocks] */
    int64_t *bad_row;      /* [ntasks]: first row with NaN/Inf, or -1 */
    bool *bad_range;       /* [ntasks]: that row's value overflows the type */
} decompose_job;

/* Row r of the series from `residual`, a copy of the row's weights: the
 * terms take their elements from it in `order` and leave what is left. Each
 * term's row is selected into `tv`/`ti` (hot in L1) and written straight
 * into the layout. */
static void select_row(const tasdi_ops *ops, tasd_series *s, const int *order,
                       float *residual, float *tv, int64_t r)
{
    uint8_t *ti = (uint8_t *)(tv + s->cols + 32);
    for (int t = 0; t < s->terms; t++) {
        tasdi_term *term = &s->term[order[t]];
        ops->select(residual, s->cols, term->n, term->m, tv, ti);
        tasdi_series_put_row(s, order[t], r, tv, ti);
    }
}

/* Half values: a kept element's value is its exact weight (a residual is
 * only ever zeroed), stored rounded; so W - Wa is the residual plus, at every
 * kept place (residual 0), w - round(w). Turns residual into that; false if
 * a kept value rounds to Inf (outside the f16 range). Selection has already
 * run on the exact weights. */
static bool round_error(const tasd_series *s, const float *src, float *residual)
{
    bool ok = true;
    for (int64_t k = 0; k < s->cols; k++)
        if (residual[k] == 0.0f && src[k] != 0.0f) {
            float q = s->values == TASD_BF16 ? tasdi_bf16_to_f32(tasdi_f32_to_bf16(src[k]))
                                             : tasdi_f16_to_f32(tasdi_f32_to_f16(src[k]));
            ok = ok && q - q == 0.0f;
            residual[k] = src[k] - q;
        }
    return ok;
}

static void decompose_task(void *arg, int64_t task)
{
    decompose_job *job = arg;
    tasd_series *s = job->s;
    int64_t cols = s->cols;
    float *row = job->scratch + task * TASDI_DECOMPOSE_SCRATCH(cols);
    float *residual = row + cols;
    const bool direct = job->w.dtype == TASD_F32 && job->w.cs == 1;
    const tasdi_stats_fn row_stats = job->ops->stats ? job->ops->stats : tasdi_scalar_stats;
    job->bad_row[task] = -1;
    for (int64_t b = task; b < job->nblocks; b += job->ntasks) {
        double in_e = 0.0, err_e = 0.0;
        int64_t nnz = 0;
        int64_t r1 = (b + 1) * ROW_BLOCK < s->rows ? (b + 1) * ROW_BLOCK : s->rows;
        for (int64_t r = b * ROW_BLOCK; r < r1; r++) {
            const float *src = row;
            if (direct)
                src = (const float *)(const void *)job->w.data + r * job->w.rs;
            else
                tasdi_matrix_load_row(&job->w, r, row);
            int finite;
            in_e += row_stats(src, cols, &nnz, &finite, residual);
            if (!finite) {
                job->bad_row[task] = r;
                return;
            }
            select_row(job->ops, s, job->order, residual, residual + cols, r);
            if (s->values != TASD_F32 && !round_error(s, src, residual)) {
                job->bad_row[task] = r;
                job->bad_range[task] = true;
                return;
            }
            err_e += row_stats(residual, cols, NULL, NULL, NULL);
        }
        job->block_energy[2 * b] = in_e;
        job->block_energy[2 * b + 1] = err_e;
        job->block_nnz[b] = nnz;
    }
}

tasd_status tasd_decompose(tasd_context *ctx, const tasd_view *weights,
                           const tasd_config *config, tasd_method method,
                           tasd_series **out)
{
    if (!weights || !config || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER,
                          "tasd_decompose: weights, config and out must not be NULL");
    if (method != TASD_GREEDY && method != TASD_OPTIMAL)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "tasd_decompose: unknown method %d",
                          (int)method);
    tasdi_matrix w;
    tasd_status st = tasdi_matrix_from_view(weights, "tasd_decompose: weights", &w);
    if (st)
        return st;
    return tasdi_decompose_matrix(ctx, &w, config, method, out);
}

tasd_status tasd_decompose_ex(tasd_context *ctx, const tasd_view *weights,
                              const tasd_config *config, tasd_method method,
                              const tasd_decompose_options *options, tasd_series **out)
{
    tasd_dtype values = TASD_F32;
    if (options) {
        tasd_status st = TASDI_CHECK_SIZE("tasd_decompose_ex", tasd_decompose_options, options);
        if (st)
            return st;
        if (options->values != TASD_F32 && options->values != TASD_BF16 &&
            options->values != TASD_F16)
            return tasdi_fail(TASD_ERR_DTYPE,
                              "tasd_decompose_ex: values must be f32, bf16 or f16 (is %d)",
                              (int)options->values);
        values = (tasd_dtype)options->values;
    }
    if (!weights || !config || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER,
                          "tasd_decompose_ex: weights, config and out must not be NULL");
    if (method != TASD_GREEDY && method != TASD_OPTIMAL)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "tasd_decompose_ex: unknown method %d",
                          (int)method);
    tasdi_matrix w;
    tasd_status st = tasdi_matrix_from_view(weights, "tasd_decompose_ex: weights", &w);
    if (st)
        return st;
    return tasdi_decompose_typed(ctx, &w, config, method, values, out);
}

tasd_status tasdi_decompose_matrix(const tasd_context *ctx, const tasdi_matrix *w,
                                   const tasd_config *config, tasd_method method,
                                   tasd_series **out)
{
    return tasdi_decompose_typed(ctx, w, config, method, TASD_F32, out);
}

tasd_status tasdi_decompose_typed(const tasd_context *ctx, const tasdi_matrix *w,
                                  const tasd_config *config, tasd_method method,
                                  tasd_dtype values, tasd_series **out)
{
    decompose_job job;
    memset(&job, 0, sizeof job);
    tasd_status st;
    job.w = *w;
    job.ops = tasdi_context_ops(ctx);
    if (!job.ops)
        return TASD_ERR_UNSUPPORTED;
    const tasd_allocator *a = tasdi_allocator(ctx);
    tasd_series *s;
    st = tasdi_series_alloc_typed(a, job.w.rows, job.w.cols, config, method, values, &s);
    if (st)
        return st;
    job.s = s;
    term_order(config, method, job.order);
    job.nblocks = (s->rows + ROW_BLOCK - 1) / ROW_BLOCK;
    job.ntasks = tasdi_threads(ctx);
    if (job.ntasks > job.nblocks)
        job.ntasks = job.nblocks > 0 ? job.nblocks : 1;
    size_t scratch_floats = 0;
    if (!tasdi_mul_size((size_t)job.ntasks, TASDI_DECOMPOSE_SCRATCH(s->cols), &scratch_floats)) {
        tasd_series_destroy(s);
        return tasdi_fail(TASD_ERR_OVERFLOW, "tasd_decompose: scratch size overflows");
    }
    job.scratch = tasdi_calloc(a, scratch_floats, sizeof(float));
    job.block_energy = tasdi_calloc(a, (size_t)job.nblocks * 2 + 1, sizeof(double));
    job.block_nnz = tasdi_calloc(a, (size_t)job.nblocks + 1, sizeof(int64_t));
    job.bad_row = tasdi_calloc(a, (size_t)job.ntasks, sizeof(int64_t));
    job.bad_range = tasdi_calloc(a, (size_t)job.ntasks, sizeof(bool));
    if (!job.scratch || !job.block_energy || !job.block_nnz || !job.bad_row ||
        !job.bad_range) {
        st = TASD_ERR_OUT_OF_MEMORY;
        goto done;
    }
    tasdi_parallel(ctx, job.ntasks, decompose_task, &job);
    for (int64_t t = 0; t < job.ntasks; t++)
        if (job.bad_row[t] >= 0 && job.bad_range[t]) {
            st = tasdi_fail(TASD_ERR_OVERFLOW,
                            "tasd_decompose: weights row %lld keeps a value outside the %s range",
                            (long long)job.bad_row[t], tasd_dtype_name(values));
            goto done;
        } else if (job.bad_row[t] >= 0) {
            st = tasdi_fail(TASD_ERR_NONFINITE,
                            "tasd_decompose: weights row %lld holds NaN or Inf",
                            (long long)job.bad_row[t]);
            goto done;
        }
    for (int64_t b = 0; b < job.nblocks; b++) {
        s->input_energy += job.block_energy[2 * b];
        s->error_energy += job.block_energy[2 * b + 1];
        s->input_nonzeros += job.block_nnz[b];
    }
done:
    tasdi_free(a, job.scratch, scratch_floats * sizeof(float));
    tasdi_free(a, job.block_energy, ((size_t)job.nblocks * 2 + 1) * sizeof(double));
    tasdi_free(a, job.block_nnz, ((size_t)job.nblocks + 1) * sizeof(int64_t));
    tasdi_free(a, job.bad_row, (size_t)job.ntasks * sizeof(int64_t));
    tasdi_free(a, job.bad_range, (size_t)job.ntasks * sizeof(bool));
    if (st) {
        tasd_series_destroy(s);
        return st;
    }
    *out = s;
    return TASD_OK;
}

void tasdi_decompose_rows_into(const tasdi_ops *ops, const tasdi_matrix *w,
                               int64_t r0, tasd_series *s, float *scratch)
{
    int order[TASD_MAX_TERMS];
    term_order(s->config, s->method, order);
    float *residual = scratch + s->cols;
    for (int64_t r = 0; r < s->rows; r++) {
        tasdi_matrix_load_row(w, r0 + r, residual);
        select_row(ops, s, order, residual, residual + s->cols, r);
    }
}
