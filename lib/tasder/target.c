/* TASDER targets: which N:M patterns a machine runs and at what relative
 * cost, built in, custom from a spec string, or measured on this machine. */
#include "tasder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double tasdi_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The built-in cpu table: relative costs of libtasd's own kernels against
 * its own dense layer path (the blocked SIMD SGEMM), through
 * tasd_layer_forward as a layer runs them, at seven transformer-sized
 * layers (768x768, 1024x1024, 3072x768, 768x3072, 4096x1024, 1024x4096 at
 * 128 tokens; 4096x4096 at 64), one thread, main of 2026-12-07, an AMD EPYC
 * (Zen 5) development machine. Each pattern's price is the larger of its
 * medians on the two x86 backends there, so that the default promises no
 * more than either delivered: that was AVX-512's median every time (one run;
 * its dense path runs nearer its peak), AVX2's (two runs) 0.06-0.17 lower;
 * each median within 0.13 of its pattern's ratios across the shapes
 * (docs/tasder.md has both rows). The terms of
 * a series share part of a fixed pass over the B panels and C strips (the
 * kernels run them in one): `shared` 0.18 prices 2:4+1:8 at the 0.90
 * AVX-512 measured (AVX2: 0.73, and 1:4+1:8, 2:4+1:16, 4:8+2:16 0.49-0.80,
 * all below this table's prices for them). act: the larger of the two
 * backends' `cpu-measured` (768x768, 128 tokens): AVX2 30, AVX-512 73. The
 * table before (2026-12-02, AVX2 on an AMD EPYC Zen 3) priced 2:4 0.66 and
 * 1:16, 2:16 at 0.32, 0.42 (their runs not yet compiled for their N:M).
 * Small layers pay more, decoding (1..4 tokens) runs other kernels, Intel
 * CPUs were not measured: "cpu-measured" times the running machine. */
static const struct {
    int n, m;
    double cost;
} cpu_table[] = {{1, 4, 0.46},  {2, 4, 0.75},  {1, 8, 0.33}, {2, 8, 0.48},
                 {4, 8, 0.76},  {1, 16, 0.28}, {2, 16, 0.35}};
#define CPU_PATTERNS ((int)(sizeof cpu_table / sizeof cpu_table[0]))
#define CPU_ACT 73.0
#define CPU_SHARED 0.18

static int find_pattern(const tasd_target *t, int n, int m)
{
    for (int i = 0; i < t->npat; i++)
        if (t->n[i] == n && t->m[i] == m)
            return i;
    return -1;
}

double tasdi_target_term_cost(const tasd_target *t, int n, int m)
{
    int i = find_pattern(t, n, m);
    return i < 0 ? -1.0 : t->cost[i];
}

static void skip_ws(const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

/* The value of item `item`, "NAME = V" at *p (V in [0, 1e6], the item given
 * once: *seen), into *out; *p moves past it. */
static tasd_status parse_named(const char **p, const char *name, const char *spec, int item,
                               bool *seen, double *out)
{
    *p += strlen(name);
    skip_ws(p);
    char *end = NULL;
    double v = **p == '=' ? strtod(*p + 1, &end) : 0.0;
    if (**p != '=' || end == *p + 1 || !isfinite(v) || v < 0.0 || v > 1e6)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "target \"%.64s\": item %d: want %s=COST, a number in [0, 1e6]", spec,
                          item, name);
    if (*seen)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "target \"%.64s\": %s given twice", spec,
                          name);
    *seen = true;
    *out = v;
    *p = end;
    return TASD_OK;
}

/* Parse a custom spec into t (npat, n, m, cost, act, shared). */
static tasd_status parse_custom(const char *spec, tasd_target *t)
{
    const char *p = spec;
    int item = 0;
    bool have_act = false;
    bool have_shared = false;
    for (;;) {
        item++;
        skip_ws(&p);
        const char *start = p;
        if (strncmp(p, "shared", 6) == 0 || strncmp(p, "act", 3) == 0) {
            const bool sh = p[0] == 's';
            tasd_status st = parse_named(&p, sh ? "shared" : "act", spec, item,
                                         sh ? &have_shared : &have_act, sh ? &t->shared : &t->act);
            if (st)
                return st;
        } else {
            char *end;
            long n = strtol(p, &end, 10);
            if (end == p || *end != ':' || n < 0 || n > 1000)
                return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                                  "target \"%.64s\": item %d \"%.16s\": want N:M[=COST] or act=COST",
                                  spec, item, start);
            p = end + 1;
            long m = strtol(p, &end, 10);
            if (end == p || m < 0 || m > 1000)
                return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                                  "target \"%.64s\": item %d: want N:M[=COST]", spec, item);
            p = end;
            if (tasdi_check_term(0, (int)n, (int)m) != TASD_OK)
                return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                                  "target \"%.64s\": item %d: %ld:%ld is not a valid N:M "
                                  "pattern (M a power of two 2..32, 1 <= N <= M)",
                                  spec, item, n, m);
            double cost = (double)n / (double)m;
            skip_ws(&p);
            if (*p == '=') {
                p++;
                double v = strtod(p, &end);
                if (end == p || !isfinite(v) || v <= 0.0 || v > 1e6)
                    return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                                      "target \"%.64s\": item %d: cost must be a number in (0, 1e6]",
                                      spec, item);
                cost = v;
                p = end;
            }
            if (find_pattern(t, (int)n, (int)m) >= 0)
                return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                                  "target \"%.64s\": pattern %ld:%ld given twice", spec, n, m);
            if (t->npat >= TASD_TARGET_MAX_PATTERNS)
                return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                                  "target \"%.64s\": more than %d patterns", spec,
                                  TASD_TARGET_MAX_PATTERNS);
            t->n[t->npat] = (int)n;
            t->m[t->npat] = (int)m;
            t->cost[t->npat] = cost;
            t->npat++;
        }
        skip_ws(&p);
        if (*p == '\0')
            break;
        if (*p != ',')
            return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                              "target \"%.64s\": unexpected '%c' after item %d", spec, *p, item);
        p++;
    }
    if (t->npat == 0)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "target \"%.64s\": no N:M pattern given", spec);
    for (int i = 0; i < t->npat; i++)
        if (t->shared >= t->cost[i]) /* else a term could cost nothing or less */
            return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                              "target \"%.64s\": shared=%g must be below every pattern's "
                              "cost (%d:%d costs %g)",
                              spec, t->shared, t->n[i], t->m[i], t->cost[i]);
    return TASD_OK;
}

/* What tasd_target_measure times: a BERT-base sized layer (at 256x512 the
 * fixed costs of a call weighed 10-20% more than in the layers of real
 * models) at MEAS_TOK tokens, or at the target's own token count
 * ("cpu-measured@TOKENS", at most MEAS_MAX_TOK: 4096 tokens take about a
 * second to time three times). */
#define MEAS_OUT 768
#define MEAS_IN 768
#define MEAS_TOK 128
#define MEAS_MAX_TOK 4096
#define MEAS_MAXREP 31

/* "cpu", "cpu-measured" or "cpu-measured@TOKENS": 1 and *measure, *tokens
 * (0: the default) set; 0 for any other spec; < 0 (message set) for a
 * "cpu-measured@" whose token count is not an integer in 1..MEAS_MAX_TOK. */
static int parse_cpu_spec(const char *spec, bool *measure, int *tokens)
{
    *measure = false;
    *tokens = 0;
    if (strcmp(spec, "cpu") == 0)
        return 1;
    if (strncmp(spec, "cpu-measured", 12) != 0 || (spec[12] != '\0' && spec[12] != '@'))
        return 0;
    *measure = true;
    if (spec[12] == '\0')
        return 1;
    char *end = NULL;
    long n = spec[13] >= '0' && spec[13] <= '9' ? strtol(spec + 13, &end, 10) : 0;
    if (!end || *end != '\0' || n < 1 || n > MEAS_MAX_TOK) {
        tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                   "target \"%.64s\": want cpu-measured@TOKENS, TOKENS an integer in 1..%d "
                   "(the activation rows a layer runs at)",
                   spec, MEAS_MAX_TOK);
        return -1;
    }
    *tokens = (int)n;
    return 1;
}

tasd_status tasd_target_create(tasd_context *ctx, const char *spec, tasd_target **out)
{
    if (!spec || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_target_create: spec and out must not be NULL");
    tasd_target t;
    memset(&t, 0, sizeof t);
    t.allocator = *tasdi_allocator(ctx);
    bool measure = false;
    int cpu = parse_cpu_spec(spec, &measure, &t.tokens);
    if (cpu < 0)
        return TASD_ERR_INVALID_ARGUMENT;
    if (cpu) {
        for (int i = 0; i < CPU_PATTERNS; i++) {
            t.n[i] = cpu_table[i].n;
            t.m[i] = cpu_table[i].m;
            t.cost[i] = cpu_table[i].cost;
        }
        t.npat = CPU_PATTERNS;
        t.act = CPU_ACT;
        t.shared = CPU_SHARED;
        strcpy(t.name, "cpu");
    } else if (strcmp(spec, "sparse-tensor-core") == 0) {
        t.npat = 1;
        t.n[0] = 2, t.m[0] = 4, t.cost[0] = 0.5;
        strcpy(t.name, "sparse-tensor-core");
    } else if (strcmp(spec, "vegeta") == 0) {
        t.npat = 2;
        t.n[0] = 1, t.m[0] = 4, t.cost[0] = 0.25;
        t.n[1] = 2, t.m[1] = 4, t.cost[1] = 0.5;
        strcpy(t.name, "vegeta");
    } else {
        if (strlen(spec) > TASDI_TARGET_SPEC_MAX)
            return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                              "tasd_target_create: spec longer than %d bytes",
                              TASDI_TARGET_SPEC_MAX);
        tasd_status st = parse_custom(spec, &t);
        if (st)
            return st;
        strcpy(t.name, "custom");
    }
    tasd_target *p = tasdi_alloc(&t.allocator, sizeof *p);
    if (!p)
        return TASD_ERR_OUT_OF_MEMORY;
    *p = t;
    if (measure) {
        tasd_status st = tasd_target_measure(ctx, p, 0.0);
        if (st) {
            tasd_target_destroy(p);
            return st;
        }
    }
    *out = p;
    return TASD_OK;
}

void tasd_target_destroy(tasd_target *t)
{
    if (t) {
        tasd_allocator a = t->allocator;
        tasdi_free(&a, t, sizeof *t);
    }
}

const char *tasd_target_name(const tasd_target *t)
{
    if (!t)
        return "?";
    if (t->measured && strcmp(t->name, "cpu") == 0)
        return "cpu-measured";
    return t->name;
}

tasd_status tasdi_target_spec(const tasd_target *t, char buf[TASDI_TARGET_SPEC_BUF])
{
    if (strcmp(t->name, "custom") == 0)
        return tasd_target_format(t, buf, TASDI_TARGET_SPEC_BUF, NULL);
    if (t->measured && t->tokens)
        snprintf(buf, TASDI_TARGET_SPEC_BUF, "cpu-measured@%d", t->tokens);
    else
        snprintf(buf, TASDI_TARGET_SPEC_BUF, "%s", tasd_target_name(t));
    return TASD_OK;
}

int tasd_target_is_measured(const tasd_target *t) { return t ? t->measured : 0; }
int tasd_target_patterns(const tasd_target *t) { return t ? t->npat : 0; }
double tasd_target_act_cost(const tasd_target *t) { return t ? t->act : 0.0; }

tasd_status tasd_target_pattern(const tasd_target *t, int i, int *n, int *m, double *cost)
{
    if (!t)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_target_pattern: target is NULL");
    if (i < 0 || i >= t->npat)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "tasd_target_pattern: index %d, target has %d patterns", i, t->npat);
    if (n)
        *n = t->n[i];
    if (m)
        *m = t->m[i];
    if (cost)
        *cost = t->cost[i];
    return TASD_OK;
}

int tasd_target_supports(const tasd_target *t, const tasd_config *c)
{
    if (!t || !c)
        return 0;
    for (int i = 0; i < c->terms; i++)
        if (find_pattern(t, c->n[i], c->m[i]) < 0)
            return 0;
    return 1;
}

static tasd_status series_cost(const tasd_target *t, const tasd_config *c,
                               const char *side, double *cost)
{
    double sum = 0.0;
    for (int i = 0; i < c->terms; i++) {
        double ci = tasdi_target_term_cost(t, c->n[i], c->m[i]);
        if (ci < 0)
            return tasdi_fail(TASD_ERR_UNSUPPORTED,
                              "target %s cannot run term %d:%d of the %s series",
                              tasd_target_name(t), c->n[i], c->m[i], side);
        sum += ci;
    }
    *cost = sum - (c->terms > 1 ? (c->terms - 1) * t->shared : 0.0);
    return TASD_OK;
}

tasd_status tasd_target_cost(const tasd_target *t, const tasd_config *w,
                             const tasd_config *a, int64_t out_features, double *cost)
{
    if (!t || !cost)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_target_cost: target and cost must not be NULL");
    if (w && a)
        return tasdi_fail(TASD_ERR_UNSUPPORTED,
                          "tasd_target_cost: a layer runs either a weight-side or an "
                          "activation-side series, not both");
    double c = 1.0;
    tasd_status st;
    if (w) {
        st = series_cost(t, w, "weight", &c);
        if (st)
            return st;
    } else if (a) {
        if (out_features < 1)
            return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                              "tasd_target_cost: out_features = %lld, want >= 1 for an "
                              "activation-side series", (long long)out_features);
        st = series_cost(t, a, "activation", &c);
        if (st)
            return st;
        c += a->terms * t->act / (double)out_features;
    }
    *cost = c;
    return TASD_OK;
}

tasd_status tasd_target_format(const tasd_target *t, char *buf, size_t size, size_t *needed)
{
    if (!t)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_target_format: target is NULL");
    char tmp[TASD_TARGET_MAX_PATTERNS * 40 + 96];
    size_t len = 0;
    for (int i = 0; i < t->npat; i++)
        len += (size_t)snprintf(tmp + len, sizeof tmp - len, "%d:%d=%.6g,", t->n[i],
                                t->m[i], t->cost[i]);
    if (t->shared > 0.0)
        len += (size_t)snprintf(tmp + len, sizeof tmp - len, "shared=%.6g,", t->shared);
    len += (size_t)snprintf(tmp + len, sizeof tmp - len, "act=%.6g", t->act);
    tasd_status st = tasdi_text_room("tasd_target_format", len, buf, size, needed);
    if (st)
        return st;
    memcpy(buf, tmp, len + 1);
    return TASD_OK;
}

/* ---- measuring on this machine ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The two patterns whose series tells what a series' terms share: the
 * densest and the sparsest (by N/M; -1 if all have one density). */
static void shared_pair(const tasd_target *t, int *p0, int *p1)
{
    *p0 = *p1 = 0;
    for (int i = 1; i < t->npat; i++) {
        if (t->n[i] * t->m[*p0] > t->n[*p0] * t->m[i])
            *p0 = i;
        if (t->n[i] * t->m[*p1] < t->n[*p1] * t->m[i])
            *p1 = i;
    }
    if (t->n[*p0] * t->m[*p1] == t->n[*p1] * t->m[*p0])
        *p0 = *p1 = -1;
}

tasd_status tasd_target_measure(tasd_context *user_ctx, tasd_target *t, double max_seconds)
{
    if (!t)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_target_measure: target is NULL");
    if (!(max_seconds <= 60.0))
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "tasd_target_measure: max_seconds must be a number <= 60");
    if (max_seconds <= 0.0)
        max_seconds = 0.3;
    /* One thread: per-core ratios, free of thread start-up noise on small
     * shapes and of other processes sharing the cores. */
    tasd_context serial = tasdi_serial_context(user_ctx);
    const tasd_context *ctx = &serial;
    const tasd_allocator *a = tasdi_allocator(ctx);
    tasd_status st = TASD_OK;
    const int64_t tok = t->tokens ? t->tokens : MEAS_TOK;
    size_t wn = (size_t)MEAS_OUT * MEAS_IN, xn = (size_t)tok * MEAS_IN,
           yn = (size_t)tok * MEAS_OUT;
    float *w = tasdi_alloc(a, wn * sizeof(float));
    float *x = tasdi_alloc(a, xn * sizeof(float));
    float *y = tasdi_alloc(a, yn * sizeof(float));
    /* timing rows: dense, each pattern, the pair's series, the activations */
    const int nrow = t->npat + 3, pair = t->npat;
    double *times = tasdi_calloc(a, (size_t)nrow * MEAS_MAXREP, sizeof(double));
    tasd_series *s[TASD_TARGET_MAX_PATTERNS + 1] = {0};
    int p0, p1;
    shared_pair(t, &p0, &p1);
    tasdi_dense dense;
    memset(&dense, 0, sizeof dense);
    if (!w || !x || !y || !times) {
        st = TASD_ERR_OUT_OF_MEMORY;
        goto done;
    }
    uint64_t r = 0x243f6a8885a308d3ull;
    for (size_t i = 0; i < wn; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        w[i] = (float)((double)(r >> 11) / 9007199254740992.0 - 0.5);
    }
    for (size_t i = 0; i < xn; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        x[i] = (float)((double)(r >> 11) / 9007199254740992.0 - 0.5);
    }
    tasdi_matrix wm = {(const char *)w, TASD_F32, MEAS_OUT, MEAS_IN, MEAS_IN, 1};
    tasdi_matrix xm = {(const char *)x, TASD_F32, tok, MEAS_IN, MEAS_IN, 1};
    tasdi_matrix ym = {(const char *)y, TASD_F32, tok, MEAS_OUT, MEAS_OUT, 1};
    tasdi_matrix xt = {(const char *)x, TASD_F32, MEAS_IN, tok, 1, MEAS_IN};
    tasdi_matrix yt = {(const char *)y, TASD_F32, MEAS_OUT, tok, 1, MEAS_OUT};
    st = tasdi_dense_pack(a, &wm, false, &dense);
    if (st)
        goto done;
    for (int i = 0; i < t->npat; i++) {
        tasd_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.allocator = *a;
        cfg.terms = 1;
        cfg.n[0] = t->n[i];
        cfg.m[0] = t->m[i];
        st = tasdi_decompose_matrix(ctx, &wm, &cfg, TASD_GREEDY, &s[i]);
        if (st)
            goto done;
    }
    if (p0 >= 0) {
        tasd_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.allocator = *a;
        cfg.terms = 2;
        cfg.n[0] = t->n[p0], cfg.m[0] = t->m[p0];
        cfg.n[1] = t->n[p1], cfg.m[1] = t->m[p1];
        st = tasdi_decompose_matrix(ctx, &wm, &cfg, TASD_GREEDY, &s[pair]);
        if (st)
            goto done;
    }
    tasd_config one;
    memset(&one, 0, sizeof one);
    one.allocator = *a;
    one.terms = 1;
    one.n[0] = 1;
    one.m[0] = 4;
    /* Interleave: every repetition times dense, each pattern, the pair's
     * series and one activation decomposition, so drifts of the machine hit
     * all alike. */
    double t0 = tasdi_seconds();
    int reps = 0;
    while (reps < MEAS_MAXREP && (reps < 3 || tasdi_seconds() - t0 < max_seconds)) {
        double a0 = tasdi_seconds();
        st = tasdi_dense_run(ctx, &dense, &xm, NULL, 0, &ym);
        times[reps] = tasdi_seconds() - a0;
        if (st)
            goto done;
        for (int i = 0; i <= pair; i++) {
            if (!s[i])
                continue;
            a0 = tasdi_seconds();
            st = tasdi_gemm_run(ctx, 1.0f, s[i], &xt, 0.0f, &yt);
            times[(size_t)(i + 1) * MEAS_MAXREP + reps] = tasdi_seconds() - a0;
            if (st)
                goto done;
        }
        tasd_series *xa = NULL;
        a0 = tasdi_seconds();
        st = tasdi_decompose_matrix(ctx, &xm, &one, TASD_GREEDY, &xa);
        times[(size_t)(pair + 2) * MEAS_MAXREP + reps] = tasdi_seconds() - a0;
        tasd_series_destroy(xa);
        if (st)
            goto done;
        reps++;
    }
    double med[TASD_TARGET_MAX_PATTERNS + 3] = {0};
    for (int i = 0; i < nrow; i++) {
        qsort(times + (size_t)i * MEAS_MAXREP, (size_t)reps, sizeof(double), cmp_double);
        med[i] = times[(size_t)i * MEAS_MAXREP + reps / 2];
        if (med[i] <= 0.0)
            med[i] = 1e-9;
    }
    for (int i = 0; i < t->npat; i++)
        t->cost[i] = med[i + 1] / med[0];
    /* what the pair's series saves on its two terms timed alone, kept
     * below half the cheapest pattern's cost (so every term costs) */
    t->shared = 0.0;
    if (p0 >= 0) {
        double cmin = t->cost[0], saved = t->cost[p0] + t->cost[p1] - med[pair + 1] / med[0];
        for (int i = 1; i < t->npat; i++)
            cmin = t->cost[i] < cmin ? t->cost[i] : cmin;
        t->shared = saved <= 0.0 ? 0.0 : saved < 0.5 * cmin ? saved : 0.5 * cmin;
    }
    /* per element of X, in dense multiply-adds */
    double mac_time = med[0] / ((double)MEAS_OUT * MEAS_IN * tok);
    t->act = med[pair + 2] / (double)xn / mac_time;
    t->measured = 1;
done:
    for (int i = 0; i <= TASD_TARGET_MAX_PATTERNS; i++)
        tasd_series_destroy(s[i]);
    tasdi_dense_free(a, &dense);
    tasdi_free(a, w, wn * sizeof(float));
    tasdi_free(a, x, xn * sizeof(float));
    tasdi_free(a, y, yn * sizeof(float));
    tasdi_free(a, times, (size_t)nrow * MEAS_MAXREP * sizeof(double));
    return st;
}

tasd_status tasdi_target_spec_check(const char *spec)
{
    bool measure;
    int tokens, cpu = parse_cpu_spec(spec, &measure, &tokens);
    if (cpu)
        return cpu < 0 ? TASD_ERR_INVALID_ARGUMENT : TASD_OK;
    if (strcmp(spec, "sparse-tensor-core") == 0 || strcmp(spec, "vegeta") == 0)
        return TASD_OK;
    if (strlen(spec) > TASDI_TARGET_SPEC_MAX)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "target spec longer than %d bytes",
                          TASDI_TARGET_SPEC_MAX);
    tasd_target t;
    memset(&t, 0, sizeof t);
    return parse_custom(spec, &t);
}
