/* Backend selection: which kernels a call runs. */
#ifndef TASD_DISPATCH_H
#define TASD_DISPATCH_H

#include "internal.h"
#include "../kernels/kernels.h"

/* The kernels of one backend. A backend provides either the canonical-layout
 * term_gemm (the scalar reference) or the packed wide + narrow kernels (SIMD
 * backends); when wide is non-NULL the framework uses the packed path. */
typedef struct tasdi_ops {
    tasd_backend id;
    tasdi_select_fn select;
    tasdi_term_gemm_fn term_gemm; /* canonical layout, or NULL   */
    tasdi_wide_fn wide;           /* packed layout, or NULL      */
    tasdi_narrow_fn narrow;       /* packed layout, or NULL      */
    tasdi_stats_fn stats;         /* NULL: tasdi_scalar_stats    */
} tasdi_ops;

/* The kernels of a backend, or NULL if this build or CPU cannot run it. */
const tasdi_ops *tasdi_ops_for(tasd_backend backend);
/* The kernels calls on ctx run. NULL (with the error message set) when the
 * backend forced through TASD_BACKEND is not available. */
const tasdi_ops *tasdi_context_ops(const tasd_context *ctx);

/* CPU features, probed once (x86: CPUID + XGETBV; elsewhere all zero). */
typedef struct tasdi_cpu {
    bool avx2;   /* AVX2 + FMA, and the OS saves YMM state            */
    bool avx512; /* AVX-512 F/BW/VL/DQ, and the OS saves ZMM + k state */
} tasdi_cpu;
const tasdi_cpu *tasdi_cpu_features(void);

/* tasdi_gemm_run with an explicit set of kernels (tests use it to run the
 * plain-C packed kernels). */
tasd_status tasdi_gemm_run_ops(const tasd_context *ctx, const tasdi_ops *ops,
                               float alpha, const tasd_series *s,
                               const tasdi_matrix *b, float beta,
                               const tasdi_matrix *c);

#endif
