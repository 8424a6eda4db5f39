/* `tasd search`: choose a config per tensor within an error budget.
 *
 * FALLBACK SEARCH — weight error only. The library's TASDER search (issue 4,
 * branch `tasder`) was not merged when this was written. Until it is, this
 * file holds a deliberately small stand-in: for each tensor, the cheapest
 * config of a fixed candidate list whose relative weight error
 * ||W - Wa||_F / ||W||_F is <= budget. To switch to the library's search,
 * replace fallback_choose() below with the TASDER per-model search call and
 * keep the command-line handling and the output writer. */
#include "tool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct target_def {
    const char *name;
    const char *const *candidates; /* NULL-terminated, any order */
} target_def;

/* Cost of a candidate = its density bound sum(N/M) (the multiply-adds it
 * keeps relative to dense); ties go to fewer terms, then list order. */
static const char *const cpu_candidates[] = {
    "1:8", "1:4", "2:8", "1:4+1:8", "2:4", "3:8", "2:4+1:8", "2:4+1:4", "4:8",
    "2:4+2:8", NULL};
static const char *const stc_candidates[] = {"2:4", NULL};
static const char *const vegeta_candidates[] = {"1:4", "2:4", "1:4+1:4", "2:4+1:4", NULL};

static const target_def targets[] = {
    {"cpu", cpu_candidates},
    {"sparse-tensor-core", stc_candidates},
    {"vegeta", vegeta_candidates},
};

static void usage_search(FILE *f)
{
    fprintf(f,
            "usage: tasd search FILE --target NAME --budget B [--calib FILE]\n"
            "                   [--method greedy|optimal] [--tensors PATTERN]\n"
            "                   [--min-elements N] -o layers.cfg [--quiet]\n"
            "\n"
            "Choose, for each matrix of FILE, the cheapest N:M series whose relative\n"
            "weight error ||W - Wa|| / ||W|| is at most B (e.g. 0.3), among the configs\n"
            "the target runs, and write one line per tensor,\n"
            "`name W=CFG A=none method=M target=NAME` (W=none when no config meets the\n"
            "budget), to layers.cfg (atomically; format in docs/format.md).\n"
            "\n"
            "  --target NAME   cpu (1:8, 1:4, 2:8, 2:4, 3:8, 4:8 and sums of them),\n"
            "                  sparse-tensor-core (2:4 only), vegeta (1:4 and 2:4 terms)\n"
            "  --budget B      relative error bound, 0 < B < 1\n"
            "  --calib FILE    calibration activations: NOT USED by this build (the\n"
            "                  library search with activations is not merged yet); a\n"
            "                  warning is printed and weight error is used\n"
            "\n"
            "Note: this build runs a weight-error-only fallback search; see docs/tool.md.\n");
}

typedef struct cand {
    const char *text;
    tasd_config *config;
    double cost;
    int terms;
} cand;

static int cmp_cand(const void *x, const void *y)
{
    const cand *a = x, *b = y;
    if (a->cost != b->cost)
        return a->cost < b->cost ? -1 : 1;
    return a->terms - b->terms;
}

/* The fallback: cheapest candidate within budget, or -1 for dense. */
static int fallback_choose(const tasd_view *v, const cand *c, int nc, tasd_method method,
                           double budget, double *err_out, tasd_status *st_out)
{
    tasd_context *ctx = NULL;
    *st_out = tasd_context_create(NULL, &ctx);
    if (*st_out)
        return -1;
    tasd_context_set_threads(ctx, 0);
    int chosen = -1;
    for (int k = 0; k < nc && chosen < 0; k++) {
        tasd_series *s;
        tasd_status st = tasd_decompose(ctx, v, c[k].config, method, &s);
        if (st) {
            *st_out = st;
            break;
        }
        tasd_stats stats;
        tasd_series_stats(s, &stats);
        tasd_series_destroy(s);
        if (stats.rel_error <= budget) {
            chosen = k;
            *err_out = stats.rel_error;
        }
    }
    tasd_context_destroy(ctx);
    return chosen;
}

int cmd_search(int argc, char **argv)
{
    const char *file = NULL, *target = NULL, *calib = NULL, *out = NULL, *patterns = NULL;
    const char *method_s = "greedy";
    double budget = -1;
    int64_t min_el = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage_search(stdout);
            return 0;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            tool_quiet = true;
        } else if (a[0] == '-' && a[1] && !has) {
            tool_error("search: %s needs an argument (or is unknown)", a);
            return 2;
        } else if (!strcmp(a, "--target")) {
            target = argv[++i];
        } else if (!strcmp(a, "--budget")) {
            char *end;
            errno = 0;
            budget = strtod(argv[++i], &end);
            if (errno || *end || end == argv[i] || !(budget > 0 && budget < 1)) {
                tool_error("search: --budget wants a number in (0, 1), got \"%s\"", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--calib")) {
            calib = argv[++i];
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            out = argv[++i];
        } else if (!strcmp(a, "--method")) {
            method_s = argv[++i];
        } else if (!strcmp(a, "--tensors")) {
            patterns = argv[++i];
        } else if (!strcmp(a, "--min-elements")) {
            char *end;
            long long v = strtoll(argv[++i], &end, 10);
            if (*end || v < 0) {
                tool_error("search: --min-elements wants a non-negative integer");
                return 2;
            }
            min_el = v;
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
    if (!file || !target || budget < 0 || !out) {
        tool_error("search: FILE, --target, --budget and -o are required");
        usage_search(stderr);
        return 2;
    }
    const target_def *tg = NULL;
    for (size_t k = 0; k < sizeof targets / sizeof targets[0]; k++)
        if (!strcmp(targets[k].name, target))
            tg = &targets[k];
    if (!tg) {
        tool_error("search: unknown target \"%s\" (want cpu, sparse-tensor-core or vegeta)", target);
        return 2;
    }
    tasd_method method;
    tasd_status st = tasd_method_parse(method_s, &method);
    if (st) {
        tool_error("search: --method: %s", tool_status(st));
        return 2;
    }
    if (calib && !tool_quiet)
        fprintf(stderr, "tasd: search: warning: --calib %s ignored: this build searches on "
                        "weight error only (fallback search)\n", calib);
    cand c[16];
    int nc = 0;
    for (int k = 0; tg->candidates[k]; k++) {
        st = tasd_config_parse(NULL, tg->candidates[k], &c[nc].config);
        if (st) {
            tool_error("search: internal candidate %s: %s", tg->candidates[k], tool_status(st));
            return 1;
        }
        c[nc].text = tg->candidates[k];
        c[nc].cost = tasd_config_density(c[nc].config);
        c[nc].terms = tasd_config_terms(c[nc].config);
        nc++;
    }
    qsort(c, (size_t)nc, sizeof c[0], cmp_cand);

    int rc = 0;
    tasd_model *m = NULL;
    char *text = NULL;
    size_t len = 0, cap = 0;
    st = tasd_model_open(NULL, file, &m);
    if (st) {
        tool_error("%s", tool_status(st));
        rc = 1;
        goto done;
    }
    int64_t count = tasd_model_count(m);
    static const char header[] =
        "# libtasd layer configs: NAME W=SERIES|none A=SERIES|none method=greedy|optimal [target=SPEC]\n"
        "# written by `tasd search` (fallback search on weight error only)\n";
    if (!tool_quiet)
        fprintf(stderr, "tasd: search: %s, target %s, budget %g (weight error, fallback search)\n",
                file, target, budget);
    for (int64_t i = 0; i < count && !rc; i++) {
        tasd_tensor_info info;
        tasd_model_info(m, i, &info);
        if (tool_skip_reason(&info, patterns, min_el))
            continue;
        /* Names as docs/format.md's layer config files allow: 1..255 bytes,
         * no whitespace, control bytes, '#' or '='. A .npy array is named
         * after its file. */
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
        bool name_ok = *lname && strlen(lname) <= 255;
        for (const unsigned char *q = (const unsigned char *)lname; *q && name_ok; q++)
            if (*q <= 0x20 || *q == 0x7f || *q == '#' || *q == '=')
                name_ok = false;
        if (!name_ok) {
            tool_error("%s: tensor \"%s\": this name cannot go into a layer config file "
                       "(1..255 bytes, no whitespace, control bytes, '#' or '=')", file, lname);
            rc = 1;
            goto done;
        }
        tool_progress("search %s [%lld/%lld] %s", file, (long long)i + 1, (long long)count,
                      info.name);
        tasd_view v;
        float *owned;
        st = tool_tensor_view(m, i, &v, &owned);
        double err = 0;
        int k = st ? -1 : fallback_choose(&v, c, nc, method, budget, &err, &st);
        free(owned);
        tasd_model_release(m, i);
        if (st) {
            tool_error("%s: tensor \"%s\": %s", file, info.name, tool_status(st));
            rc = 1;
            break;
        }
        const char *w = k >= 0 ? c[k].text : "none";
        size_t need = strlen(lname) + strlen(w) + strlen(target) + 64;
        if (len + need + sizeof header + 1 > cap) {
            size_t ncap = (cap ? cap * 2 : 4096) + need + sizeof header;
            char *nt = realloc(text, ncap);
            if (!nt) {
                tool_error("out of memory");
                rc = 1;
                break;
            }
            text = nt;
            cap = ncap;
        }
        if (len == 0)
            len += (size_t)snprintf(text, cap, "%s", header);
        len += (size_t)snprintf(text + len, cap - len, "%s W=%s A=none method=%s target=%s\n",
                                lname, w, tasd_method_name(method), target);
        tool_progress_clear();
        if (!tool_quiet) {
            if (k >= 0)
                fprintf(stderr, "  %-40s W=%-10s rel_error %.4f cost %.4f\n",
                        *info.name ? info.name : "(array)", w, err, c[k].cost);
            else
                fprintf(stderr, "  %-40s W=none       (no candidate within budget)\n",
                        *info.name ? info.name : "(array)");
        }
    }
    tool_progress_clear();
    if (!rc && tool_write_file_atomic(out, len ? text : header,
                                      len ? len : sizeof header - 1) != 0)
        rc = 1; /* no eligible tensor: the header alone */
done:
    free(text);
    tasd_model_close(m);
    for (int k = 0; k < nc; k++)
        tasd_config_destroy(c[k].config);
    return rc;
}
