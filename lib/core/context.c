/* Contexts: allocator hooks, thread count, backend choice, parallel-for. */
#define _DEFAULT_SOURCE 1 /* MADV_HUGEPAGE */
#include "core.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static void *default_alloc(void *user, size_t size, size_t alignment)
{
    (void)user;
    void *p = NULL;
    if (alignment < sizeof(void *))
        alignment = sizeof(void *);
    if (size == 0)
        size = 1;
    if (size > SIZE_MAX - alignment)
        return NULL;
    /* Round up: aligned_alloc wants a multiple of the alignment. */
    size = (size + alignment - 1) / alignment * alignment;
    if (posix_memalign(&p, alignment, size) != 0)
        return NULL;
    return p;
}

static void default_free(void *user, void *ptr, size_t size)
{
    (void)user;
    (void)size;
    free(ptr);
}

/* Plain calls (no workspace) take their scratch from a block the context
 * keeps between calls. Freed after each call, it came back as fresh pages
 * whenever the C library had returned it to the system: in loops of 31
 * calls a 1024x4096x256 dense layer (4.3 MB of packed X) took 165 page
 * faults a call on average and 16.7-17.8 ms, against none and 14.1-15.2 ms
 * with a workspace; tasd_gemm 2:4 at 3072x768x128 25 faults a call, 2.44
 * against 2.15 ms (AMD EPYC Zen 5, avx512, glibc 2.36). Blocks over
 * SCRATCH_KEEP_MAX (B packed whole for thousands of columns) are still
 * freed after their call. */
#define SCRATCH_KEEP_MAX ((size_t)64 << 20)
#define BLOCK_HEAD ((size_t)TASDI_ALIGN) /* the header, before the scratch */

struct tasdi_block {
    size_t bytes; /* of scratch after the header */
};

static void block_free(const tasd_allocator *a, tasdi_block *b)
{
    tasdi_free(a, b, BLOCK_HEAD + b->bytes);
}

/* A context and the slot of its kept scratch block, allocated together */
typedef struct context_block {
    tasd_context ctx;
    _Atomic(tasdi_block *) kept;
} context_block;

static const tasd_allocator default_allocator = {sizeof(tasd_allocator), default_alloc,
                                                 default_free, NULL};

const tasd_allocator *tasdi_allocator(const tasd_context *ctx)
{
    return ctx ? &ctx->allocator : &default_allocator;
}

void *tasdi_alloc(const tasd_allocator *a, size_t size)
{
    void *p = a->alloc(a->user, size ? size : 1, TASDI_ALIGN);
    if (!p)
        tasdi_fail(TASD_ERR_OUT_OF_MEMORY, "allocation of %zu bytes failed",
                   size);
    return p;
}

/* Long-lived blocks this large (a series' terms and packed stream: ~100 MB
 * for a 4096 x 4096 matrix, written once) are placed on 2 MiB boundaries and
 * offered to the kernel as transparent huge pages when the default allocator
 * is in use: one page fault per 2 MiB instead of per 4 KiB. A call's
 * scratch stays on plain pages, kept by its context between calls. */
#define HUGE_BLOCK ((size_t)4 << 20)
#define HUGE_ALIGN ((size_t)2 << 20)

void *tasdi_alloc_lasting(const tasd_allocator *a, size_t size)
{
    if (a->alloc != default_alloc || size < HUGE_BLOCK)
        return tasdi_alloc(a, size);
    size_t rounded = (size + HUGE_ALIGN - 1) / HUGE_ALIGN * HUGE_ALIGN;
    void *p = default_alloc(NULL, rounded, HUGE_ALIGN);
    if (!p) {
        tasdi_fail(TASD_ERR_OUT_OF_MEMORY, "allocation of %zu bytes failed", size);
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    madvise(p, rounded, MADV_HUGEPAGE); /* advice only: failure is harmless */
#endif
    return p; /* default_free (free) releases it like any other block */
}

void *tasdi_calloc(const tasd_allocator *a, size_t count, size_t elem)
{
    size_t size;
    if (!tasdi_mul_size(count, elem, &size)) {
        tasdi_fail(TASD_ERR_OVERFLOW, "allocation of %zu x %zu bytes overflows",
                   count, elem);
        return NULL;
    }
    void *p = tasdi_alloc(a, size);
    if (p)
        memset(p, 0, size);
    return p;
}

void tasdi_free(const tasd_allocator *a, void *p, size_t size)
{
    if (p)
        a->free(a->user, p, size ? size : 1);
}

bool tasdi_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

bool tasdi_mul_i64(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0)
        return false;
    if (a != 0 && b > INT64_MAX / a)
        return false;
    *out = a * b;
    return true;
}

tasd_status tasd_context_create(const tasd_allocator *allocator,
                                tasd_context **out)
{
    if (!out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_context_create: out is NULL");
    if (allocator) {
        tasd_status st = TASDI_CHECK_SIZE("tasd_context_create", tasd_allocator, allocator);
        if (st)
            return st;
    }
    if (allocator && (!allocator->alloc || !allocator->free))
        return tasdi_fail(TASD_ERR_NULL_POINTER,
                          "tasd_context_create: allocator needs both alloc and free");
    const tasd_allocator *a = allocator ? allocator : &default_allocator;
    context_block *cb = a->alloc(a->user, sizeof *cb, TASDI_ALIGN);
    if (!cb)
        return tasdi_fail(TASD_ERR_OUT_OF_MEMORY, "tasd_context_create: allocation failed");
    memset(&cb->ctx, 0, sizeof cb->ctx);
    cb->ctx.allocator = *a;
    cb->ctx.backend = TASD_BACKEND_AUTO;
    atomic_init(&cb->kept, NULL);
    cb->ctx.kept = &cb->kept;
    *out = &cb->ctx;
    return TASD_OK;
}

void tasd_context_destroy(tasd_context *ctx)
{
    if (!ctx)
        return;
    context_block *cb = (context_block *)ctx; /* ctx is its first member */
    tasd_allocator a = ctx->allocator;
    tasd_context_release_scratch(ctx);
    a.free(a.user, cb, sizeof *cb);
}

void *tasdi_scratch_take(const tasd_context *ctx, size_t bytes)
{
    const tasd_allocator *a = tasdi_allocator(ctx);
    if (ctx && ctx->kept && bytes <= SCRATCH_KEEP_MAX) {
        tasdi_block *b = atomic_exchange(ctx->kept, NULL);
        if (b && b->bytes >= bytes)
            return (char *)b + BLOCK_HEAD;
        if (b) /* too small for this call: a new one replaces it */
            block_free(a, b);
    }
    if (bytes > SIZE_MAX - BLOCK_HEAD) {
        tasdi_fail(TASD_ERR_OUT_OF_MEMORY, "allocation of %zu bytes failed", bytes);
        return NULL;
    }
    tasdi_block *b = tasdi_alloc(a, BLOCK_HEAD + bytes);
    if (!b)
        return NULL;
    b->bytes = bytes;
    return (char *)b + BLOCK_HEAD;
}

void tasdi_scratch_give(const tasd_context *ctx, void *mem)
{
    if (!mem)
        return;
    tasdi_block *b = (tasdi_block *)(void *)((char *)mem - BLOCK_HEAD), *old = b;
    size_t bytes = b->bytes;
    if (ctx && ctx->kept && bytes <= SCRATCH_KEEP_MAX) {
        /* b goes in; what comes out is freed unless it is the larger, which
         * then goes back in (each round the kept block grows: it ends).
         * Once in, b belongs to whichever call takes it: its size is read
         * before. */
        while ((old = atomic_exchange(ctx->kept, b)) && old->bytes > bytes) {
            b = old;
            bytes = old->bytes;
        }
    }
    if (old)
        block_free(tasdi_allocator(ctx), old);
}

size_t tasd_context_scratch_bytes(const tasd_context *ctx)
{
    if (!ctx || !ctx->kept)
        return 0;
    /* Taken out to be read (a call may take and free it meanwhile), then
     * given back as a call gives it. */
    tasdi_block *b = atomic_exchange(ctx->kept, NULL);
    if (!b)
        return 0;
    size_t bytes = b->bytes;
    tasdi_scratch_give(ctx, (char *)b + BLOCK_HEAD);
    return bytes;
}

tasd_status tasd_context_release_scratch(tasd_context *ctx)
{
    if (!ctx)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_context_release_scratch: ctx is NULL");
    tasdi_block *b = ctx->kept ? atomic_exchange(ctx->kept, NULL) : NULL;
    if (b)
        block_free(&ctx->allocator, b);
    return TASD_OK;
}

tasd_status tasd_context_set_threads(tasd_context *ctx, int threads)
{
    if (!ctx)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_context_set_threads: ctx is NULL");
    if (threads < 0 || threads > 4096)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "tasd_context_set_threads: threads = %d, want 0..4096", threads);
    ctx->threads = threads;
    return TASD_OK;
}

static int default_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int tasd_context_threads(const tasd_context *ctx)
{
    return tasdi_threads(ctx);
}

int tasdi_threads(const tasd_context *ctx)
{
    int t = (ctx && ctx->threads > 0) ? ctx->threads : default_threads();
    return t > 0 ? t : 1;
}

tasd_status tasd_context_set_parallel_for(tasd_context *ctx,
                                          tasd_parallel_for_fn fn, void *pool)
{
    if (!ctx)
        return tasdi_fail(TASD_ERR_NULL_POINTER,
                          "tasd_context_set_parallel_for: ctx is NULL");
    ctx->parallel_for = fn;
    ctx->pool = fn ? pool : NULL;
    return TASD_OK;
}

void tasdi_parallel(const tasd_context *ctx, int64_t ntasks, tasd_task_fn task,
                    void *arg)
{
    if (ntasks <= 0)
        return;
    if (ntasks == 1) {
        task(arg, 0);
        return;
    }
    if (ctx && ctx->parallel_for) {
        ctx->parallel_for(ctx->pool, ntasks, task, arg);
        return;
    }
#ifdef _OPENMP
    int threads = tasdi_threads(ctx);
    if (threads > ntasks)
        threads = (int)ntasks;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < ntasks; i++)
        task(arg, i);
#else
    for (int64_t i = 0; i < ntasks; i++)
        task(arg, i);
#endif
}
