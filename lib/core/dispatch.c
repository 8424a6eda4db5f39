/* Backend registry and the process-wide choice, made once. */
#include "dispatch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NARROW_ALL {TASDI_NARROW_MAX, TASDI_NARROW_MAX, TASDI_NARROW_MAX}

static const tasdi_ops scalar_ops = {TASD_BACKEND_SCALAR, tasdi_scalar_select,
                                     tasdi_scalar_wide, tasdi_scalar_narrow,
                                     tasdi_scalar_stats, NARROW_ALL, 1,
                                     &tasdi_scalar_dense, tasdi_scalar_wide,
                                     tasdi_scalar_wide, tasdi_scalar_narrow,
                                     tasdi_scalar_narrow, NULL, 0, NULL, tasdi_scalar_transpose,
                                     tasdi_scalar_panel_row};
#if defined(__aarch64__)
/* Advanced SIMD is architectural on aarch64: no run-time check needed. */
static const tasdi_ops neon_ops = {TASD_BACKEND_NEON, tasdi_neon_select,
                                   tasdi_neon_wide, tasdi_neon_narrow,
                                   tasdi_neon_stats, NARROW_ALL, 1,
                                   &tasdi_neon_dense, tasdi_neon_wide_bf16,
                                   tasdi_neon_wide_f16, tasdi_neon_narrow_bf16,
                                   tasdi_neon_narrow_f16, NULL, 0, NULL,
                                   tasdi_neon_transpose, tasdi_scalar_panel_row};
#endif
#if defined(__x86_64__) || defined(_M_X64)
static const tasdi_ops avx2_ops = {TASD_BACKEND_AVX2, tasdi_avx2_select,
                                   tasdi_avx2_wide, tasdi_avx2_narrow, tasdi_avx2_stats,
                                   {4, 4, 4} /* measured crossovers with the wide kernel */, 1,
                                   &tasdi_avx2_dense, tasdi_avx2_wide_bf16,
                                   tasdi_avx2_wide_f16, tasdi_avx2_narrow_bf16,
                                   tasdi_avx2_narrow_f16, tasdi_avx2_narrow_fast, 4, NULL,
                                   tasdi_avx2_transpose, tasdi_avx2_panel_row};
/* The narrow kernel's crossover with the wide kernel, measured per vendor.
 * Above n = 4 the narrow kernel's generic path (window fetches, gathers;
 * more of them as M/N grows, where the wide kernel's cost stays) beat the
 * wide kernel on an Intel Xeon (Sapphire Rapids class) up to n = 8 (2:4) /
 * 6 (1:4) / 4; on an AMD EPYC (Zen 5), whose gathers are slow, it lost at
 * every n from 5 to 8 (in process, weights evicted: 2:4 x5 5.6 -> 3.9 ms,
 * x8 4.8 -> 3.8 ms, 1:4 x5 3.0 -> 2.4 ms, 2:4+1:8 x5 6.2 -> 4.7 ms, x8
 * even). The fast path (2:4, 1:4, 1:8, 2:4+1:8 ...: N:M known at compile
 * time, up to 8 columns with 16 lanes) beat the wide kernel on the AMD EPYC Zen 5 at
 * every n from 5 to 8 (4096x4096, weights evicted, wide -> fast: 2:4 x5
 * 3.88 -> 1.70 ms, x8 3.77 -> 3.03; 1:4 x5 2.23 -> 1.15, x8 2.33 -> 2.38;
 * 2:4+1:8 x5 4.75 -> 2.34, x8 6.03 -> 5.35; 1:8 x8 1.50 -> 1.05). On Intel
 * it is unmeasured above n = 4 and is taken only where the generic path's
 * crossover already runs narrow. */
#define AVX512_OPS(wide, nmax_m2, nmax_m4, nmax_more, nmax_fast, gathers)                \
    {TASD_BACKEND_AVX512, tasdi_avx512_select, tasdi_avx512_##wide, tasdi_avx512_narrow, \
     tasdi_avx512_stats, {nmax_m2, nmax_m4, nmax_more},                                  \
     2 /* 8 zmm per row: 1.125 loads per FMA */, &tasdi_avx512_dense,                    \
     tasdi_avx512_##wide##_bf16, tasdi_avx512_##wide##_f16, tasdi_avx512_narrow_bf16,    \
     tasdi_avx512_narrow_f16, tasdi_avx512_narrow_fast, nmax_fast, gathers,              \
     tasdi_avx512_transpose, tasdi_avx512_panel_row}
/* AMD's wide kernels load the slot values four at a time (its permute
 * issues beside the FMAs; kernels/avx512/kernels.c). Its gathers are slow:
 * series the narrow kernel fetches by gathers run wide at every n (AMD EPYC
 * Zen 5, 4096x4096: 1:16 / 2:16 1.82 / 1.81 ms narrow at x1, 1.07 / 1.36 ms
 * wide at x9, 9.7 ms narrow at x8; 2:4+1:16 at x1 / x4 0.75 / 0.35 of the
 * narrow time wide), and so do the other series of M/N > 4 off the fast
 * path, which take M/N window vectors a slot vector (class limit 0). */
static const tasdi_ops avx512_ops = AVX512_OPS(wide, 8, 6, 4, 4, NULL);
static const tasdi_ops avx512_ops_amd = AVX512_OPS(wide_spread, 4, 4, 0, 8, tasdi_avx512_narrow_gathers);
#endif

/* ---- CPU feature probe ----
 * This file is compiled for the baseline ISA: the probe uses only CPUID and
 * XGETBV, issued through inline asm, so nothing here can fault on any
 * x86-64. XGETBV is executed only when CPUID reports OSXSAVE (the OS enabled
 * XSAVE and so the instruction). */
static tasdi_cpu cpu_features;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

#if (defined(__x86_64__) || defined(_M_X64)) && defined(__GNUC__)
static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(sub));
}

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void probe_cpu(void)
{
    uint32_t r[4];
    cpuid(0, 0, r);
    uint32_t max_leaf = r[0];
    /* "AuthenticAMD" in EBX, EDX, ECX */
    cpu_features.amd = r[1] == 0x68747541u && r[3] == 0x69746e65u && r[2] == 0x444d4163u;
    if (max_leaf < 7)
        return;
    cpuid(1, 0, r);
    bool fma = (r[2] >> 12) & 1, osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1;
    bool f16c = (r[2] >> 29) & 1;
    if (!osxsave || !avx)
        return;
    uint64_t xcr0 = xgetbv0();
    bool os_ymm = (xcr0 & 0x6) == 0x6;    /* XMM + YMM state          */
    bool os_zmm = (xcr0 & 0xe6) == 0xe6;  /* + opmask, ZMM_Hi256, Hi16 */
    cpuid(7, 0, r);
    uint32_t max_sub7 = r[0];
    bool avx2 = (r[1] >> 5) & 1;
    bool f = (r[1] >> 16) & 1, dq = (r[1] >> 17) & 1, bw = (r[1] >> 30) & 1,
         vl = (r[1] >> 31) & 1;
    /* The AVX2 backend's f16 kernels widen with F16C, which every AVX2 CPU
     * has; one without it runs the scalar backend. */
    cpu_features.f16c = f16c;
    cpu_features.avx2 = os_ymm && avx2 && fma && f16c;
    cpu_features.avx512 = cpu_features.avx2 && os_zmm && f && dq && bw && vl;
    if (max_sub7 >= 1) {
        cpuid(7, 1, r);
        cpu_features.avx512bf16 = cpu_features.avx512 && ((r[0] >> 5) & 1);
    }
}
#else
static void probe_cpu(void)
{
}
#endif

const tasdi_cpu *tasdi_cpu_features(void)
{
    pthread_once(&cpu_once, probe_cpu);
    return &cpu_features;
}

const tasdi_ops *tasdi_ops_for(tasd_backend backend)
{
    switch (backend) {
    case TASD_BACKEND_SCALAR: return &scalar_ops;
#if defined(__aarch64__)
    case TASD_BACKEND_NEON: return &neon_ops;
#endif
#if defined(__x86_64__) || defined(_M_X64)
    case TASD_BACKEND_AVX2: return tasdi_cpu_features()->avx2 ? &avx2_ops : NULL;
    case TASD_BACKEND_AVX512:
        if (!tasdi_cpu_features()->avx512)
            return NULL;
        return tasdi_cpu_features()->amd ? &avx512_ops_amd : &avx512_ops;
#endif
    default: return NULL;
    }
}

int tasd_backend_available(tasd_backend backend)
{
    return tasdi_ops_for(backend) != NULL;
}

static const char *const backend_names[] = {"auto", "scalar", "avx2", "avx512", "neon"};

const char *tasd_backend_name(tasd_backend backend)
{
    if ((unsigned)backend < sizeof backend_names / sizeof *backend_names)
        return backend_names[backend];
    return "?";
}

tasd_status tasd_backend_parse(const char *name, tasd_backend *out)
{
    if (!name || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_backend_parse: NULL argument");
    for (unsigned i = 0; i < sizeof backend_names / sizeof *backend_names; i++)
        if (strcmp(name, backend_names[i]) == 0) {
            *out = (tasd_backend)i;
            return TASD_OK;
        }
    return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                      "unknown backend \"%.32s\" (want auto, scalar, avx2, avx512 or neon)",
                      name);
}

/* The process-wide default: the best available backend, unless the
 * TASD_BACKEND environment variable names one. Resolved once. */
static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static tasd_backend default_backend;
static bool default_forced_unavailable;
static char default_env[32];

static void resolve_default(void)
{
    static const tasd_backend preference[] = {TASD_BACKEND_AVX512, TASD_BACKEND_AVX2,
                                              TASD_BACKEND_NEON, TASD_BACKEND_SCALAR};
    default_backend = TASD_BACKEND_SCALAR;
    for (unsigned i = 0; i < sizeof preference / sizeof *preference; i++)
        if (tasdi_ops_for(preference[i])) {
            default_backend = preference[i];
            break;
        }
    const char *env = getenv("TASD_BACKEND");
    if (env && *env) {
        tasd_backend b;
        strncpy(default_env, env, sizeof default_env - 1);
        if (tasd_backend_parse(env, &b) != TASD_OK ||
            (b != TASD_BACKEND_AUTO && !tasdi_ops_for(b)))
            default_forced_unavailable = true;
        else if (b != TASD_BACKEND_AUTO)
            default_backend = b;
    }
}

tasd_status tasd_context_set_backend(tasd_context *ctx, tasd_backend backend)
{
    if (!ctx)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_context_set_backend: ctx is NULL");
    if ((unsigned)backend > TASD_BACKEND_NEON)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "tasd_context_set_backend: unknown backend %d", (int)backend);
    if (backend != TASD_BACKEND_AUTO && !tasdi_ops_for(backend))
        return tasdi_fail(TASD_ERR_UNSUPPORTED,
                          "backend %s is not available in this build or on this CPU",
                          tasd_backend_name(backend));
    ctx->backend = backend;
    return TASD_OK;
}

const tasdi_ops *tasdi_context_ops(const tasd_context *ctx)
{
    if (ctx && ctx->backend != TASD_BACKEND_AUTO)
        return tasdi_ops_for(ctx->backend);
    pthread_once(&default_once, resolve_default);
    if (default_forced_unavailable) {
        tasdi_fail(TASD_ERR_UNSUPPORTED,
                   "TASD_BACKEND=%s is not a backend available in this build or on this CPU",
                   default_env);
        return NULL;
    }
    return tasdi_ops_for(default_backend);
}

tasd_backend tasd_context_backend(const tasd_context *ctx)
{
    const tasdi_ops *ops = tasdi_context_ops(ctx);
    return ops ? ops->id : TASD_BACKEND_AUTO;
}
