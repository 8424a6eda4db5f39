/* The workspace API (tasd.h "Workspaces"): with a workspace of the queried
 * size, tasd_gemm_ws, tasd_gemm_act_ws and tasd_layer_forward_ws make no
 * allocation at all, on every backend, for narrow and wide n, every layer
 * mode, 1-3 threads and an injected parallel-for; their results equal the
 * allocating calls' bit for bit; one byte less is refused with
 * TASD_ERR_BUFFER_TOO_SMALL naming the size, the output untouched; and the
 * allocating calls still fail cleanly when an allocation fails. */
#include "harness.h"
#include "support/util.h"

#include <pthread.h>

enum { OUT = 72, IN = 136, MAXT = 300, MAXN = 300 };

static float w[OUT * IN], bias[OUT];
static float x[MAXT * IN];      /* activations [tokens, IN] */
static float b[IN * MAXN];      /* B [IN, n], row stride MAXN */

static void setup(void)
{
    util_fill_random(w, OUT * IN, 11);
    util_fill_random(bias, OUT, 12);
    util_fill_random(x, MAXT * IN, 13);
    util_fill_random(b, IN * MAXN, 14);
}

/* One configuration of a context: backend, threads, injected pool. */
typedef struct setting {
    tasd_backend backend;
    int threads, pool;
} setting;

static int settings(setting *out)
{
    tasd_backend be[UTIL_MAX_BACKENDS];
    const int nb = util_tested_backends(be);
    int n = 0;
    for (int bi = 0; bi < nb; bi++)
        for (int t = 1; t <= 3; t++)
            for (int p = 0; p < 2; p++)
                out[n++] = (setting){be[bi], t, p};
    return n;
}

static tasd_context *make_ctx(util_counting_allocator *al, setting s)
{
    tasd_context *ctx = NULL;
    CHECK_OK(tasd_context_create(&al->hooks, &ctx));
    CHECK_OK(tasd_context_set_backend(ctx, s.backend));
    CHECK_OK(tasd_context_set_threads(ctx, s.threads));
    if (s.pool)
        CHECK_OK(tasd_context_set_parallel_for(ctx, util_pthread_parallel_for, NULL));
    return ctx;
}

/* A workspace of `bytes` at a deliberately odd address (the library aligns
 * inside). */
typedef struct workspace {
    char *block;
    void *p;
} workspace;
static workspace ws_new(size_t bytes)
{
    workspace ws;
    ws.block = malloc(bytes + 8);
    ws.p = ws.block + 3;
    memset(ws.block, 0x5a, bytes + 8); /* contents on entry must not matter */
    return ws;
}

/* The too-small message names the needed size. */
static int names_size(size_t need)
{
    char text[32];
    snprintf(text, sizeof text, "%zu", need);
    return strstr(tasd_last_error_message(), text) != NULL;
}

/* The three calls of the test, through one function: op 0 tasd_gemm, 1
 * tasd_gemm_act, 2..4 tasd_layer_forward on layers[op - 2]. n is B's
 * columns (gemm, gemm_act) or the tokens (layers). ws NULL: the plain call. */
typedef struct op_args {
    tasd_series *series;
    tasd_config *act;
    tasd_layer *layers[3];
} op_args;

static tasd_status op_size(const op_args *a, int op, tasd_context *ctx, int64_t n, size_t *bytes)
{
    switch (op) {
    case 0: return tasd_gemm_workspace_size(ctx, a->series, n, bytes);
    case 1: return tasd_gemm_act_workspace_size(ctx, a->act, n, IN, OUT, bytes);
    default: return tasd_layer_forward_workspace_size(ctx, a->layers[op - 2], n, bytes);
    }
}

/* out: [OUT, n] for gemm, [n, OUT] otherwise; strided_y: write the output
 * through a transposed view (the dense path's strided store). */
static tasd_status op_run(const op_args *a, int op, tasd_context *ctx, int64_t n, float *out,
                          int strided_y, const workspace *ws, size_t bytes)
{
    void *p = ws ? ws->p : NULL;
    if (op == 0) {
        tasd_view bv = tasd_view_2d(b, TASD_F32, IN, n, MAXN);
        tasd_view cv = tasd_view_2d(out, TASD_F32, OUT, n, n ? n : 1);
        return ws ? tasd_gemm_ws(ctx, 0.75f, a->series, &bv, 0.5f, &cv, p, bytes)
                  : tasd_gemm(ctx, 0.75f, a->series, &bv, 0.5f, &cv);
    }
    tasd_view xv = tasd_view_2d(x, TASD_F32, n, IN, IN);
    tasd_view yv = strided_y ? tasd_view_transpose(tasd_view_2d(out, TASD_F32, OUT, n, n))
                             : tasd_view_2d(out, TASD_F32, n, OUT, OUT);
    if (op == 1) {
        tasd_view wt = tasd_view_transpose(tasd_view_2d(w, TASD_F32, OUT, IN, IN));
        return ws ? tasd_gemm_act_ws(ctx, 1.25f, &xv, a->act, TASD_GREEDY, &wt, 0.5f, &yv, p,
                                     bytes)
                  : tasd_gemm_act(ctx, 1.25f, &xv, a->act, TASD_GREEDY, &wt, 0.5f, &yv);
    }
    return ws ? tasd_layer_forward_ws(ctx, a->layers[op - 2], &xv, &yv, p, bytes)
              : tasd_layer_forward(ctx, a->layers[op - 2], &xv, &yv);
}

static void make_args(op_args *a)
{
    tasd_config *wc = util_config("2:4+1:8");
    a->act = util_config("4:8");
    tasd_view wv = tasd_view_2d(w, TASD_F32, OUT, IN, IN);
    tasd_view bv = util_view_1d(bias, OUT);
    CHECK_OK(tasd_decompose(NULL, &wv, wc, TASD_GREEDY, &a->series));
    const tasd_config *lw[3] = {NULL, wc, NULL}, *la[3] = {NULL, NULL, a->act};
    for (int l = 0; l < 3; l++) {
        tasd_layer_config *lc = NULL;
        CHECK_OK(tasd_layer_config_create(NULL, "l", lw[l], la[l], TASD_GREEDY, NULL, &lc));
        CHECK_OK(tasd_layer_create(NULL, &wv, &bv, lc, &a->layers[l]));
        tasd_layer_config_destroy(lc);
    }
    tasd_config_destroy(wc);
}

static void free_args(op_args *a)
{
    for (int l = 0; l < 3; l++)
        tasd_layer_destroy(a->layers[l]);
    tasd_series_destroy(a->series);
    tasd_config_destroy(a->act);
}

static const char *op_name[] = {"gemm", "gemm_act", "dense", "tasd-w", "tasd-a"};
#define NOPS ((int)(sizeof op_name / sizeof op_name[0]))

/* Every op, setting and size: zero allocations with the exact size,
 * bit-identical to the plain call, size - 1 refused with C untouched. */
static void test_zero_allocations_exact_size(void)
{
    op_args args;
    make_args(&args);
    /* narrow (<= 8), one and several groups of B panels; tokens past one
     * TASD-A tile and past the thread count in tiles; 300 tokens: the dense
     * layer's fused units (X over 32K floats) */
    static const int64_t ns[] = {1, 5, 33, 70, 130, 300};
    setting set[24];
    int nset = settings(set);
    static float ref[OUT * MAXN], got[OUT * MAXN], sentinel[OUT * MAXN];
    for (int si = 0; si < nset; si++) {
        util_counting_allocator al;
        util_counting_allocator_init(&al);
        tasd_context *ctx = make_ctx(&al, set[si]);
        for (int op = 0; op < NOPS; op++)
            for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
                int64_t n = ns[ni];
                if (op > 0 && n > MAXT)
                    continue;
                for (int strided = 0; strided < (op >= 1 ? 2 : 1); strided++) {
                    size_t count = (size_t)(OUT * n);
                    size_t need = 0;
                    CHECK_OK(op_size(&args, op, ctx, n, &need));
                    CHECKF(need > 0, "%s n=%lld needs 0 bytes", op_name[op], (long long)n);
                    util_fill_random(ref, (int64_t)count, 99);
                    memcpy(got, ref, count * sizeof *got);
                    memcpy(sentinel, ref, count * sizeof *got);
                    CHECK_OK(op_run(&args, op, ctx, n, ref, strided, NULL, 0));
                    /* one byte less: refused, naming the size, C untouched */
                    workspace ws = ws_new(need);
                    long allocs = al.total_allocs;
                    CHECK_STATUS(op_run(&args, op, ctx, n, got, strided, &ws, need - 1),
                                 TASD_ERR_BUFFER_TOO_SMALL);
                    CHECKF(names_size(need), "message: %s", tasd_last_error_message());
                    CHECK(memcmp(got, sentinel, count * sizeof *got) == 0);
                    /* the exact size: no allocation, the same bits */
                    CHECK_OK(op_run(&args, op, ctx, n, got, strided, &ws, need));
                    CHECKF(al.total_allocs == allocs,
                           "%s n=%lld backend %s threads %d pool %d: %ld allocations",
                           op_name[op], (long long)n, tasd_backend_name(set[si].backend),
                           set[si].threads, set[si].pool, al.total_allocs - allocs);
                    CHECKF(memcmp(got, ref, count * sizeof *got) == 0,
                           "%s n=%lld backend %s threads %d pool %d differs", op_name[op],
                           (long long)n, tasd_backend_name(set[si].backend), set[si].threads,
                           set[si].pool);
                    free(ws.block);
                }
            }
        tasd_context_destroy(ctx);
        CHECK(al.live_blocks == 0);
    }
    free_args(&args);
}

/* One workspace sized for the largest call serves every smaller call;
 * nothing to do needs no workspace at all. */
static void test_one_workspace_many_calls(void)
{
    op_args args;
    make_args(&args);
    util_counting_allocator al;
    util_counting_allocator_init(&al);
    tasd_context *ctx = make_ctx(&al, (setting){TASD_BACKEND_AUTO, 2, 0});
    size_t most = 0;
    for (int op = 0; op < NOPS; op++) {
        size_t need = 0;
        CHECK_OK(op_size(&args, op, ctx, MAXT, &need));
        most = need > most ? need : most;
    }
    workspace ws = ws_new(most);
    static float out[OUT * MAXN];
    long allocs = al.total_allocs;
    for (int op = 0; op < NOPS; op++)
        for (int64_t n = 1; n <= MAXT; n += 43)
            CHECK_OK(op_run(&args, op, ctx, n, out, 0, &ws, most));
    CHECK(al.total_allocs == allocs);
    /* empty products: size 0, a NULL workspace is fine */
    size_t zero = 1;
    CHECK_OK(tasd_gemm_workspace_size(ctx, args.series, 0, &zero));
    CHECK(zero == 0);
    CHECK_OK(tasd_layer_forward_workspace_size(ctx, args.layers[2], 0, &zero));
    CHECK(zero == 0);
    CHECK_OK(op_run(&args, 0, ctx, 0, out, 0, &(workspace){NULL, NULL}, 0));
    CHECK_OK(op_run(&args, 4, ctx, 0, out, 0, &(workspace){NULL, NULL}, 0));
    /* alpha == 0 still asks for the queried size (it depends on shapes only) */
    size_t need = 0;
    CHECK_OK(tasd_gemm_workspace_size(ctx, args.series, 70, &need));
    tasd_view bv = tasd_view_2d(b, TASD_F32, IN, 70, MAXN);
    tasd_view cv = tasd_view_2d(out, TASD_F32, OUT, 70, 70);
    CHECK_STATUS(tasd_gemm_ws(ctx, 0.0f, args.series, &bv, 1.0f, &cv, ws.p, need - 1),
                 TASD_ERR_BUFFER_TOO_SMALL);
    CHECK_OK(tasd_gemm_ws(ctx, 0.0f, args.series, &bv, 1.0f, &cv, ws.p, need));
    /* bad arguments */
    CHECK_STATUS(tasd_gemm_ws(ctx, 1.0f, args.series, &bv, 0.0f, &cv, NULL, 64),
                 TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_gemm_workspace_size(ctx, NULL, 1, &need), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_gemm_workspace_size(ctx, args.series, -1, &need),
                 TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_gemm_act_workspace_size(ctx, args.act, 1, -2, 3, &need),
                 TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_layer_forward_workspace_size(ctx, NULL, 1, &need),
                 TASD_ERR_NULL_POINTER);
    free(ws.block);
    tasd_context_destroy(ctx);
    CHECK(al.live_blocks == 0);
    free_args(&args);
}

/* The size follows the context: more threads, more per-thread tiles. */
static void test_size_depends_on_threads(void)
{
    op_args args;
    make_args(&args);
    util_counting_allocator al;
    util_counting_allocator_init(&al);
    tasd_context *c1 = make_ctx(&al, (setting){TASD_BACKEND_SCALAR, 1, 0});
    tasd_context *c3 = make_ctx(&al, (setting){TASD_BACKEND_SCALAR, 3, 0});
    size_t s1 = 0, s3 = 0;
    CHECK_OK(tasd_gemm_workspace_size(c1, args.series, 300, &s1));
    CHECK_OK(tasd_gemm_workspace_size(c3, args.series, 300, &s3));
    CHECK(s3 > s1);
    CHECK_OK(tasd_gemm_act_workspace_size(c1, args.act, MAXT, IN, OUT, &s1));
    CHECK_OK(tasd_gemm_act_workspace_size(c3, args.act, MAXT, IN, OUT, &s3));
    CHECK(s3 > s1);
    tasd_context_destroy(c1);
    tasd_context_destroy(c3);
    free_args(&args);
}

/* A size query for shapes no view can hold (more than 2^48 elements in A,
 * B, C, X or Y) describes no possible call: TASD_ERR_OVERFLOW, bytes
 * untouched, instead of a size computed from wrapped (undefined) signed
 * arithmetic (m = INT64_MAX used to report a TASD-A size smaller than
 * m = INT64_MAX - 100 did, and n = 2^50 a bogus 2^58 bytes). Empty
 * operands of any extent stay queryable. */
static void test_size_of_impossible_shapes(void)
{
    op_args args;
    make_args(&args);
    util_counting_allocator al;
    util_counting_allocator_init(&al);
    tasd_context *c2 = make_ctx(&al, (setting){TASD_BACKEND_SCALAR, 2, 0});
    size_t bytes = 12345;
    CHECK_STATUS(tasd_gemm_workspace_size(c2, args.series, (int64_t)1 << 50, &bytes),
                 TASD_ERR_OVERFLOW);
    CHECK_STATUS(tasd_gemm_workspace_size(c2, args.series, INT64_MAX, &bytes), TASD_ERR_OVERFLOW);
    CHECK_STATUS(tasd_gemm_act_workspace_size(c2, args.act, INT64_MAX, IN, OUT, &bytes),
                 TASD_ERR_OVERFLOW);
    CHECK_STATUS(tasd_gemm_act_workspace_size(c2, args.act, INT64_MAX - 100, IN, OUT, &bytes),
                 TASD_ERR_OVERFLOW);
    CHECK_STATUS(tasd_gemm_act_workspace_size(c2, args.act, (int64_t)1 << 40, (int64_t)1 << 20,
                                              8, &bytes),
                 TASD_ERR_OVERFLOW);
    CHECK_STATUS(tasd_gemm_act_workspace_size(c2, args.act, 8, INT64_MAX, 8, &bytes),
                 TASD_ERR_OVERFLOW);
    for (int l = 0; l < 3; l++)
        CHECK_STATUS(tasd_layer_forward_workspace_size(c2, args.layers[l], (int64_t)1 << 47,
                                                       &bytes),
                     TASD_ERR_OVERFLOW);
    CHECK(bytes == 12345);
    /* A [INT64_MAX, 0] into C [INT64_MAX, 0] is a valid (empty) call. */
    CHECK_OK(tasd_gemm_act_workspace_size(c2, args.act, INT64_MAX, 0, 0, &bytes));
    CHECK_OK(tasd_gemm_act_workspace_size(c2, args.act, 0, INT64_MAX, 0, &bytes));
    CHECK_OK(tasd_gemm_act_workspace_size(c2, args.act, 0, 0, INT64_MAX, &bytes));
    tasd_context_destroy(c2);
    free_args(&args);
}

/* Without a workspace a call takes one block of scratch from its context,
 * which keeps it for the next call: the first call on a fresh context
 * allocates it, the next ones nothing. Its failure is reported as
 * out-of-memory, with nothing leaked and the output untouched. */
static void test_out_of_memory_without_workspace(void)
{
    op_args args;
    make_args(&args);
    util_counting_allocator al;
    util_counting_allocator_init(&al);
    static float out[OUT * MAXN], keep[OUT * MAXN];
    for (int op = 0; op < NOPS; op++) {
        int64_t n = op == 0 ? 300 : 70;
        util_fill_random(out, OUT * n, 5);
        memcpy(keep, out, sizeof out);
        tasd_context *ctx = make_ctx(&al, (setting){TASD_BACKEND_AUTO, 3, 1});
        long blocks = al.live_blocks, before = al.total_allocs;
        CHECK_OK(op_run(&args, op, ctx, n, out, 0, NULL, 0));
        CHECKF(al.total_allocs - before == 1, "%s: %ld allocations", op_name[op],
               al.total_allocs - before);
        CHECK(al.live_blocks == blocks + 1); /* kept by the context */
        before = al.total_allocs;
        CHECK_OK(op_run(&args, op, ctx, n, out, 0, NULL, 0));
        CHECKF(al.total_allocs == before, "%s: the second call allocated %ld", op_name[op],
               al.total_allocs - before);
        tasd_context_destroy(ctx);
        CHECK(al.live_blocks == blocks - 1); /* the context and its block freed */

        memcpy(out, keep, sizeof out);
        ctx = make_ctx(&al, (setting){TASD_BACKEND_AUTO, 3, 1});
        blocks = al.live_blocks;
        long injected = al.injected;
        al.fail_after = al.total_allocs + 1;
        CHECK_STATUS(op_run(&args, op, ctx, n, out, 0, NULL, 0), TASD_ERR_OUT_OF_MEMORY);
        al.fail_after = 0;
        CHECK(al.injected == injected + 1);
        CHECK(al.live_blocks == blocks);
        /* layers write the bias first only after their scratch exists */
        CHECK(memcmp(out, keep, sizeof out) == 0);
        tasd_context_destroy(ctx);
    }
    CHECK(al.live_blocks == 0);
    free_args(&args);
}

/* The kept block follows the largest call: a call that needs more replaces
 * it (one allocation, the old block freed), a smaller one reuses it; a call
 * without a context keeps nothing. */
static void test_kept_scratch_grows(void)
{
    op_args args;
    make_args(&args);
    util_counting_allocator al;
    util_counting_allocator_init(&al);
    static float out[OUT * MAXN];
    tasd_context *ctx = make_ctx(&al, (setting){TASD_BACKEND_AUTO, 1, 0});
    size_t small = 0, large = 0;
    CHECK_OK(op_size(&args, 0, ctx, 16, &small));
    CHECK_OK(op_size(&args, 0, ctx, MAXN, &large));
    CHECK(large > small);
    const long blocks = al.live_blocks;
    const int64_t ns[4] = {16, MAXN, 16, MAXN};
    const long allocs[4] = {1, 1, 0, 0};
    for (int i = 0; i < 4; i++) {
        long before = al.total_allocs;
        CHECK_OK(op_run(&args, 0, ctx, ns[i], out, 0, NULL, 0));
        CHECKF(al.total_allocs - before == allocs[i], "call %d (n = %lld): %ld allocations", i,
               (long long)ns[i], al.total_allocs - before);
        CHECK(al.live_blocks == blocks + 1);
    }
    tasd_context_destroy(ctx);
    CHECK(al.live_blocks == 0);
    /* no context: the call runs on the default allocator (with no context
     * there is no slot to keep a block in) */
    CHECK_OK(op_run(&args, 0, NULL, MAXN, out, 0, NULL, 0));
    free_args(&args);
}

/* tasd_context_scratch_bytes reports the kept block (what the call
 * allocated), tasd_context_release_scratch frees it (the
 * allocator sees the free) and the next call allocates again, with the same
 * result. */
static void test_release_scratch(void)
{
    op_args args;
    make_args(&args);
    util_counting_allocator al;
    util_counting_allocator_init(&al);
    static float out[OUT * MAXN], again[OUT * MAXN];
    for (int op = 0; op < NOPS; op++) {
        tasd_context *ctx = make_ctx(&al, (setting){TASD_BACKEND_AUTO, 1, 0});
        size_t need = 0;
        CHECK_OK(op_size(&args, op, ctx, MAXN, &need));
        CHECK(tasd_context_scratch_bytes(ctx) == 0);
        const long blocks = al.live_blocks;
        const long long bytes = al.live_bytes;
        CHECK_OK(op_run(&args, op, ctx, MAXN, out, 0, NULL, 0));
        /* what the allocator handed out, less the block's small header; at
         * most what the query says (it covers every beta, the call its own) */
        const size_t kept = tasd_context_scratch_bytes(ctx);
        CHECKF(kept > 0 && kept <= need && (long long)kept <= al.live_bytes - bytes &&
                   (long long)kept + 256 >= al.live_bytes - bytes,
               "%s: %zu bytes kept, %lld allocated, %zu needed", op_name[op], kept,
               al.live_bytes - bytes, need);
        CHECK(al.live_blocks == blocks + 1);
        CHECK_OK(tasd_context_release_scratch(ctx));
        CHECK(al.live_blocks == blocks);
        CHECK(tasd_context_scratch_bytes(ctx) == 0);
        CHECK_OK(tasd_context_release_scratch(ctx)); /* nothing kept: nothing to do */
        long before = al.total_allocs;
        CHECK_OK(op_run(&args, op, ctx, MAXN, again, 0, NULL, 0));
        CHECK(al.total_allocs - before == 1);
        CHECKF(memcmp(out, again, sizeof out) == 0, "%s: result changed after the release",
               op_name[op]);
        tasd_context_destroy(ctx);
        CHECK(al.live_blocks == blocks - 1);
    }
    CHECK(al.live_blocks == 0);
    CHECK(tasd_context_scratch_bytes(NULL) == 0);
    CHECK(tasd_context_release_scratch(NULL) == TASD_ERR_NULL_POINTER);
    free_args(&args);
}

TEST_MAIN(setup(); RUN(test_zero_allocations_exact_size); RUN(test_one_workspace_many_calls);
          RUN(test_size_depends_on_threads);
          RUN(test_size_of_impossible_shapes); RUN(test_out_of_memory_without_workspace);
          RUN(test_kept_scratch_grows); RUN(test_release_scratch);)
