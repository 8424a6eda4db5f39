/* libtasd benchmark: tasd_gemm against the faster of OpenBLAS and oneDNN, in
 * the same process, interleaved, medians of several repetitions.
 *
 *   build/bench/bench [--quick] [--shape MxKxN[,..]] [--config CFG[,..]]
 *                     [--threads T[,..]] [--backend B] [--reps R] [--no-decompose]
 *                     [--values f32|bf16|f16] [--dtype f32|bf16]
 *
 * --values decomposes with that series value type; --dtype bf16 passes the
 * activations to tasd_gemm as bf16 (C stays f32). Either one adds the dense
 * bf16 baseline: oneDNN's matmul primitive with bf16 weights and activations
 * and f32 output (the dense time is then the fastest of the three). OpenBLAS
 * cblas_sbgemm is looked up at run time: Debian's 0.3.21 lacks it.
 *
 * --config dense times libtasd's own dense path instead of a series: a
 * tasd_layer in TASD_LAYER_DENSE mode with W = the M x K weights, run on
 * X^T [N tokens, K] into Y [N, M] (row-major, the layer's layout), against
 * the same baselines on the same data (C = W * X).
 *
 * Weights are M x K (decomposed once per case with tasd_decompose, outside the
 * timing), activations K x N, C = W * X is M x N, all row-major fp32.
 * Dense baselines: cblas_sgemm (cblas_sgemv when N == 1) from OpenBLAS and
 * dnnl_sgemm from oneDNN; the dense time of a case is the faster of the two.
 *
 * Debian's OpenBLAS 0.3.21 reads OPENBLAS_CORETYPE in a constructor that runs
 * before main(), and does not recognise recent CPUs on its own (it falls back
 * to SSE3 kernels). So main() sets OPENBLAS_CORETYPE (SkylakeX with AVX-512,
 * Haswell without it or when the AVX2 backend is measured; oneDNN then also
 * gets ONEDNN_MAX_CPU_ISA=AVX2) and re-executes itself once. A value already
 * in the environment is kept. The core OpenBLAS actually runs is printed.
 * OPENBLAS_THREAD_TIMEOUT is shortened the same way (see pin_and_reexec). */
#define _GNU_SOURCE
#include <cblas.h>
#include <dnnl.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "tasd.h"
#if defined(__x86_64__)
#include "peak.h"
#endif

/* OpenBLAS extensions (declared here too in case cblas.h is another vendor's). */
char *openblas_get_corename(void);
char *openblas_get_config(void);
void openblas_set_num_threads(int num_threads);

#define MAX_LIST 32
#define REEXEC_MARK "TASD_BENCH_REEXEC"

typedef struct shape { int64_t m, k, n; } shape;

typedef struct options {
    shape shapes[MAX_LIST];
    int nshapes;
    char configs[MAX_LIST][64];
    int nconfigs;
    int threads[MAX_LIST];
    int nthreads;
    tasd_backend backend;
    int reps;
    int quick;
    int decompose;
    int layer; /* series configs through tasd_layer_forward, with a bias */
    double batch_ms; /* minimum time of one timed batch */
    tasd_dtype values, dtype; /* series value type, activation type */
} options;

static const shape default_shapes[] = {
    {768, 768, 128},   {3072, 768, 128}, {768, 3072, 128}, {1024, 4096, 256},
    {4096, 4096, 64},  {4096, 4096, 8},  {4096, 4096, 1},
};
static const char *const default_configs[] = {"2:4", "1:4", "2:4+1:8", "1:8"};

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void check(tasd_status st, const char *what)
{
    if (st != TASD_OK)
        die("%s failed: %s (%s)", what, tasd_status_string(st), tasd_last_error_message());
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* Blocks of 4 MiB or more (the dense weights and their copies) go on 2 MiB
 * boundaries with MADV_HUGEPAGE, as libtasd places a series (context.c,
 * tasdi_alloc_lasting): on 4 KiB pages, streamed weights cost a TLB walk per
 * page, and under a hypervisor the dense baselines at decoding shapes ran
 * 2-20x slower in some runs than in others (AMD EPYC Zen 5 VM, 2026-12-02),
 * while the series, on huge pages, did not. */
static void *xalloc(size_t bytes)
{
    const size_t huge = (size_t)2 << 20;
    int big = bytes >= 2 * huge;
    void *p = NULL;
    if (posix_memalign(&p, big ? huge : 64, bytes ? bytes : 64) != 0)
        die("out of memory (%zu bytes)", bytes);
#ifdef MADV_HUGEPAGE
    if (big)
        madvise(p, bytes, MADV_HUGEPAGE); /* advice only */
#endif
    return p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Deterministic uniform [-1, 1). */
static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static float frand(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t r = rng_state * 0x2545f4914f6cdd1dull;
    return (float)((double)(r >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

/* ---------------------------------------------------------------- options */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench [options]\n"
            "  --quick            a subset that finishes in under a minute\n"
            "  --shape MxKxN[,..] weights M x K times activations K x N\n"
            "  --config CFG[,..]  e.g. 2:4 or 2:4+1:8 (comma-separated list); dense:\n"
            "                     libtasd's dense layer path (TASD_LAYER_DENSE)\n"
            "  --threads T[,..]   thread counts (default 1,2)\n"
            "  --backend B        auto, scalar, avx2, avx512, neon (default auto)\n"
            "  --reps R           repetitions per case, median reported (default 7)\n"
            "  --no-decompose     skip the decomposition throughput section\n"
            "  --layer            time every config as a layer with a bias through\n"
            "                     tasd_layer_forward (X [N,K], Y [N,M]: an engine's\n"
            "                     linear layer) instead of tasd_gemm (f32 only)\n"
            "  --values T         series value type: f32 (default), bf16 or f16\n"
            "  --dtype T          activations passed to tasd_gemm: f32 (default) or bf16;\n"
            "                     either option adds oneDNN's bf16 matmul as a baseline\n"
            "environment: OPENBLAS_CORETYPE, OPENBLAS_THREAD_TIMEOUT and (for avx2)\n"
            "ONEDNN_MAX_CPU_ISA are set by the bench (with a re-exec)\n"
            "unless already present.\n");
}

static char *next_item(char **p)
{
    char *s = *p;
    if (!s || !*s)
        return NULL;
    char *comma = strchr(s, ',');
    if (comma) {
        *comma = '\0';
        *p = comma + 1;
    } else {
        *p = s + strlen(s);
    }
    return s;
}

static void parse_options(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->backend = TASD_BACKEND_AUTO;
    o->reps = 0;
    o->decompose = 1;
    static char buf[1024];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = (i + 1 < argc) ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) {
            o->quick = 1;
            continue;
        }
        if (!strcmp(a, "--no-decompose")) {
            o->decompose = 0;
            continue;
        }
        if (!strcmp(a, "--layer")) {
            o->layer = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (!val)
            die("%s needs a value (see --help)", a);
        i++;
        snprintf(buf, sizeof buf, "%s", val);
        char *p = buf, *item;
        if (!strcmp(a, "--shape")) {
            while ((item = next_item(&p))) {
                long long m, k, n;
                char tail;
                if (o->nshapes == MAX_LIST)
                    die("too many shapes");
                if (sscanf(item, "%lldx%lldx%lld%c", &m, &k, &n, &tail) != 3 || m < 1 ||
                    k < 1 || n < 1 || m > (1 << 20) || k > (1 << 20) || n > (1 << 20))
                    die("bad --shape \"%s\" (want MxKxN, e.g. 4096x4096x8)", item);
                o->shapes[o->nshapes++] = (shape){m, k, n};
            }
        } else if (!strcmp(a, "--config")) {
            while ((item = next_item(&p))) {
                if (o->nconfigs == MAX_LIST)
                    die("too many configs");
                if (!strcmp(item, "dense")) {
                    snprintf(o->configs[o->nconfigs++], 64, "dense");
                    continue;
                }
                tasd_config *cfg;
                check(tasd_config_parse(NULL, item, &cfg), "--config");
                check(tasd_config_format(cfg, o->configs[o->nconfigs], 64, NULL),
                      "tasd_config_format");
                tasd_config_destroy(cfg);
                o->nconfigs++;
            }
        } else if (!strcmp(a, "--threads")) {
            while ((item = next_item(&p))) {
                char *end;
                long t = strtol(item, &end, 10);
                if (*end || t < 1 || t > 1024 || o->nthreads == MAX_LIST)
                    die("bad --threads \"%s\"", item);
                o->threads[o->nthreads++] = (int)t;
            }
        } else if (!strcmp(a, "--backend")) {
            check(tasd_backend_parse(val, &o->backend), "--backend");
        } else if (!strcmp(a, "--values") || !strcmp(a, "--dtype")) {
            tasd_dtype t = !strcmp(val, "bf16") ? TASD_BF16
                           : !strcmp(val, "f16") ? TASD_F16
                           : !strcmp(val, "f32") ? TASD_F32 : (tasd_dtype)-1;
            if ((int)t < 0 || (t == TASD_F16 && !strcmp(a, "--dtype")))
                die("bad %s \"%s\"", a, val);
            *(!strcmp(a, "--values") ? &o->values : &o->dtype) = t;
        } else if (!strcmp(a, "--reps")) {
            char *end;
            long r = strtol(val, &end, 10);
            if (*end || r < 1 || r > 1000)
                die("bad --reps \"%s\"", val);
            o->reps = (int)r;
        } else {
            usage(stderr);
            die("unknown option %s", a);
        }
    }
    if (o->layer && (o->values != TASD_F32 || o->dtype != TASD_F32))
        die("--layer times f32 layers only (no --values / --dtype)");
    if (!o->nshapes) {
        if (o->quick) {
            o->shapes[o->nshapes++] = (shape){768, 768, 128};
            o->shapes[o->nshapes++] = (shape){4096, 4096, 1};
        } else {
            for (size_t i = 0; i < sizeof default_shapes / sizeof *default_shapes; i++)
                o->shapes[o->nshapes++] = default_shapes[i];
        }
    }
    if (!o->nconfigs) {
        size_t n = o->quick ? 1 : sizeof default_configs / sizeof *default_configs;
        for (size_t i = 0; i < n; i++)
            snprintf(o->configs[o->nconfigs++], 64, "%s", default_configs[i]);
    }
    if (!o->nthreads) {
        o->threads[o->nthreads++] = 1;
        if (!o->quick)
            o->threads[o->nthreads++] = 2;
    }
    if (!o->reps)
        o->reps = o->quick ? 3 : 7;
    o->batch_ms = o->quick ? 15.0 : 40.0;
}

/* ------------------------------------------------- environment, re-exec */

static int cpu_has_avx512(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

static int cpu_has_avx2(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/* Pin the dense libraries to the ISA being compared, then re-exec once so
 * OpenBLAS's load-time constructor sees it. */
static void pin_and_reexec(char **argv, tasd_backend backend)
{
    if (getenv(REEXEC_MARK))
        return;
    int changed = 0;
    const char *want = NULL;
    if (backend == TASD_BACKEND_AVX2)
        want = "Haswell";
    else if (cpu_has_avx512())
        want = "SkylakeX";
    else if (cpu_has_avx2())
        want = "Haswell";
    if (want && !getenv("OPENBLAS_CORETYPE")) {
        setenv("OPENBLAS_CORETYPE", want, 1);
        changed = 1;
    }
    /* OpenBLAS's idle workers spin (sched_yield) for 2^28 cycles, ~0.1 s,
     * after each call, stealing a core from the next library's batch when
     * threads = cores. 2^22 cycles (~1.5 ms) keeps them awake during a batch
     * of back-to-back calls and asleep by the end of the untimed call that
     * starts the next library's batch. */
    if (!getenv("OPENBLAS_THREAD_TIMEOUT")) {
        setenv("OPENBLAS_THREAD_TIMEOUT", "22", 1);
        changed = 1;
    }
    if (backend == TASD_BACKEND_AVX2 && !getenv("ONEDNN_MAX_CPU_ISA")) {
        setenv("ONEDNN_MAX_CPU_ISA", "AVX2", 1);
        changed = 1;
    }
    if (!changed)
        return;
    setenv(REEXEC_MARK, "1", 1);
    fflush(NULL);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "bench: WARNING: re-exec failed (%s): OpenBLAS runs with the core "
                    "it picked itself; set OPENBLAS_CORETYPE before starting the bench\n",
            strerror(errno));
}

/* oneDNN in Debian runs on OpenMP (libgomp, pulled in by libdnnl); set its
 * thread count through whatever omp_set_num_threads the process has. */
static void set_omp_threads(int t)
{
    static void (*fn)(int);
    static int looked;
    if (!looked) {
        looked = 1;
        *(void **)&fn = dlsym(RTLD_DEFAULT, "omp_set_num_threads");
        if (!fn)
            fprintf(stderr, "bench: WARNING: omp_set_num_threads not found: oneDNN "
                            "uses its default thread count\n");
    }
    if (fn)
        fn(t);
}

static void set_threads(tasd_context *ctx, int t)
{
    check(tasd_context_set_threads(ctx, t), "tasd_context_set_threads");
    openblas_set_num_threads(t);
    set_omp_threads(t);
}

static int64_t llc_bytes(void)
{
    int64_t best = 0;
#ifdef _SC_LEVEL3_CACHE_SIZE
    long v = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (v > best)
        best = v;
#endif
    for (int idx = 0; idx < 8; idx++) {
        char path[96], text[64];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", idx);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(text, sizeof text, f)) {
            char *end;
            long long x = strtoll(text, &end, 10);
            if (*end == 'K')
                x <<= 10;
            else if (*end == 'M')
                x <<= 20;
            if (x > best)
                best = x;
        }
        fclose(f);
    }
    return best > 0 ? best : (int64_t)64 << 20;
}

/* ----------------------------------------------------------------- cases */

enum { LIB_TASD, LIB_OPENBLAS, LIB_ONEDNN, LIB_ONEDNN_BF16, NLIBS };
static const char *const lib_names[NLIBS] = {"tasd", "openblas", "onednn", "onednn_bf16"};

/* oneDNN's matmul primitive, bf16 x bf16 -> f32, the way an engine runs a
 * bf16 linear layer: src = activations [N, K], weights = W^T [K, M] (W stored
 * row-major [M, K]: format ba), dst [N, M]. One primitive, one weights memory
 * per copy (for eviction). */
typedef struct bf16_mm {
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst, *wei;
    uint16_t *x, **w;
    float *y;
    int ncopies;
    char impl[64];
} bf16_mm;

static uint16_t to_bf16(float f) /* round to nearest even (finite f) */
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

typedef struct case_data {
    shape sh;
    int ncopies_dense, ncopies_tasd;
    float **w;              /* dense weight copies, M x K */
    tasd_series **s;        /* series copies */
    tasd_layer **l;         /* --config dense: dense layer copies (else NULL) */
    float *xt, *yt;         /* the layer's X [N, K] and Y [N, M] */
    tasd_view xtv, ytv;
    float *x;               /* K x N */
    float *c;               /* M x N */
    tasd_view bv, cv;
    tasd_context *ctx;
    unsigned next_dense, next_tasd;
    uint16_t *xh;           /* --dtype bf16: the activations as bf16 */
    bf16_mm *mm;            /* oneDNN bf16 matmul, or NULL */
    unsigned next_bf16;
} case_data;

static void dnnl_check(dnnl_status_t st, const char *what)
{
    if (st != dnnl_success)
        die("oneDNN %s failed with status %d", what, (int)st);
}

/* Why the bf16 baseline is missing (printed once), or "". */
static char bf16_missing[160];

/* Copies of W in bf16 (enough to evict them like the f32 copies); NULL when
 * this oneDNN has no bf16 matmul for this CPU (oneDNN 2.6 needs AVX-512 for
 * bf16: on AVX2-only CPUs the descriptor is dnnl_unimplemented). */
static bf16_mm *bf16_mm_create(const shape *sh, const float *w0, const float *x, int ncopies)
{
    bf16_mm *b = calloc(1, sizeof *b);
    if (!b)
        die("out of memory");
    dnnl_check(dnnl_engine_create(&b->eng, dnnl_cpu, 0), "engine");
    dnnl_check(dnnl_stream_create(&b->strm, b->eng, dnnl_stream_default_flags), "stream");
    dnnl_memory_desc_t smd, wmd, dmd;
    dnnl_dims_t sd = {sh->n, sh->k}, wd = {sh->k, sh->m}, dd = {sh->n, sh->m};
    dnnl_check(dnnl_memory_desc_init_by_tag(&smd, 2, sd, dnnl_bf16, dnnl_ab), "src md");
    dnnl_check(dnnl_memory_desc_init_by_tag(&wmd, 2, wd, dnnl_bf16, dnnl_ba), "weights md");
    dnnl_check(dnnl_memory_desc_init_by_tag(&dmd, 2, dd, dnnl_f32, dnnl_ab), "dst md");
    dnnl_matmul_desc_t md;
    dnnl_check(dnnl_matmul_desc_init(&md, &smd, &wmd, NULL, &dmd), "matmul desc");
    dnnl_primitive_desc_t pd;
    dnnl_status_t pst = dnnl_primitive_desc_create(&pd, &md, NULL, b->eng, NULL);
    if (pst != dnnl_success) {
        snprintf(bf16_missing, sizeof bf16_missing,
                 "oneDNN %d.%d has no bf16 matmul on this CPU (status %d%s)",
                 dnnl_version()->major, dnnl_version()->minor, (int)pst,
                 pst == dnnl_unimplemented ? ": unimplemented" : "");
        dnnl_stream_destroy(b->strm);
        dnnl_engine_destroy(b->eng);
        free(b);
        return NULL;
    }
    const char *impl = NULL;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    snprintf(b->impl, sizeof b->impl, "%s", impl ? impl : "?");
    static int amx_said; /* AMX is a dense tile engine, not the vector unit */
    if (strstr(b->impl, "amx") && !amx_said++)
        printf("note: oneDNN's bf16 matmul runs on AMX here (%s); "
               "ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 measures it on AVX512_BF16 alone\n",
               b->impl);
    dnnl_check(dnnl_primitive_create(&b->prim, pd), "matmul primitive");
    dnnl_primitive_desc_destroy(pd);
    b->x = xalloc((size_t)(sh->n * sh->k) * 2);
    for (int64_t j = 0; j < sh->n; j++) /* src [N, K] = X^T */
        for (int64_t k = 0; k < sh->k; k++)
            b->x[j * sh->k + k] = to_bf16(x[k * sh->n + j]);
    b->y = xalloc((size_t)(sh->n * sh->m) * 4);
    dnnl_check(dnnl_memory_create(&b->src, &smd, b->eng, b->x), "src memory");
    dnnl_check(dnnl_memory_create(&b->dst, &dmd, b->eng, b->y), "dst memory");
    b->ncopies = ncopies;
    b->w = calloc((size_t)ncopies, sizeof *b->w);
    b->wei = calloc((size_t)ncopies, sizeof *b->wei);
    if (!b->w || !b->wei)
        die("out of memory");
    for (int i = 0; i < ncopies; i++) {
        b->w[i] = xalloc((size_t)(sh->m * sh->k) * 2);
        for (int64_t q = 0; q < sh->m * sh->k; q++)
            b->w[i][q] = to_bf16(w0[q]);
        dnnl_check(dnnl_memory_create(&b->wei[i], &wmd, b->eng, b->w[i]), "weights memory");
    }
    return b;
}

static void bf16_mm_run(bf16_mm *b, unsigned copy)
{
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, b->src},
                               {DNNL_ARG_WEIGHTS, b->wei[copy % (unsigned)b->ncopies]},
                               {DNNL_ARG_DST, b->dst}};
    dnnl_check(dnnl_primitive_execute(b->prim, b->strm, 3, args), "matmul");
    dnnl_check(dnnl_stream_wait(b->strm), "stream wait");
}

static void bf16_mm_destroy(bf16_mm *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->ncopies; i++) {
        dnnl_memory_destroy(b->wei[i]);
        free(b->w[i]);
    }
    dnnl_memory_destroy(b->src);
    dnnl_memory_destroy(b->dst);
    dnnl_primitive_destroy(b->prim);
    dnnl_stream_destroy(b->strm);
    dnnl_engine_destroy(b->eng);
    free(b->w);
    free(b->wei);
    free(b->x);
    free(b->y);
    free(b);
}

static void run_once(case_data *cd, int lib)
{
    const shape *sh = &cd->sh;
    switch (lib) {
    case LIB_TASD: {
        if (cd->l) {
            tasd_layer *l = cd->l[cd->next_tasd++ % (unsigned)cd->ncopies_tasd];
            tasd_status st = tasd_layer_forward(cd->ctx, l, &cd->xtv, &cd->ytv);
            if (st != TASD_OK)
                check(st, "tasd_layer_forward");
            break;
        }
        tasd_series *s = cd->s[cd->next_tasd++ % (unsigned)cd->ncopies_tasd];
        tasd_status st = tasd_gemm(cd->ctx, 1.0f, s, &cd->bv, 0.0f, &cd->cv);
        if (st != TASD_OK)
            check(st, "tasd_gemm");
        break;
    }
    case LIB_OPENBLAS: {
        const float *w = cd->w[cd->next_dense++ % (unsigned)cd->ncopies_dense];
        if (sh->n == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)sh->m, (int)sh->k, 1.0f, w,
                        (int)sh->k, cd->x, 1, 0.0f, cd->c, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)sh->m, (int)sh->n,
                        (int)sh->k, 1.0f, w, (int)sh->k, cd->x, (int)sh->n, 0.0f, cd->c,
                        (int)sh->n);
        break;
    }
    case LIB_ONEDNN: {
        const float *w = cd->w[cd->next_dense++ % (unsigned)cd->ncopies_dense];
        dnnl_status_t st = dnnl_sgemm('N', 'N', sh->m, sh->n, sh->k, 1.0f, w, sh->k, cd->x,
                                      sh->n, 0.0f, cd->c, sh->n);
        if (st != dnnl_success)
            die("dnnl_sgemm failed with status %d", (int)st);
        break;
    }
    case LIB_ONEDNN_BF16:
        bf16_mm_run(cd->mm, cd->next_bf16++);
        break;
    }
}

/* One sample: an untimed call (absorbs the hand-over from the previous
 * library's threads), then `inner` timed calls; returns ms per call. */
static double sample(case_data *cd, int lib, int inner)
{
    run_once(cd, lib);
    double t0 = now_ms();
    for (int i = 0; i < inner; i++)
        run_once(cd, lib);
    return (now_ms() - t0) / inner;
}

/* Calls per timed batch of one library: about batch_ms from one call after a
 * warm-up, within [1, 100000], and at least min_calls (one pass over the
 * weight copies). */
static int batch_length(const options *o, case_data *cd, int lib, int min_calls)
{
    run_once(cd, lib);
    double t0 = now_ms();
    run_once(cd, lib);
    double one = now_ms() - t0;
    int n = one > 0 ? (int)ceil(o->batch_ms / one) : 1000;
    n = n < 1 ? 1 : n > 100000 ? 100000 : n;
    return n < min_calls ? min_calls : n;
}

/* Largest |a - b| relative to max |b|. */
static double rel_diff(const float *a, const float *b, int64_t n)
{
    double dmax = 0, bmax = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > dmax)
            dmax = d;
        if (fabs((double)b[i]) > bmax)
            bmax = fabs((double)b[i]);
    }
    return bmax > 0 ? dmax / bmax : dmax;
}

typedef struct result {
    char line[512];
} result;

static result *results;
/* Measured one-core FMA peak of the backend that runs (GFLOP/s), 0 if none. */
static double backend_peak;
static int nresults, capresults;
static int wrong_results; /* sanity checks failed: the exit status says so */

static void add_result(const char *line)
{
    if (nresults == capresults) {
        capresults = capresults ? 2 * capresults : 64;
        results = realloc(results, (size_t)capresults * sizeof *results);
        if (!results)
            die("out of memory");
    }
    snprintf(results[nresults++].line, sizeof results->line, "%s", line);
}

static long rss_pages(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident;
}

/* Copies of weights of `bytes` bytes whose one pass is at least twice the
 * last-level cache (decoding shapes: every call streams its weights from
 * memory); 2 at least. */
static int evicting_copies(double bytes, int64_t llc)
{
    int n = (int)ceil(2.0 * (double)llc / (bytes < 1 ? 1 : bytes));
    return n < 2 ? 2 : n;
}

/* The same for a series of `slots` slots. */
static int series_copies(const options *o, int64_t slots, int64_t llc)
{
    /* lower bound of the series' bytes: values + 2-bit indices */
    return evicting_copies((double)slots * (o->values == TASD_F32 ? 4.25 : 2.25), llc);
}

/* Layers through tasd_layer_forward (Y = X W^T (+ b), X [N, K], Y [N, M]):
 * --config dense (series NULL: the dense layer path), and with --layer every
 * series config, as an engine runs a linear layer, a bias included. Copies
 * enough to evict them from the last-level cache at decoding shapes, as for
 * tasd_gemm; the baselines keep computing W X (no bias: an O(M N) add).
 * Returns the weights the layer multiplies by (the series' kept nonzeros). */
static double run_layer_setup(const options *o, tasd_context *ctx, case_data *cd,
                            const float *w0, int64_t llc, const char *series)
{
    const shape *sh = &cd->sh;
    size_t wbytes = (size_t)(sh->m * sh->k) * sizeof(float);
    set_threads(ctx, o->threads[o->nthreads - 1]);
    tasd_view wv = tasd_view_2d(w0, TASD_F32, sh->m, sh->k, sh->k);
    float *wref = NULL; /* what the layer multiplies: W, or the series' approximation */
    tasd_layer_config *lc = NULL;
    int64_t slots = 0;
    double kept = (double)sh->m * (double)sh->k;
    if (series) {
        char line[96];
        snprintf(line, sizeof line, "bench W=%s", series);
        check(tasd_layer_config_parse(ctx, line, &lc), "tasd_layer_config_parse");
        tasd_series *s;
        check(tasd_decompose(ctx, &wv, tasd_layer_config_weights(lc),
                             tasd_layer_config_method(lc), &s), "tasd_decompose");
        tasd_stats st = {.size = sizeof st};
        check(tasd_series_stats(s, &st), "tasd_series_stats");
        slots = st.slots;
        kept = (double)st.kept_nonzeros;
        wref = xalloc(wbytes);
        tasd_view av = tasd_view_2d(wref, TASD_F32, sh->m, sh->k, sh->k);
        check(tasd_series_reconstruct(s, &av), "tasd_series_reconstruct");
        tasd_series_destroy(s);
    }
    cd->ncopies_dense = cd->ncopies_tasd = 1;
    if (sh->n <= 8) {
        cd->ncopies_dense = evicting_copies((double)wbytes, llc);
        cd->ncopies_tasd = series ? series_copies(o, slots, llc) : cd->ncopies_dense;
    }
    cd->w = calloc((size_t)cd->ncopies_dense, sizeof *cd->w);
    cd->l = calloc((size_t)cd->ncopies_tasd, sizeof *cd->l);
    if (!cd->w || !cd->l)
        die("out of memory");
    for (int i = 0; i < cd->ncopies_dense; i++) {
        cd->w[i] = xalloc(wbytes);
        memcpy(cd->w[i], w0, wbytes);
    }
    float *bias = NULL;
    tasd_view bview, *bv = NULL;
    if (o->layer) {
        bias = xalloc((size_t)sh->m * sizeof(float));
        for (int64_t i = 0; i < sh->m; i++)
            bias[i] = frand();
        memset(&bview, 0, sizeof bview);
        bview.data = bias;
        bview.dtype = TASD_F32;
        bview.ndim = 1;
        bview.shape[0] = sh->m;
        bview.strides[0] = 1;
        bv = &bview;
    }
    long page = sysconf(_SC_PAGESIZE), before = rss_pages();
    for (int i = 0; i < cd->ncopies_tasd; i++)
        check(tasd_layer_create(ctx, &wv, bv, lc, &cd->l[i]), "tasd_layer_create");
    long grown = rss_pages() - before;
    if (cd->ncopies_tasd > 1) /* one layer may reuse freed pages: no figure */
        printf("# %s layer %lldx%lld%s: resident growth %.2f bytes per weight (fp32 = 4)\n",
               series ? series : "dense", (long long)sh->m, (long long)sh->k,
               bv ? " + bias" : "",
               (double)grown * (double)page / (double)cd->ncopies_tasd /
                   (double)(sh->m * sh->k));
    tasd_layer_config_destroy(lc);

    cd->x = xalloc((size_t)(sh->k * sh->n) * sizeof(float));
    cd->c = xalloc((size_t)(sh->m * sh->n) * sizeof(float));
    cd->xt = xalloc((size_t)(sh->k * sh->n) * sizeof(float));
    cd->yt = xalloc((size_t)(sh->m * sh->n) * sizeof(float));
    for (int64_t i = 0; i < sh->k * sh->n; i++)
        cd->x[i] = frand();
    for (int64_t t = 0; t < sh->n; t++)
        for (int64_t k = 0; k < sh->k; k++)
            cd->xt[t * sh->k + k] = cd->x[k * sh->n + t];
    cd->xtv = tasd_view_2d(cd->xt, TASD_F32, sh->n, sh->k, sh->k);
    cd->ytv = tasd_view_2d(cd->yt, TASD_F32, sh->n, sh->m, sh->m);

    /* Sanity: Y^T equals the dense product of what the layer holds, times X,
     * plus the bias. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)sh->m, (int)sh->n,
                (int)sh->k, 1.0f, wref ? wref : w0, (int)sh->k, cd->x, (int)sh->n, 0.0f,
                cd->c, (int)sh->n);
    check(tasd_layer_forward(ctx, cd->l[0], &cd->xtv, &cd->ytv), "tasd_layer_forward");
    double dmax = 0, cmax = 0;
    for (int64_t i = 0; i < sh->m; i++)
        for (int64_t t = 0; t < sh->n; t++) {
            double c = (double)cd->c[i * sh->n + t] + (bias ? bias[i] : 0.0);
            double d = fabs(cd->yt[t * sh->m + i] - c);
            dmax = d > dmax ? d : dmax;
            cmax = fabs(c) > cmax ? fabs(c) : cmax;
        }
    if (!(dmax <= 1e-4 * (cmax > 0 ? cmax : 1))) {
        fprintf(stderr, "bench: WARNING: %lldx%lldx%lld %s layer: differs from "
                        "cblas_sgemm by %.3g (relative)\n",
                (long long)sh->m, (long long)sh->k, (long long)sh->n,
                series ? series : "dense", dmax / cmax);
        wrong_results++;
    }
    free(wref);
    free(bias);
    return kept;
}

static void run_shape_config(const options *o, tasd_context *ctx, const shape *sh,
                             const char *cfgtext, const float *w0, int64_t llc)
{
    case_data cd;
    memset(&cd, 0, sizeof cd);
    cd.sh = *sh;
    cd.ctx = ctx;
    size_t wbytes = (size_t)(sh->m * sh->k) * sizeof(float);
    int decoding = sh->n <= 8;
    /* useful multiply-adds: the nonzeros kept (all of W for the dense layer) */
    double useful = 2.0 * (double)sh->m * (double)sh->k * (double)sh->n;
    int dense = !strcmp(cfgtext, "dense");
    if (dense || o->layer) {
        useful = 2.0 * (double)sh->n * run_layer_setup(o, ctx, &cd, w0, llc, dense ? NULL : cfgtext);
        goto timing;
    }

    tasd_config *cfg;
    check(tasd_config_parse(ctx, cfgtext, &cfg), "tasd_config_parse");
    tasd_view wv = tasd_view_2d(w0, TASD_F32, sh->m, sh->k, sh->k);

    /* Decoding shapes: enough copies that one pass over them is at least twice
     * the last-level cache, so every call streams its weights from memory. */
    cd.ncopies_dense = 1;
    cd.ncopies_tasd = 1;
    tasd_series *first;
    set_threads(ctx, o->threads[o->nthreads - 1]); /* setup runs on all threads */
    tasd_decompose_options dopt = {sizeof dopt, o->values};
    check(tasd_decompose_ex(ctx, &wv, cfg, TASD_GREEDY, &dopt, &first), "tasd_decompose");
    tasd_stats st = {.size = sizeof st};
    check(tasd_series_stats(first, &st), "tasd_series_stats");
    useful = 2.0 * (double)st.kept_nonzeros * (double)sh->n;
    if (decoding) {
        cd.ncopies_dense = evicting_copies((double)wbytes, llc);
        cd.ncopies_tasd = series_copies(o, st.slots, llc);
    }
    cd.w = calloc((size_t)cd.ncopies_dense, sizeof *cd.w);
    cd.s = calloc((size_t)cd.ncopies_tasd, sizeof *cd.s);
    if (!cd.w || !cd.s)
        die("out of memory");
    for (int i = 0; i < cd.ncopies_dense; i++) {
        cd.w[i] = xalloc(wbytes);
        memcpy(cd.w[i], w0, wbytes);
    }
    cd.s[0] = first;
    for (int i = 1; i < cd.ncopies_tasd; i++)
        check(tasd_decompose_ex(ctx, &wv, cfg, TASD_GREEDY, &dopt, &cd.s[i]), "tasd_decompose");

    cd.x = xalloc((size_t)(sh->k * sh->n) * sizeof(float));
    cd.c = xalloc((size_t)(sh->m * sh->n) * sizeof(float));
    for (int64_t i = 0; i < sh->k * sh->n; i++)
        cd.x[i] = frand();
    cd.bv = tasd_view_2d(cd.x, TASD_F32, sh->k, sh->n, sh->n);
    cd.cv = tasd_view_2d(cd.c, TASD_F32, sh->m, sh->n, sh->n);
    if (o->dtype == TASD_BF16) { /* x rounded to bf16: every library gets the same x */
        cd.xh = xalloc((size_t)(sh->k * sh->n) * 2);
        for (int64_t i = 0; i < sh->k * sh->n; i++) {
            cd.xh[i] = to_bf16(cd.x[i]);
            uint32_t u = (uint32_t)cd.xh[i] << 16;
            memcpy(&cd.x[i], &u, 4);
        }
        cd.bv = tasd_view_2d(cd.xh, TASD_BF16, sh->k, sh->n, sh->n);
    }
    if (o->values != TASD_F32 || o->dtype != TASD_F32) {
        int nbf = decoding ? evicting_copies(wbytes / 2.0, llc) : 2; /* bf16 copies */
        cd.mm = bf16_mm_create(sh, w0, cd.x, nbf);
        if (!cd.mm) {
            static int said;
            if (!said++)
                printf("NOTE: no dense bf16 baseline: %s; OpenBLAS has no cblas_sbgemm\n",
                       bf16_missing);
        }
    }

    /* Sanity: libtasd's product equals the dense product of the
     * reconstructed approximation. */
    {
        float *wa = xalloc(wbytes);
        float *cref = xalloc((size_t)(sh->m * sh->n) * sizeof(float));
        tasd_view av = tasd_view_2d(wa, TASD_F32, sh->m, sh->k, sh->k);
        check(tasd_series_reconstruct(first, &av), "tasd_series_reconstruct");
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)sh->m, (int)sh->n,
                    (int)sh->k, 1.0f, wa, (int)sh->k, cd.x, (int)sh->n, 0.0f, cref,
                    (int)sh->n);
        check(tasd_gemm(ctx, 1.0f, first, &cd.bv, 0.0f, &cd.cv), "tasd_gemm");
        double e = rel_diff(cd.c, cref, sh->m * sh->n);
        if (!(e < 1e-4)) {
            fprintf(stderr, "bench: WARNING: %lldx%lldx%lld %s: tasd_gemm differs from the "
                            "dense product of the reconstruction by %.3g (relative)\n",
                    (long long)sh->m, (long long)sh->k, (long long)sh->n, cfgtext, e);
            wrong_results++;
        }
        free(wa);
        free(cref);
    }
    tasd_config_destroy(cfg);

timing:;
    const char *bname = tasd_backend_name(tasd_context_backend(ctx));
    double flops = 2.0 * (double)sh->m * (double)sh->k * (double)sh->n;
    for (int ti = 0; ti < o->nthreads; ti++) {
        int t = o->threads[ti];
        set_threads(ctx, t);
        /* Calibrate the batch length per library from one call after a warm-up. */
        int inner[NLIBS] = {0};
        const int nlibs = cd.mm ? NLIBS : LIB_ONEDNN_BF16;
        for (int lib = 0; lib < nlibs; lib++) {
            int min_calls = decoding ? cd.ncopies_dense : 1;
            if (lib == LIB_ONEDNN_BF16 && min_calls < cd.mm->ncopies)
                min_calls = cd.mm->ncopies;
            inner[lib] = batch_length(o, &cd, lib, min_calls);
        }
        double samples[NLIBS][1000];
        for (int r = 0; r < o->reps; r++)
            for (int j = 0; j < nlibs; j++) {
                int lib = (j + r) % nlibs; /* rotate the order: no position bias */
                samples[lib][r] = sample(&cd, lib, inner[lib]);
            }
        double med[NLIBS] = {0};
        for (int lib = 0; lib < nlibs; lib++)
            med[lib] = median(samples[lib], o->reps);
        int dl = med[LIB_OPENBLAS] <= med[LIB_ONEDNN] ? LIB_OPENBLAS : LIB_ONEDNN;
        const int dl32 = dl;
        if (cd.mm && med[LIB_ONEDNN_BF16] < med[dl])
            dl = LIB_ONEDNN_BF16;
        double speedup = med[dl] / med[LIB_TASD];
        char shapebuf[64];
        snprintf(shapebuf, sizeof shapebuf, "%lldx%lldx%lld", (long long)sh->m,
                 (long long)sh->k, (long long)sh->n);
        char note[96] = "";
        if (decoding)
            snprintf(note, sizeof note, "  (weights evicted: %d dense, %d tasd copies)",
                     cd.ncopies_dense, cd.ncopies_tasd);
        if (cd.mm)
            printf("%-15s onednn_bf16 (matmul %s): %.3f ms; tasd x%.2f over it, x%.2f over "
                   "dense fp32 (%s)\n",
                   "", cd.mm->impl, med[LIB_ONEDNN_BF16],
                   med[LIB_ONEDNN_BF16] / med[LIB_TASD], med[dl32] / med[LIB_TASD],
                   lib_names[dl32]);
        printf("%-15s %-9s %-7s %2d %10.3f %10.3f %10.3f %-9s %8.2fx %8.1f %8.1f%s\n",
               shapebuf, cfgtext, bname, t, med[LIB_TASD], med[LIB_OPENBLAS],
               med[LIB_ONEDNN], lib_names[dl], speedup, flops / med[LIB_TASD] * 1e-6,
               flops / med[dl] * 1e-6, note);
        fflush(stdout);
        char line[512], eff[32] = "na";
        double useful_gf = useful / med[LIB_TASD] * 1e-6;
        if (backend_peak > 0)
            snprintf(eff, sizeof eff, "%.1f%%", 100.0 * useful_gf / (backend_peak * t));
        snprintf(line, sizeof line,
                 "BENCH shape=%s config=%s values=%s dtype=%s backend=%s threads=%d "
                 "tasd_ms=%.4f dense_ms=%.4f dense_lib=%s speedup=%.3f useful_gflops=%.1f "
                 "eff=%s dense_f32_ms=%.4f onednn_bf16_ms=%.4f",
                 shapebuf, cfgtext, tasd_dtype_name(o->values), tasd_dtype_name(o->dtype),
                 bname, t, med[LIB_TASD], med[dl], lib_names[dl], speedup, useful_gf, eff,
                 med[dl32], cd.mm ? med[LIB_ONEDNN_BF16] : 0.0);
        add_result(line);
    }

    for (int i = 0; i < cd.ncopies_dense; i++)
        free(cd.w[i]);
    for (int i = 0; i < cd.ncopies_tasd; i++) {
        if (cd.s)
            tasd_series_destroy(cd.s[i]);
        if (cd.l)
            tasd_layer_destroy(cd.l[i]);
    }
    free(cd.w);
    free(cd.s);
    free(cd.l);
    free(cd.x);
    free(cd.c);
    free(cd.xt);
    free(cd.yt);
    free(cd.xh);
    bf16_mm_destroy(cd.mm);
}

/* Series cost: a series of several terms against its first term alone
 * (e.g. 2:4+1:8 against 2:4, when both are in --config), the two timed in
 * turn in one loop with nothing else between them, so that their ratio does
 * not carry the drift between two cases timed minutes apart. The ratio of
 * their slots is what the time ratio would be if a series cost exactly the
 * sum of its terms. */
static void run_series_cost(const options *o, tasd_context *ctx, const shape *sh,
                            const char *base, const char *series, const float *w0,
                            int64_t llc)
{
    const char *cfgtext[2] = {base, series};
    case_data cd[2];
    int64_t slots[2];
    float *x = xalloc((size_t)(sh->k * sh->n) * sizeof(float));
    float *c = xalloc((size_t)(sh->m * sh->n) * sizeof(float));
    for (int64_t i = 0; i < sh->k * sh->n; i++)
        x[i] = frand();
    tasd_view wv = tasd_view_2d(w0, TASD_F32, sh->m, sh->k, sh->k);
    tasd_decompose_options dopt = {sizeof dopt, o->values};
    set_threads(ctx, o->threads[o->nthreads - 1]);
    for (int i = 0; i < 2; i++) {
        memset(&cd[i], 0, sizeof cd[i]);
        cd[i].sh = *sh;
        cd[i].ctx = ctx;
        cd[i].bv = tasd_view_2d(x, TASD_F32, sh->k, sh->n, sh->n);
        cd[i].cv = tasd_view_2d(c, TASD_F32, sh->m, sh->n, sh->n);
        tasd_config *cfg;
        check(tasd_config_parse(ctx, cfgtext[i], &cfg), "tasd_config_parse");
        tasd_series *first;
        check(tasd_decompose_ex(ctx, &wv, cfg, TASD_GREEDY, &dopt, &first), "tasd_decompose");
        tasd_stats st = {.size = sizeof st};
        check(tasd_series_stats(first, &st), "tasd_series_stats");
        slots[i] = st.slots;
        cd[i].ncopies_tasd = sh->n <= 8 ? series_copies(o, st.slots, llc) : 1;
        cd[i].s = calloc((size_t)cd[i].ncopies_tasd, sizeof *cd[i].s);
        if (!cd[i].s)
            die("out of memory");
        cd[i].s[0] = first;
        for (int j = 1; j < cd[i].ncopies_tasd; j++)
            check(tasd_decompose_ex(ctx, &wv, cfg, TASD_GREEDY, &dopt, &cd[i].s[j]),
                  "tasd_decompose");
        tasd_config_destroy(cfg);
    }
    const double slot_ratio = (double)slots[1] / (double)(slots[0] > 0 ? slots[0] : 1);
    char shapebuf[64];
    snprintf(shapebuf, sizeof shapebuf, "%lldx%lldx%lld", (long long)sh->m,
             (long long)sh->k, (long long)sh->n);
    for (int ti = 0; ti < o->nthreads; ti++) {
        int t = o->threads[ti];
        set_threads(ctx, t);
        int inner[2];
        for (int i = 0; i < 2; i++)
            inner[i] = batch_length(o, &cd[i], LIB_TASD, sh->n <= 8 ? cd[i].ncopies_tasd : 1);
        double tb[1000], ts[1000], ratio[1000];
        for (int r = 0; r < o->reps; r++) {
            for (int j = 0; j < 2; j++) {
                int i = (j + r) % 2; /* rotate the order */
                double t_ms = sample(&cd[i], LIB_TASD, inner[i]);
                if (i == 0)
                    tb[r] = t_ms;
                else
                    ts[r] = t_ms;
            }
            ratio[r] = ts[r] / tb[r];
        }
        const double mid = median(ratio, o->reps); /* sorts ratio */
        const double q1 = ratio[o->reps / 4], q3 = ratio[(3 * o->reps) / 4];
        const double ms = median(ts, o->reps), mb = median(tb, o->reps);
        const char *bname = tasd_backend_name(tasd_context_backend(ctx));
        printf("%-15s series cost %s / %s, %s, %d thread%s: %.2fx the time (quartiles "
               "%.2f-%.2f; %.3f / %.3f ms), %.2fx the slots\n",
               shapebuf, series, base, bname, t, t == 1 ? "" : "s", mid, q1, q3, ms, mb,
               slot_ratio);
        fflush(stdout);
        char line[512];
        snprintf(line, sizeof line,
                 "BENCH cost shape=%s config=%s base=%s values=%s backend=%s threads=%d "
                 "ratio=%.3f ratio_q1=%.3f ratio_q3=%.3f tasd_ms=%.4f base_ms=%.4f "
                 "slots_ratio=%.3f",
                 shapebuf, series, base, tasd_dtype_name(o->values), bname, t, mid, q1, q3,
                 ms, mb, slot_ratio);
        add_result(line);
    }
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < cd[i].ncopies_tasd; j++)
            tasd_series_destroy(cd[i].s[j]);
        free(cd[i].s);
    }
    free(x);
    free(c);
}

/* The first term of a series config ("2:4" of "2:4+1:8") if that is in the
 * config list too, else NULL. */
static const char *series_base(const options *o, const char *cfg)
{
    const char *plus = strchr(cfg, '+');
    if (!plus)
        return NULL;
    for (int i = 0; i < o->nconfigs; i++)
        if (strlen(o->configs[i]) == (size_t)(plus - cfg) &&
            !strncmp(o->configs[i], cfg, (size_t)(plus - cfg)))
            return o->configs[i];
    return NULL;
}

/* Decomposition throughput on a 4096 x 4096 fp32 matrix, next to memcpy. */
static void run_decompose(const options *o, tasd_context *ctx)
{
    const int64_t rows = 4096, cols = 4096;
    size_t bytes = (size_t)(rows * cols) * sizeof(float);
    float *w = xalloc(bytes), *dst = xalloc(bytes);
    for (int64_t i = 0; i < rows * cols; i++)
        w[i] = frand();
    memset(dst, 0, bytes);
    tasd_view wv = tasd_view_2d(w, TASD_F32, rows, cols, cols);
    static const char *const cfgs[] = {"2:4", "2:4+1:8"};
    int reps = o->quick ? 1 : (o->reps < 5 ? o->reps : 5);
    printf("\nDecomposition throughput, %lldx%lld fp32 (%.1f MB input), GB/s of input, "
           "median of %d\n",
           (long long)rows, (long long)cols, bytes / 1e6, reps);
    printf("%-9s %-7s %2s %10s %10s %10s\n", "config", "backend", "T", "tasd_ms",
           "GB/s", "memcpy");
    for (int ti = 0; ti < o->nthreads; ti++) {
        int t = o->threads[ti];
        set_threads(ctx, t);
        for (size_t ci = 0; ci < sizeof cfgs / sizeof *cfgs; ci++) {
            tasd_config *cfg;
            check(tasd_config_parse(ctx, cfgs[ci], &cfg), "tasd_config_parse");
            double td[64], tm[64];
            for (int r = 0; r < reps; r++) {
                tasd_series *s;
                double t0 = now_ms();
                check(tasd_decompose(ctx, &wv, cfg, TASD_GREEDY, &s), "tasd_decompose");
                td[r] = now_ms() - t0;
                tasd_series_destroy(s);
                t0 = now_ms();
                memcpy(dst, w, bytes);
                tm[r] = now_ms() - t0;
                /* keep the copy observable */
                if (dst[r] != w[r])
                    die("memcpy mismatch");
            }
            double md = median(td, reps), mm = median(tm, reps);
            const char *bname = tasd_backend_name(tasd_context_backend(ctx));
            printf("%-9s %-7s %2d %10.2f %10.3f %10.3f\n", cfgs[ci], bname, t, md,
                   bytes / (md * 1e6), bytes / (mm * 1e6));
            char line[512];
            snprintf(line, sizeof line,
                     "BENCH decompose=%lldx%lld config=%s backend=%s threads=%d "
                     "tasd_ms=%.3f gbps=%.3f memcpy_gbps=%.3f",
                     (long long)rows, (long long)cols, cfgs[ci], bname, t, md,
                     bytes / (md * 1e6), bytes / (mm * 1e6));
            add_result(line);
            tasd_config_destroy(cfg);
        }
    }
    free(w);
    free(dst);
}

int main(int argc, char **argv)
{
    options o;
    parse_options(argc, argv, &o);
    pin_and_reexec(argv, o.backend);

    tasd_context *ctx;
    check(tasd_context_create(NULL, &ctx), "tasd_context_create");
    if (o.backend != TASD_BACKEND_AUTO)
        check(tasd_context_set_backend(ctx, o.backend), "--backend");
    int64_t llc = llc_bytes();

    const char *ct = getenv("OPENBLAS_CORETYPE");
    const char *isa = getenv("ONEDNN_MAX_CPU_ISA");
    printf("libtasd %s, backend %s; CPU: avx512f=%d avx2+fma=%d; last-level cache %.0f MiB\n",
           tasd_version(), tasd_backend_name(tasd_context_backend(ctx)), cpu_has_avx512(),
           cpu_has_avx2(), llc / 1048576.0);
    const char *tt = getenv("OPENBLAS_THREAD_TIMEOUT");
    printf("OpenBLAS: OPENBLAS_CORETYPE=%s, core in use: %s (%s), "
           "OPENBLAS_THREAD_TIMEOUT=%s\n",
           ct ? ct : "(unset)", openblas_get_corename(), openblas_get_config(),
           tt ? tt : "(unset)");
    const dnnl_version_t *dv = dnnl_version();
    printf("oneDNN %d.%d.%d, ONEDNN_MAX_CPU_ISA=%s\n", dv->major, dv->minor, dv->patch,
           isa ? isa : "(unset)");
    printf("series values %s, activations %s; OpenBLAS cblas_sbgemm: %s\n",
           tasd_dtype_name(o.values), tasd_dtype_name(o.dtype),
           dlsym(RTLD_DEFAULT, "cblas_sbgemm")
               ? "present (not used)"
               : "absent (Debian's OpenBLAS 0.3.21 is built without it): the bf16 baseline "
                 "is oneDNN's matmul");
    if (ct && cpu_has_avx512() == 0 && !strcmp(ct, "SkylakeX"))
        printf("WARNING: OPENBLAS_CORETYPE=SkylakeX on a CPU without AVX-512\n");
    const char *bn = tasd_backend_name(tasd_context_backend(ctx));
#if defined(__x86_64__)
    if (!strcmp(bn, "avx2"))
        backend_peak = peak_avx2(20000000, 7);
    else if (!strcmp(bn, "avx512"))
        backend_peak = peak_avx512(20000000, 7);
#endif
    if (backend_peak > 0)
        printf("measured FMA peak of the %s backend: %.1f GFLOP/s per core; eff = useful "
               "(nonzeros only) GFLOP/s / (peak x threads)\n",
               bn, backend_peak);
#if defined(__x86_64__)
    if (backend_peak > 0 && (o.values == TASD_BF16 || o.dtype == TASD_BF16) &&
        __builtin_cpu_supports("avx512bf16"))
        printf("vdpbf16ps: %.1f GFLOP/s of bf16 products per core (libtasd widens bf16 "
               "values and activations and runs the FMA)\n",
               peak_avx512_bf16(10000000, 7));
#endif
    printf("times: ms per call, median of %d interleaved repetitions; dense = faster of "
           "OpenBLAS and oneDNN; GFLOP/s counts the dense 2*M*K*N\n\n",
           o.reps);
    printf("%-15s %-9s %-7s %2s %10s %10s %10s %-9s %9s %8s %8s\n", "MxKxN", "config",
           "backend", "T", "tasd_ms", "openblas", "onednn", "dense", "speedup", "tasd_GF",
           "dense_GF");
    fflush(stdout);

    for (int si = 0; si < o.nshapes; si++) {
        const shape *sh = &o.shapes[si];
        size_t wbytes = (size_t)(sh->m * sh->k) * sizeof(float);
        float *w0 = xalloc(wbytes);
        for (int64_t i = 0; i < sh->m * sh->k; i++)
            w0[i] = frand();
        for (int ci = 0; ci < o.nconfigs; ci++)
            run_shape_config(&o, ctx, sh, o.configs[ci], w0, llc);
        for (int ci = 0; ci < o.nconfigs && !o.layer; ci++) { /* tasd_gemm's */
            const char *base = series_base(&o, o.configs[ci]);
            if (base)
                run_series_cost(&o, ctx, sh, base, o.configs[ci], w0, llc);
        }
        free(w0);
    }
    if (o.decompose)
        run_decompose(&o, ctx);

    printf("\n");
    for (int i = 0; i < nresults; i++)
        printf("%s\n", results[i].line);
    free(results);
    tasd_context_destroy(ctx);
    if (wrong_results) {
        fprintf(stderr, "bench: %d case(s) computed a wrong product (WARNING above)\n",
                wrong_results);
        return 1;
    }
    return 0;
}
