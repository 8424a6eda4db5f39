/* `tasd search`: the TASDER search over a model file, through the library
 * (tasd_search_layer per tensor, then a per-layer choice or one budget shared
 * by the whole model with tasd_search_model), writing a layer config file
 * (docs/format.md) with tasd_model_config_save. */
#include "tool.h"

#include <stdlib.h>
#include <string.h>

static void usage_search(FILE *f)
{
    fprintf(f,
            "usage: tasd search [OPTIONS] [--] FILE --target NAME --budget B -o layers.cfg\n"
            "options: [--calib CALIB] [--share [--layer-cap C]] [--max-terms T]\n"
            "         [--sides w|a|wa] [--method greedy|optimal] [--tokens N]\n"
            "         [--only REGEX] [--skip REGEX] [--tensors PATTERN] [--min-elements N]\n"
            "         [--plot PARETO.svg] [--json] [--threads T] [--quiet]\n"
            "\n"
            "Run the TASDER search on every matrix of FILE (.npy, .safetensors or .onnx;\n"
            "the tensors and their orientation as for `tasd decompose`) and write\n"
            "a layer config file (one line per tensor: `name W=CFG A=CFG method=M\n"
            "target=T`), atomically. Per tensor, candidate series for the weights (TASD-W)\n"
            "and, with calibration data, for the activations (TASD-A) are scored by\n"
            "relative error and by the target's predicted cost; dense (W=none A=none) is\n"
            "always a candidate.\n"
            "\n"
            "  --target NAME    cpu, cpu-measured (timed here at 128 tokens),\n"
            "                   cpu-measured@TOKENS (timed at the tokens the model runs\n"
            "                   at, 1..4096), sparse-tensor-core (2:4 terms only), vegeta\n"
            "                   (1:4 and 2:4 terms), or a custom spec such as\n"
            "                   \"1:4=0.3,2:4=0.55,act=4\" (docs/tasder.md)\n"
            "  --budget B       largest relative error allowed (>= 0): per tensor, or with\n"
            "                   --share for the FLOP-weighted mean over all tensors\n"
            "  --calib CALIB    calibration activations (.npy or .safetensors), f32/f16/\n"
            "                   bf16 [tokens, in]: the tensor with the same name as the\n"
            "                   weight, else the file's only tensor when its width matches\n"
            "                   the layer's `in`. Error is then the relative OUTPUT error\n"
            "                   ||X W^T - approx|| / ||X W^T||; without calibration data\n"
            "                   (for a tensor), the relative weight error ||W-Wa||/||W||\n"
            "  --share          one budget for the whole model (cost saved per error spent)\n"
            "  --layer-cap C    with --share: no tensor above error C (default 2*B)\n"
            "  --max-terms T    terms per candidate series, 1..8 (default 2)\n"
            "  --sides S        w (weights only), a (activations only), wa (both; default)\n"
            "  --method M       greedy (default) or optimal, for every candidate\n"
            "  --tokens N       calibration rows used (the first N; default 256)\n"
            "  --json           only JSON lines on stdout: one object per tensor (keys\n"
            "                   name, weights, activations, method, error, cost, speedup;\n"
            "                   a config is null for none), one {\"skipped\":true, name,\n"
            "                   shape, dtype, reason} per skipped tensor, then\n"
            "                   {\"total\":true,...}\n"
            "  --plot FILE.svg  a picture: per tensor, every candidate's error against its\n"
            "                   predicted cost, the Pareto front, the choice and the\n"
            "                   budget; and a panel for the whole model\n"
            "  --threads T      threads for the search (default: all cores)\n"
            "  --only, --skip, --tensors, --min-elements, --quiet   as for `tasd decompose`\n"
            "  --               end of options (FILE may then start with '-')\n"
            "\n"
            "The chosen config, error, predicted cost and speed-up of each tensor, and\n"
            "the model's totals, are the results: on stdout (also with --quiet).\n"
            "Progress and notes go to stderr.\n");
}

/* Calibration rows for a layer with `in` columns, as an f32 buffer. NULL
 * (and *err = TASD_OK) when the calibration file has nothing for it. */
static float *calib_for(const tasd_tensorfile *calib, const char *name, int64_t in,
                        int64_t max_tokens, int64_t *tokens, tasd_status *err)
{
    *err = TASD_OK;
    if (!calib)
        return NULL;
    int64_t i;
    if (tasd_tensorfile_find(calib, name, &i) != TASD_OK) {
        if (tasd_tensorfile_count(calib) != 1)
            return NULL;
        i = 0;
    }
    tasd_tensor_info info = {.size = sizeof info};
    tasd_tensorfile_info(calib, i, &info);
    if (info.ndim != 2 || info.dtype < 0 || info.shape[1] != in || info.shape[0] < 1)
        return NULL;
    int64_t n = info.shape[0] * info.shape[1];
    float *buf = malloc((size_t)n * sizeof *buf);
    if (!buf) {
        *err = TASD_ERR_OUT_OF_MEMORY;
        return NULL;
    }
    *err = tasd_tensorfile_read_f32(calib, i, buf, n);
    tasd_tensorfile_release(calib, i);
    if (*err) {
        free(buf);
        return NULL;
    }
    *tokens = info.shape[0] < max_tokens ? info.shape[0] : max_tokens;
    return buf;
}

static void fmt_cfg(const tasd_config *c, char *buf, size_t size)
{
    if (!c || tasd_config_format(c, buf, size, NULL) != TASD_OK)
        snprintf(buf, size, "none");
}

/* A tensor the search passed over, kept for the --json output. */
typedef struct search_skip {
    char name[256];          /* its layer name */
    tasd_tensor_info info;   /* its shape and dtype (names the open file's strings) */
    char reason[sizeof ((tool_plan *)0)->why];
} search_skip;

/* The results on stdout: per tensor its choice, error, cost and speed-up,
 * with --json then each skipped tensor (as decompose lists them), then the
 * model's totals (layers weighted by FLOPs, as tasd_search_model).
 * choice: the shared assignment, or NULL for each layer's own choice. */
static void print_results(const tasd_model_config *mc, tasd_layer_search *const *ls,
                          const int *choice, const search_skip *skips, int64_t nskips,
                          bool json)
{
    double flops = 0, cost = 0, err = 0, max_err = 0;
    int64_t n = tasd_model_config_count(mc);
    for (int64_t l = 0; l < n; l++)
        flops += tasd_layer_search_flops(ls[l]);
    for (int64_t l = 0; l < n; l++) {
        const tasd_layer_config *lc = tasd_model_config_layer(mc, l);
        char w[128], a[128];
        fmt_cfg(tasd_layer_config_weights(lc), w, sizeof w);
        fmt_cfg(tasd_layer_config_activations(lc), a, sizeof a);
        tasd_search_point p = {.size = sizeof p, .cost = 1.0};
        if (choice)
            tasd_layer_search_front(ls[l], choice[l], &p);
        else
            tasd_layer_search_choice(ls[l], &p);
        double wl = flops > 0 ? tasd_layer_search_flops(ls[l]) / flops : 0.0;
        cost += wl * p.cost;
        err += wl * p.error;
        max_err = p.error > max_err ? p.error : max_err;
        double speedup = p.cost > 0 ? 1 / p.cost : 0.0;
        if (!json) {
            printf("  %-40s W=%-10s A=%-10s error %.4f cost %.4f speed-up %.2fx\n",
                   tasd_layer_config_name(lc), w, a, p.error, p.cost, speedup);
            continue;
        }
        fputs("{\"name\":", stdout);
        tool_json_string(stdout, tasd_layer_config_name(lc));
        fputs(",\"weights\":", stdout);
        strcmp(w, "none") ? tool_json_string(stdout, w) : (void)fputs("null", stdout);
        fputs(",\"activations\":", stdout);
        strcmp(a, "none") ? tool_json_string(stdout, a) : (void)fputs("null", stdout);
        printf(",\"method\":\"%s\",\"error\":%.9g,\"cost\":%.9g,\"speedup\":%.9g}\n",
               tasd_method_name(tasd_layer_config_method(lc)), p.error, p.cost, speedup);
    }
    for (int64_t k = 0; json && k < nskips; k++)
        tool_json_skipped(skips[k].name, &skips[k].info, skips[k].reason);
    if (json)
        printf("{\"total\":true,\"layers\":%lld,\"shared\":%s,\"cost\":%.9g,"
               "\"speedup\":%.9g,\"error\":%.9g,\"max_error\":%.9g}\n",
               (long long)n, choice ? "true" : "false", cost, cost > 0 ? 1 / cost : 0.0, err,
               max_err);
    else
        printf("model: predicted cost %.4f of dense (speed-up %.2fx), FLOP-weighted error "
               "%.4f, largest %.4f\n",
               cost, cost > 0 ? 1 / cost : 0.0, err, max_err);
    fflush(stdout);
}

/* cmd_search, run by tool_run_command (which frees o->sel). */
static int search_main(int argc, char **argv, tool_common_opts *o)
{
    enum { OPT_TARGET = TOOL_OPT_FIRST_FREE, OPT_BUDGET, OPT_CALIB, OPT_SHARE, OPT_LAYER_CAP,
           OPT_MAX_TERMS, OPT_SIDES, OPT_METHOD, OPT_TOKENS, OPT_PLOT };
    static const struct option opts[] = {TOOL_OPTIONS_COMMON,
                                         TOOL_OPTIONS_SELECT,
                                         {"json", no_argument, NULL, TOOL_OPT_JSON},
                                         {"output", required_argument, NULL, 'o'},
                                         {"target", required_argument, NULL, OPT_TARGET},
                                         {"budget", required_argument, NULL, OPT_BUDGET},
                                         {"calib", required_argument, NULL, OPT_CALIB},
                                         {"share", no_argument, NULL, OPT_SHARE},
                                         {"layer-cap", required_argument, NULL, OPT_LAYER_CAP},
                                         {"max-terms", required_argument, NULL, OPT_MAX_TERMS},
                                         {"sides", required_argument, NULL, OPT_SIDES},
                                         {"method", required_argument, NULL, OPT_METHOD},
                                         {"tokens", required_argument, NULL, OPT_TOKENS},
                                         {"plot", required_argument, NULL, OPT_PLOT},
                                         {NULL, 0, NULL, 0}};
    const char *target_s = NULL, *calib_s = NULL, *out = NULL;
    const char *method_s = "greedy", *sides_s = "wa", *plot = NULL;
    double budget = -1, layer_cap = -1;
    int64_t max_terms = 0, tokens = 256;
    int c;
    bool share = false, ok = true;
    while (ok && (c = tool_getopt("search", argc, argv, "hqo:", opts)) != -1) {
        if (tool_common_option("search", c, optarg, o, &ok))
            continue;
        switch (c) {
        case 'h':
            usage_search(stdout);
            return 0;
        case 'o':
            out = optarg;
            break;
        case OPT_TARGET:
            target_s = optarg;
            break;
        case OPT_BUDGET:
            ok = tool_parse_double("search", "--budget", optarg, 0, 1e6, &budget);
            break;
        case OPT_LAYER_CAP:
            ok = tool_parse_double("search", "--layer-cap", optarg, 0, 1e6, &layer_cap);
            break;
        case OPT_CALIB:
            calib_s = optarg;
            break;
        case OPT_SHARE:
            share = true;
            break;
        case OPT_MAX_TERMS:
            ok = tool_parse_i64("search", "--max-terms", optarg, 1, TASD_MAX_TERMS, &max_terms);
            break;
        case OPT_SIDES:
            sides_s = optarg;
            break;
        case OPT_METHOD:
            method_s = optarg;
            break;
        case OPT_TOKENS:
            ok = tool_parse_i64("search", "--tokens", optarg, 1, INT64_MAX, &tokens);
            break;
        case OPT_PLOT:
            plot = optarg;
            break;
        default: /* reported by tool_getopt */
            ok = false;
        }
    }
    if (!ok)
        return TOOL_USAGE;

    const char *file = optind < argc ? argv[optind] : NULL;
    if (optind + 1 < argc) {
        tool_error("search: more than one FILE (%s, %s)", file, argv[optind + 1]);
        return TOOL_USAGE;
    }
    if (!file || !target_s || budget < 0 || !out) {
        tool_error("search: FILE, --target, --budget and -o are required");
        usage_search(stderr);
        return TOOL_USAGE;
    }
    if (layer_cap >= 0 && !share) {
        tool_error("search: --layer-cap applies to a budget shared by the model: it needs "
                   "--share");
        return TOOL_USAGE;
    }
    if (layer_cap < 0)
        layer_cap = 2 * budget;
    tasd_search_options opt;
    tasd_search_options_init(&opt);
    opt.max_terms = (int)max_terms;
    opt.max_tokens = tokens;
    if (!strcmp(sides_s, "w"))
        opt.sides = TASD_SEARCH_WEIGHTS;
    else if (!strcmp(sides_s, "a"))
        opt.sides = TASD_SEARCH_ACTIVATIONS;
    else if (!strcmp(sides_s, "wa") || !strcmp(sides_s, "aw"))
        opt.sides = TASD_SEARCH_WEIGHTS | TASD_SEARCH_ACTIVATIONS;
    else {
        tool_error("search: --sides wants w, a or wa, got \"%s\"", sides_s);
        return TOOL_USAGE;
    }
    /* Without activations to compress the A side has no candidate but dense. */
    if ((opt.sides & TASD_SEARCH_ACTIVATIONS) && !(opt.sides & TASD_SEARCH_WEIGHTS) &&
        !calib_s) {
        tool_error("search: --sides a searches activation series, which need calibration "
                   "data: give --calib CALIB");
        return TOOL_USAGE;
    }
    enum { OUT_CONFIG, OUT_PLOT, NOUTS };
    tool_output outs[NOUTS] = {{"-o", out, NULL}, {"--plot", plot, NULL}};
    if (!tool_outputs_distinct("search", file, outs, NOUTS))
        return TOOL_USAGE;
    tasd_method method;
    tasd_status st = tasd_method_parse(method_s, &method);
    if (st) {
        tool_error("search: --method: %s", tool_status(st));
        return TOOL_USAGE;
    }
    opt.method = (int)method;
    tasd_target *target = NULL;
    const double t0 = tool_now();
    st = tasd_target_create(NULL, target_s, &target); /* cpu-measured: times them */
    if (st) {
        tool_error("search: --target \"%s\": %s", target_s, tool_status(st));
        return TOOL_USAGE;
    }
    /* said after the fact, by the library's word: the spec is parsed once */
    if (tasd_target_is_measured(target) && !tool_quiet)
        fprintf(stderr, "tasd: search: measured the cpu target's kernel costs here (%.1f s)\n",
                tool_now() - t0);

    int rc = 0;
    tasd_tensorfile *m = NULL, *calib = NULL;
    tasd_layer_search **ls = NULL;
    char **names = NULL;
    int *choice = NULL;
    search_skip *skips = NULL;
    int64_t n = 0, count = 0, nskips = 0;
    tasd_model_config *mc = NULL;
    tasd_context *ctx = NULL;
    if ((st = tasd_context_create(NULL, &ctx)) != TASD_OK ||
        (st = tasd_context_set_threads(ctx, o->threads)) != TASD_OK) {
        tool_error("%s", tool_status(st));
        rc = 1;
        goto done;
    }
    if (!tool_open_model("search", file, &m)) {
        rc = 1;
        goto done;
    }
    if (!tool_outputs_check_model("search", file, m, outs, NOUTS, NULL, NULL)) {
        rc = TOOL_USAGE;
        goto done;
    }
    if (!tool_outputs_stage(outs, NOUTS)) {
        rc = 1;
        goto done;
    }
    if (calib_s && (st = tasd_tensorfile_open(NULL, calib_s, &calib)) != TASD_OK) {
        tool_error("--calib: %s", tool_status(st));
        rc = 1;
        goto done;
    }
    count = tasd_tensorfile_count(m);
    ls = calloc((size_t)(count ? count : 1), sizeof *ls);
    names = calloc((size_t)(count ? count : 1), sizeof *names);
    choice = calloc((size_t)(count ? count : 1), sizeof *choice);
    skips = calloc((size_t)(count ? count : 1), sizeof *skips);
    if (!ls || !names || !choice || !skips) {
        tool_error("out of memory");
        rc = 1;
        goto done;
    }
    if (!tool_quiet)
        fprintf(stderr, "tasd: search: %s, target %s, budget %g%s%s\n", file, target_s, budget,
                share ? " shared by the model" : " per tensor",
                calib ? ", output error on calibration data" : ", weight error");
    for (int64_t i = 0; i < count; i++) {
        tasd_tensor_info info = {.size = sizeof info};
        tasd_tensorfile_info(m, i, &info);
        tool_plan plan;
        tool_plan_tensor(m, i, &info, &o->sel, &plan);
        char nb[256];
        const char *lname = tool_layer_name(file, info.name, nb, sizeof nb);
        if (plan.skip) {
            /* Listed, as decompose does: an ONNX tensor with an unknown
             * consumer must not vanish silently. */
            if (!tool_quiet && info.ndim >= 2 && info.dtype >= 0)
                fprintf(stderr, "  %-40s skipped: %s\n", lname, plan.skip);
            search_skip *k = &skips[nskips++];
            snprintf(k->name, sizeof k->name, "%s", lname);
            snprintf(k->reason, sizeof k->reason, "%s", plan.skip);
            k->info = info;
            continue;
        }
        tool_progress("search %s [%lld/%lld] %s", file, (long long)i + 1, (long long)count,
                      lname);
        tasd_view v;
        float *owned = NULL, *cbuf = NULL;
        st = tool_tensor_view(m, i, false, plan.transposed, &v, &owned);
        int64_t out_f, in, ctok = 0;
        tool_plan_matrix(&plan, &info, &out_f, &in);
        if (!st)
            cbuf = calib_for(calib, info.name, in, tokens, &ctok, &st);
        if (!st) {
            tasd_view cv = tasd_view_2d(cbuf, TASD_F32, ctok, in, in);
            st = tasd_search_layer(ctx, target, lname, &v, cbuf ? &cv : NULL, budget, &opt,
                                   &ls[n]);
            /* Weigh layers by multiply-adds per token: the library's default
             * also counts calibration rows, which differ between tensors (and
             * are none for those without data), not between layers' work. */
            if (!st && out_f > 0 && in > 0 &&
                (st = tasd_layer_search_set_flops(ls[n], (double)out_f * (double)in))) {
                tasd_layer_search_destroy(ls[n]);
                ls[n] = NULL;
            }
        }
        free(owned);
        free(cbuf);
        tasd_tensorfile_release(m, i);
        if (st) {
            tool_error("%s: tensor \"%s\": %s", file, lname, tool_status(st));
            rc = 1;
            goto done;
        }
        names[n] = strdup(lname);
        if (calib && !cbuf && !tool_quiet) {
            tool_progress_clear();
            fprintf(stderr, "  %-40s (no calibration tensor for it: weight error)\n", lname);
        }
        n++;
    }
    tool_progress_clear();
    if (n == 0) {
        tool_error("search: no tensor to search in %s (%s%lld tensor%s skipped: not a float "
                   "matrix with a known reduction axis, or not selected)",
                   file, count > 1 ? "all " : "", (long long)count, count == 1 ? "" : "s");
        rc = 1;
        goto done;
    }
    if (share) {
        st = tasd_search_model((const tasd_layer_search *const *)ls, n, layer_cap, budget,
                               choice, NULL);
        if (!st)
            st = tasd_search_model_config(ctx, (const tasd_layer_search *const *)ls, n, choice,
                                          &mc);
    } else {
        st = tasd_model_config_create(ctx, &mc);
        for (int64_t l = 0; l < n && !st; l++) {
            tasd_search_point p = {.size = sizeof p};
            st = tasd_layer_search_choice(ls[l], &p);
            if (!st)
                st = tasd_model_config_add(mc, p.config);
        }
    }
    if (st) {
        tool_error("search: %s", tool_status(st));
        rc = 1;
        goto done;
    }
    print_results(mc, ls, share ? choice : NULL, skips, nskips, o->json);
    if (plot) {
        tool_pareto_layer *pl = calloc((size_t)(n ? n : 1), sizeof *pl);
        char title[300];
        snprintf(title, sizeof title, "%s: TASDER search, target %s, budget %g%s", file,
                 target_s, budget, share ? " shared by the model" : " per tensor");
        for (int64_t l = 0; pl && l < n; l++)
            pl[l] = (tool_pareto_layer){names[l], ls[l], share ? choice[l] : -1};
        bool done_ok = pl && tool_plot_pareto(outs[OUT_PLOT].tmp, title, pl, n, budget);
        free(pl);
        if (!done_ok) {
            rc = 1;
            goto done;
        }
    }
    st = tasd_model_config_save(mc, outs[OUT_CONFIG].tmp);
    if (st) {
        tool_error("%s", tool_status(st));
        rc = 1;
    }
    if (!rc && !tool_outputs_commit(outs, NOUTS))
        rc = 1;
done:
    tool_outputs_discard(outs, NOUTS);
    for (int64_t l = 0; l < n; l++) {
        tasd_layer_search_destroy(ls[l]);
        free(names[l]);
    }
    free(ls);
    free(names);
    free(choice);
    free(skips);
    tasd_model_config_destroy(mc);
    tasd_tensorfile_close(calib);
    tasd_tensorfile_close(m);
    tasd_target_destroy(target);
    tasd_context_destroy(ctx);
    return rc;
}

int cmd_search(int argc, char **argv)
{
    return tool_run_command(search_main, argc, argv);
}
