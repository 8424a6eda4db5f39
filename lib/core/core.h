/* lib/core/: what the other layers of lib/ (io, tasder) may use. Not
 * installed. lib/core depends on nothing else in lib/; the kernel layout
 * stays behind lib/core/dispatch.h.
 * Internal symbols use the tasdi_ prefix and hidden visibility, so nothing
 * here leaves the shared library. */
#ifndef TASD_CORE_H
#define TASD_CORE_H

#include "tasd.h"

#include <stdarg.h>
#include <stdbool.h>

#if defined(__GNUC__)
#define TASDI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TASDI_PRINTF(a, b)
#endif

/* ---- errors ---- */

/* Record a formatted detail message for tasd_last_error_message() and return
 * `status`, so that error paths read `return tasdi_fail(TASD_ERR_..., ...)`. */
tasd_status tasdi_fail(tasd_status status, const char *fmt, ...) TASDI_PRINTF(2, 3);

/* An error raised inside a pool task: the status and the detail message,
 * which is thread-local and so must be carried to the calling thread. */
typedef struct tasdi_task_error {
    tasd_status status;
    char message[512];
} tasdi_task_error;
/* On the worker: keep status and this thread's last error message. */
void tasdi_task_error_capture(tasdi_task_error *e, tasd_status status);
/* On the caller: make them this thread's last error; returns the status. */
tasd_status tasdi_task_error_raise(const tasdi_task_error *e);

/* The shared tail of every *_format(buf, size, &needed) call: store the
 * text's length (without NUL) in *needed when asked, and refuse a missing or
 * too-small buffer, which is then left untouched. `fn` names the caller. */
tasd_status tasdi_text_room(const char *fn, size_t len, const char *buf, size_t size,
                            size_t *needed);

/* The leading `size` of a public struct the caller passed (sized structs in
 * tasd.h): 1.0 knows exactly sizeof(type); a later 1.x accepts each size an
 * earlier header had. `fn` names the caller, `type` the struct. */
tasd_status tasdi_check_size(const char *fn, const char *type, size_t size, size_t known);
#define TASDI_CHECK_SIZE(fn, type, ptr) tasdi_check_size(fn, #type, (ptr)->size, sizeof(type))

_Static_assert(TASD_MAX_TERMS <= TASD_TERM_CAPACITY,
               "the per-term arrays of the public structs are fixed by ABI 1");

/* ---- memory ---- */

#define TASDI_ALIGN 64

/* The allocator of a context, or the default one (ctx == NULL). */
const tasd_allocator *tasdi_allocator(const tasd_context *ctx);
/* Aligned allocation through the hooks; sets an error message on failure. */
void *tasdi_alloc(const tasd_allocator *a, size_t size);
/* tasdi_alloc for large blocks that live as long as their object (a series'
 * storage): may use huge pages. Not zeroed. Freed with tasdi_free. */
void *tasdi_alloc_lasting(const tasd_allocator *a, size_t size);
void *tasdi_calloc(const tasd_allocator *a, size_t count, size_t elem);
void tasdi_free(const tasd_allocator *a, void *p, size_t size);

/* Overflow-checked size arithmetic: false on overflow. */
bool tasdi_mul_size(size_t a, size_t b, size_t *out);
bool tasdi_mul_i64(int64_t a, int64_t b, int64_t *out);

/* ---- context and threading ---- */

struct tasd_context {
    tasd_allocator allocator;
    int threads;               /* 0 = default */
    tasd_backend backend;      /* AUTO = follow the process-wide choice */
    tasd_parallel_for_fn parallel_for;
    void *pool;
};

/* Threads a call on ctx may use (>= 1). */
int tasdi_threads(const tasd_context *ctx);
/* Run task(arg, i) for i in [0, ntasks) on the context's pool/OpenMP. */
void tasdi_parallel(const tasd_context *ctx, int64_t ntasks, tasd_task_fn task,
                    void *arg);

/* ---- views ---- */

/* A validated 2-D reading of a view (rank >= 2 collapsed to [rows, cols]). */
typedef struct tasdi_matrix {
    const char *data;
    tasd_dtype dtype;
    int64_t rows, cols;
    int64_t rs, cs;   /* strides in elements */
} tasdi_matrix;

/* Validate `v` (non-NULL, known dtype, rank 2..4, trailing axes collapsible,
 * sizes that do not overflow) and collapse it. `what` names the argument in
 * error messages. */
tasd_status tasdi_matrix_from_view(const tasd_view *v, const char *what,
                                   tasdi_matrix *out);
/* Copy row r of m into dst[0..cols) as f32. */
void tasdi_matrix_load_row(const tasdi_matrix *m, int64_t r, float *dst);
/* The byte range [lo, hi) a matrix touches (for overlap checks). */
void tasdi_matrix_span(const tasdi_matrix *m, uintptr_t *lo, uintptr_t *hi);
/* True if the byte ranges of a and b intersect. */
bool tasdi_matrix_overlap(const tasdi_matrix *a, const tasdi_matrix *b);
/* True if the matrix as an output has no two elements at one address. */
bool tasdi_matrix_writable_layout(const tasdi_matrix *m);

float tasdi_f16_to_f32(uint16_t h);
float tasdi_bf16_to_f32(uint16_t h);
uint16_t tasdi_f32_to_f16(float f);  /* round to nearest even */
uint16_t tasdi_f32_to_bf16(float f); /* round to nearest even */

/* ---- configs ---- */

struct tasd_config {
    tasd_allocator allocator;
    int terms;
    int n[TASD_MAX_TERMS];
    int m[TASD_MAX_TERMS];
};

/* Check one term's N and M; fills an error message naming term i. */
tasd_status tasdi_check_term(int i, int n, int m);
tasd_status tasdi_config_copy(const tasd_allocator *a, const tasd_config *src,
                              tasd_config **out);

/* ---- series ---- */

typedef struct tasdi_term {
    int n, m;
    int64_t groups;   /* ceil(cols / m) */
    int64_t width;    /* groups * n: slots per row */
} tasdi_term;

struct tasd_series {
    tasd_allocator allocator;
    int64_t rows, cols;
    tasd_config *config;
    tasd_method method;
    int terms;
    tasdi_term term[TASD_MAX_TERMS];
    /* Energies for the stats, filled at decomposition (or import) time. */
    double input_energy;   /* ||W||^2 */
    double error_energy;   /* ||W - Wa||^2 */
    int64_t input_nonzeros;
    /* The one resident layout (kernels/kernels.h, lib/core/pack.c): values
     * and packed indices of all terms; one allocation. */
    void *packed;
    size_t packed_size;
    int64_t cap_rows;      /* rows the layout was allocated for (>= rows) */
    tasd_dtype values;     /* value type of the layout: f32, bf16 or f16 */
};

/* Allocate a series of rows x cols with its layout (contents unwritten:
 * every producer writes every row with tasdi_series_put_row). */
tasd_status tasdi_series_alloc(const tasd_allocator *a, int64_t rows,
                               int64_t cols, const tasd_config *config,
                               tasd_method method, tasd_series **out);
/* tasdi_series_alloc for values of type `values` (f32, bf16, f16): the
 * layout holds them in that type; put_row rounds to it (nearest even). */
tasd_status tasdi_series_alloc_typed(const tasd_allocator *a, int64_t rows,
                                     int64_t cols, const tasd_config *config,
                                     tasd_method method, tasd_dtype values,
                                     tasd_series **out);
/* Make a series from tasdi_series_alloc describe its first `rows` rows only,
 * 0 <= rows <= cap_rows: a reusable shell for tile-by-tile work (its rows
 * must then be rewritten, e.g. by tasdi_decompose_rows_into). */
void tasdi_series_set_rows(tasd_series *s, int64_t rows);
/* The layout (lib/core/pack.c): allocate it for s->rows x s->cols and
 * s->term[], free it. */
tasd_status tasdi_layout_alloc(tasd_series *s);
void tasdi_series_free_layout(tasd_series *s);
/* Write / read row r of term i in the canonical form: term->width values
 * and in-group indices (get_row: either output may be NULL). put_row rounds
 * values to the series' value type; get_row gives them back widened. */
void tasdi_series_put_row(tasd_series *s, int i, int64_t r, const float *values,
                          const uint8_t *index);
void tasdi_series_get_row(const tasd_series *s, int i, int64_t r, float *values,
                          uint8_t *index);

/* tasd_decompose() after its argument checks, on a validated matrix. */
tasd_status tasdi_decompose_matrix(const tasd_context *ctx, const tasdi_matrix *w,
                                   const tasd_config *config, tasd_method method,
                                   tasd_series **out);
/* The same with the series' value type (f32, bf16, f16). */
tasd_status tasdi_decompose_typed(const tasd_context *ctx, const tasdi_matrix *w,
                                  const tasd_config *config, tasd_method method,
                                  tasd_dtype values, tasd_series **out);
/* tasd_gemm() after its argument checks (shapes, dtypes, aliasing) passed. */
tasd_status tasdi_gemm_run(const tasd_context *ctx, float alpha,
                           const tasd_series *s, const tasdi_matrix *b,
                           float beta, const tasdi_matrix *c);

/* ---- kernels and prepacked operands (defined in lib/core/dispatch.h) ---- */

typedef struct tasdi_ops tasdi_ops;
typedef struct tasdi_bpack tasdi_bpack;

/* The kernels calls on ctx run. NULL (with the error message set) when the
 * backend forced through TASD_BACKEND is not available. */
const tasdi_ops *tasdi_context_ops(const tasd_context *ctx);

/* Pack the f32 matrix b (any strides) with ctx's allocator, in parallel on
 * ctx when large. Read-only after creation: any number of threads may use
 * it at once. */
tasd_status tasdi_bpack_create(const tasd_context *ctx, const tasdi_matrix *b,
                               tasdi_bpack **out);
void tasdi_bpack_destroy(tasdi_bpack *bp);

/* ---- the dense path ---- */

#define TASDI_DENSE_NR 16 /* = TASDI_DENSE_PANEL of kernels/kernels.h */

/* W [out, in] repacked as W^T panels: [panels][in][NR] floats, zero-padded
 * past `out` (1x the f32 weights plus < NR rows), read by the backend's
 * blocked dense kernel (kernels/<isa>/dense.c). */
typedef struct tasdi_dense {
    int64_t out, in, panels;
    float *p;
    size_t bytes;
} tasdi_dense;

/* Pack W (any dtype/strides). Fails with NONFINITE on NaN/Inf when
 * check_finite. */
tasd_status tasdi_dense_pack(const tasd_allocator *a, const tasdi_matrix *w,
                             bool check_finite, tasdi_dense *out);
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

#endif /* TASD_CORE_H */
