/* Helpers shared by the test programs (test/support/util.c). */
#ifndef TASD_TEST_UTIL_H
#define TASD_TEST_UTIL_H

#include <stdint.h>
#include <tasd.h>

/* Fill with uniform [-1, 1) values from the harness RNG (seeded). */
void util_fill_random(float *x, int64_t count, unsigned long long seed);
/* Parse a config that the test knows to be valid (aborts otherwise). */
tasd_config *util_config(const char *text);
/* Decompose a row-major rows x cols f32 matrix (aborts on error). */
tasd_series *util_decompose(tasd_context *ctx, const float *w, int64_t rows,
                            int64_t cols, const char *config, tasd_method method);
/* The series as a dense row-major matrix (malloc'd). */
float *util_reconstruct(const tasd_series *s);
/* ||x||^2 in double. */
double util_energy(const float *x, int64_t count);

/* A whole file, malloc'd with a NUL after its `size` bytes; NULL if it
 * cannot be read. */
unsigned char *util_read_file(const char *path, size_t *size);
/* Copy file `from` to `to`; 0 if either cannot be read or written. */
int util_copy_file(const char *from, const char *to);
/* 1 if both files can be read and hold the same bytes. */
int util_same_file_bytes(const char *a, const char *b);

/* The backends this build and CPU can run, in enum order (scalar first),
 * into out; returns how many. */
#define UTIL_MAX_BACKENDS 8
int util_available_backends(tasd_backend out[UTIL_MAX_BACKENDS]);
/* Whether a test whose checks of each backend stand alone (against a
 * reference of their own) takes backend b: b is available and, where
 * TASD_BACKEND names a backend, is that one. test/run.sh runs every program
 * once per backend, so each backend's checks then run once, in its own pass,
 * rather than in every pass. Run by hand without TASD_BACKEND: all of them. */
int util_backend_tested(tasd_backend b);
/* The backends util_backend_tested takes, in enum order, into out; returns
 * how many. */
int util_tested_backends(tasd_backend out[UTIL_MAX_BACKENDS]);
/* A context with allocator a (NULL: the default), `backend` and `threads`
 * (aborts on error). */
tasd_context *util_context(const tasd_allocator *a, tasd_backend backend, int threads);
/* A 1-D f32 view of `count` contiguous values, e.g. a layer's bias. */
tasd_view util_view_1d(const float *data, int64_t count);

/* An allocator that counts live blocks and bytes and can fail on demand.
 * Pool threads call it too, so every counter is atomic. */
typedef struct util_counting_allocator {
    tasd_allocator hooks;
    _Atomic long live_blocks, total_allocs;
    _Atomic long long live_bytes;
    _Atomic long fail_after; /* fail the allocation with this ordinal (1-based); 0 never */
    _Atomic long injected;   /* failures returned so far */
    _Atomic int misaligned;  /* count of returned blocks under the requested alignment */
} util_counting_allocator;
void util_counting_allocator_init(util_counting_allocator *a);

/* An engine-style injected pool (tasd_parallel_for_fn): one pthread per
 * task, inline when a thread cannot be started. */
void util_pthread_parallel_for(void *pool, int64_t ntasks, tasd_task_fn fn, void *arg);

#endif
