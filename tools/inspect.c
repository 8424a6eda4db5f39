/* `tasd inspect FILE...`: every tensor of .npy / .safetensors files and every
 * series of .tasd files, as a table or as JSON lines. */
#include "tool.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void usage_inspect(FILE *f)
{
    fprintf(f,
            "usage: tasd inspect [--json] [--threads T] [--quiet] [--] FILE...\n"
            "\n"
            "List every tensor of each FILE (.npy, .safetensors, .onnx or .tasd): name,\n"
            "dtype, shape, fraction of zeros and RMS; for an ONNX initializer also the\n"
            "operator that consumes it and which of its axes holds the output features\n"
            "(`MatMul.B out=1`: decompose works on its transpose; `?` when unknown, and\n"
            "the tool then skips it). For a .tasd file, each series is listed\n"
            "with its config, method, value type (values: f32, bf16 or f16) and the stats\n"
            "it was saved with (density, retained energy, relative error), and the\n"
            "zeros/RMS of its dense approximation.\n"
            "\n"
            "  --json        one JSON object per tensor on stdout (keys file, name, dtype,\n"
            "                shape, zeros, rms; ONNX: consumer, input, out_axis; for\n"
            "                series also config, method, values, density,\n"
            "                retained_energy, rel_error), then {\"total\":true,...}\n"
            "  --threads T   threads for loading and reconstructing series (default: all)\n"
            "  --quiet       no progress line\n"
            "  --            end of options (a FILE may then start with '-')\n"
            "\n"
            "Exit status: 0 on success, 1 if any file could not be read, 2 on a usage error.\n");
}

typedef struct inspect_run {
    tasd_context *ctx;
    bool json;
    int64_t tensors; /* listed so far, over all files */
} inspect_run;

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

/* One JSON line's common start: {"file":..,"name":..,"dtype":..,"shape":[..] */
static void json_tensor_start(const char *path, const char *name, const char *dtype, int ndim,
                              const int64_t *shape)
{
    fputs("{\"file\":", stdout);
    tool_json_string(stdout, path);
    fputs(",\"name\":", stdout);
    tool_json_string(stdout, name);
    fputs(",\"dtype\":", stdout);
    tool_json_string(stdout, dtype);
    fputs(",\"shape\":", stdout);
    tool_json_shape(stdout, ndim, shape);
}

static void json_zeros_rms(bool known, double zeros, double rms)
{
    fputs(",\"zeros\":", stdout);
    tool_json_number(stdout, known ? zeros : NAN);
    fputs(",\"rms\":", stdout);
    tool_json_number(stdout, known ? rms : NAN);
}

static int inspect_model(inspect_run *run, const char *path)
{
    tasd_tensorfile *m;
    tasd_status st = tasd_tensorfile_open(run->ctx, path, &m);
    if (st) {
        tool_error("%s", tool_status(st));
        return 1;
    }
    int64_t count = tasd_tensorfile_count(m);
    bool onnx = tasd_tensorfile_format(m) == TASD_FORMAT_ONNX;
    if (!run->json) {
        printf("%s: %s, %lld tensor%s\n", path, tasd_file_format_name(tasd_tensorfile_format(m)),
               (long long)count, count == 1 ? "" : "s");
        printf("  %-40s %-8s %-22s %8s %12s%s\n", "name", "dtype", "shape", "zeros", "rms",
               onnx ? "  consumer" : "");
    }
    int rc = 0;
    for (int64_t i = 0; i < count; i++) {
        tasd_tensor_info info = {.size = sizeof info};
        tasd_tensorfile_info(m, i, &info);
        tool_progress("inspect %s [%lld/%lld] %s", path, (long long)i + 1, (long long)count,
                      info.name);
        bool readable = info.dtype >= 0;
        double zeros = 0, rms = 0;
        if (readable) {
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
            zeros_rms_f32(buf, n, &zeros, &rms);
            free(buf);
            tasd_tensorfile_release(m, i);
        }
        tool_progress_clear();
        run->tensors++;
        const char *op = "";
        int32_t input = -1, axis = -1;
        if (onnx)
            tasd_tensorfile_consumer(m, i, &op, &input, &axis);
        if (run->json) {
            json_tensor_start(path, info.name, info.dtype_name, info.ndim, info.shape);
            json_zeros_rms(readable, zeros, rms);
            if (onnx) {
                fputs(",\"consumer\":", stdout);
                *op ? tool_json_string(stdout, op) : (void)fputs("null", stdout);
                printf(",\"input\":%d,\"out_axis\":%d", (int)input, (int)axis);
            }
            fputs("}\n", stdout);
            continue;
        }
        char shape[128], cons[96] = "";
        tool_shape_text(shape, sizeof shape, info.ndim, info.shape);
        const char *name = *info.name ? info.name : "(array)";
        /* ONNX input slots by name for the known operators' weights. */
        static const char *const slot[] = {"A", "B", "C"};
        if (onnx && !*op)
            snprintf(cons, sizeof cons, "  (no consumer)");
        else if (onnx && axis < 0)
            snprintf(cons, sizeof cons, "  %s.%d out=?", op, (int)input);
        else if (onnx)
            snprintf(cons, sizeof cons, "  %s.%s out=%d", op,
                     input >= 0 && input < 3 && strcmp(op, "Conv") ? slot[input]
                     : input == 1                                   ? "W"
                                                                    : "?",
                     (int)axis);
        if (readable)
            printf("  %-40s %-8s %-22s %8.4f %12.6g%s\n", name, info.dtype_name, shape, zeros,
                   rms, cons);
        else
            printf("  %-40s %-8s %-22s %8s %12s%s\n", name, info.dtype_name, shape, "-", "-",
                   cons);
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

static int inspect_archive(inspect_run *run, const char *path)
{
    tasd_archive *ar;
    tasd_status st = tasd_archive_open(run->ctx, path, &ar);
    if (st) {
        tool_error("%s", tool_status(st));
        return 1;
    }
    int64_t count = tasd_archive_count(ar);
    if (!run->json) {
        printf("%s: tasd, %lld series\n", path, (long long)count);
        printf("  %-40s %-6s %-16s %-14s %-8s %-6s %8s %12s %8s %9s %9s\n", "name", "dtype",
               "shape", "config", "method", "values", "zeros", "rms", "density", "retained",
               "rel_err");
    }
    int rc = 0;
    for (int64_t i = 0; i < count; i++) {
        tasd_archive_entry e = {.size = sizeof e};
        tasd_archive_entry_info(ar, i, &e);
        tool_progress("inspect %s [%lld/%lld] %s", path, (long long)i + 1, (long long)count,
                      e.name);
        tasd_series *s;
        st = tasd_archive_load(ar, i, &s);
        if (st) {
            char where[600];
            snprintf(where, sizeof where, "%s: series \"%s\"", path, e.name);
            tool_error_status(where, st);
            rc = 1;
            break;
        }
        tasd_stats stats = {.size = sizeof stats};
        tasd_series_stats(s, &stats);
        const char *values = tasd_dtype_name(tasd_series_value_type(s));
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
        char cfg[128];
        int64_t sh[2] = {e.rows, e.cols};
        config_text(&e, cfg, sizeof cfg);
        const char *method = tasd_method_name((tasd_method)e.method);
        tool_progress_clear();
        run->tensors++;
        if (run->json) {
            json_tensor_start(path, e.name, "series", 2, sh);
            json_zeros_rms(true, zeros, rms);
            printf(",\"config\":\"%s\",\"method\":\"%s\",\"values\":\"%s\",\"density\":", cfg,
                   method, values);
            tool_json_number(stdout, stats.density);
            fputs(",\"retained_energy\":", stdout);
            tool_json_number(stdout, stats.retained_energy);
            fputs(",\"rel_error\":", stdout);
            tool_json_number(stdout, stats.rel_error);
            fputs("}\n", stdout);
            continue;
        }
        char shape[64];
        tool_shape_text(shape, sizeof shape, 2, sh);
        printf("  %-40s %-6s %-16s %-14s %-8s %-6s %8.4f %12.6g %8.4f %9.6f %9.6f\n",
               *e.name ? e.name : "(series)", "series", shape, cfg, method, values, zeros, rms,
               stats.density, stats.retained_energy, stats.rel_error);
    }
    tool_progress_clear();
    tasd_archive_close(ar);
    return rc;
}

int cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {TOOL_OPTIONS_COMMON,
                                         {"json", no_argument, NULL, TOOL_OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    inspect_run run = {0};
    tool_common_opts o = {0}; /* no selection options here: nothing to free */
    int c;
    bool ok = true;
    while (ok && (c = tool_getopt("inspect", argc, argv, "hq", opts)) != -1) {
        if (tool_common_option("inspect", c, optarg, &o, &ok))
            continue;
        switch (c) {
        case 'h':
            usage_inspect(stdout);
            return 0;
        default: /* reported by tool_getopt */
            return TOOL_USAGE;
        }
    }
    if (!ok)
        return TOOL_USAGE;
    run.json = o.json;
    if (optind >= argc) {
        tool_error("inspect: no FILE given");
        usage_inspect(stderr);
        return TOOL_USAGE;
    }
    tasd_status st = tasd_context_create(NULL, &run.ctx);
    if (!st)
        st = tasd_context_set_threads(run.ctx, o.threads);
    if (st) {
        tool_error("inspect: %s", tool_status(st));
        tasd_context_destroy(run.ctx);
        return 1;
    }
    int rc = 0, failed = 0;
    for (int i = optind; i < argc; i++) {
        tasd_file_format fmt;
        st = tasd_file_format_detect(argv[i], &fmt);
        int file_rc = 1;
        if (st)
            tool_error("%s", tool_status(st));
        else if (fmt == TASD_FORMAT_TASD)
            file_rc = inspect_archive(&run, argv[i]);
        else
            file_rc = inspect_model(&run, argv[i]);
        failed += file_rc != 0;
        rc |= file_rc;
    }
    if (run.json)
        printf("{\"total\":true,\"files\":%d,\"failed\":%d,\"tensors\":%lld}\n", argc - optind,
               failed, (long long)run.tensors);
    tasd_context_destroy(run.ctx);
    return rc;
}
