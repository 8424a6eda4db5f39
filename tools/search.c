/* `tasd search`: the TASDER search over a model file, through the library
 * (tasd_search_layer per tensor, then a per-layer choice or one budget shared
 * by the whole model with tasd_search_model), writing a layer config file
 * (docs/format.md) with tasd_model_config_save. */
#include "tool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void usage_search(FILE *f)
{
    fprintf(f,
            "usage: tasd search FILE --target NAME --budget B -o layers.cfg\n"
            "                   [--calib CALIB] [--share [--layer-cap C]] [--max-terms T]\n"
            "                   [--sides w|a|wa] [--method greedy|optimal] [--tokens N]\n"
            "                   [--tensors PATTERN] [--min-elements N] [--quiet]\n"
            "\n"
            "Run the TASDER search on every matrix of FILE (.npy or .safetensors) and write\n"
            "a layer config file (one line per tensor: `name W=CFG A=CFG method=M\n"
            "target=T`), atomically. Per tensor, candidate series for the weights (TASD-W)\n"
            "and, with calibration data, for the activations (TASD-A) are scored by\n"
            "relative error and by the target's predicted cost; dense (W=none A=none) is\n"
            "always a candidate.\n"
            "\n"
            "  --target NAME    cpu, cpu-measured, sparse-tensor-core (2:4 terms only),\n"
            "                   vegeta (1:4 and 2:4 terms), or a custom spec such as\n"
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
            "  --tensors, --min-elements, --quiet   as for `tasd decompose`\n"
            "\n"
            "The chosen config, error, predicted cost and speed-up of each tensor are\n"
            "listed on stderr (unless --quiet).\n");
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

int cmd_search(int argc, char **argv)
{
    const char *file = NULL, *target_s = NULL, *calib_s = NULL, *out = NULL;
    const char *patterns = NULL, *method_s = "greedy", *sides_s = "wa";
    double budget = -1, layer_cap = -1;
    int64_t min_el = 0, max_terms = 0, tokens = 256;
    bool share = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage_search(stdout);
            return 0;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            tool_quiet = true;
        } else if (!strcmp(a, "--share")) {
            share = true;
        } else if (a[0] == '-' && a[1] && !has) {
            tool_error("search: %s needs an argument (or is unknown)", a);
            return 2;
        } else if (!strcmp(a, "--target")) {
            target_s = argv[++i];
        } else if (!strcmp(a, "--budget") || !strcmp(a, "--layer-cap")) {
            char *end;
            errno = 0;
            double v = strtod(argv[++i], &end);
            if (errno || *end || end == argv[i] || !(v >= 0 && v <= 1e6)) {
                tool_error("search: %s wants a number >= 0, got \"%s\"", a, argv[i]);
                return 2;
            }
            *(!strcmp(a, "--budget") ? &budget : &layer_cap) = v;
        } else if (!strcmp(a, "--calib")) {
            calib_s = argv[++i];
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            out = argv[++i];
        } else if (!strcmp(a, "--method")) {
            method_s = argv[++i];
        } else if (!strcmp(a, "--sides")) {
            sides_s = argv[++i];
        } else if (!strcmp(a, "--tensors")) {
            patterns = argv[++i];
        } else if (!strcmp(a, "--min-elements") || !strcmp(a, "--max-terms") ||
                   !strcmp(a, "--tokens")) {
            char *end;
            errno = 0;
            long long v = strtoll(argv[++i], &end, 10);
            bool terms = !strcmp(a, "--max-terms"), tok = !strcmp(a, "--tokens");
            if (errno || *end || end == argv[i] || v < (terms || tok ? 1 : 0) ||
                (terms && v > TASD_MAX_TERMS)) {
                tool_error("search: bad %s \"%s\"", a, argv[i]);
                return 2;
            }
            *(terms ? &max_terms : tok ? &tokens : &min_el) = v;
        } else if (a[0] == '-' && a[1]) {
            tool_error("search: unknown option %s", a);
            usage_search(stderr);
            return 2;
        } else if (!file) {
            file = a;
        } else {
            tool_error("search: more than one FILE");
            return 2;
        }
    }
    if (!file || !target_s || budget < 0 || !out) {
        tool_error("search: FILE, --target, --budget and -o are required");
        usage_search(stderr);
        return 2;
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
        return 2;
    }
    tasd_method method;
    tasd_status st = tasd_method_parse(method_s, &method);
    if (st) {
        tool_error("search: --method: %s", tool_status(st));
        return 2;
    }
    opt.method = (int)method;
    tasd_target *target = NULL;
    st = tasd_target_create(NULL, target_s, &target);
    if (st) {
        tool_error("search: --target \"%s\": %s", target_s, tool_status(st));
        return 2;
    }

    int rc = 0;
    tasd_tensorfile *m = NULL, *calib = NULL;
    tasd_layer_search **ls = NULL;
    char **names = NULL;
    int *choice = NULL;
    int64_t n = 0, count = 0;
    tasd_model_config *mc = NULL;
    tasd_context *ctx = NULL;
    if ((st = tasd_context_create(NULL, &ctx)) != TASD_OK ||
        (st = tasd_tensorfile_open(NULL, file, &m)) != TASD_OK) {
        tool_error("%s", tool_status(st));
        rc = 1;
        goto done;
    }
    if (calib_s && (st = tasd_tensorfile_open(NULL, calib_s, &calib)) != TASD_OK) {
        tool_error("--calib: %s", tool_status(st));
        rc = 1;
        goto done;
    }
    if (!strcmp(target_s, "cpu-measured")) {
        if (!tool_quiet)
            fprintf(stderr, "tasd: search: measuring the cpu target's kernel costs...\n");
        st = tasd_target_measure(ctx, target, 0);
        if (st) {
            tool_error("search: measuring the target: %s", tool_status(st));
            rc = 1;
            goto done;
        }
    }
    count = tasd_tensorfile_count(m);
    ls = calloc((size_t)(count ? count : 1), sizeof *ls);
    names = calloc((size_t)(count ? count : 1), sizeof *names);
    choice = calloc((size_t)(count ? count : 1), sizeof *choice);
    if (!ls || !names || !choice) {
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
        if (tool_skip_reason(&info, patterns, min_el))
            continue;
        /* A .npy array is named after its file. */
        char npy_name[256];
        const char *lname = info.name;
        if (!*lname) {
            const char *b = strrchr(file, '/');
            b = b ? b + 1 : file;
            size_t bl = strlen(b);
            if (bl > 4 && !strcmp(b + bl - 4, ".npy"))
                bl -= 4;
            snprintf(npy_name, sizeof npy_name, "%.*s", (int)(bl < 255 ? bl : 255), b);
            lname = npy_name;
        }
        tool_progress("search %s [%lld/%lld] %s", file, (long long)i + 1, (long long)count,
                      lname);
        tasd_view v;
        float *owned = NULL, *cbuf = NULL;
        st = tool_tensor_view(m, i, &v, &owned);
        int64_t in = 1, ctok = 0;
        for (int d = 1; d < info.ndim; d++)
            in *= info.shape[d];
        if (!st)
            cbuf = calib_for(calib, info.name, in, tokens, &ctok, &st);
        if (!st) {
            tasd_view cv = tasd_view_2d(cbuf, TASD_F32, ctok, in, in);
            st = tasd_search_layer(ctx, target, lname, &v, cbuf ? &cv : NULL, budget, &opt,
                                   &ls[n]);
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
    if (share) {
        tasd_model_search_result res = {.size = sizeof res};
        st = tasd_search_model((const tasd_layer_search *const *)ls, n, layer_cap, budget,
                               choice, &res);
        if (!st)
            st = tasd_search_model_config(ctx, (const tasd_layer_search *const *)ls, n, choice,
                                          &mc);
        if (!st && !tool_quiet)
            fprintf(stderr,
                    "model: predicted cost %.4f of dense (speed-up %.2fx), FLOP-weighted "
                    "error %.4f, largest %.4f\n",
                    res.cost, res.speedup, res.error, res.max_error);
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
    if (!tool_quiet) {
        for (int64_t l = 0; l < tasd_model_config_count(mc); l++) {
            const tasd_layer_config *lc = tasd_model_config_layer(mc, l);
            char w[128], a[128];
            fmt_cfg(tasd_layer_config_weights(lc), w, sizeof w);
            fmt_cfg(tasd_layer_config_activations(lc), a, sizeof a);
            double cost = 1, err = 0;
            if (share) {
                tasd_search_point p = {.size = sizeof p};
                if (tasd_layer_search_front(ls[l], choice[l], &p) == TASD_OK)
                    cost = p.cost, err = p.error;
            } else {
                tasd_search_point p = {.size = sizeof p};
                if (tasd_layer_search_choice(ls[l], &p) == TASD_OK)
                    cost = p.cost, err = p.error;
            }
            fprintf(stderr, "  %-40s W=%-10s A=%-10s error %.4f cost %.4f speed-up %.2fx\n",
                    tasd_layer_config_name(lc), w, a, err, cost, cost > 0 ? 1 / cost : 0.0);
        }
    }
    st = tasd_model_config_save(mc, out);
    if (st) {
        tool_error("%s", tool_status(st));
        rc = 1;
    }
done:
    for (int64_t l = 0; l < n; l++) {
        tasd_layer_search_destroy(ls[l]);
        free(names[l]);
    }
    free(ls);
    free(names);
    free(choice);
    tasd_model_config_destroy(mc);
    tasd_tensorfile_close(calib);
    tasd_tensorfile_close(m);
    tasd_target_destroy(target);
    tasd_context_destroy(ctx);
    return rc;
}
