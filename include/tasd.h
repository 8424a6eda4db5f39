/*
 * libtasd — tensor approximation via structured decomposition.
 *
 * A dense or unstructured-sparse matrix W is approximated by a short series of
 * N:M structured-sparse terms, W ~ W1 + W2 + ... + Wt, where term i keeps at
 * most Ni nonzeros in every group of Mi consecutive elements along the last
 * (reduction) axis. By distributivity W*B = W1*B + W2*B + ..., so every term
 * runs on a structured-sparse kernel.
 *
 * The whole public API is this one header. It is C99 and needs only
 * <stddef.h> and <stdint.h>.
 *
 * Conventions
 *  - Every fallible function returns a tasd_status: TASD_OK (0) or a negative
 *    error code. Results are written through out-parameters, which are left
 *    untouched on error. tasd_last_error_message() adds detail (thread-local).
 *  - Objects are opaque handles, created by the _create, _parse, _decompose... functions and released
 *    with the matching _destroy, which accepts NULL.
 *  - A tasd_context argument may be NULL: defaults are used (all threads,
 *    best backend, malloc/free).
 *  - Shapes, strides and element counts are int64_t; strides count elements,
 *    not bytes.
 *  - Sized structs: a public struct passed by pointer starts with a `size`
 *    member the caller sets to sizeof(the struct) before the call, for
 *    outputs and inputs alike: `tasd_stats st = {.size = sizeof st};`. The
 *    library checks it (TASD_ERR_INVALID_ARGUMENT for a size it does not
 *    know), so later 1.x versions can append members: they keep accepting
 *    every size an earlier 1.x header had, and read or write only that much.
 *    tasd_view is the one exception: a small value type whose layout is
 *    fixed for the whole of ABI 1.
 *  - ABI: the library is versioned by this header's TASD_VERSION_* macros;
 *    the shared object's SONAME is libtasd.so.MAJOR and its symbols carry
 *    the version node they were added in (TASD_1.0, TASD_1.1, ...). Enum
 *    values and status codes are never renumbered; within one major version
 *    names are only added (docs/api.md, "ABI policy").
 *  - Thread safety: functions on distinct objects may run concurrently.
 *    Series, configs, layers, layer configs, targets and contexts are
 *    read-only after creation except through their _set_ functions (and
 *    tasd_target_measure), so one object may be used by many threads at
 *    once (tasd_gemm, tasd_gemm_act, tasd_layer_forward, tasd_series_stats,
 *    ...); a _set_ function or _destroy must not run while other threads
 *    use that object. Writers and
 *    searches in progress belong to one thread at a time. Errors raised on
 *    worker threads reach the calling thread with their own status and
 *    message. Checked by test/test_threads.c under `make test-tsan`.
 */
#ifndef TASD_H
#define TASD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* TASD_API marks the exported functions. Windows DLLs: the library is built
 * with TASD_BUILDING (dllexport), users of the DLL import; users of the
 * static library define TASD_STATIC. Elsewhere GCC and Clang export it from
 * a library built with -fvisibility=hidden. */
#if defined(TASD_STATIC)
#define TASD_API
#elif defined(_WIN32)
#if defined(TASD_BUILDING)
#define TASD_API __declspec(dllexport)
#else
#define TASD_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define TASD_API __attribute__((visibility("default")))
#else
#define TASD_API
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                  */
/* ------------------------------------------------------------------------ */

/* The one place the version is written: the Makefile, tasd.pc and the CMake
 * package files read these three lines. */
#define TASD_VERSION_MAJOR 1
#define TASD_VERSION_MINOR 3
#define TASD_VERSION_PATCH 0

#define TASD_VERSION_STR_(x) #x
#define TASD_VERSION_XSTR_(x) TASD_VERSION_STR_(x)
/* "MAJOR.MINOR.PATCH" */
#define TASD_VERSION_STRING                                           \
    TASD_VERSION_XSTR_(TASD_VERSION_MAJOR) "." TASD_VERSION_XSTR_(     \
        TASD_VERSION_MINOR) "." TASD_VERSION_XSTR_(TASD_VERSION_PATCH)

/* The version of the library actually loaded, e.g. "1.0.0". */
TASD_API const char *tasd_version(void);
/* The same as MAJOR*10000 + MINOR*100 + PATCH. */
TASD_API int tasd_version_number(void);

/* ------------------------------------------------------------------------ */
/* Status codes and errors                                                  */
/* ------------------------------------------------------------------------ */

/* The values are part of the ABI: never renumbered, never reused; new
 * codes get new negative numbers. */
typedef enum tasd_status {
    TASD_OK = 0,
    TASD_ERR_NULL_POINTER = -1,     /* a required pointer argument is NULL     */
    TASD_ERR_INVALID_ARGUMENT = -2, /* a value is out of its allowed range     */
    TASD_ERR_SHAPE = -3,            /* wrong rank or mismatched shapes         */
    TASD_ERR_DTYPE = -4,            /* element type not supported here         */
    TASD_ERR_CONFIG = -5,           /* malformed or invalid N:M config         */
    TASD_ERR_OUT_OF_MEMORY = -6,    /* an allocation failed                    */
    TASD_ERR_OVERFLOW = -7,         /* a size computation would overflow       */
    TASD_ERR_NONFINITE = -8,        /* input holds NaN or Inf                  */
    TASD_ERR_ALIAS = -9,            /* an output overlaps an input             */
    TASD_ERR_UNSUPPORTED = -10,     /* e.g. a backend this CPU cannot run      */
    TASD_ERR_IO = -11,              /* a file could not be read or written     */
    TASD_ERR_FORMAT = -12,          /* malformed, truncated or corrupt data    */
    TASD_ERR_BUFFER_TOO_SMALL = -13,/* caller's buffer is too small            */
    TASD_ERR_NOT_FOUND = -14,       /* a named item does not exist             */
    TASD_ERR_INTERNAL = -15         /* a bug in libtasd: please report it      */
} tasd_status;

/* A short, static English description of a status code. Never NULL. */
TASD_API const char *tasd_status_string(tasd_status status);

/* Detail on the last error raised by a libtasd call on the calling thread
 * (which argument, which shape, which file). Empty string if none. The text
 * stays valid until the next failing libtasd call on the same thread. */
TASD_API const char *tasd_last_error_message(void);

/* ------------------------------------------------------------------------ */
/* Element types and tensor views                                           */
/* ------------------------------------------------------------------------ */

/* Every public enum below keeps its values for the whole of ABI 1: new
 * members get new numbers. */
typedef enum tasd_dtype {
    TASD_F32 = 0,  /* IEEE binary32                 */
    TASD_F16 = 1,  /* IEEE binary16                 */
    TASD_BF16 = 2  /* bfloat16 (top half of a f32)  */
} tasd_dtype;

/* Size in bytes of one element, 0 for an unknown type. */
TASD_API size_t tasd_dtype_size(tasd_dtype dtype);
/* "f32", "f16", "bf16", or "?" */
TASD_API const char *tasd_dtype_name(tasd_dtype dtype);

/* Fixed by ABI 1: tasd_view's layout depends on it. */
#define TASD_MAX_DIMS 4

/* A non-owning view of a strided tensor. Strides are in elements and may be
 * any value for inputs (a transposed matrix is a view with swapped strides).
 * The library never writes through a view that is documented as input.
 * Views are passed by value and built on the caller's stack, so the layout
 * carries no size: it is fixed for the whole of ABI 1 (a richer view would
 * be a new type). */
typedef struct tasd_view {
    void *data;
    int32_t dtype;                  /* a tasd_dtype */
    int32_t ndim;                   /* 1..TASD_MAX_DIMS */
    int64_t shape[TASD_MAX_DIMS];
    int64_t strides[TASD_MAX_DIMS]; /* in elements */
} tasd_view;

/* A rows x cols view whose rows are row_stride elements apart (row-major
 * when row_stride == cols). */
TASD_API tasd_view tasd_view_2d(const void *data, tasd_dtype dtype,
                                int64_t rows, int64_t cols, int64_t row_stride);
/* A general 2-D view with explicit strides (elements). */
TASD_API tasd_view tasd_view_2d_strided(const void *data, tasd_dtype dtype,
                                        int64_t rows, int64_t cols,
                                        int64_t row_stride, int64_t col_stride);
/* The same memory seen transposed (swaps the two axes of a 2-D view). */
TASD_API tasd_view tasd_view_transpose(tasd_view view);

/* ------------------------------------------------------------------------ */
/* Context: threads, backend, allocator, thread-pool injection              */
/* ------------------------------------------------------------------------ */

typedef struct tasd_context tasd_context;

/* Allocator hooks. alloc must return memory aligned to at least `alignment`
 * (a power of two <= 4096) or NULL; free receives the same size. Every
 * allocation the library makes for a context, and for the objects created
 * with it, goes through these hooks. The hooks must be thread-safe: they are
 * called from the library's (or the injected pool's) worker threads and from
 * every thread that uses the context or its objects, possibly at once. A NULL
 * from alloc makes the call fail with TASD_ERR_OUT_OF_MEMORY, leaking
 * nothing and leaving its outputs untouched. */
typedef struct tasd_allocator {
    size_t size; /* sizeof(tasd_allocator) */
    void *(*alloc)(void *user, size_t size, size_t alignment);
    void (*free)(void *user, void *ptr, size_t size);
    void *user;
} tasd_allocator;

/* One unit of parallel work: run task index `task` of a parallel loop. */
typedef void (*tasd_task_fn)(void *arg, int64_t task);
/* A parallel-for provided by the engine: call task(arg, i) exactly once for
 * every i in [0, ntasks), possibly concurrently, and return when all are
 * done. libtasd picks ntasks <= the context's thread count. */
typedef void (*tasd_parallel_for_fn)(void *pool, int64_t ntasks,
                                     tasd_task_fn task, void *arg);

typedef enum tasd_backend {
    TASD_BACKEND_AUTO = 0, /* best available; TASD_BACKEND env var overrides */
    TASD_BACKEND_SCALAR = 1,
    TASD_BACKEND_AVX2 = 2,
    TASD_BACKEND_AVX512 = 3,
    TASD_BACKEND_NEON = 4
} tasd_backend;

/* allocator may be NULL (malloc/free). The hooks are copied. */
TASD_API tasd_status tasd_context_create(const tasd_allocator *allocator,
                                         tasd_context **out);
TASD_API void tasd_context_destroy(tasd_context *ctx);
/* Number of threads libtasd may use; 0 = the default (OpenMP's maximum, or 1
 * without OpenMP). Results do not depend on the thread count. */
TASD_API tasd_status tasd_context_set_threads(tasd_context *ctx, int threads);
TASD_API int tasd_context_threads(const tasd_context *ctx);
/* Force a backend (TASD_ERR_UNSUPPORTED if this CPU or build lacks it). */
TASD_API tasd_status tasd_context_set_backend(tasd_context *ctx,
                                              tasd_backend backend);
/* The backend calls on this context (NULL: the process default) run.
 * TASD_BACKEND_AUTO only when the TASD_BACKEND environment variable forces a
 * backend that is not available, in which case calls fail with
 * TASD_ERR_UNSUPPORTED. */
TASD_API tasd_backend tasd_context_backend(const tasd_context *ctx);
/* Run libtasd's parallel work on the engine's pool; fn == NULL restores the
 * built-in threading (OpenMP, or serial without it). */
TASD_API tasd_status tasd_context_set_parallel_for(tasd_context *ctx,
                                                   tasd_parallel_for_fn fn,
                                                   void *pool);

/* The scratch block the context keeps between plain calls (Workspaces,
 * below): its size in bytes (0: none kept), and a call that frees it, e.g.
 * after a long prefill, before a phase that needs less; the next plain call
 * allocates again. Both are safe while other threads run calls on ctx (a
 * block in use by a call is not counted, and is kept again after it; a call
 * that starts during the query may allocate a block of its own). Added in
 * 1.1. */
TASD_API size_t tasd_context_scratch_bytes(const tasd_context *ctx);
TASD_API tasd_status tasd_context_release_scratch(tasd_context *ctx);

/* "auto", "scalar", "avx2", "avx512", "neon" */
TASD_API const char *tasd_backend_name(tasd_backend backend);
/* Nonzero if this build and this CPU can run the backend. */
TASD_API int tasd_backend_available(tasd_backend backend);
/* Parse a backend name as above (TASD_ERR_INVALID_ARGUMENT if unknown). */
TASD_API tasd_status tasd_backend_parse(const char *name, tasd_backend *out);

/* ------------------------------------------------------------------------ */
/* Configs: "2:4", "2:4+1:8", "1:8+1:8+1:16"                                */
/* ------------------------------------------------------------------------ */

typedef struct tasd_config tasd_config;

/* Limits of this version; later versions may raise them (the public structs
 * do not depend on them). */
#define TASD_MAX_TERMS 8
#define TASD_MAX_M 32
/* Slots of the per-term arrays in public structs (tasd_stats,
 * tasd_archive_entry): fixed by ABI 1, so TASD_MAX_TERMS can grow up to it
 * without changing a struct layout. Slots past the series' terms are 0. */
#define TASD_TERM_CAPACITY 32

/* Parse a config string: terms "N:M" joined by '+', optional spaces around
 * tokens. M is a power of two in 2..32, 1 <= N <= M, 1..8 terms. N is the
 * number of values KEPT per group of M. ctx may be NULL. */
TASD_API tasd_status tasd_config_parse(tasd_context *ctx, const char *text,
                                       tasd_config **out);
/* Build a config from arrays of N and M (same rules as parsing). */
TASD_API tasd_status tasd_config_create(tasd_context *ctx, int terms,
                                        const int *n, const int *m,
                                        tasd_config **out);
TASD_API void tasd_config_destroy(tasd_config *config);
TASD_API int tasd_config_terms(const tasd_config *config);
/* Term i's N and M (either pointer may be NULL). */
TASD_API tasd_status tasd_config_term(const tasd_config *config, int i,
                                      int *n, int *m);
/* Upper bound on the fraction of elements kept: min(1, sum N_i/M_i). */
TASD_API double tasd_config_density(const tasd_config *config);
/* Canonical text ("2:4+1:8") into buf. *needed (may be NULL) receives the
 * length without the terminating NUL; a too-small buf gives
 * TASD_ERR_BUFFER_TOO_SMALL and is left untouched. */
TASD_API tasd_status tasd_config_format(const tasd_config *config, char *buf,
                                        size_t size, size_t *needed);

/* ------------------------------------------------------------------------ */
/* Decomposition                                                            */
/* ------------------------------------------------------------------------ */

typedef enum tasd_method {
    /* The paper's: term 1 keeps the top-N1 by magnitude of every M1 group,
     * term 2 the same on the residual, and so on, in the user's order. */
    TASD_GREEDY = 0,
    /* The most retained energy any valid series for the config can keep
     * (greedy over the terms ordered fine to coarse; terms reported in the
     * user's order). Equal to TASD_GREEDY whenever the config is already
     * ordered fine to coarse, e.g. "2:4+1:8". */
    TASD_OPTIMAL = 1
} tasd_method;

/* "greedy", "optimal"; tasd_method_parse accepts the same names. */
TASD_API const char *tasd_method_name(tasd_method method);
TASD_API tasd_status tasd_method_parse(const char *name, tasd_method *out);

typedef struct tasd_series tasd_series;

/* Decompose a matrix into a series for `config`.
 * weights: f32, f16 or bf16, any strides. A 2-D view is [rows, K]; a view of
 * rank 3 or 4 (e.g. conv weights [out, in, kh, kw]) is seen as
 * [shape[0], product of the rest], which needs the trailing axes to be
 * collapsible into one (e.g. contiguous; the strides of size-1 axes do not
 * matter). Groups of M run along that K axis;
 * the last group of a row is shorter when K is not a multiple of M. Ties in
 * magnitude go to the lower index. NaN or Inf gives TASD_ERR_NONFINITE.
 * The series is packed for the kernels once, here. */
TASD_API tasd_status tasd_decompose(tasd_context *ctx, const tasd_view *weights,
                                    const tasd_config *config,
                                    tasd_method method, tasd_series **out);

/* Options of tasd_decompose_ex; NULL means all defaults. */
typedef struct tasd_decompose_options {
    size_t size;       /* sizeof(tasd_decompose_options), set by the caller */
    int32_t values;    /* a tasd_dtype: the series' value type. TASD_F32
                        * (the default: 0), TASD_BF16 or TASD_F16: selection
                        * runs on the exact weights; the kept values are then
                        * rounded once (nearest even) and stored in that type
                        * (half the value bytes), the stats describe the
                        * rounded series. A kept value outside the f16 range
                        * gives TASD_ERR_OVERFLOW. */
} tasd_decompose_options;

/* tasd_decompose with options (NULL: the same as tasd_decompose). */
TASD_API tasd_status tasd_decompose_ex(tasd_context *ctx, const tasd_view *weights,
                                       const tasd_config *config, tasd_method method,
                                       const tasd_decompose_options *options,
                                       tasd_series **out);
TASD_API void tasd_series_destroy(tasd_series *series);

TASD_API tasd_status tasd_series_shape(const tasd_series *series,
                                       int64_t *rows, int64_t *cols);
/* Bytes the series holds in memory: every allocation it owns (0 for NULL).
 * A series keeps one layout, the kernels' (values once, in the series' value
 * type, plus their in-group indices packed log2(M) bits each): about 2.13
 * bytes per weight for 2:4, 2.69 for 2:4+1:8, 0.56 for 1:8 with f32 values;
 * 1.13, 1.44, 0.31 with bf16 or f16 values (dense fp32: 4, bf16: 2). The canonical
 * per-term view (tasd_series_export_term) is derived from it on demand. */
TASD_API size_t tasd_series_bytes(const tasd_series *series);
/* The series' config (owned by the series, valid for its lifetime). */
TASD_API const tasd_config *tasd_series_config(const tasd_series *series);
TASD_API tasd_method tasd_series_method(const tasd_series *series);
/* The type the series stores its values in: TASD_F32, TASD_BF16 or TASD_F16
 * (TASD_F32 for NULL). Export and reconstruct give those values as f32. */
TASD_API tasd_dtype tasd_series_value_type(const tasd_series *series);

typedef struct tasd_stats {
    size_t size;              /* sizeof(tasd_stats), set by the caller      */
    double retained_energy;   /* 1 - rel_error^2 (1 when W == 0): equal to  */
                              /* ||Wa||^2 / ||W||^2 where the kept values   */
                              /* are W's own (f32 values), not where bf16/  */
                              /* f16 rounding changed them                  */
    double rel_error;         /* ||W - Wa||_F / ||W||_F (0 when W == 0)     */
    double density;           /* kept_nonzeros / (rows * cols)              */
    double coverage;          /* kept_nonzeros / input_nonzeros (1 if none) */
    int64_t kept_nonzeros;    /* nonzero values stored over all terms       */
    int64_t input_nonzeros;   /* nonzeros of W                              */
    int64_t slots;            /* value slots over all terms (incl. zeros)   */
    int64_t term_nonzeros[TASD_TERM_CAPACITY];
} tasd_stats;

TASD_API tasd_status tasd_series_stats(const tasd_series *series,
                                       tasd_stats *out);

/* Write the dense approximation Wa = W1 + ... + Wt into `out`, an f32 view
 * of the series' [rows, cols] shape with any non-overlapping strides. */
TASD_API tasd_status tasd_series_reconstruct(const tasd_series *series,
                                             const tasd_view *out);

/* Canonical layout of term i: groups = ceil(cols / M), and for each row
 * groups*N values followed in the same order by their index inside the group
 * (0..M-1, ascending within a group). A slot with nothing to keep (a short
 * last group) holds value 0 and index 0. values needs rows*groups*N floats,
 * indices rows*groups*N bytes. */
TASD_API tasd_status tasd_series_term_layout(const tasd_series *series, int i,
                                             int *n, int *m,
                                             int64_t *groups_per_row);
TASD_API tasd_status tasd_series_export_term(const tasd_series *series, int i,
                                             float *values, uint8_t *indices,
                                             int64_t capacity);
/* Build a series from terms in the canonical layout (e.g. a runtime that
 * stores them itself). values[i] / indices[i] point at term i's arrays (not
 * kept: the series stores its own layout). The indices are validated (inside
 * the group and the row; no two nonzero values of a group at one index).
 * Stats that need W report relative to Wa itself. */
TASD_API tasd_status tasd_series_import(tasd_context *ctx, int64_t rows,
                                        int64_t cols, const tasd_config *config,
                                        tasd_method method,
                                        const float *const *values,
                                        const uint8_t *const *indices,
                                        tasd_series **out);

/* ------------------------------------------------------------------------ */
/* GEMM                                                                     */
/* ------------------------------------------------------------------------ */

/* C = alpha * S * B + beta * C, with S the series [m, k] (any value type),
 * B a view [k, n] of f32, bf16 or f16 and C a view [m, n] of f32 or bf16
 * (an f16 C gives TASD_ERR_DTYPE). Accumulation is fp32 always: half B is
 * widened exactly as it is packed; a bf16 C is rounded once (nearest even)
 * from alpha * S * B + beta * C computed in f32. Any strides on B and C (a
 * transposed C is a view with swapped strides); C must not overlap B or
 * itself. beta == 0 means C is not read (NaN in C does not propagate). The
 * weights are never repacked here.
 * S * B is the sum of the products of the KEPT values only, on every
 * backend: a position a term does not keep (dropped, a zero weight, the
 * padding of a short last group) never reads B, so NaN or Inf in a row of
 * B reaches C only through kept weights (an Inf times a kept value gives
 * Inf or NaN, as IEEE says). alpha == 0 reads neither S nor B. */
TASD_API tasd_status tasd_gemm(tasd_context *ctx, float alpha,
                               const tasd_series *series, const tasd_view *b,
                               float beta, const tasd_view *c);

/* ---- Workspaces: running without allocating ----
 *
 * tasd_gemm, tasd_gemm_act and tasd_layer_forward need scratch memory for
 * one call (B packed into panels, per-thread output tiles, packed
 * activations, per-thread series tiles for TASD-A). A plain call takes it
 * as one block from its context, which keeps the block for its next plain
 * calls (the largest needed so far; a block over 64 MiB is freed after its
 * call) and frees it in tasd_context_release_scratch or
 * tasd_context_destroy: a loop of calls allocates once and does not fault
 * fresh pages in every call. Of several calls at once on one context, one
 * uses the kept block and the others allocate their own; with ctx NULL each
 * call allocates and frees its block. Each has a _ws variant that takes the
 * scratch from a caller's workspace instead and then calls the allocator
 * not at all, so it can run in a no-allocation section, and one workspace
 * can serve many operators in turn. Results are bit-identical with and without one.
 *
 *  - The size query (*_workspace_size) returns the bytes the call needs for
 *    the given shapes on ctx: it depends on ctx's backend and thread count
 *    (a context with threads = 0 follows OpenMP's current maximum, which
 *    may change: set the count for a stable size), not on the values,
 *    strides, alpha or beta. Query with the context the call will use.
 *  - A workspace of at least that many bytes is enough; any alignment
 *    (the size includes room to align to 64 bytes inside). A smaller one
 *    gives TASD_ERR_BUFFER_TOO_SMALL, naming the size in
 *    tasd_last_error_message(), with the output untouched. workspace may be
 *    NULL only with workspace_bytes 0 (enough when the size is 0).
 *  - The workspace is used only during the call: its contents on entry do
 *    not matter and are garbage on return. One workspace must not be used
 *    by two calls at once (one per thread).
 */
TASD_API tasd_status tasd_gemm_workspace_size(const tasd_context *ctx,
                                              const tasd_series *series,
                                              int64_t n, size_t *bytes);
TASD_API tasd_status tasd_gemm_ws(tasd_context *ctx, float alpha,
                                  const tasd_series *series, const tasd_view *b,
                                  float beta, const tasd_view *c,
                                  void *workspace, size_t workspace_bytes);

/* ---- section: kernels and dispatch (reserved) ---- */

/* ---- section: TASDER, layers and targets (reserved) ---- */

/* ---- Targets: what a structured-sparse machine runs, at what cost ----
 *
 * A target lists the N:M patterns its kernels run and the relative cost of
 * one term of each pattern: the time of S*B for one term divided by the time
 * of the dense product of the same shape (so dense = 1.0). A series costs the
 * sum of its terms, less `shared` for each term after the first (the pass
 * over B and C that its terms share when a kernel runs them in one, as
 * libtasd's do; 0 unless the target says). An activation-side (TASD-A)
 * series also pays for
 * decomposing the activations at run time: `act` dense multiply-adds per
 * activation element per term, i.e. terms * act / out_features relative to
 * the dense layer. The search never proposes a term a target cannot run.
 *
 * Target specs accepted by tasd_target_create():
 *   "cpu"                 libtasd's own kernels, costs from a built-in table
 *                         (the default: deterministic and free)
 *   "cpu-measured"        the same patterns, costs measured now on this
 *                         machine (see tasd_target_measure, ~0.1-1 s) at
 *                         128 tokens
 *   "cpu-measured@T"      the same, measured at T tokens (1..4096): the
 *                         activation rows the model's layers run at (batch
 *                         x sequence); the ratios depend on it (at 16
 *                         tokens a 2:4 term can cost more than dense)
 *   "sparse-tensor-core"  2:4 terms only, cost 0.5 each, act 0
 *   "vegeta"              1:4 (0.25) and 2:4 (0.5) terms, act 0
 *   custom                "1:4,2:4,1:8" or "1:4=0.3,2:4=0.55,act=4": comma-
 *                         separated N:M items, each with an optional "=cost"
 *                         (a number > 0; default N/M), an optional
 *                         "act=C" item (C >= 0; default 0) and an optional
 *                         "shared=S" item (0 <= S < every pattern's cost;
 *                         default 0). At most TASD_TARGET_MAX_PATTERNS
 *                         distinct patterns. */
typedef struct tasd_target tasd_target;

#define TASD_TARGET_MAX_PATTERNS 16

TASD_API tasd_status tasd_target_create(tasd_context *ctx, const char *spec,
                                        tasd_target **out);
TASD_API void tasd_target_destroy(tasd_target *target);
/* Replace the target's pattern costs and `act` by timings of libtasd's own
 * kernels on this machine (medians of interleaved repetitions, relative to
 * libtasd's dense layer path of the same shape: a 768x768 layer at 128
 * tokens, or at T for a target made as "cpu-measured@T"), spending roughly
 * max_seconds (<= 0: 0.3 s); `shared` becomes what a series of the
 * densest and the sparsest pattern saves over its two terms timed alone.
 * The result is cached in the target. Costs
 * measured >= 1 are kept as measured: the search then keeps such layers
 * dense. Timings are noisy on a busy machine; the search only needs ratios. */
TASD_API tasd_status tasd_target_measure(tasd_context *ctx, tasd_target *target,
                                         double max_seconds);
/* "cpu", "cpu-measured", "sparse-tensor-core", "vegeta" or "custom". */
TASD_API const char *tasd_target_name(const tasd_target *target);
/* Nonzero once the costs come from tasd_target_measure(). */
TASD_API int tasd_target_is_measured(const tasd_target *target);
TASD_API int tasd_target_patterns(const tasd_target *target);
/* Pattern i (0-based): N, M and cost (any output pointer may be NULL). */
TASD_API tasd_status tasd_target_pattern(const tasd_target *target, int i,
                                         int *n, int *m, double *cost);
/* Dense multiply-adds per activation element per activation-side term. */
TASD_API double tasd_target_act_cost(const tasd_target *target);
/* Nonzero if every term of config is a pattern of the target. */
TASD_API int tasd_target_supports(const tasd_target *target,
                                  const tasd_config *config);
/* Predicted cost of a layer relative to dense (1.0): weights == NULL and
 * activations == NULL is dense; at most one of them may be given.
 * out_features matters only for the activation side. TASD_ERR_UNSUPPORTED
 * if the target cannot run a term. */
TASD_API tasd_status tasd_target_cost(const tasd_target *target,
                                      const tasd_config *weights,
                                      const tasd_config *activations,
                                      int64_t out_features, double *cost);
/* The target as a custom spec with its current costs, e.g.
 * "1:4=0.25,2:4=0.5,act=0", which tasd_target_create() reads back
 * (buffer rules as tasd_config_format). */
TASD_API tasd_status tasd_target_format(const tasd_target *target, char *buf,
                                        size_t size, size_t *needed);

/* ---- Layer configs and model config files ----
 *
 * One layer's choice: its name, the weight-side series (TASD-W) or none, the
 * activation-side series (TASD-A) or none, the decomposition method and the
 * target it was chosen for (a spec string, may be empty). Text form, one
 * layer per line (see docs/format.md, "Layer config files"):
 *
 *     fc1 W=2:4+1:8 A=none method=greedy target=cpu
 *
 * An optional values=bf16 or values=f16 (f32 by default, and then not
 * written) makes the layer keep its W series with values of that type
 * (tasd_decompose_options.values); it needs a W series. Only the text form
 * sets it.
 * A model config is an ordered list of layer configs with distinct names.
 * All objects are immutable once built, except tasd_model_config_add(). */
typedef struct tasd_layer_config tasd_layer_config;
typedef struct tasd_model_config tasd_model_config;

#define TASD_NAME_MAX 255 /* longest layer name, bytes */

/* name: 1..TASD_NAME_MAX bytes, no whitespace, '#' or '=' and no control
 * characters. weights / activations may be NULL ("none"); both non-NULL is
 * accepted here but rejected by tasd_layer_create(). target may be NULL or
 * "" (unspecified); otherwise it must be a valid target spec. Copies all. */
TASD_API tasd_status tasd_layer_config_create(tasd_context *ctx, const char *name,
                                              const tasd_config *weights,
                                              const tasd_config *activations,
                                              tasd_method method,
                                              const char *target,
                                              tasd_layer_config **out);
/* Parse one line (without or with a trailing newline; '#' starts a
 * comment). TASD_ERR_FORMAT with the offending key in the message. */
TASD_API tasd_status tasd_layer_config_parse(tasd_context *ctx, const char *line,
                                             tasd_layer_config **out);
TASD_API void tasd_layer_config_destroy(tasd_layer_config *config);
TASD_API const char *tasd_layer_config_name(const tasd_layer_config *config);
/* The weight-side / activation-side series config, NULL for "none". Owned by
 * the layer config. */
TASD_API const tasd_config *tasd_layer_config_weights(const tasd_layer_config *config);
TASD_API const tasd_config *tasd_layer_config_activations(const tasd_layer_config *config);
TASD_API tasd_method tasd_layer_config_method(const tasd_layer_config *config);
/* The target spec, "" when unspecified. Never NULL for a valid config. */
TASD_API const char *tasd_layer_config_target(const tasd_layer_config *config);
/* The value type of the layer's W series (values=): TASD_F32 unless the
 * text said bf16 or f16; TASD_F32 for NULL. Added in 1.3. */
TASD_API tasd_dtype tasd_layer_config_values(const tasd_layer_config *config);
/* Canonical one-line text without newline, e.g.
 * "fc1 W=2:4+1:8 A=none method=greedy target=cpu" (buffer rules as
 * tasd_config_format). The target key is left out when unspecified. */
TASD_API tasd_status tasd_layer_config_format(const tasd_layer_config *config,
                                              char *buf, size_t size,
                                              size_t *needed);

TASD_API tasd_status tasd_model_config_create(tasd_context *ctx,
                                              tasd_model_config **out);
TASD_API void tasd_model_config_destroy(tasd_model_config *model);
/* Append a copy of `layer` (TASD_ERR_INVALID_ARGUMENT for a duplicate name). */
TASD_API tasd_status tasd_model_config_add(tasd_model_config *model,
                                           const tasd_layer_config *layer);
TASD_API int64_t tasd_model_config_count(const tasd_model_config *model);
/* Layer i in file order, NULL if out of range. Owned by the model config. */
TASD_API const tasd_layer_config *tasd_model_config_layer(const tasd_model_config *model,
                                                         int64_t i);
/* The layer named `name`, or NULL. */
TASD_API const tasd_layer_config *tasd_model_config_find(const tasd_model_config *model,
                                                        const char *name);
/* Parse a whole file's text (size bytes; NUL bytes are an error). Blank
 * lines and '#' comments are skipped; a malformed line gives
 * TASD_ERR_FORMAT and a message starting "line N: ". */
TASD_API tasd_status tasd_model_config_parse(tasd_context *ctx, const char *text,
                                             size_t size, tasd_model_config **out);
/* Read and parse a file (TASD_ERR_IO if it cannot be read; messages name
 * the file and line). */
TASD_API tasd_status tasd_model_config_load(tasd_context *ctx, const char *path,
                                            tasd_model_config **out);
/* The file text: a header comment, then one canonical line per layer, each
 * ending in '\n' (buffer rules as tasd_config_format). */
TASD_API tasd_status tasd_model_config_format(const tasd_model_config *model,
                                              char *buf, size_t size,
                                              size_t *needed);
/* Write the file atomically: a temporary file in the same directory, then
 * rename() over `path`; nothing is left behind on error. */
TASD_API tasd_status tasd_model_config_save(const tasd_model_config *model,
                                            const char *path);

/* ---- TASD-A: activations decomposed on the fly ----
 *
 * C = alpha * Aa * B + beta * C, where Aa is A [m, k] with every row
 * decomposed by `config` (groups along k, as tasd_decompose) and B is a
 * dense [k, n]. A is processed in tiles of rows: each tile is decomposed
 * and multiplied on the series kernels before the next, so the compressed
 * activations are never materialized whole. The result equals
 * tasd_decompose(A) followed by tasd_gemm() bit for bit. A and B: f32, bf16
 * or f16; C: f32 or bf16 (an f16 C gives TASD_ERR_DTYPE, C untouched); all
 * rank 2, any strides, as tasd_gemm: half A is selected on its exact
 * values, half B widened exactly as it is packed, fp32 accumulation, a bf16
 * C rounded once. C must not overlap A, B or itself. NaN/Inf in A (any
 * dtype) gives TASD_ERR_NONFINITE before C is written; NaN/Inf in B reach C
 * only through kept values, as in tasd_gemm. beta == 0: C is not read. */
TASD_API tasd_status tasd_gemm_act(tasd_context *ctx, float alpha,
                                   const tasd_view *a, const tasd_config *config,
                                   tasd_method method, const tasd_view *b,
                                   float beta, const tasd_view *c);
/* The workspace of tasd_gemm_act for A [m, k], B [k, n] (see
 * "Workspaces" above); the _ws call takes it from the caller. */
TASD_API tasd_status tasd_gemm_act_workspace_size(const tasd_context *ctx,
                                                  const tasd_config *config,
                                                  int64_t m, int64_t k, int64_t n,
                                                  size_t *bytes);
TASD_API tasd_status tasd_gemm_act_ws(tasd_context *ctx, float alpha,
                                      const tasd_view *a, const tasd_config *config,
                                      tasd_method method, const tasd_view *b,
                                      float beta, const tasd_view *c,
                                      void *workspace, size_t workspace_bytes);

/* ---- Layers: Y = X * W^T + b ---- */
typedef struct tasd_layer tasd_layer;

typedef enum tasd_layer_mode {
    TASD_LAYER_DENSE = 0,       /* plain blocked GEMM                       */
    TASD_LAYER_WEIGHTS = 1,     /* TASD-W: decomposed weights, prepacked     */
    TASD_LAYER_ACTIVATIONS = 2  /* TASD-A: activations decomposed on the fly */
} tasd_layer_mode;

/* weights: [out, in] of f32/f16/bf16, any strides (rank-4 conv weights
 * [out, in, kh, kw] are seen as [out, in*kh*kw]); bias: NULL or a rank-1
 * f32 view [out] (any stride); config: NULL (or W=none A=none) means dense.
 * The layer keeps what it needs, so the caller's buffers may be freed
 * afterwards: TASD-W the decomposed series (its values f32, or bf16 / f16
 * when the config says values=bf16 / values=f16); TASD-A an f32 copy of W^T;
 * dense a packed f32 copy of W for the blocked dense kernels (the f32
 * bytes of W, rounded up to 16 outputs). NaN/Inf in the weights or bias gives TASD_ERR_NONFINITE; a
 * config with both W and A series gives TASD_ERR_UNSUPPORTED. The method
 * comes from the config; its target is not needed. */
TASD_API tasd_status tasd_layer_create(tasd_context *ctx, const tasd_view *weights,
                                       const tasd_view *bias,
                                       const tasd_layer_config *config,
                                       tasd_layer **out);
TASD_API void tasd_layer_destroy(tasd_layer *layer);
TASD_API tasd_status tasd_layer_shape(const tasd_layer *layer,
                                      int64_t *out_features, int64_t *in_features);
TASD_API tasd_layer_mode tasd_layer_get_mode(const tasd_layer *layer);
/* Y = X * W^T + bias for X [tokens, in] and Y [tokens, out], rank 2, any
 * strides; Y must not overlap X or itself. X: f32, bf16 or f16; Y: f32 or
 * bf16 (an f16 Y gives TASD_ERR_DTYPE, Y untouched), in every mode: half X
 * is widened exactly, accumulation is fp32, and each output is rounded
 * once, after the bias is added in f32. tokens may be 0. ctx may be NULL
 * (threads and backend of the context are used for this call). A layer may
 * be used by many threads at once. A TASD-A layer gives TASD_ERR_NONFINITE
 * for NaN/Inf in X (Y untouched); the other modes let them propagate as a
 * GEMM does. */
TASD_API tasd_status tasd_layer_forward(tasd_context *ctx, const tasd_layer *layer,
                                        const tasd_view *x, const tasd_view *y);
/* The workspace of tasd_layer_forward for `tokens` rows of X (see
 * "Workspaces" above; it depends on the layer's mode and shape); the _ws
 * call takes it from the caller. */
TASD_API tasd_status tasd_layer_forward_workspace_size(const tasd_context *ctx,
                                                       const tasd_layer *layer,
                                                       int64_t tokens, size_t *bytes);
TASD_API tasd_status tasd_layer_forward_ws(tasd_context *ctx, const tasd_layer *layer,
                                           const tasd_view *x, const tasd_view *y,
                                           void *workspace, size_t workspace_bytes);

/* ---- TASDER search ----
 *
 * Error measure of a candidate on calibration activations X [tokens, in]:
 * the relative output error ||X*W^T - approx||_F / ||X*W^T||_F, where approx
 * is X*Wa^T (TASD-W) or Xa*W^T (TASD-A). Without calibration data it is the
 * relative weight error ||W - Wa||_F / ||W||_F and only TASD-W candidates
 * are considered. Cost is the target's prediction relative to dense (1.0);
 * predicted speed-up = 1 / cost. See docs/tasder.md. */

#define TASD_SEARCH_WEIGHTS 1     /* consider TASD-W candidates */
#define TASD_SEARCH_ACTIVATIONS 2 /* consider TASD-A candidates */

typedef struct tasd_search_options {
    size_t size;          /* sizeof(tasd_search_options) */
    int max_terms;        /* terms per candidate series, 1..TASD_MAX_TERMS; 0: 2 */
    int sides;            /* TASD_SEARCH_* bits; 0: both */
    int method;           /* a tasd_method for every candidate (default greedy) */
    int64_t max_tokens;   /* calibration rows used (first ones); 0: 256 */
} tasd_search_options;

/* Set opt->size and fill the rest with the defaults (zero members mean the
 * defaults, too). */
TASD_API void tasd_search_options_init(tasd_search_options *opt);

/* One evaluated candidate of a layer. */
typedef struct tasd_search_point {
    size_t size;   /* sizeof(tasd_search_point), set by the caller */
    double cost;   /* predicted, relative to dense = 1            */
    double error;  /* relative output (or weight) error, see above */
    const tasd_layer_config *config; /* owned by the result        */
} tasd_search_point;

/* The outcome of searching one layer: every candidate's (cost, error), the
 * Pareto front and the cheapest choice within the budget. Immutable. */
typedef struct tasd_layer_search tasd_layer_search;

/* Search one layer. name: the layer's name (as tasd_layer_config_create);
 * weights [out, in] (any dtype/strides, rank 2-4 as tasd_layer_create);
 * calib: NULL or f32 [tokens >= 1, in] activations feeding this layer;
 * budget: the largest relative error allowed (>= 0); the dense point (cost
 * 1, error 0) is always a candidate, so a choice always exists. opt may be
 * NULL. */
TASD_API tasd_status tasd_search_layer(tasd_context *ctx, const tasd_target *target,
                                       const char *name, const tasd_view *weights,
                                       const tasd_view *calib, double budget,
                                       const tasd_search_options *opt,
                                       tasd_layer_search **out);
TASD_API void tasd_layer_search_destroy(tasd_layer_search *search);
/* The cheapest point with error <= budget (ties: lower error). */
TASD_API tasd_status tasd_layer_search_choice(const tasd_layer_search *search,
                                              tasd_search_point *out);
/* 1 / choice cost. */
TASD_API double tasd_layer_search_speedup(const tasd_layer_search *search);
/* Pareto front: points by ascending cost, strictly descending error; the
 * first is the cheapest candidate of all, the last is error 0 (dense or
 * lossless). */
TASD_API int tasd_layer_search_front_size(const tasd_layer_search *search);
TASD_API tasd_status tasd_layer_search_front(const tasd_layer_search *search,
                                             int i, tasd_search_point *out);
/* Every candidate evaluated, in enumeration order (dense first). */
TASD_API int tasd_layer_search_candidates(const tasd_layer_search *search);
TASD_API tasd_status tasd_layer_search_candidate(const tasd_layer_search *search,
                                                 int i, tasd_search_point *out);
/* The weight of this layer in a model: its dense multiply-adds per token
 * (out * in), times the calibration tokens when given. Overridable. */
TASD_API double tasd_layer_search_flops(const tasd_layer_search *search);
TASD_API tasd_status tasd_layer_search_set_flops(tasd_layer_search *search,
                                                 double flops);

/* ---- Per-model assignment: one budget shared by many layers ----
 *
 * Layers are weighted by FLOPs: w_l = flops_l / sum(flops). The model's
 * predicted cost is sum w_l * cost_l (dense model = 1) and its total error
 * is the FLOP-weighted mean of the per-layer errors, sum w_l * error_l.
 * Every layer starts dense; the search walks one fixed path of moves, each
 * switching one layer to a cheaper point of its Pareto front whose error is
 * <= layer_cap, always taking the move with the most cost saved per error
 * spent (moves that lose nothing first). tasd_search_model() stops at the
 * last step whose total error is <= total_budget, so a larger budget never
 * gives a more expensive assignment. */
typedef struct tasd_model_search_result {
    size_t size;         /* sizeof(tasd_model_search_result), set by the caller */
    double cost;         /* FLOP-weighted predicted cost, dense = 1 */
    double speedup;      /* 1 / cost                                */
    double error;        /* FLOP-weighted mean error                */
    double max_error;    /* largest per-layer error                 */
    int64_t steps;       /* moves taken along the path              */
    int64_t calls;       /* score callbacks made (score mode)       */
    double score;        /* score of the result (score mode; NAN if never scored) */
    int64_t found;       /* score mode: 1 if the result scored >= threshold */
} tasd_model_search_result;

/* layers: n layer searches (all non-NULL). choice: n ints receiving, per
 * layer, the index into that layer's Pareto front. result may be NULL. */
TASD_API tasd_status tasd_search_model(const tasd_layer_search *const *layers,
                                       int64_t n, double layer_cap,
                                       double total_budget, int *choice,
                                       tasd_model_search_result *result);

/* Accuracy in the loop: the caller scores a full assignment (e.g. runs its
 * validation set with those configs) and writes a higher-is-better score.
 * A non-OK return aborts the search with that status. */
typedef tasd_status (*tasd_score_fn)(void *user, const tasd_model_config *assignment,
                                     double *score);
/* Walks the same path as tasd_search_model() (without a total budget) and
 * binary-searches it with the callback for the cheapest assignment whose
 * score is >= threshold, making at most max_calls calls (>= 1). The answer
 * is an assignment the callback scored >= threshold (result->found = 1), or,
 * if none did, the path's start: every layer at its error-0 front point,
 * normally dense (found = 0; score is its score if it was scored, else NAN).
 * The binary search assumes the score falls along the path (it does when
 * the proxy error tracks the score); the answer is verified either way. */
TASD_API tasd_status tasd_search_model_scored(tasd_context *ctx,
                                              const tasd_layer_search *const *layers,
                                              int64_t n, double layer_cap,
                                              tasd_score_fn score, void *user,
                                              double threshold, int max_calls,
                                              int *choice,
                                              tasd_model_search_result *result);
/* The model config of an assignment (choice[l] indexes layer l's front). */
TASD_API tasd_status tasd_search_model_config(tasd_context *ctx,
                                              const tasd_layer_search *const *layers,
                                              int64_t n, const int *choice,
                                              tasd_model_config **out);

/* ---- section: files and formats (reserved) ---- */

/* Model files (.npy and safetensors) are memory-mapped read-only and exposed
 * one tensor at a time, so a file larger than RAM can be processed with
 * memory bounded by its largest tensor. The .tasd format (docs/format.md)
 * stores decomposed series, several named ones per file.
 *
 * Thread safety: a tasd_tensorfile / tasd_archive is read-only after opening; its
 * query, view, read and load functions may be called from many threads at
 * once. A tasd_writer / tasd_archive_writer is used by one thread at a time,
 * except tasd_writer_put*, which may be called concurrently for DIFFERENT
 * tensors. Every file is written to a temporary file beside the target
 * ("PATH.tmp.XXXXXX") and renamed over PATH only when complete: on any
 * error, or on abort, nothing is left at PATH or beside it. */

typedef enum tasd_file_format {
    TASD_FORMAT_UNKNOWN = 0,
    TASD_FORMAT_NPY = 1,          /* NumPy .npy, versions 1.0, 2.0, 3.0     */
    TASD_FORMAT_SAFETENSORS = 2,  /* safetensors                            */
    TASD_FORMAT_TASD = 3,         /* libtasd series container (.tasd)       */
    TASD_FORMAT_ONNX = 4          /* ONNX model (.onnx): its initializers   */
} tasd_file_format;

/* "unknown", "npy", "safetensors", "tasd", "onnx" */
TASD_API const char *tasd_file_format_name(tasd_file_format format);
/* Guess a format from the first bytes of a file (`size` of them at `data`):
 * "\x93NUMPY" is npy, "TASDSER\0" is tasd, an 8-byte little-endian length
 * followed by '{' is safetensors; ONNX has no magic, so bytes that start
 * like a ModelProto (0x08, a version byte 1..127, then the tag of another
 * ModelProto field) are guessed to be ONNX (a hint: opening parses the
 * whole file strictly); anything else TASD_FORMAT_UNKNOWN. */
TASD_API tasd_file_format tasd_file_format_sniff(const void *data, size_t size);
/* The same on the start of a file (TASD_ERR_IO if it cannot be read); a
 * file the sniff does not recognise whose name ends in ".onnx" is ONNX. */
TASD_API tasd_status tasd_file_format_detect(const char *path,
                                             tasd_file_format *out);

/* Fixed by ABI 1: tasd_tensor_info's layout depends on it. */
#define TASD_FILE_MAX_DIMS 8

/* One tensor of a model file. `name` and `dtype_name` belong to the model
 * and stay valid until it is closed. */
typedef struct tasd_tensor_info {
    size_t size;             /* sizeof(tasd_tensor_info), set by the caller */
    const char *name;        /* UTF-8, NUL-free; "" for a .npy file        */
    const char *dtype_name;  /* as in the file: "F32", "BF16", "I64", "<f4" */
    int32_t dtype;           /* a tasd_dtype, or -1 if libtasd cannot read it
                                (e.g. an I64 tensor of a safetensors file) */
    int32_t ndim;            /* 0..TASD_FILE_MAX_DIMS                       */
    int64_t shape[TASD_FILE_MAX_DIMS];
    uint64_t offset;         /* byte offset of the data in the file         */
    uint64_t nbytes;         /* = elements * element size                   */
} tasd_tensor_info;

typedef struct tasd_tensorfile tasd_tensorfile;

/* Open a .npy, safetensors or ONNX file: mmap it and parse/validate its header
 * (TASD_ERR_FORMAT with the file name and the reason on anything malformed:
 * truncation, bad magic, offsets past the end, sizes that are not shape
 * times element size, overlapping tensors, duplicate or non-UTF-8 names,
 * unknown dtypes, overflowing shapes; TASD_ERR_DTYPE / TASD_ERR_UNSUPPORTED
 * for a valid .npy that is not little-endian f4/f2 in C order). */
TASD_API tasd_status tasd_tensorfile_open(tasd_context *ctx, const char *path,
                                     tasd_tensorfile **out);
/* ONNX (format "onnx"): the tensors are the graph's initializers, in file
 * order, with the ONNX type names ("FLOAT", "FLOAT16", "BFLOAT16", "INT64",
 * ...). FLOAT data is read from raw_data or float_data, FLOAT16/BFLOAT16
 * from raw_data or int32_data, or from external data: `location` relative
 * to the model file's directory (an absolute path or a ".." component is
 * rejected), `offset` and `length` checked against that file. `offset` in
 * tasd_tensor_info is then the offset in the file that holds the bytes (0
 * when they were decoded from typed fields into memory). Other types are
 * listed; their data can be reached only when stored as raw bytes
 * (tasd_tensorfile_raw; TASD_ERR_UNSUPPORTED otherwise). The parse is
 * strict: truncated fields, lengths past their message, wrong wire types,
 * sizes that disagree with the shape, data given two ways, duplicate names
 * give TASD_ERR_FORMAT with the initializer or node and the byte offset.
 * Sparse initializers and segmented tensors are not supported. */
/* The same on bytes in memory, which must outlive the model (not copied).
 * format may be TASD_FORMAT_UNKNOWN to sniff it. */
TASD_API tasd_status tasd_tensorfile_open_memory(tasd_context *ctx, const void *data,
                                            size_t size, tasd_file_format format,
                                            tasd_tensorfile **out);
TASD_API void tasd_tensorfile_close(tasd_tensorfile *model);
TASD_API tasd_file_format tasd_tensorfile_format(const tasd_tensorfile *model);
/* Number of tensors (1 for .npy), in file order (safetensors: by offset). */
TASD_API int64_t tasd_tensorfile_count(const tasd_tensorfile *model);
TASD_API tasd_status tasd_tensorfile_info(const tasd_tensorfile *model, int64_t i,
                                     tasd_tensor_info *out);
/* Index of the tensor called `name` (TASD_ERR_NOT_FOUND if none). */
TASD_API tasd_status tasd_tensorfile_find(const tasd_tensorfile *model, const char *name,
                                     int64_t *index);
/* A zero-copy view of tensor i in the mapping, contiguous, rank 1..4 (a
 * rank-0 tensor is seen as [1]). TASD_ERR_DTYPE if libtasd cannot read its
 * type, TASD_ERR_SHAPE for rank > 4, TASD_ERR_UNSUPPORTED if the data is not
 * aligned to its element size in memory (use tasd_tensorfile_read_f32 then). The
 * view must not be written through. */
TASD_API tasd_status tasd_tensorfile_view(const tasd_tensorfile *model, int64_t i,
                                     tasd_view *out);
/* Copy tensor i into dst converted to f32 (any alignment, any rank).
 * capacity counts floats; TASD_ERR_BUFFER_TOO_SMALL if too small. */
TASD_API tasd_status tasd_tensorfile_read_f32(const tasd_tensorfile *model, int64_t i,
                                         float *dst, int64_t capacity);
/* The raw little-endian bytes of tensor i in the file (any dtype), valid
 * until the model is closed; *nbytes as in tasd_tensor_info. */
TASD_API tasd_status tasd_tensorfile_raw(const tasd_tensorfile *model, int64_t i,
                                    const void **data, uint64_t *nbytes);
/* The operator that consumes tensor i in an ONNX graph, and how it
 * contracts it. op_type: the first consuming node's op_type ("" if no node
 * of the main graph uses it, and for other formats); input: that node's
 * input slot (-1 if none); out_axis: the axis of the tensor that indexes
 * output features, every other axis being reduced over, so the N:M groups
 * belong along the others. It is -1 when unknown: an operator other than
 * the ones below, a custom domain, or consumers that disagree. Identity
 * nodes (as torch exports a weight shared by several layers) are looked
 * through, chains of them too: the consumers are the nodes taking their
 * outputs, reported as if they took the tensor itself (their op type and
 * input slot). Only a tensor that reaches nothing but Identity nodes
 * (outputs of the graph or unused) reports "Identity", 0, -1. Known:
 *   MatMul  A [M, K] -> 0;  B [K, N] -> 1  (rank 2 only)
 *   Gemm    A -> 0 (1 with transA);  B [K, N] -> 1, [N, K] with transB -> 0
 *   Conv    W [C_out, C_in/group, k...] -> 0
 * A tensor with out_axis 0 is decomposed as it is stored (rows = shape[0]);
 * with out_axis 1 (rank 2) its transpose is. Any pointer may be NULL. */
TASD_API tasd_status tasd_tensorfile_consumer(const tasd_tensorfile *model, int64_t i,
                                             const char **op_type, int32_t *input,
                                             int32_t *out_axis);
/* Where tensor i's bytes live when not in the model file itself: for an
 * ONNX initializer with external data, its `location`, relative to the
 * model file's directory; "" for every other tensor and format. Valid until
 * the model is closed. Added in 1.2. */
TASD_API tasd_status tasd_tensorfile_data_file(const tasd_tensorfile *model, int64_t i,
                                               const char **location);
/* Write a copy of the ONNX model `model` to `path` in which `count`
 * initializers get new data: index[k] is the initializer, values[k] a view
 * (f32/f16/bf16, any shape and strides whose elements in row-major order
 * are the initializer's) converted, rounding to nearest even, to the
 * initializer's type (FLOAT, FLOAT16 or BFLOAT16; TASD_ERR_DTYPE else).
 * A replaced initializer keeps its other fields (name, dims, data_type,
 * doc_string, ...) and holds its data as raw_data, its float_data,
 * int32_data or external data fields dropped. Every other byte of the file
 * (graph, nodes, other initializers, opset, metadata, field order) is
 * copied unchanged except the graph's length prefix, so count == 0 gives
 * an identical file. External data of other initializers is not copied:
 * its locations stay relative to the new file's directory, where each must
 * name a file holding the same bytes for that initializer (the model's own,
 * a link to it, or a copy), and path must not be one of those files: else
 * TASD_ERR_INVALID_ARGUMENT, nothing written. Written atomically (nothing
 * at path on error). TASD_ERR_INVALID_ARGUMENT also for a non-ONNX model,
 * a bad or repeated index; TASD_ERR_SHAPE for a view with the wrong
 * element count. */
TASD_API tasd_status tasd_tensorfile_write_onnx(const tasd_tensorfile *model, const char *path,
                                               int64_t count, const int64_t *index,
                                               const tasd_view *values);
/* Hint that tensor i will not be needed again soon: its pages of the
 * mapping may be dropped from memory (no-op for in-memory models). */
TASD_API void tasd_tensorfile_release(const tasd_tensorfile *model, int64_t i);

/* Writing .npy / safetensors files. The writer is created with the list of
 * every tensor (name, dtype_name, ndim, shape; offset/nbytes are ignored)
 * and lays the file out at once; data may then be put in any order.
 * npy: exactly one tensor, dtype_name "<f4"/"F32" or "<f2"/"F16".
 * safetensors: any safetensors dtype name ("F32", "F16", "BF16", "I64", ...);
 * names must be distinct, non-empty UTF-8. Every element of `tensors` has
 * its size member set (the same for all). */
typedef struct tasd_writer tasd_writer;

TASD_API tasd_status tasd_writer_create(tasd_context *ctx, const char *path,
                                        tasd_file_format format, int64_t count,
                                        const tasd_tensor_info *tensors,
                                        tasd_writer **out);
/* Store tensor i from an f32/f16/bf16 view with the tensor's element count
 * (any shape and strides whose elements, in row-major order, are the
 * tensor's); converted (round to nearest even) to the tensor's dtype, which
 * must be F32, F16 or BF16. */
TASD_API tasd_status tasd_writer_put(tasd_writer *writer, int64_t i,
                                     const tasd_view *data);
/* Store tensor i from raw little-endian bytes (exactly its nbytes). */
TASD_API tasd_status tasd_writer_put_raw(tasd_writer *writer, int64_t i,
                                         const void *bytes, size_t nbytes);
/* Check every tensor was put, flush, and rename into place. The writer is
 * destroyed whatever the result; on error nothing is left behind. */
TASD_API tasd_status tasd_writer_finish(tasd_writer *writer);
/* Drop the temporary file and destroy the writer (NULL is fine). */
TASD_API void tasd_writer_abort(tasd_writer *writer);

/* Series files (.tasd). A single series is a container with one entry. */

/* Save one series (named "") to `path`, atomically. */
TASD_API tasd_status tasd_series_save(const tasd_series *series,
                                      const char *path);
/* Load a file's only series (TASD_ERR_INVALID_ARGUMENT if the file holds
 * several: use tasd_archive_*). Everything is validated before use:
 * TASD_ERR_FORMAT on truncation, bad magic, bad checksums, indices outside
 * their group, sizes that disagree with the file; TASD_ERR_UNSUPPORTED for
 * a format version this libtasd does not read; NaN/Inf values give
 * TASD_ERR_NONFINITE. The series is packed for the kernels once. */
TASD_API tasd_status tasd_series_load(tasd_context *ctx, const char *path,
                                      tasd_series **out);
/* The same in memory. save_buffer writes the file's bytes into buf; with
 * buf == NULL or a too-small size, *needed receives the size and the call
 * returns TASD_ERR_BUFFER_TOO_SMALL (buf untouched). */
TASD_API tasd_status tasd_series_save_buffer(const tasd_series *series,
                                             void *buf, size_t size,
                                             size_t *needed);
TASD_API tasd_status tasd_series_load_buffer(tasd_context *ctx,
                                             const void *data, size_t size,
                                             tasd_series **out);

/* A .tasd container with several named series, written one at a time so
 * only one series needs to be in memory. */
typedef struct tasd_archive_writer tasd_archive_writer;
TASD_API tasd_status tasd_archive_writer_create(tasd_context *ctx,
                                                const char *path,
                                                tasd_archive_writer **out);
/* Append a series under `name` (UTF-8, NUL-free, at most 65535 bytes,
 * unique in the file: TASD_ERR_INVALID_ARGUMENT on a duplicate). */
TASD_API tasd_status tasd_archive_writer_add(tasd_archive_writer *writer,
                                             const char *name,
                                             const tasd_series *series);
/* Write the directory, flush, rename into place; the writer is destroyed
 * whatever the result, and on error nothing is left behind. */
TASD_API tasd_status tasd_archive_writer_finish(tasd_archive_writer *writer);
TASD_API void tasd_archive_writer_abort(tasd_archive_writer *writer);

typedef struct tasd_archive tasd_archive;

/* Open a .tasd file (mmap) or bytes in memory (which must outlive the
 * archive). The file header, directory and every series header are
 * validated here; data sections when a series is loaded. */
TASD_API tasd_status tasd_archive_open(tasd_context *ctx, const char *path,
                                       tasd_archive **out);
TASD_API tasd_status tasd_archive_open_memory(tasd_context *ctx,
                                              const void *data, size_t size,
                                              tasd_archive **out);
TASD_API void tasd_archive_close(tasd_archive *archive);
TASD_API int64_t tasd_archive_count(const tasd_archive *archive);

/* What the directory and series header say about entry i, without loading
 * it. name stays valid until the archive is closed. */
typedef struct tasd_archive_entry {
    size_t size;             /* sizeof(tasd_archive_entry), set by the caller */
    const char *name;
    int64_t rows, cols;
    int32_t method;          /* a tasd_method */
    int32_t terms;
    int32_t n[TASD_TERM_CAPACITY], m[TASD_TERM_CAPACITY];
    uint64_t bytes;          /* size of the entry in the file */
} tasd_archive_entry;

TASD_API tasd_status tasd_archive_entry_info(const tasd_archive *archive,
                                             int64_t i,
                                             tasd_archive_entry *out);
TASD_API tasd_status tasd_archive_find(const tasd_archive *archive,
                                       const char *name, int64_t *index);
/* Validate and load entry i as a series (with the stats it was saved with). */
TASD_API tasd_status tasd_archive_load(const tasd_archive *archive, int64_t i,
                                       tasd_series **out);


#ifdef __cplusplus
}
#endif

#endif /* TASD_H */
