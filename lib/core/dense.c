/* The dense path (Y = X*W^T on packed W^T panels) and the helpers that the
 * layers share with it. */
#include "dispatch.h"

#include <math.h>
#include <string.h>

_Static_assert(TASDI_DENSE_NR == TASDI_DENSE_PANEL, "one dense panel width");

/* ---- helpers ---- */

/* The first row holding a NaN or Inf, or -1: the exponent bits all ones,
 * tested as integers (an OR over the row, which vectorises; the float sum
 * of x * 0 it replaces was one dependent add per element, and the halves
 * were widened one call at a time: 12% of a 768x768x128 TASD-A layer with
 * a bf16 X). */
int64_t tasdi_matrix_nonfinite_row(const tasdi_matrix *m)
{
    if (m->cols == 0) /* no elements: an empty view may have any number of rows */
        return -1;
    const int64_t cs = m->cs;
    if (m->dtype == TASD_F32) {
        for (int64_t r = 0; r < m->rows; r++) {
            const uint32_t *row = (const uint32_t *)(const void *)m->data + r * m->rs;
            uint32_t any = 0;
            for (int64_t j = 0; j < m->cols; j++)
                any |= tasdi_nonfinite_bit(row[j * cs]);
            if (any >> 31)
                return r;
        }
        return -1;
    }
    const uint16_t e = m->dtype == TASD_BF16 ? 0x7f80u : 0x7c00u; /* exponent bits */
    for (int64_t r = 0; r < m->rows; r++) {
        const uint16_t *row = (const uint16_t *)(const void *)m->data + r * m->rs;
        uint32_t any = 0;
        for (int64_t j = 0; j < m->cols; j++)
            any |= (row[j * cs] & e) == e;
        if (any)
            return r;
    }
    return -1;
}

/* A context for work that one task runs serially inside an outer parallel
 * loop: same allocator, backend and kept scratch, one thread, no pool. */
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
    /* long-lived and streamed at every call: huge pages where the default
     * allocator is in use, as a series' storage (on 4 KiB pages a
     * 4096 x 4096 layer at one token ran 10-15x slower than on 2 MiB ones
     * under a hypervisor, AMD EPYC Zen 5 VM) */
    if (!floats)
        d.bytes = sizeof(float);
    d.p = tasdi_alloc_lasting(a, d.bytes);
    if (d.p)
        memset(d.p, 0, d.bytes); /* the last panel's padding */
    float *row = tasdi_alloc(a, (size_t)(d.in ? d.in : 1) * sizeof(float));
    if (!d.p || !row) {
        tasdi_free(a, d.p, d.bytes);
        tasdi_free(a, row, (size_t)(d.in ? d.in : 1) * sizeof(float));
        return TASD_ERR_OUT_OF_MEMORY;
    }
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

void tasdi_dense_free(const tasd_allocator *a, tasdi_dense *d)
{
    tasdi_free(a, d->p, d->bytes);
    d->p = NULL;
    d->bytes = 0;
}

/* The dense product runs BLIS-style loops around the backend's register tile
 * (kernels/kernels.h). X is packed into blocks of at most kern->mc tokens by
 * kern->kc inputs (one block: L2), each a row of tile-shaped strips: once per
 * call, in parallel, or by each fused unit for itself (DENSE_FUSED_MAX_OUT
 * below). Each task of the first kind owns a range of output columns and walks
 * it DENSE_NC columns at a time (that part of Y stays in L2 over the K
 * blocks); for each token block and K block, every W panel block (L1) is
 * multiplied against all strips before the next one is read. W is streamed
 * once per token block (once in all up to mc tokens). Each output is one
 * multiply-add chain in ascending k, so neither the split among threads nor
 * the blocking changes a bit. */

/* Output columns per pass: a multiple of every kernel's nr. */
#define DENSE_NC 256
/* Layers of at most this many outputs and more X than DENSE_SMALL_X run
 * fused units instead: a unit is a token block, which its task packs one K
 * block at a time into its own buffer (L2) and multiplies by all of W before
 * the next, so packed X never goes to memory, and tasks split the tokens,
 * not the few outputs (a convolution's 64 channels over 3136 pixels ran
 * 0.61x oneDNN on one thread and 0.32x on two with X packed whole and the
 * 64 outputs one task's work). Its Y block (mc x out) stays in L2. */
#define DENSE_FUSED_MAX_OUT 512
/* X of at most this many floats (128 KiB) is packed with K unblocked: each W
 * panel is then one sequential stream (GEMV, decoding). */
#define DENSE_SMALL_X 32768
/* X of more floats (16 MiB) runs fused units whatever the outputs: a long
 * prefill does not double its activation memory. */
#define DENSE_PACKED_MAX_X ((int64_t)1 << 22)

/* The most floats of X a layer of `out` outputs packs whole (beyond: fused). */
static int64_t dense_packed_max_x(int64_t out)
{
    return out <= DENSE_FUSED_MAX_OUT ? DENSE_SMALL_X : DENSE_PACKED_MAX_X;
}

typedef struct dense_job {
    const tasdi_dense *d;
    const tasdi_dense_kernel *kern;
    tasdi_transpose_fn transpose; /* packs an X of unit column stride */
    tasdi_matrix x, y;
    const float *bias;
    int64_t bias_stride;
    int64_t ntasks, units; /* units: groups of kern->nr output columns  */
    int64_t kc, mc;        /* K block and token block of this call      */
    int64_t nkb, nmb;      /* their counts                              */
    bool direct;           /* y f32 with unit column stride: tiles go to y */
    bool fused;            /* units are token blocks (DENSE_FUSED_MAX_OUT) */
    bool x_in_place;       /* fused: the kernel reads X's rows (dense_x_in_place) */
    float *xp;             /* packed X, tokens x in floats; fused: per task
                              one mc x kc block                         */
    float *cbuf;           /* per task mc x cld, when !direct           */
    int64_t cld;           /* row stride of cbuf                        */
    int64_t pack_tasks;
} dense_job;

/* Part i of n near-equal parts of count (the first count % n one larger). */
static int64_t part_size(int64_t count, int64_t n, int64_t i)
{
    return count / n + (i < count % n ? 1 : 0);
}

/* Start of part i of n near-equal parts of count. */
static int64_t part_start(int64_t count, int64_t n, int64_t i)
{
    return i * (count / n) + (i < count % n ? i : count % n);
}

/* Tokens [t0, t0 + mb) of X over inputs [k0, k0 + kc) into xp as strips of
 * near-equal height <= mr, each [kc][height], one after the other. */
static void pack_x_block(const dense_job *job, int64_t t0, int64_t mb, int64_t k0, int64_t kc,
                         float *xp)
{
    const tasdi_matrix *x = &job->x;
    const float *xd = (const float *)(const void *)x->data;
    const int64_t mr = job->kern->mr;
    int64_t strips = (mb + mr - 1) / mr, row = t0;
    for (int64_t s = 0; s < strips; s++) {
        int64_t h = part_size(mb, strips, s);
        if (x->dtype == TASD_F32 && x->cs == 1) { /* X [tokens, in]: 8x8 tiles */
            job->transpose(xd + row * x->rs + k0, x->rs, h, kc, xp, h);
            xp += h * kc;
            row += h;
            continue;
        }
        for (int64_t r = 0; r < h; r++) {
            if (x->dtype != TASD_F32) { /* bf16 / f16: widened as X is packed */
                tasdi_widen_run(x->dtype,
                                (const uint16_t *)(const void *)x->data + (row + r) * x->rs +
                                    k0 * x->cs,
                                x->cs, kc, xp + r, h);
                continue;
            }
            const float *src = xd + (row + r) * x->rs + k0 * x->cs;
            for (int64_t k = 0; k < kc; k++)
                xp[k * h + r] = src[k * x->cs];
        }
        xp += h * kc;
        row += h;
    }
}

/* Token block b and K block kb of the packed X: rows [t0, t0 + mb) sit at
 * t0 * in, their K block at + mb * k0. */
static void pack_x_task(void *arg, int64_t i)
{
    const dense_job *job = arg;
    const int64_t in = job->d->in, m = job->x.rows;
    const int64_t b = i / job->nkb, kb = i % job->nkb;
    const int64_t t0 = part_start(m, job->nmb, b), mb = part_size(m, job->nmb, b);
    const int64_t k0 = kb * job->kc, kc = in - k0 < job->kc ? in - k0 : job->kc;
    pack_x_block(job, t0, mb, k0, kc, job->xp + t0 * in + mb * k0);
}

/* Task t of the X packing: a contiguous share of the (block, K block) units. */
static void pack_x_all(void *arg, int64_t t)
{
    const dense_job *job = arg;
    int64_t units = job->nmb * job->nkb, n = job->pack_tasks;
    for (int64_t i = part_start(units, n, t); i < part_start(units, n, t + 1); i++)
        pack_x_task(arg, i);
}

/* First output column of task t (whole units of kern->nr columns). */
static int64_t task_col(const dense_job *job, int64_t t)
{
    int64_t c = part_start(job->units, job->ntasks, t) * job->kern->nr;
    return c < job->d->out ? c : job->d->out;
}

/* Whether a fused call's kernel reads X's rows where they are
 * (kern->rows) instead of a copy transposed into strips: for f32 rows, few
 * outputs (each strip is read once per nr_tile outputs), and rows not a
 * multiple of 4 KiB apart (a tile's rows then share one L1 set) unless the
 * outputs are at most 64. The transpose took ~22% of a 64x147x12544 layer
 * (AMD EPYC Zen 5, avx512); in place, same-process A/B, one thread:
 * 64x147x12544 0.82, 64x576x3136 0.86, 33x2049x1025 0.83, 64x2048x2048
 * 0.88, 64x4096x1024 0.96, 128x1152x784 0.94, 256x2304x196 0.97,
 * 200x1000x1000 0.96 of the time; but 128x8192x512 1.07, 300x8192x100
 * 1.08, 512x4096x512 1.13. */
static bool dense_x_in_place(const dense_job *job)
{
    const tasdi_matrix *x = &job->x;
    if (!job->fused || !job->kern->rows || x->dtype != TASD_F32 || x->cs != 1)
        return false;
    const bool aliased = x->rs * (int64_t)sizeof(float) % 4096 == 0;
    return job->d->out <= 64 || (job->d->out <= 256 && !aliased);
}

/* Tokens [t0, t0 + mb) times output columns [j0, j1) over all of K, into y
 * or (!direct) cbuf, then the bias. xbuf NULL: X was packed ahead (job->xp);
 * else each K block is packed into xbuf just before its use, or read in
 * place (job->x_in_place). */
static void dense_block(const dense_job *job, float *cbuf, int64_t t0, int64_t mb, int64_t j0,
                        int64_t j1, float *xbuf)
{
    const tasdi_dense *d = job->d;
    const tasdi_dense_kernel *kern = job->kern;
    float *yd = (float *)(uintptr_t)job->y.data;
    const int64_t in = d->in, wps = in * TASDI_DENSE_PANEL;
    const int64_t strips = (mb + kern->mr - 1) / kern->mr;
    /* one strip: nothing reuses a W block, so take several panels per call
     * (several W streams in flight); else the full tile's width, whose W
     * block then serves every strip from L1 */
    const int64_t nr = strips == 1 ? kern->nr : kern->nr_tile;
    for (int64_t kb = 0; kb < job->nkb; kb++) {
        int64_t k0 = kb * job->kc;
        int64_t kc = in - k0 < job->kc ? in - k0 : job->kc;
        const float *xblk = xbuf ? xbuf : job->xp + t0 * in + mb * k0;
        if (xbuf && !job->x_in_place)
            pack_x_block(job, t0, mb, k0, kc, xbuf);
        for (int64_t j = j0; j < j1; j += nr) {
            int nc = (int)(j1 - j < nr ? j1 - j : nr);
            const float *wp = d->p + (j / TASDI_DENSE_PANEL) * wps + k0 * TASDI_DENSE_PANEL;
            const float *xs = xblk;
            for (int64_t s = 0, r = 0; s < strips; s++) {
                int64_t h = part_size(mb, strips, s);
                float *c = cbuf ? cbuf + r * job->cld + (j - j0) : yd + (t0 + r) * job->y.rs + j;
                int64_t ldc = cbuf ? job->cld : job->y.rs;
                if (job->x_in_place)
                    kern->rows(kc, (const float *)(const void *)job->x.data +
                                       (t0 + r) * job->x.rs + k0,
                               job->x.rs, (int)h, wp, wps, nc, c, ldc, kb > 0);
                else
                    kern->fn(kc, xs, (int)h, wp, wps, nc, c, ldc, kb > 0);
                xs += h * kc;
                r += h;
            }
        }
    }
    /* bias after the whole sum, as the plain loop did; strided or bf16 y is
     * written (rounded once) from the buffer here */
    if (!cbuf && !job->bias)
        return;
    for (int64_t r = 0; r < mb; r++) {
        if (cbuf) {
            const float *cr = cbuf + r * job->cld - j0;
            for (int64_t o = j0; o < j1; o++)
                tasdi_matrix_put(&job->y, t0 + r, o,
                                 job->bias ? cr[o] + job->bias[o * job->bias_stride] : cr[o]);
            continue;
        }
        float *yr = yd + (t0 + r) * job->y.rs; /* direct: unit column stride */
        for (int64_t o = j0; o < j1; o++)
            yr[o] += job->bias[o * job->bias_stride];
    }
}

static float *task_cbuf(const dense_job *job, int64_t task)
{
    return job->cbuf ? job->cbuf + (size_t)task * (size_t)job->mc * (size_t)job->cld : NULL;
}

static void dense_task(void *arg, int64_t task)
{
    const dense_job *job = arg;
    const int64_t m = job->x.rows;
    const int64_t c0 = task_col(job, task), c1 = task_col(job, task + 1);
    for (int64_t j0 = c0; j0 < c1; j0 += DENSE_NC) {
        int64_t j1 = j0 + DENSE_NC < c1 ? j0 + DENSE_NC : c1;
        for (int64_t b = 0; b < job->nmb; b++)
            dense_block(job, task_cbuf(job, task), part_start(m, job->nmb, b),
                        part_size(m, job->nmb, b), j0, j1, NULL);
    }
}

/* Task t of a fused call: a contiguous share of the token blocks, each over
 * all outputs, X packed a K block at a time into the task's buffer. */
static void dense_fused_task(void *arg, int64_t task)
{
    const dense_job *job = arg;
    const int64_t m = job->x.rows;
    float *xbuf = job->xp + (size_t)task * (size_t)job->mc * (size_t)job->kc;
    for (int64_t b = part_start(job->nmb, job->ntasks, task);
         b < part_start(job->nmb, job->ntasks, task + 1); b++)
        dense_block(job, task_cbuf(job, task), part_start(m, job->nmb, b),
                    part_size(m, job->nmb, b), 0, job->d->out, xbuf);
}

/* The split of a call with `tokens` rows of X (job->d and job->kern set)
 * and its scratch, carved from ar: the packed X of one pass and, when Y's
 * columns are strided (!direct), a buffer per task. */
static void dense_carve(const tasd_context *ctx, dense_job *job, int64_t tokens, bool direct,
                        tasdi_arena *ar)
{
    const tasdi_dense *d = job->d;
    if (tokens == 0 || d->out == 0)
        return;
    job->units = (d->out + job->kern->nr - 1) / job->kern->nr;
    const int64_t threads = tasdi_threads(ctx);
    const int64_t packed_tasks = threads < job->units ? threads : job->units;
    job->ntasks = packed_tasks;
    job->direct = direct;
    job->mc = job->kern->mc;
    job->kc = tokens * d->in <= DENSE_SMALL_X ? d->in : job->kern->kc;
    if (job->kc < 1)
        job->kc = 1;
    job->nkb = d->in ? (d->in + job->kc - 1) / job->kc : 1;
    job->nmb = (tokens + job->mc - 1) / job->mc;
    size_t xfloats;
    if (!tasdi_mul_size((size_t)tokens, (size_t)d->in, &xfloats)) {
        ar->failed = true;
        return;
    }
    job->fused = xfloats > (size_t)dense_packed_max_x(d->out);
    job->cld = DENSE_NC;
    if (job->fused) {
        if (job->kc > d->in)
            job->kc = d->in;
        /* a token block for every thread while blocks keep a full tile */
        int64_t most = (tokens + job->kern->mr - 1) / job->kern->mr;
        int64_t want = threads < most ? threads : most;
        if (job->nmb < want)
            job->nmb = want;
        job->ntasks = threads < job->nmb ? threads : job->nmb;
        job->cld = (d->out + TASDI_DENSE_PANEL - 1) / TASDI_DENSE_PANEL * TASDI_DENSE_PANEL;
        /* Room for the packed path's needs at the most tokens it still
         * takes, too: a workspace sized for a call then serves every call
         * with fewer tokens (tasd.h, "Workspaces"). */
        int64_t packed_tokens = dense_packed_max_x(d->out) / d->in;
        size_t xf = (size_t)job->ntasks * (size_t)job->mc * (size_t)job->kc;
        size_t xp = (size_t)(packed_tokens < tokens ? packed_tokens : tokens) * (size_t)d->in + 1;
        size_t cf = (size_t)job->ntasks * (size_t)job->mc * (size_t)job->cld;
        size_t cp = (size_t)packed_tasks * (size_t)job->mc * DENSE_NC;
        job->xp = tasdi_arena_take_n(ar, xf > xp ? xf : xp, sizeof(float));
        job->cbuf = direct ? NULL : tasdi_arena_take_n(ar, cf > cp ? cf : cp, sizeof(float));
        return;
    }
    job->xp = tasdi_arena_take_n(ar, xfloats + 1, sizeof(float));
    job->cbuf = direct ? NULL
                       : tasdi_arena_take_n(ar, (size_t)job->ntasks,
                                            (size_t)job->mc * DENSE_NC * sizeof(float));
}

static void dense_job_init(dense_job *job, const tasdi_ops *ops, const tasdi_dense *d)
{
    memset(job, 0, sizeof *job);
    job->d = d;
    job->kern = ops->dense ? ops->dense : &tasdi_scalar_dense;
    job->transpose = tasdi_ops_transpose(ops);
}

tasd_status tasdi_dense_need(const tasd_context *ctx, const tasdi_dense *d, int64_t tokens,
                             size_t *bytes)
{
    const tasdi_ops *ops = tasdi_context_ops(ctx);
    if (!ops)
        return TASD_ERR_UNSUPPORTED;
    dense_job job;
    dense_job_init(&job, ops, d);
    tasdi_arena ar = tasdi_arena_counting();
    dense_carve(ctx, &job, tokens, false, &ar);
    if (ar.failed)
        return tasdi_fail(TASD_ERR_OVERFLOW, "the scratch of a dense layer on %lld tokens "
                          "overflows", (long long)tokens);
    *bytes = tasdi_arena_need(&ar);
    return TASD_OK;
}

tasd_status tasdi_dense_run_ws(const tasd_context *ctx, const tasdi_dense *d,
                               const tasdi_matrix *x, const float *bias, int64_t bias_stride,
                               const tasdi_matrix *y, const tasdi_ws *ws, const char *fn)
{
    const tasdi_ops *ops = tasdi_context_ops(ctx);
    if (!ops)
        return TASD_ERR_UNSUPPORTED;
    if (x->rows == 0 || d->out == 0)
        return TASD_OK;
    dense_job job;
    dense_job_init(&job, ops, d);
    job.x = *x;
    job.y = *y;
    job.bias = bias;
    job.bias_stride = bias_stride;
    /* a workspace is sized for a strided Y, so it fits any Y */
    const bool direct = y->cs == 1 && y->dtype == TASD_F32;
    tasdi_arena ar = tasdi_arena_counting();
    dense_carve(ctx, &job, x->rows, ws ? false : direct, &ar);
    tasd_status st = tasdi_arena_open(&ar, ctx, ws, fn);
    if (st)
        return st;
    dense_carve(ctx, &job, x->rows, direct, &ar);
    st = tasdi_arena_check(&ar, fn);
    job.x_in_place = dense_x_in_place(&job);
    if (!st && job.fused) {
        tasdi_parallel(ctx, job.ntasks, dense_fused_task, &job);
    } else if (!st) {
        const int64_t units = job.nmb * job.nkb, threads = tasdi_threads(ctx);
        job.pack_tasks = units < threads ? units : threads;
        if (d->in)
            tasdi_parallel(ctx, job.pack_tasks, pack_x_all, &job);
        tasdi_parallel(ctx, job.ntasks, dense_task, &job);
    }
    tasdi_arena_close(&ar, ctx);
    return st;
}

tasd_status tasdi_dense_run(const tasd_context *ctx, const tasdi_dense *d,
                            const tasdi_matrix *x, const float *bias, int64_t bias_stride,
                            const tasdi_matrix *y)
{
    return tasdi_dense_run_ws(ctx, d, x, bias, bias_stride, y, NULL, "tasd_layer_forward");
}

/* ---- TASD-A: tasd_gemm_act ---- */

