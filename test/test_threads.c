/* Thread-safety stress: several threads run tasd_gemm, tasd_gemm_act,
 * tasd_layer_forward and tasd_series_stats on the SAME series and layer
 * objects, with the built-in threading and with an injected parallel-for,
 * each on its own context or all on one (whose kept scratch block they then
 * contend for, while one more thread queries and releases it), while another
 * thread decomposes; every result must equal
 * the single-threaded one bit for bit. `make test-tsan` runs it under
 * ThreadSanitizer. */
#include "harness.h"
#include "support/util.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

enum { OUT = 72, IN = 136, ITERS = 6, WORKERS = 4 };
static const int64_t tokens_list[] = {1, 5, 33, 70};
#define NTOK (int64_t)(sizeof tokens_list / sizeof tokens_list[0])

/* Shared, read-only after setup. */
static float w[OUT * IN], bias[OUT];
static float x[70 * IN];   /* activations [tokens, IN] */
static float xt[IN * 70];  /* the same as B = X^T [IN, tokens] for tasd_gemm */
static tasd_series *series;
static tasd_config *act_cfg;
static tasd_layer *layers[3]; /* dense, TASD-W, TASD-A */
static tasd_stats stats_ref;

/* Single-threaded references, per token count. */
static float ref_gemm[NTOK][OUT * 70];
static float ref_act[NTOK][70 * OUT];
static float ref_layer[3][NTOK][70 * OUT];

static void run_all(tasd_context *ctx, int64_t ti, float *gemm, float *act,
                    float (*lay)[70 * OUT], tasd_stats *st, int *errors)
{
    int64_t n = tokens_list[ti];
    tasd_view b = tasd_view_2d_strided(xt, TASD_F32, IN, n, 70, 1);
    tasd_view c = tasd_view_2d(gemm, TASD_F32, OUT, n, n);
    tasd_view xv = tasd_view_2d(x, TASD_F32, n, IN, IN);
    tasd_view wt = tasd_view_transpose(tasd_view_2d(w, TASD_F32, OUT, IN, IN));
    tasd_view yv = tasd_view_2d(act, TASD_F32, n, OUT, OUT);
    *errors += tasd_gemm(ctx, 1.0f, series, &b, 0.0f, &c) != TASD_OK;
    *errors += tasd_gemm_act(ctx, 1.0f, &xv, act_cfg, TASD_GREEDY, &wt, 0.0f, &yv) != TASD_OK;
    for (int l = 0; l < 3; l++) {
        tasd_view ly = tasd_view_2d(lay[l], TASD_F32, n, OUT, OUT);
        *errors += tasd_layer_forward(ctx, layers[l], &xv, &ly) != TASD_OK;
    }
    memset(st, 0, sizeof *st);
    st->size = sizeof *st;
    *errors += tasd_series_stats(series, st) != TASD_OK;
}

typedef struct worker {
    int id, injected;
    tasd_context *shared; /* NULL: the worker makes its own context */
    int errors, mismatches;
    float gemm[OUT * 70], act[70 * OUT], lay[3][70 * OUT];
} worker;

static void *worker_main(void *p)
{
    worker *wk = p;
    tasd_context *ctx = wk->shared;
    if (!ctx) {
        if (tasd_context_create(NULL, &ctx) != TASD_OK) {
            wk->errors++;
            return NULL;
        }
        tasd_context_set_threads(ctx, 2);
        if (wk->injected)
            tasd_context_set_parallel_for(ctx, util_pthread_parallel_for, NULL);
    }
    for (int it = 0; it < ITERS; it++) {
        int64_t ti = (it + wk->id) % NTOK, n = tokens_list[ti];
        tasd_stats st;
        run_all(ctx, ti, wk->gemm, wk->act, wk->lay, &st, &wk->errors);
        wk->mismatches += memcmp(wk->gemm, ref_gemm[ti], (size_t)(OUT * n) * 4) != 0;
        wk->mismatches += memcmp(wk->act, ref_act[ti], (size_t)(OUT * n) * 4) != 0;
        for (int l = 0; l < 3; l++)
            wk->mismatches += memcmp(wk->lay[l], ref_layer[l][ti], (size_t)(OUT * n) * 4) != 0;
        wk->mismatches += memcmp(&st, &stats_ref, sizeof st) != 0;
    }
    if (!wk->shared)
        tasd_context_destroy(ctx);
    return NULL;
}

/* Decomposes its own matrix over and over, with the shared default context
 * (ctx NULL) and its own, and checks the reconstruction never changes. */
typedef struct decomposer {
    int errors, mismatches;
} decomposer;

static void *decomposer_main(void *p)
{
    decomposer *d = p;
    static float m[96 * 80], ref[96 * 80], got[96 * 80];
    util_fill_random(m, 96 * 80, 77);
    tasd_view mv = tasd_view_2d(m, TASD_F32, 96, 80, 80);
    tasd_config *cfg = NULL;
    if (tasd_config_parse(NULL, "2:8+1:4", &cfg) != TASD_OK) {
        d->errors++;
        return NULL;
    }
    for (int it = 0; it < ITERS; it++) {
        tasd_series *s = NULL;
        if (tasd_decompose(NULL, &mv, cfg, TASD_OPTIMAL, &s) != TASD_OK) {
            d->errors++;
            continue;
        }
        tasd_view out = tasd_view_2d(it ? got : ref, TASD_F32, 96, 80, 80);
        d->errors += tasd_series_reconstruct(s, &out) != TASD_OK;
        if (it)
            d->mismatches += memcmp(got, ref, sizeof got) != 0;
        tasd_series_destroy(s);
    }
    tasd_config_destroy(cfg);
    return NULL;
}

static void setup(void)
{
    util_fill_random(w, OUT * IN, 1);
    util_fill_random(bias, OUT, 2);
    util_fill_random(x, 70 * IN, 3);
    for (int k = 0; k < IN; k++)
        for (int t = 0; t < 70; t++)
            xt[k * 70 + t] = x[t * IN + k];
    tasd_config *wc = util_config("2:4+1:8");
    act_cfg = util_config("4:8");
    tasd_view wv = tasd_view_2d(w, TASD_F32, OUT, IN, IN);
    tasd_view bv = util_view_1d(bias, OUT);
    if (tasd_decompose(NULL, &wv, wc, TASD_OPTIMAL, &series) != TASD_OK)
        abort();
    const tasd_config *lw[3] = {NULL, wc, NULL}, *la[3] = {NULL, NULL, act_cfg};
    for (int l = 0; l < 3; l++) {
        tasd_layer_config *lc = NULL;
        if (tasd_layer_config_create(NULL, "l", lw[l], la[l], TASD_GREEDY, NULL, &lc) ||
            tasd_layer_create(NULL, &wv, &bv, lc, &layers[l]))
            abort();
        tasd_layer_config_destroy(lc);
    }
    tasd_config_destroy(wc);
    tasd_context *one = NULL;
    CHECK_OK(tasd_context_create(NULL, &one));
    CHECK_OK(tasd_context_set_threads(one, 1));
    for (int64_t ti = 0; ti < NTOK; ti++) {
        int errors = 0;
        float lay[3][70 * OUT];
        run_all(one, ti, ref_gemm[ti], ref_act[ti], lay, &stats_ref, &errors);
        CHECK(errors == 0);
        memcpy(ref_layer[0][ti], lay[0], sizeof lay[0]);
        memcpy(ref_layer[1][ti], lay[1], sizeof lay[1]);
        memcpy(ref_layer[2][ti], lay[2], sizeof lay[2]);
    }
    CHECK(tasd_layer_get_mode(layers[0]) == TASD_LAYER_DENSE);
    CHECK(tasd_layer_get_mode(layers[1]) == TASD_LAYER_WEIGHTS);
    CHECK(tasd_layer_get_mode(layers[2]) == TASD_LAYER_ACTIVATIONS);
    tasd_context_destroy(one);
}

static void teardown(void)
{
    for (int l = 0; l < 3; l++)
        tasd_layer_destroy(layers[l]);
    tasd_series_destroy(series);
    tasd_config_destroy(act_cfg);
}

/* Queries and frees a shared context's kept scratch while its workers run. */
typedef struct releaser {
    tasd_context *ctx;
    atomic_int running;
    int errors;
    long releases;
} releaser;

static void *releaser_main(void *p)
{
    releaser *r = p;
    while (atomic_load(&r->running)) {
        (void)tasd_context_scratch_bytes(r->ctx);
        r->errors += tasd_context_release_scratch(r->ctx) != TASD_OK;
        r->releases++;
        sched_yield();
    }
    return NULL;
}

/* shared: one context for all workers (built-in threading or, injected,
 * the engine's pool), else one each. */
static void run_workers(tasd_context *shared, int injected)
{
    static worker wk[WORKERS];
    decomposer dec = {0, 0};
    releaser rel = {.ctx = shared};
    atomic_init(&rel.running, 1);
    pthread_t th[WORKERS], dth, rth;
    if (shared)
        CHECK(pthread_create(&rth, NULL, releaser_main, &rel) == 0);
    for (int i = 0; i < WORKERS; i++) {
        memset(&wk[i], 0, sizeof wk[i]);
        wk[i].id = i;
        wk[i].injected = shared ? injected : i % 2; /* half with the engine's pool */
        wk[i].shared = shared;
        CHECK(pthread_create(&th[i], NULL, worker_main, &wk[i]) == 0);
    }
    CHECK(pthread_create(&dth, NULL, decomposer_main, &dec) == 0);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(th[i], NULL);
    pthread_join(dth, NULL);
    if (shared) {
        atomic_store(&rel.running, 0);
        pthread_join(rth, NULL);
        CHECKF(rel.errors == 0 && rel.releases > 0, "releaser: %d errors in %ld releases",
               rel.errors, rel.releases);
    }
    for (int i = 0; i < WORKERS; i++) {
        CHECKF(wk[i].errors == 0, "worker %d: %d calls failed", i, wk[i].errors);
        CHECKF(wk[i].mismatches == 0, "worker %d (%s, %s context): %d results differ from "
               "the single-threaded run", i, wk[i].injected ? "injected pool" : "built-in",
               shared ? "shared" : "own", wk[i].mismatches);
    }
    CHECKF(dec.errors == 0 && dec.mismatches == 0, "decomposer: %d errors, %d mismatches",
           dec.errors, dec.mismatches);
}

static void test_shared_objects_many_threads(void)
{
    setup();
    run_workers(NULL, 0);
    teardown();
}

/* One context used by every worker at once: calls of different sizes
 * contend for its kept scratch block (one gets it, the others their own,
 * and the largest stays); freed, with the context, without a leak (ASan,
 * valgrind). */
static void test_shared_context_many_threads(void)
{
    setup();
    for (int injected = 0; injected < 2; injected++) {
        tasd_context *ctx = NULL;
        CHECK_OK(tasd_context_create(NULL, &ctx));
        CHECK_OK(tasd_context_set_threads(ctx, 2));
        if (injected)
            CHECK_OK(tasd_context_set_parallel_for(ctx, util_pthread_parallel_for, NULL));
        run_workers(ctx, injected);
        tasd_context_destroy(ctx);
    }
    teardown();
}

TEST_MAIN(RUN(test_shared_objects_many_threads); RUN(test_shared_context_many_threads);)
