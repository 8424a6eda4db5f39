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
 * is in use: one page fault per 2 MiB instead of per 4 KiB. Short-lived
 * per-call buffers stay on plain pages, which glibc recycles without faults. */
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
    tasd_context *ctx = a->alloc(a->user, sizeof *ctx, TASDI_ALIGN);
    if (!ctx)
        return tasdi_fail(TASD_ERR_OUT_OF_MEMORY, "tasd_context_create: allocation failed");
    memset(ctx, 0, sizeof *ctx);
    ctx->allocator = *a;
    ctx->backend = TASD_BACKEND_AUTO;
    *out = ctx;
    return TASD_OK;
}

void tasd_context_destroy(tasd_context *ctx)
{
    if (!ctx)
        return;
    tasd_allocator a = ctx->allocator;
    a.free(a.user, ctx, sizeof *ctx);
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
