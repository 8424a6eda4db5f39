/* The scratch arena of a call (core.h, "scratch arena"): one bump
 * allocator over the caller's workspace or one block of the allocator. */
#include "core.h"

#include <string.h>

static size_t round_align(size_t x)
{
    return (x + TASDI_ALIGN - 1) / TASDI_ALIGN * TASDI_ALIGN;
}

void *tasdi_arena_take(tasdi_arena *ar, size_t bytes)
{
    if (bytes > SIZE_MAX - TASDI_ALIGN || ar->used > SIZE_MAX - round_align(bytes)) {
        ar->failed = true;
        return NULL;
    }
    size_t at = ar->used;
    ar->used += round_align(bytes);
    if (ar->counting)
        return NULL;
    if (ar->used > ar->size) {
        ar->failed = true; /* planned too little: a bug, caught by the caller */
        return NULL;
    }
    return ar->base + at;
}

void *tasdi_arena_take_n(tasdi_arena *ar, size_t count, size_t elem)
{
    size_t bytes;
    if (!tasdi_mul_size(count, elem, &bytes)) {
        ar->failed = true;
        return NULL;
    }
    return tasdi_arena_take(ar, bytes);
}

size_t tasdi_arena_need(const tasdi_arena *ar)
{
    /* room to align an arbitrary workspace up to TASDI_ALIGN */
    return ar->used ? ar->used + TASDI_ALIGN - 1 : 0;
}

void tasdi_arena_place(tasdi_arena *ar, void *mem, size_t bytes)
{
    uintptr_t p = (uintptr_t)mem, aligned = (p + TASDI_ALIGN - 1) & ~(uintptr_t)(TASDI_ALIGN - 1);
    memset(ar, 0, sizeof *ar);
    if (!mem)
        return; /* no room: every take fails */
    if (bytes < aligned - p) {
        bytes = 0;
        aligned = p; /* too small for anything: every take fails */
    }
    ar->base = (char *)aligned;
    ar->size = bytes - (size_t)(aligned - p);
}

tasd_status tasdi_ws_from(const char *fn, void *workspace, size_t bytes, tasdi_ws *ws)
{
    if (!workspace && bytes)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "%s: workspace is NULL with %zu bytes", fn,
                          bytes);
    ws->mem = workspace;
    ws->bytes = bytes;
    return TASD_OK;
}

tasd_status tasdi_arena_open(tasdi_arena *ar, const tasd_context *ctx, const tasdi_ws *ws,
                             const char *fn)
{
    if (ar->failed)
        return tasdi_fail(TASD_ERR_OVERFLOW, "%s: the scratch size overflows", fn);
    size_t need = tasdi_arena_need(ar);
    if (ws) {
        if (ws->bytes < need)
            return tasdi_fail(TASD_ERR_BUFFER_TOO_SMALL,
                              "%s: the workspace has %zu bytes, the call needs %zu", fn,
                              ws->bytes, need);
        tasdi_arena_place(ar, need ? ws->mem : NULL, need);
        return TASD_OK;
    }
    void *mem = NULL;
    if (need) {
        mem = tasdi_scratch_take(ctx, need);
        if (!mem)
            return TASD_ERR_OUT_OF_MEMORY;
    }
    tasdi_arena_place(ar, mem, need);
    ar->owned = mem;
    return TASD_OK;
}

tasd_status tasdi_arena_check(const tasdi_arena *ar, const char *fn)
{
    if (ar->failed)
        return tasdi_fail(TASD_ERR_INTERNAL, "%s: the scratch plan and its carving disagree", fn);
    return TASD_OK;
}

void tasdi_arena_close(tasdi_arena *ar, const tasd_context *ctx)
{
    tasdi_scratch_give(ctx, ar->owned);
    memset(ar, 0, sizeof *ar);
}
