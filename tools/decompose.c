/* `tasd decompose FILE --config CFG` (or `--layers layers.cfg`, one config
 * per tensor): every matrix of a model file into an N:M series, tensors in
 * parallel, results in file order. */
#include "tool.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void usage_decompose(FILE *f)
{
    fprintf(f,
            "usage: tasd decompose [OPTIONS] [--] FILE (--config CFG | --layers FILE.cfg)\n"
            "options: [--method greedy|optimal] [--values f32|bf16|f16]\n"
            "         [--only REGEX] [--skip REGEX]\n"
            "         [--tensors PATTERN] [--min-elements N] [-o OUT.tasd]\n"
            "         [--reconstruct OUT] [--plot ERRORS.svg] [--json] [--threads T]\n"
            "         [--quiet]\n"
            "\n"
            "Decompose every matrix of FILE (.npy, .safetensors or .onnx) into an N:M\n"
            "series. Rank-2 tensors are [out, in]; rank-4 conv weights are [out,\n"
            "in*kh*kw]; in an ONNX file the consuming operator decides (a MatMul weight\n"
            "[K, N] is decomposed transposed, as [N, K]; Gemm honours transB) and a\n"
            "tensor whose consumer is unknown is skipped. Other tensors (and those not\n"
            "selected) are skipped and listed.\n"
            "\n"
            "  --config CFG        series config, e.g. 2:4 or 2:4+1:8\n"
            "  --layers FILE.cfg   a layer config file (`tasd search -o`): each tensor\n"
            "                      gets its own W= series, method and values= (if any);\n"
            "                      tensors with W=none or not in the file are copied\n"
            "                      unchanged and listed\n"
            "  --method M          greedy (default, the paper's) or optimal\n"
            "  --values T          value type of the series: f32 (default), bf16 or f16\n"
            "                      (selected on the exact weights, values rounded once;\n"
            "                      half the value bytes; the stats describe the rounded\n"
            "                      series); with --layers, where a layer has no values=\n"
            "  --only REGEX        only tensors whose name matches the POSIX extended\n"
            "                      regular expression (anywhere unless anchored: ^...$)\n"
            "  --skip REGEX        not the tensors whose name matches REGEX\n"
            "  --tensors PATTERN   only tensors whose name matches one of the comma-\n"
            "                      separated shell patterns, e.g. '*.weight,*proj*'\n"
            "  --min-elements N    skip tensors with fewer than N elements (default 0)\n"
            "  -o OUT.tasd         save every series into one .tasd file (by tensor name)\n"
            "  --reconstruct OUT   write the approximated weights in FILE's format: same\n"
            "                      names, shapes, dtypes, layouts; other tensors copied\n"
            "                      unchanged (ONNX: graph, opset, metadata too)\n"
            "  --plot ERRORS.svg   a bar chart of each tensor's relative error\n"
            "  --json              only JSON lines on stdout: one object per decomposed\n"
            "                      tensor (keys name, shape, matrix, transposed, dtype,\n"
            "                      config, method, values, density, retained_energy,\n"
            "                      rel_error, coverage, kept_nonzeros, input_nonzeros,\n"
            "                      time_ms), one {\"skipped\":true, name, shape, dtype,\n"
            "                      reason} per skipped tensor (also listed on stderr),\n"
            "                      then the totals as {\"total\":true,...}\n"
            "  --threads T         tensors decomposed in parallel (default: all cores);\n"
            "                      output order is always the file's order\n"
            "  --quiet             no progress line (and with --json no skipped list)\n"
            "  --                  end of options (FILE may then start with '-')\n"
            "\n"
            "Per tensor: shape, density (kept/elements), retained energy ||Wa||^2/||W||^2,\n"
            "relative error ||W-Wa||/||W||, nonzero coverage (kept/nonzeros of W), time;\n"
            "then a totals line. Any error (bad file, NaN/Inf in a tensor, ...) names the\n"
            "file and tensor, leaves no output file behind, and exits 1; a usage error\n"
            "exits 2.\n");
}

typedef struct dec_result {
    const tasd_config *config; /* --config, or the tensor's W= from --layers */
    tasd_method method;
    tasd_decompose_options options; /* --values, or the tensor's values= from --layers */
    char config_text[128];
    tasd_series *series;
    float *dense;      /* ONNX --reconstruct: the approximation, kept to the end */
    tasd_view dense_view; /* ... seen in the tensor's own layout */
    tasd_stats stats;
    double energy;     /* ||W||^2 */
    double seconds;
    int64_t elements;
    bool done;
} dec_result;

typedef struct dec_job {
    const char *path;
    tasd_tensorfile *model;
    const tool_plan *plans; /* [count] */
    int64_t *todo;       /* indices of eligible tensors, file order */
    int64_t ntodo;
    dec_result *res;     /* [ntodo] */
    tasd_archive_writer *archive;
    tasd_writer *recon;
    bool recon_onnx;     /* ONNX: approximations kept in res[].dense, written at the end */
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

/* ||W||^2 of an f32 view over contiguous memory (decompose reads f32
 * views only; a transposed view covers the same elements). */
static double sum_squares(const tasd_view *v)
{
    int64_t n = 1;
    for (int d = 0; d < v->ndim; d++)
        n *= v->shape[d];
    const float *p = v->data;
    double ss = 0;
    for (int64_t k = 0; k < n; k++)
        ss += (double)p[k] * p[k];
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
    tool_shape_text(shape, sizeof shape, info.ndim, info.shape);
    int64_t mm[2] = {rows, cols};
    tool_shape_text(matrix, sizeof matrix, 2, mm);
    tool_progress_clear();
    const char *name = *info.name ? info.name : "(array)";
    if (J->json) {
        fputs("{\"name\":", stdout);
        tool_json_string(stdout, info.name);
        fputs(",\"shape\":", stdout);
        tool_json_shape(stdout, info.ndim, info.shape);
        printf(",\"matrix\":[%lld,%lld],\"transposed\":%s,\"dtype\":", (long long)rows,
               (long long)cols, J->plans[J->todo[slot]].transposed ? "true" : "false");
        tool_json_string(stdout, info.dtype_name);
        printf(",\"config\":\"%s\",\"method\":\"%s\",\"values\":\"%s\",\"density\":%.9g,"
               "\"retained_energy\":%.9g,"
               "\"rel_error\":%.9g,\"coverage\":%.9g,\"kept_nonzeros\":%lld,"
               "\"input_nonzeros\":%lld,\"time_ms\":%.3f}\n",
               r->config_text, tasd_method_name(r->method),
               tasd_dtype_name((tasd_dtype)r->options.values), r->stats.density,
               r->stats.retained_energy, r->stats.rel_error, r->stats.coverage,
               (long long)r->stats.kept_nonzeros, (long long)r->stats.input_nonzeros,
               r->seconds * 1e3);
    } else {
        if (J->plans[J->todo[slot]].transposed)
            strncat(matrix, "T", sizeof matrix - strlen(matrix) - 1);
        printf("  %-40s %-18s %-14s %-12s %8.4f %9.6f %9.6f %8.4f %9.1f\n", name, shape,
               matrix, r->config_text, r->stats.density, r->stats.retained_energy,
               r->stats.rel_error, r->stats.coverage, r->seconds * 1e3);
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
        double t0 = tool_now();
        bool transposed = J->plans[ti].transposed;
        tasd_status st = ctx ? tool_tensor_view(J->model, ti, true, transposed, &v, &owned)
                             : TASD_ERR_OUT_OF_MEMORY;
        if (!st) {
            r->energy = sum_squares(&v);
            st = tasd_decompose_ex(ctx, &v, r->config, r->method, &r->options, &r->series);
        }
        r->seconds = tool_now() - t0;
        free(owned);
        if (!st) {
            r->stats.size = sizeof r->stats;
            st = tasd_series_stats(r->series, &r->stats);
        }
        if (!st && (J->recon || J->recon_onnx)) {
            int64_t rows, cols;
            tasd_series_shape(r->series, &rows, &cols);
            int64_t nel = rows * cols;
            float *dense = malloc((size_t)(nel > 0 ? nel : 1) * sizeof(float));
            if (!dense) {
                st = TASD_ERR_OUT_OF_MEMORY;
            } else {
                tasd_view dv = tasd_view_2d(dense, TASD_F32, rows, cols, cols);
                st = tasd_series_reconstruct(r->series, &dv);
                /* Back in the tensor's own layout ([K, N] for a MatMul weight). */
                if (transposed)
                    dv = tasd_view_transpose(dv);
                if (!st && J->recon_onnx) {
                    r->dense = dense;
                    r->dense_view = dv;
                    dense = NULL;
                } else if (!st) {
                    st = tasd_writer_put(J->recon, ti, &dv);
                }
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

/* With --layers: tensor i's config, method and value type (a values= of the
 * layer, else --values) from the layer config file, or a skip reason
 * (written into plan->why) when it has none. */
static void plan_layer(tool_plan *plan, const tasd_model_config *mc, const char *lname,
                       const char *cfg_path, dec_result *r)
{
    const tasd_layer_config *lc = tasd_model_config_find(mc, lname);
    if (!lc || !tasd_layer_config_weights(lc)) {
        snprintf(plan->why, sizeof plan->why, "%s in %s", lc ? "W=none" : "not listed", cfg_path);
        plan->skip = plan->why;
        return;
    }
    r->config = tasd_layer_config_weights(lc);
    r->method = tasd_layer_config_method(lc);
    if (tasd_layer_config_values(lc) != TASD_F32)
        r->options.values = tasd_layer_config_values(lc);
}

/* The skipped tensors: in the table, or on stderr with --json (stdout holds
 * JSON only, where each is a {"skipped":true,...} line). */
static void list_skipped(FILE *rep, bool json, bool copied, int64_t count,
                         const tasd_tensor_info *infos, const tool_plan *plans)
{
    int64_t skipped = 0;
    for (int64_t i = 0; i < count; i++)
        skipped += plans[i].skip != NULL;
    if (!(json && tool_quiet) && skipped)
        fprintf(rep, "skipped %lld tensor%s%s:\n", (long long)skipped, skipped == 1 ? "" : "s",
                copied ? " (copied unchanged)" : "");
    for (int64_t i = 0; i < count; i++) {
        if (!plans[i].skip)
            continue;
        if (json) {
            tool_json_skipped(infos[i].name, &infos[i], plans[i].skip);
            if (tool_quiet)
                continue;
        }
        char shape[128];
        tool_shape_text(shape, sizeof shape, infos[i].ndim, infos[i].shape);
        fprintf(rep, "  %-40s %-6s %-18s %s\n", *infos[i].name ? infos[i].name : "(array)",
                infos[i].dtype_name, shape, plans[i].skip);
    }
}

/* cmd_decompose, run by tool_run_command (which frees o->sel). */
static int decompose_main(int argc, char **argv, tool_common_opts *o)
{
    enum { OPT_LAYERS = TOOL_OPT_FIRST_FREE, OPT_PLOT };
    static const struct option opts[] = {TOOL_OPTIONS_COMMON,
                                         TOOL_OPTIONS_SELECT,
                                         {"json", no_argument, NULL, TOOL_OPT_JSON},
                                         {"config", required_argument, NULL, 'c'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"method", required_argument, NULL, 'm'},
                                         {"values", required_argument, NULL, 'V'},
                                         {"reconstruct", required_argument, NULL, 'r'},
                                         {"layers", required_argument, NULL, OPT_LAYERS},
                                         {"plot", required_argument, NULL, OPT_PLOT},
                                         {NULL, 0, NULL, 0}};
    const char *cfg = NULL, *method_s = NULL, *layers = NULL, *plot = NULL;
    const char *out = NULL, *recon = NULL, *values_s = "f32";
    int c;
    bool ok = true;
    /* Long-only options get letters outside the short option string. */
    while (ok && (c = tool_getopt("decompose", argc, argv, "hqc:o:", opts)) != -1) {
        if (tool_common_option("decompose", c, optarg, o, &ok))
            continue;
        switch (c) {
        case 'h':
            usage_decompose(stdout);
            return 0;
        case 'c':
            cfg = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'm':
            method_s = optarg;
            break;
        case 'V':
            values_s = optarg;
            break;
        case 'r':
            recon = optarg;
            break;
        case OPT_LAYERS:
            layers = optarg;
            break;
        case OPT_PLOT:
            plot = optarg;
            break;
        default: /* reported by tool_getopt */
            ok = false;
        }
    }
    const bool json = o->json;
    const char *file = optind < argc ? argv[optind] : NULL;
    const char *usage_err = NULL;
    if (ok && optind + 1 < argc)
        usage_err = "more than one FILE";
    else if (ok && !file)
        usage_err = "no FILE given";
    else if (ok && !cfg == !layers)
        usage_err = cfg ? "--config and --layers exclude each other"
                        : "--config CFG or --layers FILE.cfg is required";
    else if (ok && layers && method_s)
        usage_err = "--method comes from the --layers file";
    if (usage_err) {
        tool_error("decompose: %s", usage_err);
        usage_decompose(stderr);
    }
    if (!ok || usage_err)
        return TOOL_USAGE;
    enum { OUT_ARCHIVE, OUT_RECON, OUT_PLOT, NOUTS };
    tool_output outs[NOUTS] = {{"-o", out, NULL}, {"--reconstruct", recon, NULL},
                               {"--plot", plot, NULL}};
    if (!tool_outputs_distinct("decompose", file, outs, NOUTS))
        return TOOL_USAGE;
    /* -o model.onnx would be a .tasd file under a model's name */
    tasd_file_format named = out ? tool_format_of_name(out) : TASD_FORMAT_UNKNOWN;
    if (named != TASD_FORMAT_UNKNOWN && named != TASD_FORMAT_TASD) {
        tool_error("decompose: -o %s: -o writes a .tasd file of series; --reconstruct writes "
                   "the approximation in %s's own format", out, file);
        return TOOL_USAGE;
    }
    tasd_config *config = NULL;
    tasd_model_config *mc = NULL;
    tasd_method method = TASD_GREEDY;
    tasd_status st = TASD_OK;
    if (cfg && (st = tasd_config_parse(NULL, cfg, &config)) != TASD_OK) {
        tool_error("decompose: --config \"%s\": %s", cfg, tool_status(st));
        return TOOL_USAGE;
    }
    if (method_s && (st = tasd_method_parse(method_s, &method)) != TASD_OK) {
        tool_error("decompose: --method: %s", tool_status(st));
        tasd_config_destroy(config);
        return TOOL_USAGE;
    }
    tasd_tensorfile *model = NULL;
    if (layers && (st = tasd_model_config_load(NULL, layers, &mc)) != TASD_OK) {
        tool_error("decompose: --layers: %s", tool_status(st));
        return 1;
    }
    tasd_decompose_options options = {sizeof options, TASD_F32};
    if (!strcmp(values_s, "bf16"))
        options.values = TASD_BF16;
    else if (!strcmp(values_s, "f16"))
        options.values = TASD_F16;
    else if (strcmp(values_s, "f32") != 0) {
        tool_error("decompose: --values \"%s\": want f32, bf16 or f16", values_s);
        tasd_config_destroy(config);
        tasd_model_config_destroy(mc);
        return TOOL_USAGE;
    }
    if (!tool_open_model("decompose", file, &model)) {
        tasd_config_destroy(config);
        tasd_model_config_destroy(mc);
        return 1;
    }
    /* The copy is in the input's format, whatever its name says. */
    named = recon ? tool_format_of_name(recon) : TASD_FORMAT_UNKNOWN;
    if (named != TASD_FORMAT_UNKNOWN && named != tasd_tensorfile_format(model)) {
        const char *fmt = tasd_file_format_name(tasd_tensorfile_format(model));
        tool_error("decompose: --reconstruct %s: the copy is written in %s's format (%s), not "
                   "%s: name it .%s",
                   recon, file, fmt, tasd_file_format_name(named), fmt);
        tasd_tensorfile_close(model);
        tasd_config_destroy(config);
        tasd_model_config_destroy(mc);
        return TOOL_USAGE;
    }
    dec_job J;
    memset(&J, 0, sizeof J);
    J.path = file;
    J.model = model;
    J.json = json;
    pthread_mutex_init(&J.lock, NULL);
    pthread_cond_init(&J.turn, NULL);
    int64_t count = tasd_tensorfile_count(model);
    tasd_file_format format = tasd_tensorfile_format(model);
    J.todo = malloc((size_t)(count ? count : 1) * sizeof *J.todo);
    J.res = calloc((size_t)(count ? count : 1), sizeof *J.res);
    tasd_tensor_info *infos = malloc((size_t)(count ? count : 1) * sizeof *infos);
    tool_plan *plans = calloc((size_t)(count ? count : 1), sizeof *plans);
    J.plans = plans;
    int rc = 0;
    if (!J.todo || !J.res || !infos || !plans) {
        tool_error("out of memory");
        rc = 1;
        goto done;
    }
    for (int64_t i = 0; i < count; i++) {
        infos[i].size = sizeof infos[i];
        tasd_tensorfile_info(model, i, &infos[i]);
        tool_plan_tensor(model, i, &infos[i], &o->sel, &plans[i]);
        dec_result *r = &J.res[J.ntodo];
        r->config = config;
        r->method = method;
        r->options = options;
        if (!plans[i].skip && mc) {
            char nb[256];
            plan_layer(&plans[i], mc, tool_layer_name(file, infos[i].name, nb, sizeof nb),
                       layers, r);
        }
        if (plans[i].skip)
            continue;
        tasd_config_format(r->config, r->config_text, sizeof r->config_text, NULL);
        J.todo[J.ntodo++] = i;
    }
    /* A layer of the config file that names no tensor here is most likely a
     * typo or the wrong file: say so, but go on. */
    for (int64_t l = 0; mc && l < tasd_model_config_count(mc); l++) {
        const char *ln = tasd_layer_config_name(tasd_model_config_layer(mc, l));
        int64_t k;
        char nb[256];
        bool found = tasd_tensorfile_find(model, ln, &k) == TASD_OK ||
                     (format == TASD_FORMAT_NPY &&
                      !strcmp(ln, tool_layer_name(file, "", nb, sizeof nb)));
        if (!found)
            tool_error("decompose: warning: %s names \"%s\", which %s does not have", layers,
                       ln, file);
    }
    /* Nothing to decompose (a selection that matches nothing, a model of
     * no float matrices) is an error, as for search: no outputs, exit 1. */
    if (J.ntodo == 0) {
        list_skipped(stderr, json, false, count, infos, plans);
        tool_error("decompose: no tensor to decompose in %s (%s%lld tensor%s skipped)", file,
                   count > 1 ? "all " : "", (long long)count, count == 1 ? "" : "s");
        rc = 1;
        goto done;
    }
    if (!tool_outputs_check_model("decompose", file, model, outs, NOUTS, &outs[OUT_RECON],
                                  plans)) {
        rc = TOOL_USAGE;
        goto done;
    }
    if (!tool_outputs_stage(outs, NOUTS)) {
        rc = 1;
        goto done;
    }
    if (recon && format == TASD_FORMAT_ONNX) {
        J.recon_onnx = true; /* written at the end by tasd_tensorfile_write_onnx */
    } else if (recon) {
        st = tasd_writer_create(NULL, outs[OUT_RECON].tmp, format, count, infos, &J.recon);
        if (st) {
            tool_error("%s", tool_status(st));
            rc = 1;
            goto done;
        }
        /* Tensors not decomposed are copied unchanged. */
        for (int64_t i = 0; i < count && !st; i++) {
            if (!plans[i].skip)
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
        st = tasd_archive_writer_create(NULL, outs[OUT_ARCHIVE].tmp, &J.archive);
        if (st) {
            tool_error("%s", tool_status(st));
            rc = 1;
            goto done;
        }
    }
    if (!json) {
        if (layers)
            printf("%s: %s, %lld tensor%s, configs from %s\n", file,
                   tasd_file_format_name(format), (long long)count, count == 1 ? "" : "s",
                   layers);
        else
        {
            char ct[128];
            tasd_config_format(config, ct, sizeof ct, NULL);
            printf("%s: %s, %lld tensor%s, config %s, method %s, values %s\n", file,
                   tasd_file_format_name(format), (long long)count, count == 1 ? "" : "s", ct,
                   tasd_method_name(method), tasd_dtype_name((tasd_dtype)options.values));
        }
        printf("  %-40s %-18s %-14s %-12s %8s %9s %9s %8s %9s\n", "name", "shape", "matrix",
               "config", "density", "retained", "rel_err", "coverage", "time_ms");
        fflush(stdout);
    }
    int total = o->threads > 0 ? o->threads : tool_default_threads();
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
    int64_t skipped = count - J.ntodo;
    list_skipped(json ? stderr : stdout, json, recon != NULL, count, infos, plans);
    /* Totals, energy-weighted over the tensors. */
    double retained = J.tot_energy > 0 ? 1.0 - J.tot_err_energy / J.tot_energy : 1.0;
    double rel = J.tot_energy > 0 ? sqrt(J.tot_err_energy / J.tot_energy) : 0.0;
    double density = J.tot_elements ? (double)J.tot_kept / (double)J.tot_elements : 0.0;
    double coverage = J.tot_input_nnz ? (double)J.tot_kept / (double)J.tot_input_nnz : 1.0;
    if (json)
        printf("{\"total\":true,\"decomposed\":%lld,\"skipped\":%lld,\"elements\":%lld,"
               "\"density\":%.9g,\"retained_energy\":%.9g,\"rel_error\":%.9g,"
               "\"coverage\":%.9g,\"kept_nonzeros\":%lld,\"input_nonzeros\":%lld,"
               "\"time_ms\":%.3f}\n",
               (long long)J.tot_done, (long long)skipped, (long long)J.tot_elements, density,
               retained, rel, coverage, (long long)J.tot_kept, (long long)J.tot_input_nnz,
               J.tot_seconds * 1e3);
    else
        printf("total: %lld decomposed, %lld skipped, %lld elements, density %.4f, retained "
               "energy %.6f, rel error %.6f, coverage %.4f, %.1f ms (sum over tensors)\n",
               (long long)J.tot_done, (long long)skipped, (long long)J.tot_elements, density,
               retained, rel, coverage, J.tot_seconds * 1e3);
    fflush(stdout);
    if (plot) {
        tool_bar *bars = calloc((size_t)(J.ntodo ? J.ntodo : 1), sizeof *bars);
        char title[300];
        snprintf(title, sizeof title, "%s: relative weight error per tensor", file);
        for (int64_t k = 0; bars && k < J.ntodo; k++) {
            bars[k].name = infos[J.todo[k]].name;
            bars[k].label = J.res[k].config_text;
            bars[k].value = J.res[k].stats.rel_error;
        }
        if (!bars || !tool_plot_bars(outs[OUT_PLOT].tmp, title, bars, J.ntodo))
            rc = 1;
        free(bars);
        if (rc)
            goto done;
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
    if (J.recon_onnx) {
        tasd_view *views = malloc((size_t)(J.ntodo ? J.ntodo : 1) * sizeof *views);
        st = views ? TASD_OK : TASD_ERR_OUT_OF_MEMORY;
        for (int64_t k = 0; views && k < J.ntodo; k++)
            views[k] = J.res[k].dense_view;
        if (!st)
            st = tasd_tensorfile_write_onnx(model, outs[OUT_RECON].tmp, J.ntodo, J.todo, views);
        free(views);
        if (st) {
            tool_error("%s", tool_status(st));
            rc = 1;
        }
    }
    /* Every output is complete: all of them into place, or none. */
    if (!rc && !tool_outputs_commit(outs, NOUTS))
        rc = 1;
done:
    tool_outputs_discard(outs, NOUTS);
    tasd_archive_writer_abort(J.archive);
    tasd_writer_abort(J.recon);
    for (int64_t k = 0; J.res && k < J.ntodo; k++)
        free(J.res[k].dense);
    free(J.todo);
    free(J.res);
    free(infos);
    free(plans);
    pthread_mutex_destroy(&J.lock);
    pthread_cond_destroy(&J.turn);
    tasd_tensorfile_close(model);
    tasd_config_destroy(config);
    tasd_model_config_destroy(mc);
    return rc;
}

int cmd_decompose(int argc, char **argv)
{
    return tool_run_command(decompose_main, argc, argv);
}
