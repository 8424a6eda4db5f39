/* tasd_gemm: argument checking, B packing, the parallel split of the output
 * and alpha/beta.
 *
 * Threading: the output is cut into units that do not depend on the thread
 * count (row blocks, and for the wide path row block x B panel); each output
 * element is computed by exactly one unit, always in the same order, so the
 * result is bit-identical for any thread count or parallel-for callback.
 * Tasks take units from a shared counter (a task that starts late takes
 * fewer), round-robin over one contiguous strip of units per task. */
#include "dispatch.h"

#include <stdatomic.h>
#include <string.h>

/* B packing splits over at most this many tasks (each reports NaN/Inf). */
#define BPACK_MAX_TASKS 64
/* and gives each at least this many floats (64 KiB). On an AMD EPYC Zen 5
 * (2 vCPU, avx512), two threads, 2:4, splitting from 2^15 floats instead of
 * 2^18 took 768x3072x64 0.861 -> 0.771 ms, 2048x512x32 0.215 -> 0.197 and
 * 3072x768x128 1.305 -> 1.248 (medians of 6 alternating bench runs);
 * 768x3072x128 (B above 2^18 floats) stayed even. */
#define BPACK_TASK_FLOATS (1 << 14)

static tasd_status gemm_checked(tasd_context *ctx, float alpha, const tasd_series *s,
                                const tasd_view *bv, float beta, const tasd_view *cv,
                                const tasdi_ws *ws)
{
    if (!s || !bv || !cv)
        return tasdi_fail(TASD_ERR_NULL_POINTER,
                          "tasd_gemm: series, b and c must not be NULL");
    struct {
        tasdi_matrix b, c;
    } job;
    tasd_status st = tasdi_matrix_from_view(bv, "tasd_gemm: b", &job.b);
    if (st)
        return st;
    st = tasdi_matrix_from_view(cv, "tasd_gemm: c", &job.c);
    if (st)
        return st;
    if (bv->ndim != 2 || cv->ndim != 2)
        return tasdi_fail(TASD_ERR_SHAPE, "tasd_gemm: b and c must be rank 2 (are %d, %d)",
                          (int)bv->ndim, (int)cv->ndim);
    if (job.c.dtype == TASD_F16)
        return tasdi_fail(TASD_ERR_DTYPE, "tasd_gemm: c must be f32 or bf16 (is f16)");
    if (job.b.rows != s->cols || job.c.rows != s->rows || job.c.cols != job.b.cols)
        return tasdi_fail(TASD_ERR_SHAPE,
                          "tasd_gemm: series %lld x %lld times b %lld x %lld into c %lld x %lld",
                          (long long)s->rows, (long long)s->cols, (long long)job.b.rows,
                          (long long)job.b.cols, (long long)job.c.rows,
                          (long long)job.c.cols);
    if (!tasdi_matrix_writable_layout(&job.c))
        return tasdi_fail(TASD_ERR_ALIAS, "tasd_gemm: c has overlapping elements");
    if (tasdi_matrix_overlap(&job.c, &job.b))
        return tasdi_fail(TASD_ERR_ALIAS, "tasd_gemm: c overlaps b");
    return tasdi_gemm_run_ws(ctx, alpha, s, &job.b, beta, &job.c, NULL, ws, "tasd_gemm");
}

tasd_status tasd_gemm(tasd_context *ctx, float alpha, const tasd_series *s,
                      const tasd_view *b, float beta, const tasd_view *c)
{
    return gemm_checked(ctx, alpha, s, b, beta, c, NULL);
}

tasd_status tasd_gemm_ws(tasd_context *ctx, float alpha, const tasd_series *s,
                         const tasd_view *b, float beta, const tasd_view *c,
                         void *workspace, size_t workspace_bytes)
{
    tasdi_ws ws;
    tasd_status st = tasdi_ws_from("tasd_gemm_ws", workspace, workspace_bytes, &ws);
    return st ? st : gemm_checked(ctx, alpha, s, b, beta, c, &ws);
}

tasd_status tasd_gemm_workspace_size(const tasd_context *ctx, const tasd_series *s,
                                     int64_t n, size_t *bytes)
{
    if (!s || !bytes)
        return tasdi_fail(TASD_ERR_NULL_POINTER,
                          "tasd_gemm_workspace_size: series and bytes must not be NULL");
    if (n < 0)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "tasd_gemm_workspace_size: n = %lld",
                          (long long)n);
    if (!tasdi_elements_ok(s->cols, n) || !tasdi_elements_ok(s->rows, n))
        return tasdi_fail(TASD_ERR_OVERFLOW, "tasd_gemm_workspace_size: n = %lld is past "
                          "what b and c views can hold", (long long)n);
    return tasdi_gemm_need(ctx, s, s->rows, s->cols, n, false, bytes);
}

/* ---- the layout's kernels ---- */

#define WIDE_ROW_BLOCK 64    /* rows per wide unit: tile = 64 x TASDI_NR floats */
#define NARROW_ROW_BLOCK 64  /* rows per narrow unit: a whole layout row block, one contiguous stream */
#define WIDE_PANELS 4        /* B panels per wide unit (256 columns) */
#define FUSED_MAX_ROWS 1024  /* most rows for which the wide units pack their own B */
#define FUSED_MAX_ROWS_MT 512 /* the same on several threads */
#define FUSED_MIN_STRIPE 256 /* several threads: fewest rows of a task's stripe */
#define FUSED_STRIPE_MAX_COLS 128 /* and most wide columns (fused_stripe_rows) */
_Static_assert(WIDE_PANELS % 2 == 0, "a unit holds whole pairs of panels (AVX-512 takes 2)");
_Static_assert(TASDI_RB % WIDE_ROW_BLOCK == 0 && TASDI_RB % NARROW_ROW_BLOCK == 0,
               "kernel calls stay inside one row block of the layout");

typedef struct packed_job {
    const tasdi_packed *p;
    const tasdi_ops *ops;
    tasdi_matrix c;
    float alpha, beta;
    tasdi_bias bias;         /* p NULL: none */
    int64_t n, nwide;        /* columns [0, nwide) run wide, [nwide, n) narrow */
    int64_t wide_tasks, wide_units, narrow_tasks, narrow_units;
    const tasdi_bpack *bp;   /* wide: B panels */
    tasdi_wide_fn wide;      /* the backend's (the plain-C one where scalar) */
    tasdi_narrow_fn narrow;  /* the backend's, or the plain-C one for a B
                              * with NaN/Inf (value-0 slots skipped) */
    int64_t wide_panels;     /* panels per wide call */
    bool fused;              /* wide: each unit packs its B blocks itself, from bw */
    int64_t stripe_rows;     /* wide: rows per unit, a multiple of WIDE_ROW_BLOCK */
    bool scalar;             /* wide: the plain-C kernel (B holds NaN/Inf) */
    atomic_bool nonfinite;   /* fused: a unit met NaN/Inf in B under the SIMD kernel */
    tasdi_matrix bw;         /* fused: the wide columns of B */
    float *bblocks;          /* fused: [task][WIDE_PANELS][KC][NR] */
    tasdi_matrix x;          /* narrow: its columns of B (C's from nwide) */
    float *xpack;            /* narrow: x [n - nwide][ldx] */
    int64_t ldx;
    float *tiles;            /* wide: [task][row blocks][WIDE_PANELS][WIDE_ROW_BLOCK][NR],
                              * one row block unless fused */
    atomic_llong next;       /* next unit to hand out */
} packed_job;

/* The unit that counter value c stands for, of `units` units shared by
 * `tasks` tasks (c itself when c >= units: none left): round-robin over
 * `tasks` contiguous strips of units. */
static int64_t strip_unit(int64_t c, int64_t units, int64_t tasks)
{
    if (c >= units || tasks <= 1)
        return c;
    /* strip i holds units / tasks units, one more for i < units % tasks;
     * counter value c is strip c % tasks's unit c / tasks, and after all
     * full rounds the longer strips' last units in turn */
    const int64_t q = units / tasks, rem = units % tasks;
    const int64_t i = c < tasks * q ? c % tasks : c - tasks * q;
    const int64_t r = c < tasks * q ? c / tasks : q;
    return i * q + (i < rem ? i : rem) + r;
}

/* The next unit for one of `tasks` tasks (>= units: none left). Units are
 * handed out from a shared counter, so a task that gets its core late (a
 * busy machine, an engine pool with other work) simply takes fewer of them;
 * and in strips (strip_unit), so each task walks a contiguous run of the row
 * blocks (of W's slots and of C) and tasks side by side share no line of C.
 * Handed out in plain order, two threads took neighbouring units: 2:4 on two
 * threads then took 1.06-1.14x the time at 4096x4096x64, 1024x4096x256 and
 * 3072x768x128, 1.06x at 128x1152x784 (AMD EPYC Zen 5). Which task computes
 * a unit never changes the unit's result. */
static int64_t next_unit(packed_job *job, int64_t units, int64_t tasks)
{
    return strip_unit(atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed), units,
                      tasks);
}

/* Whether a matrix is walked a column at a time: its columns are the
 * contiguous direction (Y^T and X^T of a layer, Y [tokens, out]). Walked a
 * row at a time, each store of a tile row of C would hit another line, and
 * with a stride of a multiple of 4 KiB (out = 1024, 3072, ...) all those
 * lines fall in one L1 set: the transposed store took 27% of a
 * 3072x768x128 layer. */
static bool matrix_by_column(const tasdi_matrix *m)
{
    return (m->rs < 0 ? -m->rs : m->rs) < (m->cs < 0 ? -m->cs : m->cs);
}

/* A line of C (a row, or a column when C is walked by column): n elements
 * from p, `stride` apart, set to v[] rounded once (nearest even) to C's
 * dtype. */
static void put_line(const tasdi_matrix *c, char *p, int64_t stride, const float *v, int64_t n)
{
    if (c->dtype == TASD_F32) {
        float *d = (float *)(void *)p;
        for (int64_t i = 0; i < n; i++)
            d[i * stride] = v[i];
    } else if (c->dtype == TASD_BF16) {
        uint16_t *d = (uint16_t *)(void *)p;
        for (int64_t i = 0; i < n; i++)
            d[i * stride] = tasdi_f32_to_bf16(v[i]);
    } else {
        uint16_t *d = (uint16_t *)(void *)p;
        for (int64_t i = 0; i < n; i++)
            d[i * stride] = tasdi_f32_to_f16(v[i]);
    }
}

/* A bf16 / f16 C, or one with a bias and beta != 0: each element
 * alpha * y + bias + beta * C in f32, rounded once (nearest even) to C's
 * dtype; y NULL: no product. A line of C (in its memory order) at a time,
 * computed in f32, then converted in one loop (element by element, with
 * the dtype dispatched per element, the store took 30% of a 768x768x128
 * layer with a bf16 Y). */
static void store_c_any(const tasdi_matrix *c, const tasdi_bias *bias, float alpha,
                        float beta, int64_t r0, int64_t r1, int64_t j0, int64_t nj,
                        const float *y, int64_t ldy)
{
    enum { LINE = 64 };
    const bool by_col = matrix_by_column(c);
    const int64_t lines = by_col ? nj : r1 - r0, len = by_col ? r1 - r0 : nj;
    const int64_t esz = (int64_t)tasd_dtype_size(c->dtype);
    /* element i of line l: y at yl + i * yi, bias at bl + i * bi */
    const int64_t ystep = by_col ? 1 : ldy, yi = by_col ? ldy : 1;
    const int64_t bs = bias->stride, bline = bias->per_row == by_col ? 0 : bs;
    const int64_t bi = bias->per_row == by_col ? bs : 0;
    const float *b0 = bias->p ? bias->p + (bias->per_row ? r0 : j0) * bs : NULL;
    float v[LINE];
    for (int64_t l = 0; l < lines; l++)
        for (int64_t i0 = 0; i0 < len; i0 += LINE) {
            const int64_t n = len - i0 < LINE ? len - i0 : LINE;
            const int64_t r = r0 + (by_col ? i0 : l), j = j0 + (by_col ? l : i0);
            if (y) {
                const float *yl = y + l * ystep + i0 * yi;
                for (int64_t i = 0; i < n; i++)
                    v[i] = alpha * yl[i * yi];
            } else {
                for (int64_t i = 0; i < n; i++)
                    v[i] = 0.0f;
            }
            if (b0) {
                const float *bl = b0 + l * bline + i0 * bi;
                for (int64_t i = 0; i < n; i++)
                    v[i] += bl[i * bi];
            }
            if (beta != 0.0f)
                for (int64_t i = 0; i < n; i++)
                    v[i] += beta * tasdi_matrix_get(c, r + (by_col ? i : 0), j + (by_col ? 0 : i));
            put_line(c, (char *)(uintptr_t)c->data + (r * c->rs + j * c->cs) * esz,
                     by_col ? c->rs : c->cs, v, n);
        }
}

/* c[j] = alpha * y[j] + beta * c[j] (beta 0: c not read). y is the
 * kernels' scratch, never C. Four at a time, so that the compiler's
 * straight-line vectorizer packs them (this store was 5% of a
 * 3072x768x128 product as a scalar loop); a plain copy for the usual
 * alpha 1, beta 0. */
static void store_row(float *restrict c, const float *restrict y, int64_t n, float alpha,
                      float beta)
{
    if (alpha == 1.0f && beta == 0.0f) {
        memcpy(c, y, (size_t)n * sizeof *c);
        return;
    }
    int64_t j = 0;
    if (beta == 0.0f) {
        for (; j + 4 <= n; j += 4) {
            c[j] = alpha * y[j];
            c[j + 1] = alpha * y[j + 1];
            c[j + 2] = alpha * y[j + 2];
            c[j + 3] = alpha * y[j + 3];
        }
        for (; j < n; j++)
            c[j] = alpha * y[j];
        return;
    }
    for (; j + 4 <= n; j += 4) {
        c[j] = alpha * y[j] + beta * c[j];
        c[j + 1] = alpha * y[j + 1] + beta * c[j + 1];
        c[j + 2] = alpha * y[j + 2] + beta * c[j + 2];
        c[j + 3] = alpha * y[j + 3] + beta * c[j + 3];
    }
    for (; j < n; j++)
        c[j] = alpha * y[j] + beta * c[j];
}

/* An f32 C with a bias and beta 0 (a layer's Y^T, one bias per row of C):
 * store_c_any's alpha * y + bias, in C's memory order, without its per-element
 * dtype dispatch, which made a 512x256x128 2:4 layer with a bias take 1.9x
 * the time of the same layer without one. */
static void store_c_bias(const packed_job *job, int64_t r0, int64_t r1, int64_t j0,
                         int64_t nj, const float *y, int64_t ldy)
{
    float *c = (float *)(uintptr_t)job->c.data;
    const float alpha = job->alpha;
    const int64_t rs = job->c.rs, cs = job->c.cs, bs = job->bias.stride;
    /* bias of element (r, j): bias.p[(per_row ? r : j) * bs] */
    const float *bias = job->bias.p + (job->bias.per_row ? r0 : j0) * bs;
    const int64_t brs = job->bias.per_row ? bs : 0, bcs = job->bias.per_row ? 0 : bs;
    if (matrix_by_column(&job->c)) {
        for (int64_t j = 0; j < nj; j++) {
            float *ccol = c + r0 * rs + (j0 + j) * cs;
            for (int64_t r = 0; r < r1 - r0; r++)
                ccol[r * rs] = alpha * y[r * ldy + j] + bias[r * brs + j * bcs];
        }
        return;
    }
    for (int64_t r = 0; r < r1 - r0; r++) {
        float *crow = c + (r0 + r) * rs + j0 * cs;
        for (int64_t j = 0; j < nj; j++)
            crow[j * cs] = alpha * y[r * ldy + j] + bias[r * brs + j * bcs];
    }
}

/* c[i] = alpha * c[i] + b[i * bs] (b NULL: 0), four at a time for the
 * compiler's straight-line vectorizer where b is contiguous (the scalar
 * loop was 5% of a 3072x768x128 2:4 layer with a bias, AMD EPYC Zen 4,
 * avx512). */
static void scale_add(float *restrict c, int64_t n, float alpha, const float *restrict b,
                      int64_t bs)
{
    int64_t i = 0;
    if (b && bs == 1)
        for (; i + 4 <= n; i += 4) {
            c[i] = alpha * c[i] + b[i];
            c[i + 1] = alpha * c[i + 1] + b[i + 1];
            c[i + 2] = alpha * c[i + 2] + b[i + 2];
            c[i + 3] = alpha * c[i + 3] + b[i + 3];
        }
    for (; i < n; i++)
        c[i] = alpha * c[i] + (b ? b[i * bs] : 0.0f);
}

/* A by-column f32 C of unit row stride and beta 0 (a layer's Y^T) from a
 * tile of at least 8 x 8: the tile transposed by the backend's kernel (8x8
 * tiles; element by element this store was 9% of a 3072x768x128 2:4 layer,
 * AMD EPYC Zen 4, avx512), then alpha and the bias applied a column of C (a
 * row of Y, in L1) at a time: the same alpha * y + bias as store_c_bias. */
static void store_c_transposed(const packed_job *job, int64_t r0, int64_t r1, int64_t j0,
                               int64_t nj, const float *y, int64_t ldy)
{
    const int64_t cs = job->c.cs, nr = r1 - r0, bs = job->bias.stride;
    float *c = (float *)(uintptr_t)job->c.data + r0 + j0 * cs;
    tasdi_ops_transpose(job->ops)(y, ldy, nr, nj, c, cs);
    const float alpha = job->alpha;
    if (alpha == 1.0f && !job->bias.p)
        return;
    for (int64_t j = 0; j < nj; j++, c += cs) {
        if (job->bias.p && !job->bias.per_row) { /* one bias per column of C */
            const float b = job->bias.p[(j0 + j) * bs];
            for (int64_t r = 0; r < nr; r++)
                c[r] = alpha * c[r] + b;
        } else {
            scale_add(c, nr, alpha, job->bias.p ? job->bias.p + r0 * bs : NULL, bs);
        }
    }
}

/* C[r, j0 + j] = alpha * y[(r - r0) * ldy + j] (+ bias) + beta * C  (beta 0:
 * C not read) */
static void store_c(const packed_job *job, int64_t r0, int64_t r1, int64_t j0,
                    int64_t nj, const float *y, int64_t ldy)
{
    float *c = (float *)(uintptr_t)job->c.data;
    const float alpha = job->alpha, beta = job->beta;
    if (job->c.dtype != TASD_F32 || (job->bias.p && beta != 0.0f)) {
        store_c_any(&job->c, &job->bias, alpha, beta, r0, r1, j0, nj, y, ldy);
        return;
    }
    if (beta == 0.0f && job->c.rs == 1 && matrix_by_column(&job->c) && r1 - r0 >= 8 &&
        nj >= 8) {
        store_c_transposed(job, r0, r1, j0, nj, y, ldy);
        return;
    }
    if (job->bias.p) {
        store_c_bias(job, r0, r1, j0, nj, y, ldy);
        return;
    }
    const int64_t rs = job->c.rs, cs = job->c.cs;
    if (matrix_by_column(&job->c)) { /* column j of the tile: y read with stride ldy */
        int64_t j = 0;
        if (beta == 0.0f) /* four columns at a time: 16-byte reads of y */
            for (; j + 4 <= nj; j += 4) {
                float *c0 = c + r0 * rs + (j0 + j) * cs, *c1 = c0 + cs, *c2 = c1 + cs, *c3 = c2 + cs;
                for (int64_t r = 0; r < r1 - r0; r++) {
                    const float *yr = y + r * ldy + j;
                    c0[r * rs] = alpha * yr[0];
                    c1[r * rs] = alpha * yr[1];
                    c2[r * rs] = alpha * yr[2];
                    c3[r * rs] = alpha * yr[3];
                }
            }
        for (; j < nj; j++) {
            float *ccol = c + r0 * rs + (j0 + j) * cs;
            const float *yc = y + j;
            if (beta == 0.0f)
                for (int64_t r = 0; r < r1 - r0; r++)
                    ccol[r * rs] = alpha * yc[r * ldy];
            else
                for (int64_t r = 0; r < r1 - r0; r++)
                    ccol[r * rs] = alpha * yc[r * ldy] + beta * ccol[r * rs];
        }
        return;
    }
    for (int64_t r = r0; r < r1; r++) {
        float *crow = c + r * rs + j0 * cs;
        const float *yr = y + (r - r0) * ldy;
        if (cs == 1) {
            store_row(crow, yr, nj, alpha, beta);
        } else {
            if (beta == 0.0f)
                for (int64_t j = 0; j < nj; j++)
                    crow[j * cs] = alpha * yr[j];
            else
                for (int64_t j = 0; j < nj; j++)
                    crow[j * cs] = alpha * yr[j] + beta * crow[j * cs];
        }
    }
}

/* ---- B panels: packed per call, or once (tasdi_bpack_create) ---- */

/* Panels per B packing unit: a unit reads PACK_SPAN * NR floats of each B
 * row in turn, so the source is read in long runs (one panel's 256 bytes per
 * row at B's row stride kept the copy at a third of the speed the
 * prefetchers give a sequential read once B outgrows the L2). */
#define PACK_SPAN 8
/* Rows of B ahead whose run the packing prefetches: the hardware's stream
 * detection does not carry across rows, and the copy stalled on every
 * row's first lines (42% of a 64x147x12544 product in the copy's loads;
 * 8 rows ahead: 0.80-0.89 of the time, AMD EPYC Zen 5). */
#define PACK_AHEAD 8

typedef struct bpack_job {
    tasdi_matrix b;
    tasdi_bpack *bp;
    const tasdi_ops *ops;  /* the context's backend */
    int64_t ntasks, spans; /* spans: of PACK_SPAN panels */
    int bad[BPACK_MAX_TASKS]; /* per task: saw NaN/Inf */
} bpack_job;

/* Whether the first w floats (a multiple of TASDI_NR_READ) of a packed row
 * are all finite, while in L1: chunks of a fixed length, which the compiler
 * vectorises. */
static bool row_finite(const float *d, int64_t w)
{
    uint32_t any = 0;
    for (int64_t j0 = 0; j0 < w; j0 += TASDI_NR_READ)
        for (int j = 0; j < TASDI_NR_READ; j++) {
            uint32_t u;
            memcpy(&u, &d[j0 + j], sizeof u);
            any |= tasdi_nonfinite_bit(u);
        }
    return !(any >> 31);
}

/* Columns of a panel row that the packing writes when nj of them are B's:
 * the kernels read no further (TASDI_NR_READ), so at n = 16 a row costs a
 * quarter of the panel's writes and checks (the zero fill of 48 columns took
 * 30% of a 128x768x16 product, AMD EPYC Zen 3). */
static int64_t panel_width(int64_t nj)
{
    const int64_t w = (nj + TASDI_NR_READ - 1) / TASDI_NR_READ * TASDI_NR_READ;
    return w < TASDI_NR ? w : TASDI_NR;
}

/* One K block of a panel from a B whose columns are contiguous (X^T of a
 * layer: B's columns are X's rows): f32 by the backend's transpose (8x8
 * tiles; checked for NaN/Inf in the block once written), else each
 * column's run read in one pass and written down the block (16 KiB, in L1). Read a row of the block at a time, every float came
 * from another line of X, and with X's rows a multiple of 4 KiB apart from
 * one L1 set: this packing took a quarter of a 768x768x128 1:8 layer.
 * Returns whether all of it is finite. */
static bool pack_block_by_column(const tasdi_matrix *bm, tasdi_transpose_fn transpose,
                                 float *blk, int64_t kb, int64_t j0)
{
    const int64_t k0 = kb * TASDI_KC, n = bm->cols;
    const int64_t kn = bm->rows - k0 < TASDI_KC ? bm->rows - k0 : TASDI_KC;
    const int64_t nj = n - j0 < TASDI_NR ? n - j0 : TASDI_NR;
    const float *b = (const float *)(const void *)bm->data;
    uint32_t any = 0;
    int64_t j = 0;
    const bool tiles = bm->dtype == TASD_F32 && bm->rs == 1; /* X^T */
    if (tiles) {
        transpose(b + k0 + j0 * bm->cs, bm->cs, nj, kn, blk, TASDI_NR);
        j = nj;
    }
    for (; j < nj; j++) {
        if (bm->dtype != TASD_F32) { /* widened exactly, a column run at a time */
            tasdi_widen_run(bm->dtype,
                            (const uint16_t *)(const void *)bm->data + k0 * bm->rs +
                                (j0 + j) * bm->cs,
                            bm->rs, kn, blk + j, TASDI_NR);
            continue;
        }
        const float *src = b + k0 * bm->rs + (j0 + j) * bm->cs;
        for (int64_t kk = 0; kk < kn; kk++) {
            uint32_t u;
            memcpy(&u, &src[kk * bm->rs], sizeof u);
            any |= tasdi_nonfinite_bit(u);
            blk[kk * TASDI_NR + j] = src[kk * bm->rs];
        }
    }
    const int64_t w = panel_width(nj);
    for (int64_t kk = 0; kk < TASDI_KC; kk++)
        for (j = kk < kn ? nj : 0; j < w; j++)
            blk[kk * TASDI_NR + j] = 0.0f;
    if (tiles || bm->dtype != TASD_F32) /* checked once written, a row in L1 at a time */
        for (int64_t kk = 0; kk < kn; kk++)
            any |= row_finite(blk + kk * TASDI_NR, w) ? 0 : 1u << 31;
    return !(any >> 31);
}

/* Panels [pan0, pan1) of K block kb of B packed: panel `panel` at dst +
 * (panel - pan0) * pstride floats, its row kk NR floats further on, zero past
 * B's K and past its n up to panel_width. Row-major B is read a whole row of
 * the panels at a time (long source runs; f32 with unit stride by the
 * backend's panel row). Returns whether all of it is finite. */
static bool pack_b_block(const tasdi_matrix *bm, const tasdi_ops *ops, int64_t kb,
                         int64_t pan0, int64_t pan1, float *dst, int64_t pstride)
{
    const int64_t K = bm->rows, n = bm->cols;
    int bad = 0;
    if (matrix_by_column(bm)) {
        for (int64_t panel = pan0; panel < pan1; panel++)
            bad |= !pack_block_by_column(bm, tasdi_ops_transpose(ops),
                                         dst + (panel - pan0) * pstride, kb, panel * TASDI_NR);
        return !bad;
    }
    const float *b = (const float *)(const void *)bm->data;
    const int64_t c0 = pan0 * TASDI_NR, c1 = pan1 * TASDI_NR < n ? pan1 * TASDI_NR : n;
    const bool rows_f32 = bm->cs == 1 && bm->dtype == TASD_F32;
    /* the columns that the panel row copies: whole chunks of TASDI_NR_READ */
    const int64_t lead = rows_f32 ? (c1 - c0) / TASDI_NR_READ * TASDI_NR_READ : 0;
    const tasdi_panel_row_fn panel_row = tasdi_ops_panel_row(ops);
    for (int64_t kk = 0; kk < TASDI_KC; kk++) {
        const int64_t k = kb * TASDI_KC + kk;
        if (rows_f32 && k + PACK_AHEAD < K) {
            const char *ahead = (const char *)(b + (k + PACK_AHEAD) * bm->rs + c0);
            for (int64_t at = 0; at < (c1 - c0) * (int64_t)sizeof(float); at += 64)
                __builtin_prefetch(ahead + at, 0, 3);
        }
        int64_t panel = pan0, done = 0; /* columns of `panel` already packed */
        if (k < K && lead > 0) {
            bad |= !panel_row(b + k * bm->rs + c0, lead, dst + kk * TASDI_NR, pstride);
            panel += lead / TASDI_NR;
            done = lead % TASDI_NR;
        }
        for (; panel < pan1; panel++, done = 0) {
            float *d = dst + (panel - pan0) * pstride + kk * TASDI_NR;
            const int64_t j0 = panel * TASDI_NR;
            const int64_t nj = n - j0 < TASDI_NR ? n - j0 : TASDI_NR;
            const int64_t w = panel_width(nj);
            if (done == w)
                continue;
            int64_t j = done;
            if (k < K && bm->dtype != TASD_F32) {
                for (; j < nj; j++)
                    d[j] = tasdi_matrix_get(bm, k, j0 + j);
            } else if (k < K) {
                const float *src = b + k * bm->rs + j0 * bm->cs;
                for (; j < nj; j++)
                    d[j] = src[j * bm->cs];
            }
            for (; j < w; j++)
                d[j] = 0.0f;
            bad |= !row_finite(d + done, w - done);
        }
    }
    return !bad;
}

/* Pack B into panels: p[panel][k][NR], zero past n and past K. The units of
 * this phase are (K block, span of PACK_SPAN panels) pairs. */
static void pack_b_task(void *arg, int64_t task)
{
    bpack_job *job = arg;
    const tasdi_bpack *bp = job->bp;
    const int64_t nkb = bp->nkb, spans = job->spans, units = nkb * spans;
    int64_t u0 = task * units / job->ntasks, u1 = (task + 1) * units / job->ntasks;
    int bad = 0;
    for (int64_t u = u0; u < u1; u++) {
        const int64_t kb = u / spans, pan0 = u % spans * PACK_SPAN;
        const int64_t pan1 = pan0 + PACK_SPAN < bp->panels ? pan0 + PACK_SPAN : bp->panels;
        bad |= !pack_b_block(&job->b, job->ops, kb, pan0, pan1,
                             bp->p + (pan0 * nkb + kb) * TASDI_KC * TASDI_NR,
                             nkb * TASDI_KC * TASDI_NR);
    }
    job->bad[task] = bad;
}

/* The panels of a K x n B: bp's shape, and its panels carved from ar
 * (bp->p stays NULL while counting; an overflow fails the arena). */
void tasdi_bpack_carve(tasdi_bpack *bp, int64_t K, int64_t n, tasdi_arena *ar)
{
    memset(bp, 0, sizeof *bp);
    bp->rows = K;
    bp->cols = n;
    bp->nkb = K / TASDI_KC + (K % TASDI_KC != 0); /* K + TASDI_KC - 1 may overflow */
    bp->panels = n / TASDI_NR + (n % TASDI_NR != 0);
    size_t per_panel, floats;
    if (!tasdi_mul_size((size_t)bp->nkb, (size_t)TASDI_KC * TASDI_NR, &per_panel) ||
        !tasdi_mul_size(per_panel, (size_t)bp->panels, &floats) ||
        !tasdi_mul_size(floats, sizeof(float), &bp->bytes)) {
        ar->failed = true;
        return;
    }
    bp->p = tasdi_arena_take(ar, bp->bytes);
}

/* Fill bp's panels (from tasdi_bpack_carve) from the f32 matrix b, in
 * parallel on ctx for large B. The one packing routine of both the
 * per-call and the prepacked path. */
void tasdi_bpack_fill(const tasd_context *ctx, const tasdi_matrix *b, tasdi_bpack *bp)
{
    bpack_job job;
    job.b = *b;
    job.bp = bp;
    job.ops = tasdi_context_ops(ctx);
    job.spans = (bp->panels + PACK_SPAN - 1) / PACK_SPAN;
    int64_t threads = tasdi_threads(ctx), units = job.spans * bp->nkb;
    job.ntasks = threads < units ? threads : units;
    if (job.ntasks > BPACK_MAX_TASKS)
        job.ntasks = BPACK_MAX_TASKS;
    /* Packing B is a copy: each task takes at least BPACK_TASK_FLOATS of it,
     * below which a fork/join costs more than the share of the copy it saves. */
    const int64_t by_size = (int64_t)(bp->bytes / sizeof(float)) / BPACK_TASK_FLOATS;
    if (job.ntasks > 1 && job.ntasks > by_size)
        job.ntasks = by_size > 1 ? by_size : 1;
    if (job.ntasks > 0)
        tasdi_parallel(ctx, job.ntasks, pack_b_task, &job);
    bp->finite = true;
    for (int64_t t = 0; t < job.ntasks; t++)
        bp->finite = bp->finite && !job.bad[t];
}

/* A lasting prepack: bp's panels in their own block from a. */
static tasd_status bpack_build(const tasd_context *ctx, const tasd_allocator *a,
                               const tasdi_matrix *b, tasdi_bpack *bp)
{
    tasdi_arena count = tasdi_arena_counting();
    tasdi_bpack_carve(bp, b->rows, b->cols, &count);
    if (count.failed)
        return tasdi_fail(TASD_ERR_OVERFLOW, "B panels of %lld x %lld overflow",
                          (long long)b->rows, (long long)b->cols);
    bp->allocator = *a;
    bp->p = tasdi_alloc(a, bp->bytes);
    if (!bp->p)
        return TASD_ERR_OUT_OF_MEMORY;
    tasdi_bpack_fill(ctx, b, bp);
    return TASD_OK;
}

static void bpack_release(tasdi_bpack *bp)
{
    tasdi_free(&bp->allocator, bp->p, bp->bytes);
    bp->p = NULL;
}

tasd_status tasdi_bpack_create(const tasd_context *ctx, const tasdi_matrix *b,
                               tasdi_bpack **out)
{
    if (b->dtype != TASD_F32)
        return tasdi_fail(TASD_ERR_DTYPE, "tasdi_bpack_create: B must be f32, is %s",
                          tasd_dtype_name(b->dtype));
    const tasd_allocator *a = tasdi_allocator(ctx);
    tasdi_bpack *bp = tasdi_alloc(a, sizeof *bp);
    if (!bp)
        return TASD_ERR_OUT_OF_MEMORY;
    tasd_status st = bpack_build(ctx, a, b, bp);
    if (st) {
        tasdi_free(a, bp, sizeof *bp);
        return st;
    }
    *out = bp;
    return TASD_OK;
}

void tasdi_bpack_destroy(tasdi_bpack *bp)
{
    if (!bp)
        return;
    tasd_allocator a = bp->allocator;
    bpack_release(bp);
    tasdi_free(&a, bp, sizeof *bp);
}

/* Whether a wide unit whose panels end at column `end` sums in C itself:
 * C = S B (alpha 1, beta 0, no bias) into an f32 C of contiguous rows, and
 * the panels are whole, so no tile is copied to C (at K = 300 the copy was
 * 15% of a 2000x300x1000 product, AMD EPYC Zen 4). */
static bool c_takes_sums(const packed_job *job, int64_t end)
{
    return job->c.dtype == TASD_F32 && job->c.cs == 1 && job->alpha == 1.0f &&
           job->beta == 0.0f && !job->bias.p && end <= job->nwide;
}

/* The wide kernel on rows [r0, r1) x panels [pan0, pan1) of K block kb,
 * `step` panels a call: panel pan0's block of B at b0, the next ones
 * bstride floats apart; the sums of panel pan0 at sums, the next ones snext
 * floats apart, rows sld apart (a tile, or C itself). */
static void wide_block(const packed_job *job, tasdi_wide_fn wide, int64_t step, int64_t r0,
                       int64_t r1, int64_t kb, int64_t pan0, int64_t pan1, const float *b0,
                       int64_t bstride, float *sums, int64_t snext, int64_t sld)
{
    for (int64_t panel = pan0; panel < pan1; panel += step) {
        int64_t j0 = panel * TASDI_NR, cols = step * TASDI_NR;
        int ncols = (int)(job->nwide - j0 < cols ? job->nwide - j0 : cols);
        wide(job->p, r0, r1, kb, b0 + (panel - pan0) * bstride, bstride, ncols,
             sums + (panel - pan0) * snext, snext, sld, kb > 0);
    }
}

/* A tile's sums of rows [r0, r1) x panels [pan0, pan1) to C. */
static void store_tile(packed_job *job, int64_t r0, int64_t r1, int64_t pan0, int64_t pan1,
                       const float *tile)
{
    for (int64_t panel = pan0; panel < pan1; panel++) {
        int64_t j0 = panel * TASDI_NR;
        int64_t nj = job->nwide - j0 < TASDI_NR ? job->nwide - j0 : TASDI_NR;
        store_c(job, r0, r1, j0, nj, tile + (panel - pan0) * WIDE_ROW_BLOCK * TASDI_NR,
                TASDI_NR);
    }
}

/* A wide unit is a stripe of job->stripe_rows rows (one row block, or
 * fused: all rows or one stripe per task) x a group of up to WIDE_PANELS
 * panels. Loop order: K block, then panel, then row block, so each B block
 * (32 KiB) is reused across the stripe's rows while a row block's slots of
 * a K block (a contiguous run) are reused from L1 across the panels. B's
 * block comes from the panels packed for the call (or prepacked), or, fused,
 * is packed by the unit into the task's buffer (in L1/L2). Under the SIMD
 * kernel a fused block with NaN/Inf stops the run (run_wide then runs the
 * plain-C kernel instead, as for any B that is not all finite). */
static void wide_task(void *arg, int64_t task)
{
    packed_job *job = arg;
    const tasdi_packed *p = job->p;
    const int64_t panels = (job->nwide + TASDI_NR - 1) / TASDI_NR;
    const int64_t groups = (panels + WIDE_PANELS - 1) / WIDE_PANELS;
    const int64_t block = TASDI_KC * TASDI_NR, tile_rb = WIDE_PANELS * WIDE_ROW_BLOCK * TASDI_NR;
    float *bblk = job->fused ? job->bblocks + task * WIDE_PANELS * block : NULL;
    float *tile = job->tiles + task * (job->stripe_rows / WIDE_ROW_BLOCK) * tile_rb;
    const int64_t bstride = job->fused ? block : job->bp->nkb * block; /* panel to panel */
    const tasdi_wide_fn wide = job->scalar ? tasdi_scalar_wide : job->wide;
    const int64_t step = job->scalar ? 1 : job->wide_panels;
    for (int64_t u; (u = next_unit(job, job->wide_units, job->wide_tasks)) < job->wide_units &&
                    (job->scalar || !atomic_load_explicit(&job->nonfinite, memory_order_relaxed));) {
        const int64_t s0 = u / groups * job->stripe_rows;
        const int64_t s1 = s0 + job->stripe_rows < p->rows ? s0 + job->stripe_rows : p->rows;
        const int64_t pan0 = u % groups * WIDE_PANELS;
        const int64_t pan1 = pan0 + WIDE_PANELS < panels ? pan0 + WIDE_PANELS : panels;
        const bool direct = c_takes_sums(job, pan1 * TASDI_NR); /* else in the tile */
        const int64_t snext = direct ? TASDI_NR : WIDE_ROW_BLOCK * TASDI_NR;
        const int64_t sld = direct ? job->c.rs : TASDI_NR;
        for (int64_t kb = 0; kb < p->nkb; kb++) {
            const float *b0 = bblk;
            if (!job->fused)
                b0 = tasdi_bpack_panel(job->bp, pan0) + kb * block;
            else if (!pack_b_block(&job->bw, job->ops, kb, pan0, pan1, bblk, block) &&
                     !job->scalar) {
                atomic_store_explicit(&job->nonfinite, true, memory_order_relaxed);
                return;
            }
            for (int64_t r0 = s0; r0 < s1; r0 += WIDE_ROW_BLOCK) {
                int64_t r1 = r0 + WIDE_ROW_BLOCK < s1 ? r0 + WIDE_ROW_BLOCK : s1;
                float *sums = direct ? (float *)(uintptr_t)job->c.data + r0 * job->c.rs +
                                           pan0 * TASDI_NR
                                     : tile + (r0 - s0) / WIDE_ROW_BLOCK * tile_rb;
                wide_block(job, wide, step, r0, r1, kb, pan0, pan1, b0, bstride, sums, snext,
                           sld);
            }
        }
        for (int64_t r0 = s0; r0 < s1 && !direct; r0 += WIDE_ROW_BLOCK) {
            int64_t r1 = r0 + WIDE_ROW_BLOCK < s1 ? r0 + WIDE_ROW_BLOCK : s1;
            store_tile(job, r0, r1, pan0, pan1, tile + (r0 - s0) / WIDE_ROW_BLOCK * tile_rb);
        }
    }
}

static void narrow_task(void *arg, int64_t task)
{
    packed_job *job = arg;
    const tasdi_packed *p = job->p;
    float y[NARROW_ROW_BLOCK * TASDI_NARROW_MAX];
    (void)task;
    for (int64_t u; (u = next_unit(job, job->narrow_units, job->narrow_tasks)) <
                    job->narrow_units;) {
        int64_t r0 = u * NARROW_ROW_BLOCK;
        int64_t r1 = r0 + NARROW_ROW_BLOCK < p->rows ? r0 + NARROW_ROW_BLOCK : p->rows;
        job->narrow(p, r0, r1, job->xpack, job->ldx, (int)job->x.cols, y, TASDI_NARROW_MAX);
        store_c(job, r0, r1, job->nwide, job->x.cols, y, TASDI_NARROW_MAX);
    }
}

/* The backend's kernels for the series' value type (plain C where it has
 * none). */
static tasdi_narrow_fn narrow_for(const tasdi_ops *ops, int vtype)
{
    tasdi_narrow_fn f = vtype == TASDI_V_BF16  ? ops->narrow_bf16
                        : vtype == TASDI_V_F16 ? ops->narrow_f16
                                               : ops->narrow;
    return f ? f : tasdi_scalar_narrow;
}

static tasdi_wide_fn wide_for(const tasdi_ops *ops, int vtype)
{
    tasdi_wide_fn f = vtype == TASDI_V_BF16  ? ops->wide_bf16
                      : vtype == TASDI_V_F16 ? ops->wide_f16
                                             : ops->wide;
    return f ? f : tasdi_scalar_wide;
}

/* Whether n columns run narrow for series of crossover class cls. */
static bool narrow_upto(const tasdi_ops *ops, int cls, int64_t n)
{
    int narrow_max = ops->narrow_max[cls];
    return ops->narrow && n <= (narrow_max < TASDI_NARROW_MAX ? narrow_max : TASDI_NARROW_MAX);
}

/* Whether n columns of B run the narrow kernel for series p: up to the
 * backend's crossover with the wide one, which depends on M/N (the narrow
 * kernel fetches M/N window vectors per vector of slots, the wide kernel's
 * cost per slot does not grow with M/N), averaged over the series' slots:
 * terms / sum of the densities N/M (2:4+1:8: 3.2, a class with 1:4; by its
 * sparsest term, 8, it ran wide at n = 5 and 6, 1.07-1.19x slower on an
 * AVX-512 Xeon). */
static bool use_narrow(const tasdi_ops *ops, const tasdi_packed *p, int64_t n)
{
    if (ops->narrow_gathers && ops->narrow_gathers(p))
        return false;
    if (ops->narrow && ops->narrow_fast) {
        const int fast = ops->narrow_fast(p);
        if (n <= (fast < ops->narrow_fast_max ? fast : ops->narrow_fast_max))
            return true;
    }
    double density = 0;
    for (int i = 0; i < p->terms; i++)
        density += (double)p->term[i].n / p->term[i].m;
    const double ratio = density > 0 ? p->terms / density : 1;
    return narrow_upto(ops, ratio <= 2 ? 0 : ratio <= 4 ? 1 : 2, n);
}

/* Whether n columns could run the narrow (or the wide) kernel for some
 * series. */
static bool path_possible(const tasdi_ops *ops, int64_t n, bool narrow)
{
    if (narrow && ops->narrow && ops->narrow_fast && n <= ops->narrow_fast_max)
        return true;
    for (int cls = 0; cls < 3; cls++)
        if (narrow_upto(ops, cls, n) == narrow)
            return true;
    return false;
}

/* How many of n columns run wide for series p, from column 0; the rest run
 * narrow. All or none as use_narrow says, except that the few columns past
 * the last whole panel run narrow where the narrow kernel takes that many:
 * in a wide call of their own they cost about what a whole panel costs
 * (333x4096x130 2:4 took 24% longer than x128 on an AMD EPYC Zen 5, avx512),
 * where the narrow kernel streams the series once more. */
static int64_t wide_cols(const tasdi_ops *ops, const tasdi_packed *p, int64_t n)
{
    if (use_narrow(ops, p, n))
        return 0;
    const int64_t tail = n % TASDI_NR;
    return tail && use_narrow(ops, p, tail) ? n - tail : n;
}

/* The most panels one of `threads` tasks runs in a fused call over `panels`
 * panels: the groups of WIDE_PANELS (the last one shorter) handed out as
 * next_unit does, each to the task that is free first. */
static int64_t fused_busiest(int64_t panels, int64_t threads)
{
    enum { MOST_TASKS = 64 };
    const int64_t groups = (panels + WIDE_PANELS - 1) / WIDE_PANELS;
    const int64_t tasks = threads < groups ? threads : groups;
    if (tasks > MOST_TASKS) /* every task a whole share of groups, rounded up */
        return (groups + tasks - 1) / tasks * WIDE_PANELS;
    int64_t done[MOST_TASKS] = {0}, most = 0;
    for (int64_t c = 0; c < groups; c++) {
        const int64_t g = strip_unit(c, groups, tasks);
        int64_t t = 0;
        for (int64_t i = 1; i < tasks; i++)
            t = done[i] < done[t] ? i : t;
        done[t] += panels - g * WIDE_PANELS < WIDE_PANELS ? panels - g * WIDE_PANELS : WIDE_PANELS;
        most = done[t] > most ? done[t] : most;
    }
    return most;
}

/* rows rounded up to whole row blocks */
static int64_t whole_row_blocks(int64_t rows)
{
    return (rows + WIDE_ROW_BLOCK - 1) / WIDE_ROW_BLOCK * WIDE_ROW_BLOCK;
}

/* The rows of each fused wide unit (wide_task: the unit packs its own
 * blocks of B), or 0: the wide units read panels packed for the whole call
 * ahead of them. With few rows each packed float serves only rows x density
 * multiply-adds, and packing all of B first (written out to memory and read
 * back) took more time than the products: 2:4 at 64x147x12544 (a
 * convolution's 64 output channels over 112x112 pixels) ran at 0.49-0.79x
 * oneDNN (AMD EPYC Zen 5). Only for B packed per call and C not read (beta
 * 0: a unit that meets NaN/Inf is simply run again).
 *
 * The fused units span all rows: on several threads only where the busiest
 * task's panels (fused_busiest) stay within 1.3x the mean. On 2 threads (AMD
 * EPYC Zen 5, 2:4, same-process A/B, fused against not), 1.11-1.27x the
 * mean: 128x1152x576 0.91, 300x2000x600 0.87, 128x1152x784 0.79,
 * 128x2304x704 0.82 of the time; 1.33x and above: 256x1024x384 1.04-1.07,
 * 300x2000x320 1.15-1.17, 256x2304x196 1.42, 512x4608x49 1.50. Up to 1024
 * rows on one thread: the tiles (or C) of all rows, 1 MiB at most, stay in
 * L2 beside B's block, where the unfused units read B's panels from L3 for
 * every row block (AMD EPYC Zen 5, one thread, 1024 rows against 512:
 * 1024x4096x256 0.93 of the time (2:4, 2:4+1:8) and 0.97 (1:4), 768x3072x128
 * 0.89-0.90, 1000x1000x1000 0.97-1.00, 1024x768x128 0.96-0.99; at 3072 and
 * 4096 rows a fused trial, B packed four K blocks at a time, ran 2:4+1:8 and
 * 1:4 1.05-1.06x slower, stripes of up to 1024 rows 0.96-1.13x the time).
 *
 * On several threads, 513-1024 rows times at most 128 wide columns run one
 * stripe of rows per task, each task packing all of B: 2 threads (AMD EPYC
 * Zen 5, same-process A/B against unfused, medians of 21-31 rounds)
 * 768x3072x128 0.88-0.95 of the time (2:4), 0.88-0.90 (2:4+1:8), 0.77-0.83
 * (1:4), avx2 0.96-0.98; 1000x2000x128 0.87-0.89, 768x768x128 0.82-0.96,
 * 1024x4096x128 0.89, 1024x1024x112 0.91; at 64-120 columns 0.96-1.03.
 * Wider B lost (1024x4096x256 1.00-1.13, 1000x1000x512 1.09, 1024x1024x1024
 * 1.10), and stripes under 256 rows are not taken (B packed again for few
 * rows; more than 2 threads not measured). */
static int64_t fused_stripe_rows(const packed_job *job, bool per_call, int64_t rows,
                                 int64_t panels, int64_t threads)
{
    if (!per_call || job->beta != 0.0f)
        return 0;
    if (rows <= (threads <= 1 ? FUSED_MAX_ROWS : FUSED_MAX_ROWS_MT)) { /* one stripe */
        if (rows <= WIDE_ROW_BLOCK || threads <= 1 || /* the same units, or one task */
            10 * fused_busiest(panels, threads) * threads <= 13 * panels)
            return whole_row_blocks(rows);
        return 0;
    }
    const int64_t stripe = (rows + threads - 1) / threads;
    if (rows <= FUSED_MAX_ROWS && panels * TASDI_NR <= FUSED_STRIPE_MAX_COLS &&
        stripe >= FUSED_MIN_STRIPE)
        return whole_row_blocks(stripe);
    return 0;
}

/* The scratch of S (rows x K) times n columns of B, the first nwide of them
 * wide, carved from ar into job (job->ops set): the wide kernel's per-task
 * tiles and, unless B comes prepacked (bp == NULL), B's panels in bp; the
 * narrow kernel's packed x. Also fixes the split the run uses. compute
 * false (alpha == 0): the call only scales C and needs nothing. */
static void gemm_carve(const tasd_context *ctx, packed_job *job, int64_t rows, int64_t K,
                       int64_t n, int64_t nwide, tasdi_bpack *bp, bool compute,
                       tasdi_arena *ar)
{
    job->n = n;
    job->nwide = nwide;
    if (!compute || rows == 0 || n == 0 || K == 0)
        return;
    const int64_t threads = tasdi_threads(ctx);
    if (nwide > 0) {
        const int64_t panels = (nwide + TASDI_NR - 1) / TASDI_NR;
        const int64_t groups = (panels + WIDE_PANELS - 1) / WIDE_PANELS;
        job->stripe_rows = fused_stripe_rows(job, bp != NULL, rows, panels, threads);
        job->fused = job->stripe_rows > 0;
        if (!job->fused)
            job->stripe_rows = WIDE_ROW_BLOCK;
        if (bp && !job->fused)
            tasdi_bpack_carve(bp, K, nwide, ar);
        job->wide_units = (rows + job->stripe_rows - 1) / job->stripe_rows * groups;
        job->wide_tasks = threads < job->wide_units ? threads : job->wide_units;
        job->tiles = tasdi_arena_take_n(ar, (size_t)job->wide_tasks *
                                                (size_t)(job->stripe_rows / WIDE_ROW_BLOCK),
                                        WIDE_PANELS * WIDE_ROW_BLOCK * TASDI_NR * sizeof(float));
        if (job->fused)
            job->bblocks = tasdi_arena_take_n(ar, (size_t)job->wide_tasks,
                                              WIDE_PANELS * TASDI_KC * TASDI_NR * sizeof(float));
    }
    if (nwide < n) {
        size_t xfloats;
        job->ldx = (K + TASDI_KC - 1) / TASDI_KC * TASDI_KC + TASDI_XPAD;
        if (!tasdi_mul_size((size_t)job->ldx, (size_t)(n - nwide), &xfloats)) {
            ar->failed = true;
            return;
        }
        job->xpack = tasdi_arena_take_n(ar, xfloats, sizeof(float));
        job->narrow_units = (rows + NARROW_ROW_BLOCK - 1) / NARROW_ROW_BLOCK;
        job->narrow_tasks = threads < job->narrow_units ? threads : job->narrow_units;
    }
}

/* x[k] = column j of B as f32 for k < rows, 0 up to ldx; whether all of it is
 * finite. No carried float chain (a sum that turned NaN took an add's
 * latency per element, ~12% of a 128x1024x1 call on Zen 3); contiguous f32
 * goes by the backend's panel row, TASDI_NR floats at a time. */
static bool pack_x_column(const tasdi_matrix *b, tasdi_panel_row_fn panel_row, int64_t j,
                          float *x, int64_t ldx)
{
    const int64_t K = b->rows, rs = b->rs;
    bool finite = true;
    uint32_t any = 0, u;
    int64_t k = 0;
    if (b->dtype == TASD_F32) {
        const float *src = (const float *)(const void *)b->data + j * b->cs;
        if (rs == 1 && K >= TASDI_NR) {
            k = K / TASDI_NR * TASDI_NR;
            finite = panel_row(src, k, x, TASDI_NR);
        }
        for (; k < K; k++) {
            memcpy(&u, &src[k * rs], sizeof u);
            any |= tasdi_nonfinite_bit(u);
            x[k] = src[k * rs];
        }
    } else {
        for (; k < K; k++) {
            x[k] = tasdi_matrix_get(b, k, j);
            memcpy(&u, &x[k], sizeof u);
            any |= tasdi_nonfinite_bit(u);
        }
    }
    for (k = K; k < ldx; k++)
        x[k] = 0.0f;
    return finite && !(any >> 31);
}

/* job->x (up to TASDI_NARROW_MAX columns) packed column-major into the
 * carved job->xpack; whether it is all finite. */
static bool pack_x(packed_job *job)
{
    bool finite = true;
    const tasdi_panel_row_fn panel_row = tasdi_ops_panel_row(job->ops);
    for (int64_t j = 0; j < job->x.cols; j++)
        finite &= pack_x_column(&job->x, panel_row, j, job->xpack + j * job->ldx, job->ldx);
    return finite;
}

/* The narrow kernel on the packed x. */
static void run_narrow(const tasd_context *ctx, packed_job *job, bool finite)
{
    job->narrow = finite ? narrow_for(job->ops, job->p->vtype) : tasdi_scalar_narrow;
    atomic_init(&job->next, 0);
    tasdi_parallel(ctx, job->narrow_tasks, narrow_task, job);
}

/* The wide units; finite: whether all of B is known to be (else every unit
 * runs the plain-C kernel). Fused units find NaN/Inf only while packing:
 * the SIMD run then stops and all runs again under the plain-C kernel (C is
 * not read: beta is 0). */
static void run_wide(const tasd_context *ctx, packed_job *job, bool finite)
{
    job->wide = wide_for(job->ops, job->p->vtype);
    job->wide_panels = job->ops->wide_panels > 1 ? job->ops->wide_panels : 1;
    job->scalar = !finite;
    atomic_init(&job->nonfinite, false);
    atomic_init(&job->next, 0);
    tasdi_parallel(ctx, job->wide_tasks, wide_task, job);
    if (atomic_load(&job->nonfinite)) {
        job->scalar = true;
        atomic_init(&job->next, 0);
        tasdi_parallel(ctx, job->wide_tasks, wide_task, job);
    }
}

/* Columns [j0, j0 + nj) of a prepack, inside one panel (row stride NR). */
static tasdi_matrix bpack_cols(const tasdi_bpack *bp, int64_t j0, int64_t nj)
{
    const float *panel = tasdi_bpack_panel(bp, j0 / TASDI_NR) + j0 % TASDI_NR;
    tasdi_matrix v = {(const char *)panel, TASD_F32, bp->rows, nj, TASDI_NR, 1};
    return v;
}

/* alpha == 0 or K == 0: C = (bias +) beta * C (C not read when beta == 0). */
static void scale_c(const tasdi_matrix *c, const tasdi_bias *bias, float beta)
{
    float *base = (float *)(uintptr_t)c->data;
    if (c->dtype != TASD_F32 || bias->p) {
        store_c_any(c, bias, 0.0f, beta, 0, c->rows, 0, c->cols, NULL, 0);
        return;
    }
    for (int64_t r = 0; r < c->rows; r++)
        for (int64_t j = 0; j < c->cols; j++) {
            float *e = base + r * c->rs + j * c->cs;
            *e = beta == 0.0f ? 0.0f : *e * beta;
        }
}

/* The two kernels in turn on their columns of B: b, or when b is NULL the
 * prepack in job->bp. */
static void gemm_compute(const tasd_context *ctx, packed_job *job, const tasdi_matrix *b,
                         tasdi_bpack *own)
{
    const int64_t nx = job->n - job->nwide;
    bool x_finite = true;
    if (nx > 0) {
        job->x = b ? tasdi_matrix_block(b, 0, b->rows, job->nwide, nx)
                   : bpack_cols(job->bp, job->nwide, nx);
        x_finite = pack_x(job);
    }
    if (job->nwide > 0) {
        if (job->fused) {
            job->bw = tasdi_matrix_block(b, 0, b->rows, 0, job->nwide);
        } else if (own) {
            const tasdi_matrix bw = tasdi_matrix_block(b, 0, b->rows, 0, job->nwide);
            tasdi_bpack_fill(ctx, &bw, own);
            job->bp = own;
        }
        run_wide(ctx, job, x_finite && (job->fused || job->bp->finite));
    }
    if (nx > 0)
        run_narrow(ctx, job, x_finite);
}

/* Plan -> carve -> run for S (rows x K) times n columns of B: the scratch
 * is counted, taken from ws (or allocated as one block when ws is NULL) and
 * carved. b: the B to pack, or NULL when job->bp holds it prepacked. A
 * workspace must hold what the call needs for any alpha and beta, so that it
 * matches tasdi_gemm_need. */
static tasd_status gemm_exec(const tasd_context *ctx, packed_job *job, int64_t rows,
                             int64_t K, int64_t n, const tasdi_matrix *b, const tasdi_ws *ws,
                             const char *fn)
{
    const bool compute = job->alpha != 0.0f && K > 0;
    tasdi_bpack panels;
    tasdi_bpack *own = b ? &panels : NULL;
    const int64_t nwide = wide_cols(job->ops, job->p, n);
    tasdi_arena ar = tasdi_arena_counting();
    gemm_carve(ctx, job, rows, K, n, nwide, own, ws ? true : compute, &ar);
    if (ws) { /* and for any beta (fused_stripe_rows), as tasdi_gemm_need counts */
        const float beta = job->beta;
        tasdi_arena other = tasdi_arena_counting();
        job->beta = beta == 0.0f ? 1.0f : 0.0f;
        gemm_carve(ctx, job, rows, K, n, nwide, own, true, &other);
        job->beta = beta;
        if (other.failed || tasdi_arena_need(&other) > tasdi_arena_need(&ar))
            ar = other;
    }
    tasd_status st = tasdi_arena_open(&ar, ctx, ws, fn);
    if (st)
        return st;
    gemm_carve(ctx, job, rows, K, n, nwide, own, compute, &ar);
    st = tasdi_arena_check(&ar, fn);
    if (!st) {
        if (compute)
            gemm_compute(ctx, job, b, own);
        else
            scale_c(&job->c, &job->bias, job->beta);
    }
    tasdi_arena_close(&ar, ctx);
    return st;
}

tasd_status tasdi_gemm_need(const tasd_context *ctx, const tasd_series *s, int64_t rows,
                            int64_t K, int64_t n, bool prepacked, size_t *bytes)
{
    const tasdi_ops *ops = tasdi_context_ops(ctx);
    if (!ops)
        return TASD_ERR_UNSUPPORTED;
    /* the splits the call can run: all narrow, all wide, the tail narrow */
    const int64_t tail = n % TASDI_NR;
    const int64_t nwide[3] = {0, n, n - tail};
    const bool possible[3] = {path_possible(ops, n, true), path_possible(ops, n, false),
                              tail && n > tail && path_possible(ops, tail, true)};
    size_t most = 0;
    for (int i = 0; i < 6; i++) { /* each split, with beta 0 and not (fused_stripe_rows) */
        if (s ? nwide[i / 2] != wide_cols(ops, s->packed, n) : !possible[i / 2])
            continue;
        packed_job job;
        memset(&job, 0, sizeof job);
        job.ops = ops;
        job.beta = (float)(i % 2);
        tasdi_bpack panels;
        tasdi_arena ar = tasdi_arena_counting();
        gemm_carve(ctx, &job, rows, K, n, nwide[i / 2], prepacked ? NULL : &panels, true, &ar);
        if (ar.failed)
            return tasdi_fail(TASD_ERR_OVERFLOW, "the scratch of %lld x %lld times %lld "
                              "columns overflows", (long long)rows, (long long)K, (long long)n);
        if (tasdi_arena_need(&ar) > most)
            most = tasdi_arena_need(&ar);
    }
    *bytes = most;
    return TASD_OK;
}

static void packed_job_init(packed_job *pj, const tasdi_ops *ops, float alpha,
                            const tasd_series *s, float beta, const tasdi_matrix *c,
                            const tasdi_bias *bias)
{
    memset(pj, 0, sizeof *pj);
    pj->p = s->packed;
    pj->ops = ops;
    pj->c = *c;
    pj->alpha = alpha;
    pj->beta = beta;
    if (bias)
        pj->bias = *bias;
}

static tasd_status gemm_run_ops_ws(const tasd_context *ctx, const tasdi_ops *ops,
                                   float alpha, const tasd_series *s,
                                   const tasdi_matrix *b, float beta,
                                   const tasdi_matrix *c, const tasdi_bias *bias,
                                   const tasdi_ws *ws, const char *fn)
{
    if (s->rows == 0 || b->cols == 0)
        return TASD_OK;
    packed_job pj;
    packed_job_init(&pj, ops, alpha, s, beta, c, bias);
    return gemm_exec(ctx, &pj, s->rows, s->cols, b->cols, b, ws, fn);
}

tasd_status tasdi_gemm_run_ws(const tasd_context *ctx, float alpha, const tasd_series *s,
                              const tasdi_matrix *b, float beta, const tasdi_matrix *c,
                              const tasdi_bias *bias, const tasdi_ws *ws, const char *fn)
{
    const tasdi_ops *ops = tasdi_context_ops(ctx);
    if (!ops)
        return TASD_ERR_UNSUPPORTED;
    return gemm_run_ops_ws(ctx, ops, alpha, s, b, beta, c, bias, ws, fn);
}

tasd_status tasdi_gemm_run(const tasd_context *ctx, float alpha,
                           const tasd_series *s, const tasdi_matrix *b,
                           float beta, const tasdi_matrix *c)
{
    return tasdi_gemm_run_ws(ctx, alpha, s, b, beta, c, NULL, NULL, "tasd_gemm");
}

tasd_status tasdi_gemm_run_ops(const tasd_context *ctx, const tasdi_ops *ops,
                               float alpha, const tasd_series *s,
                               const tasdi_matrix *b, float beta,
                               const tasdi_matrix *c)
{
    return gemm_run_ops_ws(ctx, ops, alpha, s, b, beta, c, NULL, NULL, "tasd_gemm");
}

tasd_status tasdi_gemm_run_packed_ws(const tasd_context *ctx, float alpha,
                                     const tasd_series *s, const tasdi_bpack *bp,
                                     float beta, const tasdi_matrix *c,
                                     const tasdi_bias *bias, const tasdi_ws *ws)
{
    const tasdi_ops *ops = tasdi_context_ops(ctx);
    if (!ops)
        return TASD_ERR_UNSUPPORTED;
    if (bp->rows != s->cols || c->rows != s->rows || c->cols != bp->cols)
        return tasdi_fail(TASD_ERR_SHAPE,
                          "tasdi_gemm_run_packed: series %lld x %lld times B %lld x %lld "
                          "into c %lld x %lld",
                          (long long)s->rows, (long long)s->cols, (long long)bp->rows,
                          (long long)bp->cols, (long long)c->rows, (long long)c->cols);
    if (s->rows == 0 || bp->cols == 0)
        return TASD_OK;
    packed_job pj;
    packed_job_init(&pj, ops, alpha, s, beta, c, bias);
    pj.bp = bp;
    return gemm_exec(ctx, &pj, s->rows, s->cols, bp->cols, NULL, ws, "tasd_gemm_act");
}

tasd_status tasdi_gemm_run_packed(const tasd_context *ctx, float alpha,
                                  const tasd_series *s, const tasdi_bpack *bp,
                                  float beta, const tasdi_matrix *c)
{
    return tasdi_gemm_run_packed_ws(ctx, alpha, s, bp, beta, c, NULL, NULL);
}
