/* Internal declarations shared by the TASDER files: targets, layer configs,
 * layers and the search. Not installed. */
#ifndef TASD_TASDER_H
#define TASD_TASDER_H

#include "dispatch.h"

/* ---- targets ---- */

#define TASDI_TARGET_SPEC_MAX 512

struct tasd_target {
    tasd_allocator allocator;
    char name[32];
    int measured;
    int npat;
    int n[TASD_TARGET_MAX_PATTERNS];
    int m[TASD_TARGET_MAX_PATTERNS];
    double cost[TASD_TARGET_MAX_PATTERNS];
    double act;   /* dense MACs per activation element per A-side term */
};

/* Cost of term (n, m) on the target; < 0 if it cannot run it. */
double tasdi_target_term_cost(const tasd_target *t, int n, int m);
/* Check a target spec without building (or measuring) the target. */
tasd_status tasdi_target_spec_check(const char *spec);

/* ---- layer configs ---- */

struct tasd_layer_config {
    tasd_allocator allocator;
    char *name;           /* NUL-terminated, owned */
    tasd_config *w;       /* NULL = none */
    tasd_config *a;       /* NULL = none */
    tasd_method method;
    char *target;         /* NUL-terminated, owned ("" = unspecified) */
};

tasd_status tasdi_layer_config_copy(const tasd_allocator *a,
                                    const tasd_layer_config *src,
                                    tasd_layer_config **out);

/* ---- the dense path ---- */

#define TASDI_DENSE_NR 16

/* W [out, in] repacked as W^T panels: [panels][in][NR] floats, zero-padded
 * past `out`, so that Y = X*W^T runs with NR outputs in registers. */
typedef struct tasdi_dense {
    int64_t out, in, panels;
    float *p;
    size_t bytes;
    /* Optional: W as a lossless 8:8 series, so that a SIMD backend runs the
     * dense product on its wide structured kernels (2-3x the plain loop at
     * GEMM sizes); NULL when the backend at packing time is scalar. */
    tasd_series *series;
} tasdi_dense;

/* Token counts from which the lossless series beats the plain loop. */
#define TASDI_DENSE_SERIES_MIN_TOKENS 16

/* Pack W (any dtype/strides). Fails with NONFINITE on NaN/Inf when
 * check_finite. */
tasd_status tasdi_dense_pack(const tasd_allocator *a, const tasdi_matrix *w,
                             bool check_finite, tasdi_dense *out);
/* Also keep W as a lossless series when ctx's backend is a SIMD one. */
tasd_status tasdi_dense_add_series(const tasd_context *ctx, const tasdi_matrix *w,
                                   tasdi_dense *d);
void tasdi_dense_free(const tasd_allocator *a, tasdi_dense *d);
/* Y = X * W^T (+ bias if not NULL); X f32 [tokens, in], Y f32 [tokens, out]
 * (any strides, already validated, Y not overlapping X). */
tasd_status tasdi_dense_run(const tasd_context *ctx, const tasdi_dense *d,
                            const tasdi_matrix *x, const float *bias,
                            int64_t bias_stride, const tasdi_matrix *y);

/* tasd_gemm_act after its checks; A must be finite, B (K x n) prepacked
 * (the layer's W^T, or tasd_gemm_act's B packed once per call). */
tasd_status tasdi_gemm_act_run(const tasd_context *ctx, float alpha,
                               const tasdi_matrix *a, const tasd_config *config,
                               tasd_method method, const tasdi_bpack *bp,
                               float beta, const tasdi_matrix *c);

/* First non-finite element's row of a matrix (f32/f16/bf16), or -1. */
int64_t tasdi_matrix_nonfinite_row(const tasdi_matrix *m);

/* A copy of ctx (or of the defaults) that runs on the calling thread only:
 * same allocator and backend, one thread, no pool. */
tasd_context tasdi_serial_context(const tasd_context *ctx);

/* Monotonic clock in seconds. */
double tasdi_seconds(void);

#endif
