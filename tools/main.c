/* tasd — the libtasd command-line tool: inspect model files, decompose their
 * weights into N:M series, search per-layer configs, run the benchmark and
 * the demo. See docs/tool.md. */
#include "tool.h"

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *tool_argv0 = "tasd";
bool tool_quiet = false;
static bool progress_shown = false;
static pthread_mutex_t progress_lock = PTHREAD_MUTEX_INITIALIZER;

void tool_error(const char *fmt, ...)
{
    tool_progress_clear();
    va_list ap;
    va_start(ap, fmt);
    fputs("tasd: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

const char *tool_status(tasd_status st)
{
    static _Thread_local char buf[700];
    const char *d = tasd_last_error_message();
    snprintf(buf, sizeof buf, "%s%s%s", d && *d ? d : "", d && *d ? " (" : "",
             tasd_status_string(st));
    if (d && *d)
        strncat(buf, ")", sizeof buf - strlen(buf) - 1);
    return buf;
}

void tool_progress(const char *fmt, ...)
{
    if (tool_quiet || !isatty(2))
        return;
    pthread_mutex_lock(&progress_lock);
    va_list ap;
    va_start(ap, fmt);
    fputs("\r\033[K", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
    progress_shown = true;
    pthread_mutex_unlock(&progress_lock);
}

void tool_progress_clear(void)
{
    pthread_mutex_lock(&progress_lock);
    if (progress_shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        progress_shown = false;
    }
    pthread_mutex_unlock(&progress_lock);
}

bool tool_name_matches(const char *name, const char *patterns)
{
    if (!patterns || !*patterns)
        return true;
    const char *p = patterns;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char pat[512];
        if (n < sizeof pat) {
            memcpy(pat, p, n);
            pat[n] = 0;
            if (n && fnmatch(pat, name, 0) == 0)
                return true;
        }
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

const char *tool_skip_reason(const tasd_tensor_info *info, const char *patterns,
                             int64_t min_elements)
{
    if (!tool_name_matches(info->name, patterns))
        return "not selected by --tensors";
    if (info->dtype < 0)
        return "dtype not f32/f16/bf16";
    if (info->ndim != 2 && info->ndim != 4)
        return info->ndim < 2 ? "rank < 2 (not a matrix)" : "rank 3 or > 4";
    int64_t n = 1;
    for (int d = 0; d < info->ndim; d++)
        n = info->shape[d] && n > INT64_MAX / info->shape[d] ? INT64_MAX : n * info->shape[d];
    if (n == 0)
        return "empty";
    if (n < min_elements)
        return "fewer elements than --min-elements";
    return NULL;
}

tasd_status tool_tensor_view(const tasd_tensorfile *m, int64_t i, tasd_view *v, float **owned)
{
    *owned = NULL;
    tasd_status st = tasd_tensorfile_view(m, i, v);
    if (st != TASD_ERR_UNSUPPORTED)
        return st;
    /* Misaligned data: read a converted copy. */
    tasd_tensor_info info = {.size = sizeof info};
    st = tasd_tensorfile_info(m, i, &info);
    if (st)
        return st;
    int64_t n = 1;
    for (int d = 0; d < info.ndim; d++)
        n *= info.shape[d];
    float *buf = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!buf)
        return TASD_ERR_OUT_OF_MEMORY;
    st = tasd_tensorfile_read_f32(m, i, buf, n);
    if (st) {
        free(buf);
        return st;
    }
    memset(v, 0, sizeof *v);
    v->data = buf;
    v->dtype = TASD_F32;
    v->ndim = info.ndim ? info.ndim : 1;
    v->shape[0] = 1;
    v->strides[0] = 1;
    int64_t stride = 1;
    for (int d = info.ndim - 1; d >= 0; d--) {
        v->shape[d] = info.shape[d];
        v->strides[d] = stride;
        stride *= info.shape[d] ? info.shape[d] : 1;
    }
    *owned = buf;
    return TASD_OK;
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void shape_text(char *buf, size_t size, int ndim, const int64_t *shape)
{
    size_t n = 0;
    n += (size_t)snprintf(buf + n, size - n, "[");
    for (int d = 0; d < ndim && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
}

/* A JSON string literal of s on f. */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* ------------------------------------------------------------------ */
/* inspect                                                            */
/* ------------------------------------------------------------------ */

static void usage_inspect(FILE *f)
{
    fprintf(f,
            "usage: tasd inspect [--quiet] FILE...\n"
            "\n"
            "List every tensor of each FILE (.npy, .safetensors or .tasd): name, dtype,\n"
            "shape, fraction of zeros and RMS. For a .tasd file, each series is listed\n"
            "with its config, method and the stats it was saved with (density, retained\n"
            "energy, relative error), and the zeros/RMS of its dense approximation.\n"
            "Exit status: 0 on success, 1 if any file could not be read.\n");
}

static void zeros_rms_f32(const float *p, int64_t n, double *zeros, double *rms)
{
    int64_t z = 0;
    double ss = 0;
    for (int64_t k = 0; k < n; k++) {
        z += p[k] == 0.0f;
        ss += (double)p[k] * p[k];
    }
    *zeros = n ? (double)z / (double)n : 0.0;
    *rms = n ? sqrt(ss / (double)n) : 0.0;
}

static int inspect_model(const char *path)
{
    tasd_tensorfile *m;
    tasd_status st = tasd_tensorfile_open(NULL, path, &m);
    if (st) {
        tool_error("%s", tool_status(st));
        return 1;
    }
    int64_t count = tasd_tensorfile_count(m);
    printf("%s: %s, %lld tensor%s\n", path, tasd_file_format_name(tasd_tensorfile_format(m)),
           (long long)count, count == 1 ? "" : "s");
    printf("  %-40s %-6s %-22s %8s %12s\n", "name", "dtype", "shape", "zeros", "rms");
    int rc = 0;
    for (int64_t i = 0; i < count; i++) {
        tasd_tensor_info info = {.size = sizeof info};
        tasd_tensorfile_info(m, i, &info);
        tool_progress("inspect %s [%lld/%lld] %s", path, (long long)i + 1, (long long)count,
                      info.name);
        char shape[128];
        shape_text(shape, sizeof shape, info.ndim, info.shape);
        if (info.dtype < 0) {
            tool_progress_clear();
            printf("  %-40s %-6s %-22s %8s %12s\n", *info.name ? info.name : "(array)",
                   info.dtype_name, shape, "-", "-");
            continue;
        }
        int64_t n = (int64_t)(info.nbytes / tasd_dtype_size((tasd_dtype)info.dtype));
        float *buf = malloc((size_t)(n ? n : 1) * sizeof(float));
        if (!buf) {
            tool_error("%s: tensor \"%s\": out of memory", path, info.name);
            rc = 1;
            break;
        }
        st = tasd_tensorfile_read_f32(m, i, buf, n);
        if (st) {
            tool_error("%s: tensor \"%s\": %s", path, info.name, tool_status(st));
            free(buf);
            rc = 1;
            break;
        }
        double zeros, rms;
        zeros_rms_f32(buf, n, &zeros, &rms);
        free(buf);
        tasd_tensorfile_release(m, i);
        tool_progress_clear();
        printf("  %-40s %-6s %-22s %8.4f %12.6g\n", *info.name ? info.name : "(array)",
               info.dtype_name, shape, zeros, rms);
    }
    tool_progress_clear();
    tasd_tensorfile_close(m);
    return rc;
}

static void config_text(const tasd_archive_entry *e, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = 0;
    for (int k = 0; k < e->terms && n < size; k++)
        n += (size_t)snprintf(buf + n, size - n, "%s%d:%d", k ? "+" : "", e->n[k], e->m[k]);
}

static int inspect_archive(const char *path)
{
    tasd_archive *ar;
    tasd_status st = tasd_archive_open(NULL, path, &ar);
    if (st) {
        tool_error("%s", tool_status(st));
        return 1;
    }
    int64_t count = tasd_archive_count(ar);
    printf("%s: tasd, %lld series\n", path, (long long)count);
    printf("  %-40s %-6s %-16s %-14s %-8s %8s %12s %8s %9s %9s\n", "name", "dtype", "shape",
           "config", "method", "zeros", "rms", "density", "retained", "rel_err");
    int rc = 0;
    for (int64_t i = 0; i < count; i++) {
        tasd_archive_entry e = {.size = sizeof e};
        tasd_archive_entry_info(ar, i, &e);
        tool_progress("inspect %s [%lld/%lld] %s", path, (long long)i + 1, (long long)count,
                      e.name);
        tasd_series *s;
        st = tasd_archive_load(ar, i, &s);
        if (st) {
            tool_error("%s: series \"%s\": %s", path, e.name, tool_status(st));
            rc = 1;
            break;
        }
        tasd_stats stats = {.size = sizeof stats};
        tasd_series_stats(s, &stats);
        int64_t n = e.rows * e.cols;
        float *buf = malloc((size_t)(n ? n : 1) * sizeof(float));
        double zeros = 0, rms = 0;
        if (buf) {
            tasd_view v = tasd_view_2d(buf, TASD_F32, e.rows, e.cols, e.cols);
            if (tasd_series_reconstruct(s, &v) == TASD_OK)
                zeros_rms_f32(buf, n, &zeros, &rms);
            free(buf);
        }
        tasd_series_destroy(s);
        char shape[64], cfg[128];
        int64_t sh[2] = {e.rows, e.cols};
        shape_text(shape, sizeof shape, 2, sh);
        config_text(&e, cfg, sizeof cfg);
        tool_progress_clear();
        printf("  %-40s %-6s %-16s %-14s %-8s %8.4f %12.6g %8.4f %9.6f %9.6f\n",
               *e.name ? e.name : "(series)", "series", shape, cfg,
               tasd_method_name((tasd_method)e.method), zeros, rms, stats.density,
               stats.retained_energy, stats.rel_error);
    }
    tool_progress_clear();
    tasd_archive_close(ar);
    return rc;
}

static int cmd_inspect(int argc, char **argv)
{
    int nfiles = 0, rc = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage_inspect(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0)
            tool_quiet = true;
        else if (argv[i][0] == '-' && argv[i][1]) {
            tool_error("inspect: unknown option %s", argv[i]);
            usage_inspect(stderr);
            return 2;
        }
    }
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1])
            continue;
        nfiles++;
        tasd_file_format fmt;
        tasd_status st = tasd_file_format_detect(argv[i], &fmt);
        if (st) {
            tool_error("%s", tool_status(st));
            rc = 1;
            continue;
        }
        if (fmt == TASD_FORMAT_TASD)
            rc |= inspect_archive(argv[i]);
        else
            rc |= inspect_model(argv[i]);
    }
    if (!nfiles) {
        tool_error("inspect: no FILE given");
        usage_inspect(stderr);
        return 2;
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* decompose                                                          */
/* ------------------------------------------------------------------ */

static void usage_decompose(FILE *f)
{
    fprintf(f,
            "usage: tasd decompose FILE --config CFG [--method greedy|optimal]\n"
            "                      [--tensors PATTERN] [--min-elements N] [-o OUT.tasd]\n"
            "                      [--reconstruct OUT] [--json] [--threads T] [--quiet]\n"
            "\n"
            "Decompose every matrix of FILE (.npy or .safetensors) into an N:M series.\n"
            "Rank-2 tensors are [out, in]; rank-4 conv weights are [out, in*kh*kw]; other\n"
            "tensors (and those not selected) are skipped and listed.\n"
            "\n"
            "  --config CFG        series config, e.g. 2:4 or 2:4+1:8 (required)\n"
            "  --method M          greedy (default, the paper's) or optimal\n"
            "  --tensors PATTERN   only tensors whose name matches one of the comma-\n"
            "                      separated shell patterns, e.g. '*.weight,*proj*'\n"
            "  --min-elements N    skip tensors with fewer than N elements (default 0)\n"
            "  -o OUT.tasd         save every series into one .tasd file (by tensor name)\n"
            "  --reconstruct OUT   write the approximated weights in FILE's format: same\n"
            "                      names, shapes, dtypes; other tensors copied unchanged\n"
            "  --json              one JSON object per decomposed tensor on stdout (keys\n"
            "                      name, shape, matrix, dtype, config, method, density,\n"
            "                      retained_energy, rel_error, coverage, kept_nonzeros,\n"
            "                      time_ms); skipped tensors and totals go to stderr\n"
            "  --threads T         tensors decomposed in parallel (default: all cores);\n"
            "                      output order is always the file's order\n"
            "  --quiet             no progress line and no skipped/totals report\n"
            "\n"
            "Per tensor: shape, density (kept/elements), retained energy ||Wa||^2/||W||^2,\n"
            "relative error ||W-Wa||/||W||, nonzero coverage (kept/nonzeros of W), time;\n"
            "then a totals line. Any error (bad file, NaN/Inf in a tensor, ...) names the\n"
            "file and tensor, leaves no output file behind, and exits 1.\n");
}

typedef struct dec_result {
    tasd_series *series;
    tasd_stats stats;
    double energy;     /* ||W||^2 */
    double seconds;
    int64_t elements;
    bool done;
} dec_result;

typedef struct dec_job {
    const char *path;
    tasd_tensorfile *model;
    const tasd_config *config;
    tasd_method method;
    char config_text[128];
    int64_t *todo;       /* indices of eligible tensors, file order */
    int64_t ntodo;
    dec_result *res;     /* [ntodo] */
    tasd_archive_writer *archive;
    tasd_writer *recon;
    bool json;
    int ctx_threads;     /* threads per decomposition (1 unless tensors < threads) */
    /* ordered hand-off */
    pthread_mutex_t lock;
    pthread_cond_t turn;
    int64_t next_claim, next_emit;
    bool failed;
    /* totals */
    double tot_energy, tot_err_energy, tot_seconds;
    int64_t tot_elements, tot_kept, tot_input_nnz, tot_done;
} dec_job;

static double sum_squares(const tasd_view *v)
{
    /* Contiguous view (from the model or a converted copy). */
    int64_t n = 1;
    for (int d = 0; d < v->ndim; d++)
        n *= v->shape[d];
    double ss = 0;
    if (v->dtype == TASD_F32) {
        const float *p = v->data;
        for (int64_t k = 0; k < n; k++)
            ss += (double)p[k] * p[k];
    } else {
        /* Half types: widen exactly (every f16/bf16 value is an f32). */
        float tmp[1024];
        const uint16_t *p = v->data;
        for (int64_t k = 0; k < n; k += 1024) {
            int64_t c = n - k < 1024 ? n - k : 1024;
            for (int64_t q = 0; q < c; q++) {
                uint16_t h = p[k + q];
                uint32_t u;
                if (v->dtype == TASD_BF16) {
                    u = (uint32_t)h << 16;
                    memcpy(&tmp[q], &u, 4);
                } else {
                    /* binary16 -> binary32 */
                    uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023;
                    float f;
                    if (e == 0)
                        f = ldexpf((float)m, -24);
                    else if (e == 31)
                        f = m ? NAN : INFINITY;
                    else
                        f = ldexpf((float)(m | 1024), (int)e - 25);
                    u = 0;
                    memcpy(&u, &f, 4);
                    u |= sign;
                    memcpy(&tmp[q], &u, 4);
                }
                ss += (double)tmp[q] * tmp[q];
            }
        }
    }
    return ss;
}

static void emit_result(dec_job *J, int64_t slot)
{
    dec_result *r = &J->res[slot];
    tasd_tensor_info info = {.size = sizeof info};
    tasd_tensorfile_info(J->model, J->todo[slot], &info);
    int64_t rows = 0, cols = 0;
    tasd_series_shape(r->series, &rows, &cols);
    char shape[128], matrix[64];
    shape_text(shape, sizeof shape, info.ndim, info.shape);
    int64_t mm[2] = {rows, cols};
    shape_text(matrix, sizeof matrix, 2, mm);
    tool_progress_clear();
    const char *name = *info.name ? info.name : "(array)";
    if (J->json) {
        fputs("{\"name\":", stdout);
        json_string(stdout, info.name);
        printf(",\"shape\":[");
        for (int d = 0; d < info.ndim; d++)
            printf("%s%lld", d ? "," : "", (long long)info.shape[d]);
        printf("],\"matrix\":[%lld,%lld],\"dtype\":", (long long)rows, (long long)cols);
        json_string(stdout, info.dtype_name);
        printf(",\"config\":\"%s\",\"method\":\"%s\",\"density\":%.9g,\"retained_energy\":%.9g,"
               "\"rel_error\":%.9g,\"coverage\":%.9g,\"kept_nonzeros\":%lld,"
               "\"input_nonzeros\":%lld,\"time_ms\":%.3f}\n",
               J->config_text, tasd_method_name(J->method), r->stats.density,
               r->stats.retained_energy, r->stats.rel_error, r->stats.coverage,
               (long long)r->stats.kept_nonzeros, (long long)r->stats.input_nonzeros,
               r->seconds * 1e3);
    } else {
        printf("  %-40s %-18s %-14s %8.4f %9.6f %9.6f %8.4f %9.1f\n", name, shape, matrix,
               r->stats.density, r->stats.retained_energy, r->stats.rel_error,
               r->stats.coverage, r->seconds * 1e3);
    }
    fflush(stdout);
}

static void *dec_worker(void *arg)
{
    dec_job *J = arg;
    tasd_context *ctx = NULL;
    if (tasd_context_create(NULL, &ctx) == TASD_OK)
        tasd_context_set_threads(ctx, J->ctx_threads);
    for (;;) {
        pthread_mutex_lock(&J->lock);
        if (J->failed || J->next_claim >= J->ntodo) {
            pthread_mutex_unlock(&J->lock);
            break;
        }
        int64_t slot = J->next_claim++;
        pthread_mutex_unlock(&J->lock);

        int64_t ti = J->todo[slot];
        dec_result *r = &J->res[slot];
        tasd_tensor_info info = {.size = sizeof info};
        tasd_tensorfile_info(J->model, ti, &info);
        tool_progress("decompose %s [%lld/%lld] %s", J->path, (long long)slot + 1,
                      (long long)J->ntodo, info.name);
        tasd_view v;
        float *owned = NULL;
        double t0 = now_sec();
        tasd_status st = ctx ? tool_tensor_view(J->model, ti, &v, &owned) : TASD_ERR_OUT_OF_MEMORY;
        if (!st) {
            r->energy = sum_squares(&v);
            st = tasd_decompose(ctx, &v, J->config, J->method, &r->series);
        }
        r->seconds = now_sec() - t0;
        free(owned);
        if (!st) {
            r->stats.size = sizeof r->stats;
            st = tasd_series_stats(r->series, &r->stats);
        }
        if (!st && J->recon) {
            int64_t rows, cols;
            tasd_series_shape(r->series, &rows, &cols);
            int64_t nel = rows * cols;
                float *dense = malloc((size_t)(nel > 0 ? nel : 1) * sizeof(float));
            if (!dense) {
                st = TASD_ERR_OUT_OF_MEMORY;
            } else {
                tasd_view dv = tasd_view_2d(dense, TASD_F32, rows, cols, cols);
                st = tasd_series_reconstruct(r->series, &dv);
                if (!st)
                    st = tasd_writer_put(J->recon, ti, &dv);
                free(dense);
            }
        }
        tasd_tensorfile_release(J->model, ti);
        if (st) {
            pthread_mutex_lock(&J->lock);
            if (!J->failed)
                tool_error("%s: tensor \"%s\": %s", J->path, info.name, tool_status(st));
            J->failed = true;
            pthread_cond_broadcast(&J->turn);
            pthread_mutex_unlock(&J->lock);
            tasd_series_destroy(r->series);
            r->series = NULL;
            break;
        }
        /* Wait for this tensor's turn, so output and the archive follow file order. */
        pthread_mutex_lock(&J->lock);
        while (!J->failed && J->next_emit != slot)
            pthread_cond_wait(&J->turn, &J->lock);
        if (!J->failed) {
            emit_result(J, slot);
            if (J->archive) {
                st = tasd_archive_writer_add(J->archive, info.name, r->series);
                if (st) {
                    tool_error("%s: tensor \"%s\": %s", J->path, info.name, tool_status(st));
                    J->failed = true;
                }
            }
            J->tot_energy += r->energy;
            J->tot_err_energy += r->stats.rel_error * r->stats.rel_error * r->energy;
            J->tot_seconds += r->seconds;
            int64_t rows, cols;
            tasd_series_shape(r->series, &rows, &cols);
            J->tot_elements += rows * cols;
            J->tot_kept += r->stats.kept_nonzeros;
            J->tot_input_nnz += r->stats.input_nonzeros;
            J->tot_done++;
        }
        J->next_emit++;
        pthread_cond_broadcast(&J->turn);
        pthread_mutex_unlock(&J->lock);
        tasd_series_destroy(r->series);
        r->series = NULL;
    }
    tasd_context_destroy(ctx);
    return NULL;
}

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n > 64 ? 64 : n) : 1;
}

static bool parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0)
        return false;
    *out = v;
    return true;
}

static int cmd_decompose(int argc, char **argv)
{
    const char *file = NULL, *cfg = NULL, *method_s = "greedy", *patterns = NULL;
    const char *out = NULL, *recon = NULL;
    int64_t min_el = 0, threads = 0;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define NEED_ARG()                                                          \
    do {                                                                    \
        if (i + 1 >= argc) {                                                \
            tool_error("decompose: %s needs an argument", a);               \
            return 2;                                                       \
        }                                                                   \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage_decompose(stdout);
            return 0;
        } else if (!strcmp(a, "--config") || !strcmp(a, "-c")) {
            NEED_ARG();
            cfg = argv[++i];
        } else if (!strcmp(a, "--method")) {
            NEED_ARG();
            method_s = argv[++i];
        } else if (!strcmp(a, "--tensors")) {
            NEED_ARG();
            patterns = argv[++i];
        } else if (!strcmp(a, "--min-elements")) {
            NEED_ARG();
            if (!parse_i64(argv[++i], &min_el)) {
                tool_error("decompose: --min-elements wants a non-negative integer, got \"%s\"",
                           argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--threads")) {
            NEED_ARG();
            if (!parse_i64(argv[++i], &threads) || threads > 1024) {
                tool_error("decompose: --threads wants 0..1024, got \"%s\"", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            NEED_ARG();
            out = argv[++i];
        } else if (!strcmp(a, "--reconstruct")) {
            NEED_ARG();
            recon = argv[++i];
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            tool_quiet = true;
        } else if (a[0] == '-' && a[1]) {
            tool_error("decompose: unknown option %s", a);
            usage_decompose(stderr);
            return 2;
        } else if (!file) {
            file = a;
        } else {
            tool_error("decompose: more than one FILE (%s, %s)", file, a);
            return 2;
        }
#undef NEED_ARG
    }
    if (!file || !cfg) {
        tool_error("decompose: %s", !file ? "no FILE given" : "--config CFG is required");
        usage_decompose(stderr);
        return 2;
    }
    tasd_config *config;
    tasd_status st = tasd_config_parse(NULL, cfg, &config);
    if (st) {
        tool_error("decompose: --config \"%s\": %s", cfg, tool_status(st));
        return 2;
    }
    tasd_method method;
    st = tasd_method_parse(method_s, &method);
    if (st) {
        tool_error("decompose: --method: %s", tool_status(st));
        tasd_config_destroy(config);
        return 2;
    }
    tasd_tensorfile *model;
    st = tasd_tensorfile_open(NULL, file, &model);
    if (st) {
        tool_error("%s", tool_status(st));
        tasd_config_destroy(config);
        return 1;
    }
    dec_job J;
    memset(&J, 0, sizeof J);
    J.path = file;
    J.model = model;
    J.config = config;
    J.method = method;
    J.json = json;
    tasd_config_format(config, J.config_text, sizeof J.config_text, NULL);
    pthread_mutex_init(&J.lock, NULL);
    pthread_cond_init(&J.turn, NULL);
    int64_t count = tasd_tensorfile_count(model);
    J.todo = malloc((size_t)(count ? count : 1) * sizeof *J.todo);
    J.res = calloc((size_t)(count ? count : 1), sizeof *J.res);
    tasd_tensor_info *infos = malloc((size_t)(count ? count : 1) * sizeof *infos);
    int rc = 0;
    if (!J.todo || !J.res || !infos) {
        tool_error("out of memory");
        rc = 1;
        goto done;
    }
    for (int64_t i = 0; i < count; i++) {
        infos[i].size = sizeof infos[i];
        tasd_tensorfile_info(model, i, &infos[i]);
        if (!tool_skip_reason(&infos[i], patterns, min_el))
            J.todo[J.ntodo++] = i;
    }
    if (recon) {
        tasd_file_format f = tasd_tensorfile_format(model);
        st = tasd_writer_create(NULL, recon, f, count, infos, &J.recon);
        if (st) {
            tool_error("%s: %s", recon, tool_status(st));
            rc = 1;
            goto done;
        }
        /* Tensors not decomposed are copied unchanged. */
        for (int64_t i = 0; i < count && !st; i++) {
            if (!tool_skip_reason(&infos[i], patterns, min_el))
                continue;
            const void *raw;
            uint64_t nb;
            st = tasd_tensorfile_raw(model, i, &raw, &nb);
            if (!st)
                st = tasd_writer_put_raw(J.recon, i, raw, (size_t)nb);
            tasd_tensorfile_release(model, i);
            if (st)
                tool_error("%s: tensor \"%s\": %s", recon, infos[i].name, tool_status(st));
        }
        if (st) {
            rc = 1;
            goto done;
        }
    }
    if (out) {
        st = tasd_archive_writer_create(NULL, out, &J.archive);
        if (st) {
            tool_error("%s", tool_status(st));
            rc = 1;
            goto done;
        }
    }
    if (!json) {
        printf("%s: %s, %lld tensors, config %s, method %s\n", file,
               tasd_file_format_name(tasd_tensorfile_format(model)), (long long)count, J.config_text,
               tasd_method_name(method));
        printf("  %-40s %-18s %-14s %8s %9s %9s %8s %9s\n", "name", "shape", "matrix", "density",
               "retained", "rel_err", "coverage", "time_ms");
        fflush(stdout);
    }
    int total = threads > 0 ? (int)threads : default_threads();
    int nt = total;
    if (nt > J.ntodo)
        nt = J.ntodo > 0 ? (int)J.ntodo : 1;
    /* Threads over tensors; leftover threads (fewer tensors than threads)
     * go to each decomposition. Results do not depend on either count. */
    J.ctx_threads = total / nt > 1 ? total / nt : 1;
    pthread_t tid[1024];
    int started = 0;
    for (int t = 1; t < nt; t++)
        if (pthread_create(&tid[started], NULL, dec_worker, &J) == 0)
            started++;
    dec_worker(&J);
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    tool_progress_clear();
    if (J.failed) {
        rc = 1;
        goto done;
    }
    /* Skipped tensors and totals: on stdout in table mode, stderr with --json. */
    FILE *rep = json ? stderr : stdout;
    bool report = !(json && tool_quiet);
    int64_t skipped = count - J.ntodo;
    if (report && skipped) {
        fprintf(rep, "skipped %lld tensor%s:\n", (long long)skipped, skipped == 1 ? "" : "s");
        for (int64_t i = 0; i < count; i++) {
            const char *why = tool_skip_reason(&infos[i], patterns, min_el);
            if (!why)
                continue;
            char shape[128];
            shape_text(shape, sizeof shape, infos[i].ndim, infos[i].shape);
            fprintf(rep, "  %-40s %-6s %-18s %s\n", *infos[i].name ? infos[i].name : "(array)",
                    infos[i].dtype_name, shape, why);
        }
    }
    if (report) {
        double retained = J.tot_energy > 0 ? 1.0 - J.tot_err_energy / J.tot_energy : 1.0;
        double rel = J.tot_energy > 0 ? sqrt(J.tot_err_energy / J.tot_energy) : 0.0;
        fprintf(rep,
                "total: %lld decomposed, %lld skipped, %lld elements, density %.4f, retained "
                "energy %.6f, rel error %.6f, coverage %.4f, %.1f ms (sum over tensors)\n",
                (long long)J.tot_done, (long long)skipped, (long long)J.tot_elements,
                J.tot_elements ? (double)J.tot_kept / (double)J.tot_elements : 0.0, retained, rel,
                J.tot_input_nnz ? (double)J.tot_kept / (double)J.tot_input_nnz : 1.0,
                J.tot_seconds * 1e3);
    }
    if (J.archive) {
        st = tasd_archive_writer_finish(J.archive);
        J.archive = NULL;
        if (st) {
            tool_error("%s", tool_status(st));
            rc = 1;
            goto done;
        }
    }
    if (J.recon) {
        st = tasd_writer_finish(J.recon);
        J.recon = NULL;
        if (st) {
            tool_error("%s", tool_status(st));
            rc = 1;
        }
    }
done:
    tasd_archive_writer_abort(J.archive);
    tasd_writer_abort(J.recon);
    free(J.todo);
    free(J.res);
    free(infos);
    pthread_mutex_destroy(&J.lock);
    pthread_cond_destroy(&J.turn);
    tasd_tensorfile_close(model);
    tasd_config_destroy(config);
    return rc;
}

/* ------------------------------------------------------------------ */
/* bench, demo                                                        */
/* ------------------------------------------------------------------ */

/* Directory of this executable, or "" if unknown. */
static void self_dir(char *buf, size_t size)
{
    buf[0] = 0;
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    if (n <= 0) {
        const char *s = strrchr(tool_argv0, '/');
        if (s && (size_t)(s - tool_argv0) < size) {
            memcpy(buf, tool_argv0, (size_t)(s - tool_argv0));
            buf[s - tool_argv0] = 0;
        }
        return;
    }
    buf[n] = 0;
    char *s = strrchr(buf, '/');
    if (s)
        *s = 0;
}

static int run_program(const char *what, const char *env, const char *const *rel, char **args,
                       int nargs)
{
    char dir[PATH_MAX], path[PATH_MAX + 64];
    const char *found = getenv(env);
    if (found && access(found, X_OK) != 0) {
        tool_error("%s: %s=%s is not an executable file", what, env, found);
        return 1;
    }
    if (!found) {
        self_dir(dir, sizeof dir);
        for (int k = 0; rel[k] && !found; k++) {
            snprintf(path, sizeof path, "%s/%s", dir, rel[k]);
            if (access(path, X_OK) == 0)
                found = path;
        }
    }
    if (!found) {
        tool_error("%s: the %s program is not built. Build it with `make %s` in the libtasd "
                   "source tree (it is looked for beside this tool as",
                   what, what, strcmp(what, "bench") == 0 ? "bench-build" : "examples");
        for (int k = 0; rel[k]; k++)
            fprintf(stderr, "      %s/%s\n", dir, rel[k]);
        fprintf(stderr, "      ), or point %s at it.\n", env);
        return 1;
    }
    char **av = calloc((size_t)nargs + 2, sizeof *av);
    if (!av)
        return 1;
    av[0] = (char *)found;
    for (int i = 0; i < nargs; i++)
        av[i + 1] = args[i];
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        tool_error("%s: fork failed: %s", what, strerror(errno));
        free(av);
        return 1;
    }
    if (pid == 0) {
        execv(found, av);
        fprintf(stderr, "tasd: %s: cannot run %s: %s\n", what, found, strerror(errno));
        _exit(127);
    }
    free(av);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return 1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    tool_error("%s: %s was killed by signal %d", what, found, WTERMSIG(status));
    return 1;
}

static int cmd_bench(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: tasd bench [--quick] [BENCH OPTIONS...]\n"
                   "\n"
                   "Run the libtasd benchmark (libtasd against OpenBLAS and oneDNN on the same\n"
                   "machine). --quick runs a subset in under a minute; other options (--shape\n"
                   "MxKxN, --config CFG, --threads T, --backend B) are passed through.\n"
                   "The program is found beside this tool (../bench/bench in the build tree),\n"
                   "or at $TASD_BENCH. It is built by `make bench-build`.\n");
            return 0;
        }
    static const char *const rel[] = {"../bench/bench", "../libexec/tasd/bench", NULL};
    return run_program("bench", "TASD_BENCH", rel, argv + 1, argc - 1);
}

static int cmd_demo(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: tasd demo [DEMO OPTIONS...]\n"
                   "\n"
                   "Run the built-in libtasd demo on synthetic data. The program is found\n"
                   "beside this tool (../examples/demo in the build tree), or at $TASD_DEMO.\n"
                   "It is built by `make` (examples).\n");
            return 0;
        }
    static const char *const rel[] = {"../examples/demo", "../libexec/tasd/demo", NULL};
    return run_program("demo", "TASD_DEMO", rel, argv + 1, argc - 1);
}

/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tasd COMMAND [OPTIONS] ...\n"
            "\n"
            "libtasd %s: approximate weights by series of N:M structured-sparse terms.\n"
            "\n"
            "commands:\n"
            "  inspect FILE...        list the tensors of .npy, .safetensors and .tasd files\n"
            "  decompose FILE ...     decompose a model's matrices into N:M series\n"
            "  search FILE ...        choose a config per tensor within an error budget\n"
            "  bench [--quick]        run the benchmark against OpenBLAS/oneDNN\n"
            "  demo                   run the built-in demo\n"
            "  help [COMMAND]         this text, or a command's\n"
            "  version                print the library version\n"
            "\n"
            "`tasd COMMAND --help` describes each command. Exit status: 0 on success,\n"
            "1 on an error, 2 on a usage error.\n",
            tasd_version());
}

int main(int argc, char **argv)
{
    tool_argv0 = argv[0];
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "help")) {
        if (argc > 2 && strcmp(argv[2], "help") != 0) {
            char *av[4] = {argv[0], argv[2], (char *)"--help", NULL};
            return main(3, av);
        }
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("tasd %s\n", tasd_version());
        return 0;
    }
    if (!strcmp(cmd, "inspect"))
        return cmd_inspect(argc - 1, argv + 1);
    if (!strcmp(cmd, "decompose"))
        return cmd_decompose(argc - 1, argv + 1);
    if (!strcmp(cmd, "search"))
        return cmd_search(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench"))
        return cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "demo"))
        return cmd_demo(argc - 1, argv + 1);
    tool_error("unknown command \"%s\"", cmd);
    usage(stderr);
    return 2;
}
