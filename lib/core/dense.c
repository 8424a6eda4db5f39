/* The dense path (Y = X*W^T on packed W^T panels) and the helpers that the
 * layers share with it. */
#include "dispatch.h"

#include <math.h>
#include <string.h>

_Static_assert(TASDI_DENSE_NR == TASDI_DENSE_PANEL, "one dense panel width");

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

void tasdi_dense_free(const tasd_allocator *a, tasdi_dense *d)
{
    tasdi_free(a, d->p, d->bytes);
    d->p = NULL;
    d->bytes = 0;
}

/* The dense product runs BLIS-style loops around the backend's register tile
 * (kernels/kernels.h): each task owns a range of output columns; within it,
 * for each block of at most kern->mc tokens and each K block of kern->kc
 * inputs, X is packed once into tile-shaped strips (L2) and every W panel
 * block (L1) is multiplied against all strips before the next one is read.
 * W is thus streamed once per token block (once in all up to mc tokens),
 * which is what a GEMV (1 token) needs. Each output is one multiply-add chain
 * in ascending k, so neither the split among threads nor the blocking changes
 * a bit. */

/* Output columns per pass when Y is strided (tiles go through a buffer). */
#define DENSE_BUF_COLS 256

typedef struct dense_job {
    const tasdi_dense *d;
    const tasdi_dense_kernel *kern;
    tasdi_matrix x, y;
    const float *bias;
    int64_t bias_stride;
    int64_t ntasks, units; /* units: groups of kern->nr output columns */
    bool direct;           /* y has unit column stride: tiles go to y  */
    float *scratch;        /* per task: xfloats + cfloats              */
    size_t xfloats, cfloats;
} dense_job;

/* Part i of n near-equal parts of count (the first count % n one larger). */
static int64_t part_size(int64_t count, int64_t n, int64_t i)
{
    return count / n + (i < count % n ? 1 : 0);
}

/* Rows [t0, t0 + mb) and inputs [k0, k0 + kc) of X, as strips of near-equal
 * height <= mr, each [kc][height], one after the other. */
static void pack_x(const tasdi_matrix *x, int64_t t0, int64_t mb, int64_t k0, int64_t kc,
                   int mr, float *xp)
{
    const float *xd = (const float *)(const void *)x->data;
    int64_t strips = (mb + mr - 1) / mr, row = t0;
    for (int64_t s = 0; s < strips; s++) {
        int64_t h = part_size(mb, strips, s);
        for (int64_t r = 0; r < h; r++) {
            const float *src = xd + (row + r) * x->rs + k0 * x->cs;
            if (x->cs == 1)
                for (int64_t k = 0; k < kc; k++)
                    xp[k * h + r] = src[k];
            else
                for (int64_t k = 0; k < kc; k++)
                    xp[k * h + r] = src[k * x->cs];
        }
        xp += h * kc;
        row += h;
    }
}

/* First output column of task t (whole units of kern->nr columns). */
static int64_t part_offset_cols(const dense_job *job, int64_t t)
{
    int64_t c = t * job->units / job->ntasks * job->kern->nr;
    return c < job->d->out ? c : job->d->out;
}

static void dense_task(void *arg, int64_t task)
{
    const dense_job *job = arg;
    const tasdi_dense *d = job->d;
    const tasdi_dense_kernel *kern = job->kern;
    float *xp = job->scratch + (size_t)task * (job->xfloats + job->cfloats);
    float *cbuf = xp + job->xfloats;
    float *yd = (float *)(uintptr_t)job->y.data;
    const int64_t m = job->x.rows, in = d->in, nr = kern->nr;
    const int64_t wps = in * TASDI_DENSE_PANEL;
    const int64_t c0 = part_offset_cols(job, task), c1 = part_offset_cols(job, task + 1);
    const int64_t nkb = in ? (in + kern->kc - 1) / kern->kc : 1;
    const int64_t nmb = (m + kern->mc - 1) / kern->mc;
    const int64_t pass = job->direct ? (c1 > c0 ? c1 - c0 : 1) : DENSE_BUF_COLS;

    for (int64_t j0 = c0; j0 < c1; j0 += pass) {
        int64_t j1 = j0 + pass < c1 ? j0 + pass : c1;
        for (int64_t b = 0, t0 = 0; b < nmb; t0 += part_size(m, nmb, b), b++) {
            int64_t mb = part_size(m, nmb, b);
            int64_t strips = (mb + kern->mr - 1) / kern->mr;
            for (int64_t kb = 0; kb < nkb; kb++) {
                int64_t k0 = kb * kern->kc;
                int64_t kc = in - k0 < kern->kc ? in - k0 : kern->kc;
                pack_x(&job->x, t0, mb, k0, kc, kern->mr, xp);
                for (int64_t j = j0; j < j1; j += nr) {
                    int nc = (int)(j1 - j < nr ? j1 - j : nr);
                    const float *wp = d->p + (j / TASDI_DENSE_PANEL) * wps + k0 * TASDI_DENSE_PANEL;
                    const float *xs = xp;
                    for (int64_t s = 0, r = 0; s < strips; s++) {
                        int64_t h = part_size(mb, strips, s);
                        float *c;
                        int64_t ldc;
                        if (job->direct) {
                            c = yd + (t0 + r) * job->y.rs + j;
                            ldc = job->y.rs;
                        } else {
                            c = cbuf + r * DENSE_BUF_COLS + (j - j0);
                            ldc = DENSE_BUF_COLS;
                        }
                        kern->fn(kc, xs, (int)h, wp, wps, nc, c, ldc, kb > 0);
                        xs += h * kc;
                        r += h;
                    }
                }
            }
            /* bias after the whole sum, as the plain loop did; strided y is
             * written from the buffer here */
            if (job->direct && !job->bias)
                continue;
            for (int64_t r = 0; r < mb; r++) {
                float *yr = yd + (t0 + r) * job->y.rs;
                const float *cr = job->direct ? yr : cbuf + r * DENSE_BUF_COLS - j0;
                for (int64_t o = j0; o < j1; o++) {
                    float v = cr[o];
                    if (job->bias)
                        v += job->bias[o * job->bias_stride];
                    yr[o * job->y.cs] = v;
                }
            }
        }
    }
}

tasd_status tasdi_dense_run(const tasd_context *ctx, const tasdi_dense *d,
                            const tasdi_matrix *x, const float *bias, int64_t bias_stride,
                            const tasdi_matrix *y)
{
    const tasdi_ops *ops = tasdi_context_ops(ctx);
    if (!ops)
        return TASD_ERR_UNSUPPORTED;
    if (x->rows == 0 || d->out == 0)
        return TASD_OK;
    dense_job job;
    memset(&job, 0, sizeof job);
    job.d = d;
    job.kern = ops->dense ? ops->dense : &tasdi_scalar_dense;
    job.x = *x;
    job.y = *y;
    job.bias = bias;
    job.bias_stride = bias_stride;
    job.units = (d->out + job.kern->nr - 1) / job.kern->nr;
    job.ntasks = tasdi_threads(ctx);
    if (job.ntasks > job.units)
        job.ntasks = job.units;
    job.direct = y->cs == 1;
    int64_t mc = x->rows < job.kern->mc ? x->rows : job.kern->mc;
    int64_t kc = d->in < job.kern->kc ? d->in : job.kern->kc;
    job.xfloats = (size_t)(mc * (kc ? kc : 1) + 16) & ~(size_t)15; /* keeps 64-byte alignment */
    job.cfloats = job.direct ? 0 : (size_t)mc * DENSE_BUF_COLS;
    size_t bytes = (size_t)job.ntasks * (job.xfloats + job.cfloats) * sizeof(float);
    const tasd_allocator *a = tasdi_allocator(ctx);
    job.scratch = tasdi_alloc(a, bytes);
    if (!job.scratch)
        return TASD_ERR_OUT_OF_MEMORY;
    tasdi_parallel(ctx, job.ntasks, dense_task, &job);
    tasdi_free(a, job.scratch, bytes);
    return TASD_OK;
}

/* ---- TASD-A: tasd_gemm_act ---- */

