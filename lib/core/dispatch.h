/* Private to lib/core: backend selection (which kernels a call runs), the
 * prepacked-B layout and the runners that see the kernel layout. */
#ifndef TASD_DISPATCH_H
#define TASD_DISPATCH_H

#include "core.h"
#include "../../kernels/kernels.h"

/* The kernels of one backend (the scalar one runs the plain-C kernels). */
struct tasdi_ops {
    tasd_backend id;
    tasdi_select_fn select;
    tasdi_wide_fn wide;
    tasdi_narrow_fn narrow;
    tasdi_stats_fn stats;         /* NULL: tasdi_scalar_stats    */
    /* n <= narrow_max[c] runs narrow (<= TASDI_NARROW_MAX), c by the
     * series' M/N averaged over its slots: <= 2, <= 4, more (use_narrow,
     * gemm.c); so do as many columns past B's last whole panel */
    int narrow_max[3];
    int wide_panels;              /* B panels one wide call takes (1..2)         */
    const tasdi_dense_kernel *dense; /* dense layer tiles              */
    /* Kernels for series of bf16 / f16 values (NULL: the plain-C ones). */
    tasdi_wide_fn wide_bf16, wide_f16;
    tasdi_narrow_fn narrow_bf16, narrow_f16;
    /* A series the narrow kernel runs on a fast path (narrow_fast, NULL:
     * none) runs narrow up to n = min(its columns, narrow_fast_max), else
     * as narrow_max says. */
    tasdi_narrow_fast_fn narrow_fast;
    int narrow_fast_max;
    /* Where gathers are slow: series the narrow kernel would fetch by
     * gathers (nonzero; NULL: none such) run wide at every n. */
    tasdi_narrow_gathers_fn narrow_gathers;
    tasdi_transpose_fn transpose;
    tasdi_panel_row_fn panel_row; /* NULL: tasdi_scalar_panel_row */
};

/* The transpose of ops (the plain-C one for no ops, or ops a test built
 * without one). */
static inline tasdi_transpose_fn tasdi_ops_transpose(const tasdi_ops *ops)
{
    return ops && ops->transpose ? ops->transpose : tasdi_scalar_transpose;
}

/* The panel row of ops (the plain-C one where it has none). */
static inline tasdi_panel_row_fn tasdi_ops_panel_row(const tasdi_ops *ops)
{
    return ops && ops->panel_row ? ops->panel_row : tasdi_scalar_panel_row;
}

/* The kernels of a backend, or NULL if this build or CPU cannot run it. */
const tasdi_ops *tasdi_ops_for(tasd_backend backend);

/* CPU features, probed once (x86: CPUID + XGETBV; elsewhere all zero). */
typedef struct tasdi_cpu {
    bool avx2;   /* AVX2 + FMA, and the OS saves YMM state            */
    bool avx512; /* AVX-512 F/BW/VL/DQ, and the OS saves ZMM + k state */
    bool f16c;   /* F16C (vcvtph2ps): required by the AVX2 backend    */
    bool avx512bf16; /* AVX512_BF16 (vdpbf16ps); reported, not yet used */
    bool amd;    /* vendor AuthenticAMD: some crossovers differ        */
} tasdi_cpu;
const tasdi_cpu *tasdi_cpu_features(void);

/* tasdi_gemm_run with an explicit set of kernels (tests use it to run the
 * plain-C packed kernels). */
tasd_status tasdi_gemm_run_ops(const tasd_context *ctx, const tasdi_ops *ops,
                               float alpha, const tasd_series *s,
                               const tasdi_matrix *b, float beta,
                               const tasdi_matrix *c);

/* Floats of scratch the decomposer needs per thread for rows of `cols`:
 * the row, its residual, and one term's canonical row (values + indices). */
#define TASDI_DECOMPOSE_SCRATCH(cols) (4 * (size_t)(cols) + 64)

/* Decompose rows [r0, r0 + s->rows) of the f32 matrix w (finite: not
 * checked) into the existing series shell s (from tasdi_series_alloc with
 * w->cols columns; its config and method are used), on the calling thread,
 * without allocating. scratch holds TASDI_DECOMPOSE_SCRATCH(w->cols) floats.
 * Rewrites all s->rows rows with exactly the values tasdi_decompose_matrix
 * gives for those rows; the stats fields are left alone. */
void tasdi_decompose_rows_into(const tasdi_ops *ops, const tasdi_matrix *w,
                               int64_t r0, tasd_series *s, float *scratch);
/* ---- prepacked B ----
 * A dense f32 operand B [K, n] packed once into the wide kernel's panel
 * layout (kernels/kernels.h): p[panel][nkb * TASDI_KC][TASDI_NR], zero past
 * K and past n. tasdi_gemm_run builds the same panels per call; a layer
 * whose dense operand is fixed (TASD-A: W^T) builds them once and multiplies
 * any number of series against them with tasdi_gemm_run_packed. The layout
 * does not depend on the backend, so one prepack serves every context.
 * Read-only after creation: any number of threads may use it at once. */
struct tasdi_bpack {
    tasd_allocator allocator;
    int64_t rows, cols;      /* K, n */
    int64_t nkb, panels;     /* ceil(K / TASDI_KC), ceil(n / TASDI_NR) */
    float *p;
    size_t bytes;
    bool finite;             /* no NaN/Inf: the SIMD kernels may run */
};

_Static_assert(TASDI_NARROW_MAX <= TASDI_NR,
               "the narrow kernel's columns of a prepack lie in one panel");

/* Panel `panel`: (nkb * TASDI_KC) x TASDI_NR floats, row stride TASDI_NR. */
static inline const float *tasdi_bpack_panel(const tasdi_bpack *bp, int64_t panel)
{
    return bp->p + panel * bp->nkb * TASDI_KC * TASDI_NR;
}


/* tasdi_gemm_run with B taken from a prepack: C = alpha * S * B + beta * C,
 * bit-identical to tasdi_gemm_run on the matrix bp was packed from (same
 * backend), for any thread count. c must be f32 or bf16, s->rows x bp->cols, not
 * overlapping the panels (checked by the callers' argument checks). */
tasd_status tasdi_gemm_run_packed(const tasd_context *ctx, float alpha,
                                  const tasd_series *s, const tasdi_bpack *bp,
                                  float beta, const tasdi_matrix *c);

/* tasdi_gemm_run_packed with its scratch from ws (NULL: allocated) and a
 * bias (NULL: none) added before C's rounding. */
tasd_status tasdi_gemm_run_packed_ws(const tasd_context *ctx, float alpha,
                                     const tasd_series *s, const tasdi_bpack *bp,
                                     float beta, const tasdi_matrix *c,
                                     const tasdi_bias *bias, const tasdi_ws *ws);

/* A per-call B: carve its panels (shape set, bp->p NULL while counting),
 * then fill them from the matrix b (f32, or bf16 / f16 widened as they are
 * packed); bp->allocator is unused (the arena
 * owns the memory). */
void tasdi_bpack_carve(tasdi_bpack *bp, int64_t K, int64_t n, tasdi_arena *ar);
void tasdi_bpack_fill(const tasd_context *ctx, const tasdi_matrix *b, tasdi_bpack *bp);

#endif
