/* lib/core/: what the other layers of lib/ (io, tasder) may use. Not
 * installed. lib/core depends on nothing else in lib/; the kernel layout
 * stays behind lib/core/dispatch.h.
 * Internal symbols use the tasdi_ prefix and hidden visibility, so nothing
 * here leaves the shared library. */
#ifndef TASD_CORE_H
#define TASD_CORE_H

#include "tasd.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h> /* memcpy: the bits of a float */

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

/* ---- scratch arena ----
 * The scratch of a hot call (B panels, tiles, packed X, series shells) is
 * carved from one arena: a bump allocator over the caller's workspace
 * (tasd_*_ws) or over one block from the allocator. A call plans its
 * scratch by running its carving code on a counting arena (which only sums
 * the sizes), then opens the arena and runs the same code again for the
 * real pointers. Size queries run the counting pass alone, so a query and
 * the call it sizes cannot disagree. */
typedef struct tasdi_arena {
    bool counting;        /* only sum sizes; takes return NULL        */
    bool failed;          /* overflow, or a take past the end          */
    char *base;           /* aligned to TASDI_ALIGN                    */
    size_t size, used;
    void *owned;          /* the scratch taken by tasdi_arena_open     */
} tasdi_arena;

/* A caller's workspace for one call; NULL where the call allocates. */
typedef struct tasdi_ws {
    void *mem;
    size_t bytes;
} tasdi_ws;

/* A caller's workspace argument as a tasdi_ws; fails (NULL with a size)
 * with a message naming fn. The one check of every _ws entry point. */
tasd_status tasdi_ws_from(const char *fn, void *workspace, size_t bytes, tasdi_ws *ws);

static inline tasdi_arena tasdi_arena_counting(void)
{
    tasdi_arena ar = {true, false, NULL, 0, 0, NULL};
    return ar;
}
/* Carve a TASDI_ALIGN-aligned block (NULL while counting or on failure). */
void *tasdi_arena_take(tasdi_arena *ar, size_t bytes);
void *tasdi_arena_take_n(tasdi_arena *ar, size_t count, size_t elem);
/* Bytes a workspace needs for what a counting arena summed: 0 when
 * nothing, else the sum plus room to align any address. */
size_t tasdi_arena_need(const tasdi_arena *ar);
/* Point ar at bytes of memory (any alignment), empty. */
void tasdi_arena_place(tasdi_arena *ar, void *mem, size_t bytes);
/* Turn a counted arena into a real one: the workspace ws (refused with
 * TASD_ERR_BUFFER_TOO_SMALL naming the size when too small) or, ws == NULL,
 * ctx's scratch (tasdi_scratch_take). fn names the call in messages. */
tasd_status tasdi_arena_open(tasdi_arena *ar, const tasd_context *ctx, const tasdi_ws *ws,
                             const char *fn);
/* After the real carving: TASD_ERR_INTERNAL if it took more than planned. */
tasd_status tasdi_arena_check(const tasdi_arena *ar, const char *fn);
/* Give back the scratch tasdi_arena_open took (same ctx). */
void tasdi_arena_close(tasdi_arena *ar, const tasd_context *ctx);

/* Overflow-checked size arithmetic: false on overflow. */
bool tasdi_mul_size(size_t a, size_t b, size_t *out);
bool tasdi_mul_i64(int64_t a, int64_t b, int64_t *out);

/* ---- context and threading ---- */

typedef struct tasdi_block tasdi_block; /* a kept scratch block (context.c) */

struct tasd_context {
    tasd_allocator allocator;
    int threads;               /* 0 = default */
    tasd_backend backend;      /* AUTO = follow the process-wide choice */
    tasd_parallel_for_fn parallel_for;
    void *pool;
    _Atomic(tasdi_block *) *kept; /* the scratch block kept between plain
                                   * calls (NULL: none kept); a serial copy
                                   * shares its context's */
};

/* Scratch for one call without a workspace: `bytes` from the context's kept
 * block where it is large enough, else a new block (NULL: out of memory,
 * with the message set). tasdi_scratch_give ends its use: the context keeps
 * the larger of it and what it holds, the other is freed. Thread-safe: of
 * calls at once on one context, one gets the kept block, the others their
 * own. ctx may be NULL (nothing kept). */
void *tasdi_scratch_take(const tasd_context *ctx, size_t bytes);
void tasdi_scratch_give(const tasd_context *ctx, void *mem);

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

/* Whether a stride (elements) is within +-2^40, the limit every view's
 * strides keep so that offset computations stay far from overflow (a range
 * test: INT64_MIN has no absolute value). */
static inline bool tasdi_stride_ok(int64_t stride)
{
    return stride <= ((int64_t)1 << 40) && stride >= -((int64_t)1 << 40);
}

/* Whether rows x cols elements are within 2^48, the most any view may
 * hold: a workspace query for shapes past it describes no possible call
 * (and would overflow the scratch planning). */
static inline bool tasdi_elements_ok(int64_t rows, int64_t cols)
{
    int64_t total;
    return tasdi_mul_i64(rows, cols, &total) && total <= ((int64_t)1 << 48);
}

/* Validate `v` (non-NULL, known dtype, rank 2..4, trailing axes collapsible,
 * sizes that do not overflow) and collapse it. `what` names the argument in
 * error messages. */
tasd_status tasdi_matrix_from_view(const tasd_view *v, const char *what,
                                   tasdi_matrix *out);
/* Copy row r of m into dst[0..cols) as f32. */
void tasdi_matrix_load_row(const tasdi_matrix *m, int64_t r, float *dst);
/* n bf16 / f16 values (dtype), src_stride apart, widened exactly into dst,
 * dst_stride apart: one dispatch per run, not per element. */
void tasdi_widen_run(tasd_dtype dtype, const uint16_t *src, int64_t src_stride, int64_t n,
                     float *dst, int64_t dst_stride);
/* The byte range [lo, hi) a matrix touches (for overlap checks). */
void tasdi_matrix_span(const tasdi_matrix *m, uintptr_t *lo, uintptr_t *hi);
/* True if the byte ranges of a and b intersect. */
bool tasdi_matrix_overlap(const tasdi_matrix *a, const tasdi_matrix *b);
/* True if the matrix as an output has no two elements at one address (an
 * empty one never has). */
bool tasdi_matrix_writable_layout(const tasdi_matrix *m);

float tasdi_f16_to_f32(uint16_t h);
float tasdi_bf16_to_f32(uint16_t h);
uint16_t tasdi_f32_to_f16(float f);  /* round to nearest even */

/* round to nearest even; inline: the per-element conversion of bf16 outputs */
static inline uint16_t tasdi_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it quiet and a NaN */
        return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* The rows x cols block of m from element (r0, j0): a view, no copy. */
static inline tasdi_matrix tasdi_matrix_block(const tasdi_matrix *m, int64_t r0, int64_t rows,
                                              int64_t j0, int64_t cols)
{
    tasdi_matrix v = *m;
    v.data += (r0 * m->rs + j0 * m->cs) * (int64_t)tasd_dtype_size(m->dtype);
    v.rows = rows;
    v.cols = cols;
    return v;
}

/* The transpose of m: the same memory with rows and columns (and their
   strides) swapped. */
static inline tasdi_matrix tasdi_matrix_transposed(const tasdi_matrix *m)
{
    tasdi_matrix t = {.data = m->data, .dtype = m->dtype, .rows = m->cols, .cols = m->rows,
                      .rs = m->cs, .cs = m->rs};
    return t;
}

/* Element (r, j) of an f32 / f16 / bf16 matrix as float (exact). */
static inline float tasdi_matrix_get(const tasdi_matrix *m, int64_t r, int64_t j)
{
    int64_t at = r * m->rs + j * m->cs;
    if (m->dtype == TASD_F32)
        return ((const float *)(const void *)m->data)[at];
    uint16_t h = ((const uint16_t *)(const void *)m->data)[at];
    return m->dtype == TASD_BF16 ? tasdi_bf16_to_f32(h) : tasdi_f16_to_f32(h);
}

/* Store v into element (r, j) of an f32 / f16 / bf16 matrix, rounded once
 * (nearest even) to its dtype. */
static inline void tasdi_matrix_put(const tasdi_matrix *m, int64_t r, int64_t j, float v)
{
    int64_t at = r * m->rs + j * m->cs;
    if (m->dtype == TASD_F32) {
        ((float *)(uintptr_t)m->data)[at] = v;
        return;
    }
    ((uint16_t *)(uintptr_t)m->data)[at] =
        m->dtype == TASD_BF16 ? tasdi_f32_to_bf16(v) : tasdi_f32_to_f16(v);
}

/* A bias added to every element of a product's output before its one
 * rounding to the output's dtype (a layer's b): element (r, j) gets
 * p[(per_row ? r : j) * stride]. Passed as NULL where there is none. */
typedef struct tasdi_bias {
    const float *p;
    int64_t stride;
    bool per_row;
} tasdi_bias;

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
/* A series shell like tasdi_series_alloc's, carved from ar with its config
 * copy and layout (*out NULL while counting): lives as long as the arena's
 * memory, never passed to tasd_series_destroy. */
void tasdi_series_carve(tasdi_arena *ar, const tasd_allocator *a, int64_t rows, int64_t cols,
                        const tasd_config *config, tasd_method method, tasd_series **out);
/* The layout (lib/core/pack.c): allocate it for s->rows x s->cols and
 * s->term[] (or carve it from ar: s->packed NULL while counting), free it. */
tasd_status tasdi_layout_alloc(tasd_series *s);
void tasdi_layout_carve(tasd_series *s, tasdi_arena *ar);
void tasdi_series_free_layout(tasd_series *s);
/* Write / read row r of term i in the canonical form: term->width values
 * and in-group indices (get_row: either output may be NULL). put_row rounds
 * values to the series' value type; get_row gives them back widened. */
void tasdi_series_put_row(tasd_series *s, int i, int64_t r, const float *values,
                          const uint8_t *index);
void tasdi_series_get_row(const tasd_series *s, int i, int64_t r, float *values,
                          uint8_t *index);
/* The first slot of a canonical row of term t (cols columns) whose index is
 * outside its group or the row, or that shares its index with an earlier
 * slot of the group while both hold a nonzero value (the sum of two slots
 * at one position is no N:M term); -1 if none. *why says which. */
int64_t tasdi_row_bad_slot(const tasdi_term *t, int64_t cols, const float *values,
                           const uint8_t *index, const char **why);

/* tasd_decompose() after its argument checks, on a validated matrix. */
tasd_status tasdi_decompose_matrix(const tasd_context *ctx, const tasdi_matrix *w,
                                   const tasd_config *config, tasd_method method,
                                   tasd_series **out);
/* The same with the series' value type (f32, bf16, f16). */
tasd_status tasdi_decompose_typed(const tasd_context *ctx, const tasdi_matrix *w,
                                  const tasd_config *config, tasd_method method,
                                  tasd_dtype values, tasd_series **out);
/* tasd_gemm() after its argument checks (shapes, dtypes, aliasing) passed:
 * B f32 / bf16 / f16 (widened as it is packed), C f32 or bf16, fp32
 * accumulation. */
tasd_status tasdi_gemm_run(const tasd_context *ctx, float alpha,
                           const tasd_series *s, const tasdi_matrix *b,
                           float beta, const tasdi_matrix *c);

/* tasdi_gemm_run with its scratch from the workspace ws (NULL: allocated)
 * and a bias (NULL: none) added to alpha * S * B before C's rounding; fn
 * names the public call in messages. */
tasd_status tasdi_gemm_run_ws(const tasd_context *ctx, float alpha, const tasd_series *s,
                              const tasdi_matrix *b, float beta, const tasdi_matrix *c,
                              const tasdi_bias *bias, const tasdi_ws *ws, const char *fn);
/* The workspace bytes of a product of a rows x K series and n columns of B
 * on ctx (its backend and thread count); prepacked: B comes as panels
 * (tasdi_gemm_run_packed), so only the tiles or packed x count. s: the
 * series, or NULL for any series of that shape (the larger need of the
 * narrow and the wide kernel where n could run either). */
tasd_status tasdi_gemm_need(const tasd_context *ctx, const tasd_series *s, int64_t rows,
                            int64_t K, int64_t n, bool prepacked, size_t *bytes);

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
/* Y = X * W^T (+ bias if not NULL); X f32 / bf16 / f16 [tokens, in], Y f32
 * or bf16 [tokens, out] (any strides, already validated, Y not overlapping
 * X), fp32 accumulation, Y rounded once. Scratch from ws (NULL: allocated);
 * fn names the public call in messages. */
tasd_status tasdi_dense_run(const tasd_context *ctx, const tasdi_dense *d,
                            const tasdi_matrix *x, const float *bias,
                            int64_t bias_stride, const tasdi_matrix *y);
tasd_status tasdi_dense_run_ws(const tasd_context *ctx, const tasdi_dense *d,
                               const tasdi_matrix *x, const float *bias,
                               int64_t bias_stride, const tasdi_matrix *y,
                               const tasdi_ws *ws, const char *fn);
/* The workspace bytes of tasdi_dense_run for `tokens` rows of X on ctx. */
tasd_status tasdi_dense_need(const tasd_context *ctx, const tasdi_dense *d, int64_t tokens,
                             size_t *bytes);

/* tasd_gemm_act after its checks; A (f32 / bf16 / f16) must be finite. B
 * (K x n) comes prepacked in bp (the layer's W^T), or bp is NULL and the
 * matrix b (f32 / bf16 / f16) is packed once per call. C f32 or bf16; bias
 * (NULL: none) per column of C. Scratch from ws (NULL: allocated); fn names
 * the public call in messages. */
tasd_status tasdi_gemm_act_run(const tasd_context *ctx, float alpha, const tasdi_matrix *a,
                               const tasd_config *config, tasd_method method,
                               const tasdi_bpack *bp, const tasdi_matrix *b, float beta,
                               const tasdi_matrix *c, const tasdi_bias *bias,
                               const tasdi_ws *ws, const char *fn);
/* The workspace bytes of tasdi_gemm_act_run for A [m, k] and n columns of
 * B on ctx (prepacked: B given as bp). */
tasd_status tasdi_gemm_act_need(const tasd_context *ctx, const tasd_config *config,
                                int64_t m, int64_t k, int64_t n, bool prepacked, size_t *bytes);

/* First non-finite element's row of a matrix (f32/f16/bf16), or -1. */
int64_t tasdi_matrix_nonfinite_row(const tasdi_matrix *m);

/* A copy of ctx (or of the defaults) that runs on the calling thread only:
 * same allocator, backend and kept scratch, one thread, no pool. */
tasd_context tasdi_serial_context(const tasd_context *ctx);

#endif /* TASD_CORE_H */
