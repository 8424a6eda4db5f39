#include "util.h"

#include <pthread.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void util_fill_random(float *x, int64_t count, unsigned long long seed)
{
    unsigned long long s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (int64_t i = 0; i < count; i++) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        unsigned long long r = s * 0x2545f4914f6cdd1dull;
        x[i] = (float)((double)(r >> 11) / 4503599627370496.0 - 1.0);
    }
}

tasd_config *util_config(const char *text)
{
    tasd_config *c;
    if (tasd_config_parse(NULL, text, &c) != TASD_OK) {
        fprintf(stderr, "util_config(%s): %s\n", text, tasd_last_error_message());
        abort();
    }
    return c;
}

tasd_series *util_decompose(tasd_context *ctx, const float *w, int64_t rows,
                            int64_t cols, const char *config, tasd_method method)
{
    tasd_config *c = util_config(config);
    tasd_view v = tasd_view_2d(w, TASD_F32, rows, cols, cols);
    tasd_series *s;
    if (tasd_decompose(ctx, &v, c, method, &s) != TASD_OK) {
        fprintf(stderr, "util_decompose(%s): %s\n", config, tasd_last_error_message());
        abort();
    }
    tasd_config_destroy(c);
    return s;
}

float *util_reconstruct(const tasd_series *s)
{
    int64_t rows, cols;
    tasd_series_shape(s, &rows, &cols);
    float *out = malloc(sizeof(float) * (size_t)(rows * cols + 1));
    tasd_view v = tasd_view_2d(out, TASD_F32, rows, cols, cols);
    if (tasd_series_reconstruct(s, &v) != TASD_OK) {
        fprintf(stderr, "util_reconstruct: %s\n", tasd_last_error_message());
        abort();
    }
    return out;
}

double util_energy(const float *x, int64_t count)
{
    double e = 0;
    for (int64_t i = 0; i < count; i++)
        e += (double)x[i] * x[i];
    return e;
}

/* The backends that `take` keeps, in enum order, into out; how many. */
static int list_backends(int (*take)(tasd_backend), tasd_backend out[UTIL_MAX_BACKENDS])
{
    int n = 0;
    for (int b = TASD_BACKEND_SCALAR; b <= TASD_BACKEND_NEON && n < UTIL_MAX_BACKENDS; b++)
        if (take((tasd_backend)b))
            out[n++] = (tasd_backend)b;
    return n;
}

static int backend_available(tasd_backend b)
{
    return tasd_backend_available(b) != 0;
}

int util_available_backends(tasd_backend out[UTIL_MAX_BACKENDS])
{
    return list_backends(backend_available, out);
}

int util_backend_tested(tasd_backend b)
{
    const char *env = getenv("TASD_BACKEND");
    tasd_backend only;
    if (!tasd_backend_available(b))
        return 0;
    if (!env || !*env || tasd_backend_parse(env, &only) != TASD_OK || only == TASD_BACKEND_AUTO)
        return 1;
    return b == only;
}

int util_tested_backends(tasd_backend out[UTIL_MAX_BACKENDS])
{
    return list_backends(util_backend_tested, out);
}

tasd_context *util_context(const tasd_allocator *a, tasd_backend backend, int threads)
{
    tasd_context *ctx = NULL;
    if (tasd_context_create(a, &ctx) != TASD_OK ||
        tasd_context_set_backend(ctx, backend) != TASD_OK ||
        tasd_context_set_threads(ctx, threads) != TASD_OK) {
        fprintf(stderr, "util_context(%s, %d threads): %s\n", tasd_backend_name(backend),
                threads, tasd_last_error_message());
        abort();
    }
    return ctx;
}

tasd_view util_view_1d(const float *data, int64_t count)
{
    tasd_view v;
    memset(&v, 0, sizeof v);
    v.data = (void *)(uintptr_t)data;
    v.dtype = TASD_F32;
    v.ndim = 1;
    v.shape[0] = count;
    v.strides[0] = 1;
    return v;
}

static void *counting_alloc(void *user, size_t size, size_t alignment)
{
    util_counting_allocator *a = user;
    long n = ++a->total_allocs;
    if (n == a->fail_after) {
        a->injected++;
        return NULL;
    }
    void *p = NULL;
    if (posix_memalign(&p, alignment < sizeof(void *) ? sizeof(void *) : alignment, size))
        return NULL;
    if ((uintptr_t)p % alignment)
        a->misaligned++;
    a->live_blocks++;
    a->live_bytes += (long long)size;
    return p;
}

static void counting_free(void *user, void *ptr, size_t size)
{
    util_counting_allocator *a = user;
    a->live_blocks--;
    a->live_bytes -= (long long)size;
    free(ptr);
}

void util_counting_allocator_init(util_counting_allocator *a)
{
    memset(a, 0, sizeof *a);
    a->hooks.size = sizeof a->hooks;
    a->hooks.alloc = counting_alloc;
    a->hooks.free = counting_free;
    a->hooks.user = a;
}

typedef struct pool_task {
    tasd_task_fn fn;
    void *arg;
    int64_t i;
} pool_task;

static void *pool_run(void *p)
{
    pool_task *t = p;
    t->fn(t->arg, t->i);
    return NULL;
}

void util_pthread_parallel_for(void *pool, int64_t ntasks, tasd_task_fn fn, void *arg)
{
    (void)pool;
    enum { MAXP = 16 };
    pthread_t th[MAXP];
    pool_task t[MAXP];
    int started[MAXP] = {0};
    for (int64_t i = 0; i < ntasks; i++) {
        if (i < MAXP) {
            t[i] = (pool_task){fn, arg, i};
            started[i] = pthread_create(&th[i], NULL, pool_run, &t[i]) == 0;
            if (started[i])
                continue;
        }
        fn(arg, i); /* no thread for it: run it here */
    }
    for (int64_t i = 0; i < ntasks && i < MAXP; i++)
        if (started[i])
            pthread_join(th[i], NULL);
}

unsigned char *util_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    unsigned char *p = n >= 0 && fseek(f, 0, SEEK_SET) == 0 ? malloc((size_t)n + 1) : NULL;
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p) {
        p[n] = 0;
        *size = (size_t)n;
    }
    return p;
}

int util_copy_file(const char *from, const char *to)
{
    size_t n;
    unsigned char *d = util_read_file(from, &n);
    FILE *f = d ? fopen(to, "wb") : NULL;
    int ok = f && fwrite(d, 1, n, f) == n;
    if (f)
        ok = fclose(f) == 0 && ok;
    free(d);
    return ok;
}

int util_same_file_bytes(const char *a, const char *b)
{
    size_t na, nb;
    unsigned char *x = util_read_file(a, &na), *y = util_read_file(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}
