/* Backend registry and the process-wide choice, made once. */
#include "dispatch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const tasdi_ops scalar_ops = {TASD_BACKEND_SCALAR, tasdi_scalar_select,
                                     tasdi_scalar_term_gemm};
#if defined(__aarch64__)
/* Advanced SIMD is architectural on aarch64: no run-time check needed. */
static const tasdi_ops neon_ops = {TASD_BACKEND_NEON, tasdi_neon_select,
                                   tasdi_neon_term_gemm};
#endif

const tasdi_ops *tasdi_ops_for(tasd_backend backend)
{
    switch (backend) {
    case TASD_BACKEND_SCALAR: return &scalar_ops;
#if defined(__aarch64__)
    case TASD_BACKEND_NEON: return &neon_ops;
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
