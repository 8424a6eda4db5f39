/* TASDER: the per-layer search over candidate series and the per-model
 * assignment that shares one error budget across layers. docs/tasder.md
 * explains the choices made here. */
#include "tasder.h"

#include <math.h>
#include <string.h>

#define MAX_CANDIDATES_PER_SIDE 2048

typedef struct cand {
    double cost, err;
    tasd_layer_config *cfg;
} cand;

struct tasd_layer_search {
    tasd_allocator allocator;
    int64_t out, in;
    double budget, flops;
    int ncand, cap;
    cand *c;
    int nfront;
    int *front;  /* indices into c, ascending cost */
    int choice;  /* index into front */
};

void tasd_search_options_init(tasd_search_options *opt)
{
    if (!opt)
        return;
    memset(opt, 0, sizeof *opt);
    opt->size = sizeof *opt;
    opt->max_terms = 2;
    opt->sides = TASD_SEARCH_WEIGHTS | TASD_SEARCH_ACTIVATIONS;
    opt->method = TASD_GREEDY;
    opt->max_tokens = 256;
}

void tasd_layer_search_destroy(tasd_layer_search *s)
{
    if (!s)
        return;
    tasd_allocator a = s->allocator;
    for (int i = 0; i < s->ncand; i++)
        tasd_layer_config_destroy(s->c[i].cfg);
    tasdi_free(&a, s->c, (size_t)s->cap * sizeof *s->c);
    tasdi_free(&a, s->front, (size_t)(s->cap ? s->cap : 1) * sizeof *s->front);
    tasdi_free(&a, s, sizeof *s);
}

/* ---- enumeration ---- */

typedef struct enum_state {
    const tasd_target *t;
    int order[TASD_TARGET_MAX_PATTERNS]; /* pattern indices, fine to coarse */
    int max_terms;
    double extra_per_term; /* activation decomposition cost per term */
    /* output */
    int count;
    int terms[MAX_CANDIDATES_PER_SIDE];
    int pat[MAX_CANDIDATES_PER_SIDE][TASD_MAX_TERMS];
    double cost[MAX_CANDIDATES_PER_SIDE];
    bool overflow;
} enum_state;

/* Multisets of patterns (non-decreasing positions in `order`), of 1..max
 * terms, whose predicted cost stays below dense (1.0): more terms only cost
 * more, so the recursion stops as soon as a prefix reaches 1. */
static void enumerate(enum_state *e, int depth, int from, int *cur, double cost)
{
    for (int i = from; i < e->t->npat; i++) {
        int p = e->order[i];
        /* terms after the first share the series' pass (shared < cost[p]) */
        double c = cost + e->t->cost[p] - (depth > 0 ? e->t->shared : 0.0) + e->extra_per_term;
        if (c >= 1.0)
            continue;
        cur[depth] = p;
        if (e->count >= MAX_CANDIDATES_PER_SIDE) {
            e->overflow = true;
            return;
        }
        e->terms[e->count] = depth + 1;
        memcpy(e->pat[e->count], cur, (size_t)(depth + 1) * sizeof(int));
        e->cost[e->count] = c;
        e->count++;
        if (depth + 1 < e->max_terms)
            enumerate(e, depth + 1, i, cur, c);
    }
}

static void pattern_order(const tasd_target *t, int *order)
{
    for (int i = 0; i < t->npat; i++)
        order[i] = i;
    /* ascending M, then descending N (stable insertion sort) */
    for (int i = 1; i < t->npat; i++)
        for (int j = i; j > 0; j--) {
            int a = order[j - 1], b = order[j];
            bool swap = t->m[a] > t->m[b] || (t->m[a] == t->m[b] && t->n[a] < t->n[b]);
            if (!swap)
                break;
            order[j - 1] = b;
            order[j] = a;
        }
}

/* ---- evaluation helpers ---- */

static double sumsq(const float *v, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)v[i] * v[i];
    return s;
}

static double rel_err(double err2, double ref2)
{
    if (ref2 > 0.0)
        return sqrt(err2 / ref2);
    return err2 > 0.0 ? INFINITY : 0.0;
}

static tasd_status add_cand(tasd_layer_search *s, double cost, double err,
                            tasd_layer_config *cfg)
{
    if (s->ncand >= s->cap) {
        tasd_layer_config_destroy(cfg);
        return tasdi_fail(TASD_ERR_INTERNAL, "tasd_search_layer: candidate overflow");
    }
    s->c[s->ncand].cost = cost;
    s->c[s->ncand].err = err;
    s->c[s->ncand].cfg = cfg;
    s->ncand++;
    return TASD_OK;
}

static tasd_status make_config(const tasd_allocator *a, const enum_state *e, int k,
                               tasd_config **out)
{
    tasd_config *c = tasdi_calloc(a, 1, sizeof *c);
    if (!c)
        return TASD_ERR_OUT_OF_MEMORY;
    c->allocator = *a;
    c->terms = e->terms[k];
    for (int i = 0; i < c->terms; i++) {
        c->n[i] = e->t->n[e->pat[k][i]];
        c->m[i] = e->t->m[e->pat[k][i]];
    }
    *out = c;
    return TASD_OK;
}

static int cmp_cost_err(const cand *x, const cand *y)
{
    if (x->cost != y->cost)
        return x->cost < y->cost ? -1 : 1;
    if (x->err != y->err)
        return x->err < y->err ? -1 : 1;
    return 0;
}

static void build_front(tasd_layer_search *s)
{
    /* insertion sort of candidate indices by (cost, error), stable */
    int *idx = s->front;
    for (int i = 0; i < s->ncand; i++) {
        int j = i;
        while (j > 0 && cmp_cost_err(&s->c[idx[j - 1]], &s->c[i]) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    int nf = 0;
    double best = INFINITY;
    for (int i = 0; i < s->ncand; i++) {
        int k = idx[i];
        if (s->c[k].err < best) {
            best = s->c[k].err;
            idx[nf++] = k;
        }
    }
    s->nfront = nf;
    s->choice = nf - 1;
    for (int i = 0; i < nf; i++)
        if (s->c[idx[i]].err <= s->budget) {
            s->choice = i;
            break;
        }
}

static tasd_status check_options(const tasd_search_options *opt)
{
    tasd_status st = TASDI_CHECK_SIZE("tasd_search_layer", tasd_search_options, opt);
    if (st)
        return st;
    if (opt->max_terms < 0 || opt->max_terms > TASD_MAX_TERMS)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "tasd_search_layer: max_terms = %d, want 0..%d", opt->max_terms,
                          TASD_MAX_TERMS);
    if (opt->sides < 0 || opt->sides > 3)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "tasd_search_layer: sides = %d, want TASD_SEARCH_* bits", opt->sides);
    if (opt->method != TASD_GREEDY && opt->method != TASD_OPTIMAL)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "tasd_search_layer: unknown method %d",
                          opt->method);
    if (opt->max_tokens < 0)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "tasd_search_layer: max_tokens < 0");
    return TASD_OK;
}

/* Everything one search needs, freed in one place. */
typedef struct work {
    const tasd_allocator *a;
    float *w, *x, *y, *r, *e;
    size_t wn, xn, yn;
    tasdi_dense wd;
    enum_state *es;
} work;

static void work_free(work *k)
{
    tasdi_free(k->a, k->w, k->wn * sizeof(float));
    tasdi_free(k->a, k->r, (k->wn > k->xn ? k->wn : k->xn) * sizeof(float));
    tasdi_free(k->a, k->x, k->xn * sizeof(float));
    tasdi_free(k->a, k->y, k->yn * sizeof(float));
    tasdi_free(k->a, k->e, k->yn * sizeof(float));
    tasdi_dense_free(k->a, &k->wd);
    tasdi_free(k->a, k->es, sizeof *k->es);
}

tasd_status tasd_search_layer(tasd_context *ctx, const tasd_target *target,
                              const char *name, const tasd_view *weights,
                              const tasd_view *calib, double budget,
                              const tasd_search_options *opt_in, tasd_layer_search **out)
{
    if (!target || !name || !weights || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER,
                          "tasd_search_layer: target, name, weights and out must not be NULL");
    if (!(budget >= 0.0) || !isfinite(budget))
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "tasd_search_layer: budget must be a finite number >= 0");
    tasd_search_options opt;
    tasd_search_options_init(&opt);
    if (opt_in) {
        tasd_status st = check_options(opt_in);
        if (st)
            return st;
        if (opt_in->max_terms)
            opt.max_terms = opt_in->max_terms;
        if (opt_in->sides)
            opt.sides = opt_in->sides;
        opt.method = opt_in->method;
        if (opt_in->max_tokens)
            opt.max_tokens = opt_in->max_tokens;
    }
    tasdi_matrix wm, xm;
    tasd_status st = tasdi_matrix_from_view(weights, "tasd_search_layer: weights", &wm);
    if (st)
        return st;
    if (wm.rows < 1 || wm.cols < 1)
        return tasdi_fail(TASD_ERR_SHAPE, "tasd_search_layer: weights are %lld x %lld",
                          (long long)wm.rows, (long long)wm.cols);
    if (calib) {
        st = tasdi_matrix_from_view(calib, "tasd_search_layer: calib", &xm);
        if (st)
            return st;
        if (calib->ndim != 2 || xm.dtype != TASD_F32)
            return tasdi_fail(TASD_ERR_SHAPE, "tasd_search_layer: calib must be an f32 rank-2 view");
        if (xm.cols != wm.cols || xm.rows < 1)
            return tasdi_fail(TASD_ERR_SHAPE,
                              "tasd_search_layer: calib is %lld x %lld, want [tokens >= 1, %lld]",
                              (long long)xm.rows, (long long)xm.cols, (long long)wm.cols);
    }
    /* the dense point doubles as the name check */
    tasd_layer_config *dense_cfg = NULL;
    char tname[TASDI_TARGET_SPEC_BUF];
    if (tasdi_target_spec(target, tname))
        return TASD_ERR_INTERNAL;
    st = tasd_layer_config_create(ctx, name, NULL, NULL, (tasd_method)opt.method, tname,
                                  &dense_cfg);
    if (st)
        return st;

    const tasd_allocator *a = tasdi_allocator(ctx);
    work k;
    memset(&k, 0, sizeof k);
    k.a = a;
    tasd_layer_search *s = NULL;
    int64_t out_f = wm.rows, in_f = wm.cols;
    int64_t tokens = calib ? (xm.rows < opt.max_tokens ? xm.rows : opt.max_tokens) : 0;
    if (!tasdi_mul_size((size_t)out_f, (size_t)in_f, &k.wn) ||
        !tasdi_mul_size((size_t)tokens, (size_t)in_f, &k.xn) ||
        !tasdi_mul_size((size_t)tokens, (size_t)out_f, &k.yn) || k.wn > ((size_t)1 << 40)) {
        tasd_layer_config_destroy(dense_cfg);
        return tasdi_fail(TASD_ERR_OVERFLOW, "tasd_search_layer: sizes overflow");
    }
    k.es = tasdi_calloc(a, 1, sizeof *k.es);
    k.w = tasdi_alloc(a, k.wn * sizeof(float));
    k.r = tasdi_alloc(a, (k.wn > k.xn ? k.wn : k.xn) * sizeof(float));
    if (calib) {
        k.x = tasdi_alloc(a, k.xn * sizeof(float));
        k.y = tasdi_alloc(a, k.yn * sizeof(float));
        k.e = tasdi_alloc(a, k.yn * sizeof(float));
    }
    if (!k.es || !k.w || !k.r || (calib && (!k.x || !k.y || !k.e))) {
        st = TASD_ERR_OUT_OF_MEMORY;
        goto fail;
    }
    for (int64_t o = 0; o < out_f; o++)
        tasdi_matrix_load_row(&wm, o, k.w + o * in_f);
    for (size_t i = 0; i < k.wn; i++)
        if (!isfinite(k.w[i])) {
            st = tasdi_fail(TASD_ERR_NONFINITE, "tasd_search_layer: weights row %lld hold NaN or Inf",
                            (long long)(i / (size_t)in_f));
            goto fail;
        }
    tasdi_matrix wf = {(const char *)k.w, TASD_F32, out_f, in_f, in_f, 1};
    tasdi_matrix xf = {(const char *)k.x, TASD_F32, tokens, in_f, in_f, 1};
    tasdi_matrix ef = {(const char *)k.e, TASD_F32, tokens, out_f, out_f, 1};
    double ref2 = 0.0;
    if (calib) {
        for (int64_t t = 0; t < tokens; t++)
            tasdi_matrix_load_row(&xm, t, k.x + t * in_f);
        for (size_t i = 0; i < k.xn; i++)
            if (!isfinite(k.x[i])) {
                st = tasdi_fail(TASD_ERR_NONFINITE, "tasd_search_layer: calib row %lld holds NaN or Inf",
                                (long long)(i / (size_t)in_f));
                goto fail;
            }
        st = tasdi_dense_pack(a, &wf, false, &k.wd);
        tasdi_matrix yf = {(const char *)k.y, TASD_F32, tokens, out_f, out_f, 1};
        if (!st)
            st = tasdi_dense_run(ctx, &k.wd, &xf, NULL, 0, &yf);
        if (st)
            goto fail;
        ref2 = sumsq(k.y, k.yn);
    }

    /* enumerate both sides first, so the result can be sized */
    enum_state *e = k.es;
    e->t = target;
    pattern_order(target, e->order);
    e->max_terms = opt.max_terms;
    int cur[TASD_MAX_TERMS];
    int nw = 0;
    if (opt.sides & TASD_SEARCH_WEIGHTS) {
        e->extra_per_term = 0.0;
        enumerate(e, 0, 0, cur, 0.0);
        nw = e->count;
    }
    if (calib && (opt.sides & TASD_SEARCH_ACTIVATIONS)) {
        e->extra_per_term = target->act / (double)out_f;
        enumerate(e, 0, 0, cur, 0.0);
    }
    if (e->overflow) {
        st = tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                        "tasd_search_layer: more than %d candidate series; lower max_terms",
                        MAX_CANDIDATES_PER_SIDE);
        goto fail;
    }
    s = tasdi_calloc(a, 1, sizeof *s);
    if (!s) {
        st = TASD_ERR_OUT_OF_MEMORY;
        goto fail;
    }
    s->allocator = *a;
    s->out = out_f;
    s->in = in_f;
    s->budget = budget;
    s->flops = (double)out_f * (double)in_f * (calib ? (double)xm.rows : 1.0);
    s->cap = e->count + 1;
    s->c = tasdi_calloc(a, (size_t)s->cap, sizeof *s->c);
    s->front = tasdi_calloc(a, (size_t)s->cap, sizeof *s->front);
    if (!s->c || !s->front) {
        st = TASD_ERR_OUT_OF_MEMORY;
        goto fail;
    }
    st = add_cand(s, 1.0, 0.0, dense_cfg);
    dense_cfg = NULL;
    if (st)
        goto fail;

    for (int i = 0; i < e->count && !st; i++) {
        bool wside = i < nw;
        tasd_config *cfg = NULL;
        tasd_series *ser = NULL;
        double err = 0.0;
        st = make_config(a, e, i, &cfg);
        if (st)
            break;
        if (wside) {
            st = tasdi_decompose_matrix(ctx, &wf, cfg, (tasd_method)opt.method, &ser);
            if (!st && !calib) {
                err = rel_err(ser->error_energy, ser->input_energy);
            } else if (!st) {
                /* R = W - Wa, E = X * R^T */
                tasd_view rv = tasd_view_2d(k.r, TASD_F32, out_f, in_f, in_f);
                st = tasd_series_reconstruct(ser, &rv);
                if (!st) {
                    for (size_t j = 0; j < k.wn; j++)
                        k.r[j] = k.w[j] - k.r[j];
                    tasdi_matrix rm = {(const char *)k.r, TASD_F32, out_f, in_f, in_f, 1};
                    tasdi_dense rd;
                    st = tasdi_dense_pack(a, &rm, false, &rd);
                    if (!st) {
                        st = tasdi_dense_run(ctx, &rd, &xf, NULL, 0, &ef);
                        tasdi_dense_free(a, &rd);
                        if (!st)
                            err = rel_err(sumsq(k.e, k.yn), ref2);
                    }
                }
            }
        } else {
            /* Rx = X - Xa, E = Rx * W^T */
            st = tasdi_decompose_matrix(ctx, &xf, cfg, (tasd_method)opt.method, &ser);
            if (!st) {
                tasd_view rv = tasd_view_2d(k.r, TASD_F32, tokens, in_f, in_f);
                st = tasd_series_reconstruct(ser, &rv);
            }
            if (!st) {
                for (size_t j = 0; j < k.xn; j++)
                    k.r[j] = k.x[j] - k.r[j];
                tasdi_matrix rm = {(const char *)k.r, TASD_F32, tokens, in_f, in_f, 1};
                st = tasdi_dense_run(ctx, &k.wd, &rm, NULL, 0, &ef);
                if (!st)
                    err = rel_err(sumsq(k.e, k.yn), ref2);
            }
        }
        tasd_series_destroy(ser);
        tasd_layer_config *lc = NULL;
        if (!st)
            st = tasd_layer_config_create(ctx, name, wside ? cfg : NULL, wside ? NULL : cfg,
                                          (tasd_method)opt.method, tname, &lc);
        tasd_config_destroy(cfg);
        if (!st)
            st = add_cand(s, e->cost[i], err, lc);
    }
    if (st)
        goto fail;
    build_front(s);
    work_free(&k);
    *out = s;
    return TASD_OK;
fail:
    tasd_layer_config_destroy(dense_cfg);
    tasd_layer_search_destroy(s);
    work_free(&k);
    return st;
}

static tasd_status get_point(const char *fn, const tasd_layer_search *s, int ci,
                             tasd_search_point *out)
{
    tasd_status st = TASDI_CHECK_SIZE(fn, tasd_search_point, out);
    if (st)
        return st;
    out->cost = s->c[ci].cost;
    out->error = s->c[ci].err;
    out->config = s->c[ci].cfg;
    return TASD_OK;
}

tasd_status tasd_layer_search_choice(const tasd_layer_search *s, tasd_search_point *out)
{
    if (!s || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_layer_search_choice: NULL argument");
    return get_point("tasd_layer_search_choice", s, s->front[s->choice], out);
}

double tasd_layer_search_speedup(const tasd_layer_search *s)
{
    return s ? 1.0 / s->c[s->front[s->choice]].cost : 0.0;
}

int tasd_layer_search_front_size(const tasd_layer_search *s) { return s ? s->nfront : 0; }

tasd_status tasd_layer_search_front(const tasd_layer_search *s, int i, tasd_search_point *out)
{
    if (!s || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_layer_search_front: NULL argument");
    if (i < 0 || i >= s->nfront)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "tasd_layer_search_front: index %d, front has %d points", i, s->nfront);
    return get_point("tasd_layer_search_front", s, s->front[i], out);
}

int tasd_layer_search_candidates(const tasd_layer_search *s) { return s ? s->ncand : 0; }

tasd_status tasd_layer_search_candidate(const tasd_layer_search *s, int i, tasd_search_point *out)
{
    if (!s || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_layer_search_candidate: NULL argument");
    if (i < 0 || i >= s->ncand)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "tasd_layer_search_candidate: index %d, %d candidates", i, s->ncand);
    return get_point("tasd_layer_search_candidate", s, i, out);
}

double tasd_layer_search_flops(const tasd_layer_search *s) { return s ? s->flops : 0.0; }

tasd_status tasd_layer_search_set_flops(tasd_layer_search *s, double flops)
{
    if (!s)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_layer_search_set_flops: search is NULL");
    if (!(flops > 0.0) || !isfinite(flops))
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "tasd_layer_search_set_flops: flops must be a finite number > 0");
    s->flops = flops;
    return TASD_OK;
}

/* ---- per-model assignment ---- */

/* The fixed path: step j moves layer layer[j] to front point to[j]. */
typedef struct path {
    const tasd_allocator *a;
    int64_t n, steps, cap;
    double *w;         /* FLOP weights, sum 1 */
    int *start;        /* [n] start front index (error-0 point) */
    int64_t *layer;    /* [cap] */
    int *to;           /* [cap] */
    double *cost, *err; /* [cap + 1]: totals after j steps */
} path;

static void path_free(path *p)
{
    tasdi_free(p->a, p->w, (size_t)p->n * sizeof(double));
    tasdi_free(p->a, p->start, (size_t)p->n * sizeof(int));
    tasdi_free(p->a, p->layer, (size_t)p->cap * sizeof(int64_t));
    tasdi_free(p->a, p->to, (size_t)p->cap * sizeof(int));
    tasdi_free(p->a, p->cost, (size_t)(p->cap + 1) * sizeof(double));
    tasdi_free(p->a, p->err, (size_t)(p->cap + 1) * sizeof(double));
}

static double front_cost(const tasd_layer_search *s, int i) { return s->c[s->front[i]].cost; }
static double front_err(const tasd_layer_search *s, int i) { return s->c[s->front[i]].err; }

static tasd_status check_layers(const char *fn, const tasd_layer_search *const *layers,
                                int64_t n, double layer_cap, const void *choice)
{
    if (!layers || !choice)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "%s: layers and choice must not be NULL", fn);
    if (n < 1 || n > ((int64_t)1 << 30))
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "%s: n = %lld, want >= 1", fn, (long long)n);
    for (int64_t l = 0; l < n; l++)
        if (!layers[l])
            return tasdi_fail(TASD_ERR_NULL_POINTER, "%s: layers[%lld] is NULL", fn, (long long)l);
    if (!(layer_cap >= 0.0))
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "%s: layer_cap must be a number >= 0", fn);
    return TASD_OK;
}

static tasd_status build_path(const tasd_allocator *a, const tasd_layer_search *const *layers,
                              int64_t n, double layer_cap, path *p)
{
    memset(p, 0, sizeof *p);
    p->a = a;
    p->n = n;
    p->cap = 0;
    for (int64_t l = 0; l < n; l++)
        p->cap += layers[l]->nfront;
    p->w = tasdi_calloc(a, (size_t)n, sizeof(double));
    p->start = tasdi_calloc(a, (size_t)n, sizeof(int));
    p->layer = tasdi_calloc(a, (size_t)p->cap, sizeof(int64_t));
    p->to = tasdi_calloc(a, (size_t)p->cap, sizeof(int));
    p->cost = tasdi_calloc(a, (size_t)p->cap + 1, sizeof(double));
    p->err = tasdi_calloc(a, (size_t)p->cap + 1, sizeof(double));
    int *cur = tasdi_calloc(a, (size_t)n, sizeof(int));
    if (!p->w || !p->start || !p->layer || !p->to || !p->cost || !p->err || !cur) {
        tasdi_free(a, cur, (size_t)n * sizeof(int));
        path_free(p);
        return TASD_ERR_OUT_OF_MEMORY;
    }
    double total = 0.0;
    for (int64_t l = 0; l < n; l++)
        total += layers[l]->flops;
    double cost = 0.0, err = 0.0;
    for (int64_t l = 0; l < n; l++) {
        const tasd_layer_search *s = layers[l];
        p->w[l] = total > 0.0 ? layers[l]->flops / total : 1.0 / (double)n;
        p->start[l] = cur[l] = s->nfront - 1;
        cost += p->w[l] * front_cost(s, cur[l]);
        err += p->w[l] * front_err(s, cur[l]);
    }
    p->cost[0] = cost;
    p->err[0] = err;
    for (;;) {
        int64_t best_l = -1;
        int best_q = -1;
        double best_ratio = -1.0, best_gain = 0.0;
        for (int64_t l = 0; l < n; l++) {
            const tasd_layer_search *s = layers[l];
            double cp = front_cost(s, cur[l]), ep = front_err(s, cur[l]);
            for (int q = cur[l] - 1; q >= 0; q--) {
                double eq = front_err(s, q);
                if (!(eq <= layer_cap))
                    continue;
                double gain = cp - front_cost(s, q);
                double spend = eq - ep;
                double ratio = spend > 0.0 ? gain / spend : INFINITY;
                if (ratio > best_ratio || (ratio == best_ratio && gain > best_gain)) {
                    best_ratio = ratio;
                    best_gain = gain;
                    best_l = l;
                    best_q = q;
                }
            }
        }
        if (best_l < 0 || p->steps >= p->cap)
            break;
        const tasd_layer_search *s = layers[best_l];
        cost += p->w[best_l] * (front_cost(s, best_q) - front_cost(s, cur[best_l]));
        err += p->w[best_l] * (front_err(s, best_q) - front_err(s, cur[best_l]));
        cur[best_l] = best_q;
        p->layer[p->steps] = best_l;
        p->to[p->steps] = best_q;
        p->steps++;
        p->cost[p->steps] = cost;
        p->err[p->steps] = err;
    }
    tasdi_free(a, cur, (size_t)n * sizeof(int));
    return TASD_OK;
}

/* The assignment after `steps` moves, and its summary. */
static void path_state(const tasd_layer_search *const *layers, const path *p, int64_t steps,
                       int *choice, tasd_model_search_result *r)
{
    for (int64_t l = 0; l < p->n; l++)
        choice[l] = p->start[l];
    for (int64_t j = 0; j < steps; j++)
        choice[p->layer[j]] = p->to[j];
    memset(r, 0, sizeof *r);
    r->size = sizeof *r;
    double cost = 0.0, err = 0.0, mx = 0.0;
    for (int64_t l = 0; l < p->n; l++) {
        double e = front_err(layers[l], choice[l]);
        cost += p->w[l] * front_cost(layers[l], choice[l]);
        err += p->w[l] * e;
        if (e > mx)
            mx = e;
    }
    r->cost = cost;
    r->speedup = cost > 0.0 ? 1.0 / cost : 0.0;
    r->error = err;
    r->max_error = mx;
    r->steps = steps;
    r->score = NAN;
}

tasd_status tasd_search_model(const tasd_layer_search *const *layers, int64_t n,
                              double layer_cap, double total_budget, int *choice,
                              tasd_model_search_result *result)
{
    tasd_status st = check_layers("tasd_search_model", layers, n, layer_cap, choice);
    if (!st && result)
        st = TASDI_CHECK_SIZE("tasd_search_model", tasd_model_search_result, result);
    if (st)
        return st;
    if (!(total_budget >= 0.0))
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "tasd_search_model: total_budget must be a number >= 0");
    path p;
    st = build_path(tasdi_allocator(NULL), layers, n, layer_cap, &p);
    if (st)
        return st;
    int64_t k = 0;
    /* a tiny tolerance so that float sums equal to the budget still pass */
    while (k < p.steps && p.err[k + 1] <= total_budget * (1.0 + 1e-12))
        k++;
    tasd_model_search_result r;
    path_state(layers, &p, k, choice, &r);
    path_free(&p);
    if (result)
        *result = r;
    return TASD_OK;
}

tasd_status tasd_search_model_config(tasd_context *ctx, const tasd_layer_search *const *layers,
                                     int64_t n, const int *choice, tasd_model_config **out)
{
    tasd_status st = check_layers("tasd_search_model_config", layers, n, 0.0, choice);
    if (st)
        return st;
    if (!out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_search_model_config: out is NULL");
    for (int64_t l = 0; l < n; l++)
        if (choice[l] < 0 || choice[l] >= layers[l]->nfront)
            return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                              "tasd_search_model_config: choice[%lld] = %d, front has %d points",
                              (long long)l, choice[l], layers[l]->nfront);
    tasd_model_config *m;
    st = tasd_model_config_create(ctx, &m);
    if (st)
        return st;
    for (int64_t l = 0; l < n && !st; l++)
        st = tasd_model_config_add(m, layers[l]->c[layers[l]->front[choice[l]]].cfg);
    if (st) {
        tasd_model_config_destroy(m);
        return st;
    }
    *out = m;
    return TASD_OK;
}

tasd_status tasd_search_model_scored(tasd_context *ctx, const tasd_layer_search *const *layers,
                                     int64_t n, double layer_cap, tasd_score_fn score,
                                     void *user, double threshold, int max_calls, int *choice,
                                     tasd_model_search_result *result)
{
    tasd_status st = check_layers("tasd_search_model_scored", layers, n, layer_cap, choice);
    if (!st && result)
        st = TASDI_CHECK_SIZE("tasd_search_model_scored", tasd_model_search_result, result);
    if (st)
        return st;
    if (!score)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_search_model_scored: score is NULL");
    if (max_calls < 1)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "tasd_search_model_scored: max_calls = %d, want >= 1", max_calls);
    if (isnan(threshold))
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "tasd_search_model_scored: threshold is NaN");
    const tasd_allocator *a = tasdi_allocator(ctx);
    path p;
    st = build_path(a, layers, n, layer_cap, &p);
    if (st)
        return st;
    int *tmp = tasdi_calloc(a, (size_t)n, sizeof(int));
    if (!tmp) {
        path_free(&p);
        return TASD_ERR_OUT_OF_MEMORY;
    }
    int64_t calls = 0, best = -1, lo = 0, hi = p.steps + 1;
    double best_score = NAN, start_score = NAN;
    tasd_model_search_result r;
    /* Invariant: states > lo up to hi-1 are untested, hi failed (or past
     * the end); lo is the last state that passed (or the start, untested). */
    while (calls < max_calls) {
        int64_t mid;
        if (hi - lo > 1)
            mid = lo + (hi - lo) / 2;
        else if (best < 0 && isnan(start_score) && lo == 0)
            mid = 0; /* nothing passed yet: score the start itself */
        else
            break;
        path_state(layers, &p, mid, tmp, &r);
        tasd_model_config *m = NULL;
        st = tasd_search_model_config(ctx, layers, n, tmp, &m);
        if (st)
            break;
        double sc = NAN;
        st = score(user, m, &sc);
        tasd_model_config_destroy(m);
        calls++;
        if (st) {
            st = tasdi_fail(st, "tasd_search_model_scored: the score callback failed (%s)",
                            tasd_status_string(st));
            break;
        }
        bool pass = sc >= threshold; /* NaN fails */
        if (mid == 0)
            start_score = sc;
        if (pass) {
            if (mid >= best) {
                best = mid;
                best_score = sc;
            }
            lo = mid;
        } else {
            if (mid == 0)
                break;
            hi = mid;
        }
    }
    if (!st) {
        int64_t k = best >= 0 ? best : 0;
        path_state(layers, &p, k, choice, &r);
        r.calls = calls;
        r.found = best >= 0;
        r.score = best >= 0 ? best_score : start_score;
        if (result)
            *result = r;
    }
    tasdi_free(a, tmp, (size_t)n * sizeof(int));
    path_free(&p);
    return st;
}
