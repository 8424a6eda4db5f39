/* TASDER: targets, the per-layer search, the per-model assignment and the
 * accuracy-in-the-loop search. */
#include "tasd.h"
#include "harness.h"
#include "support/util.h"

/* Roughly normal values (sum of uniforms). */
static float gauss(void)
{
    float s = 0.0f;
    for (int i = 0; i < 4; i++)
        s += test_rand_float();
    return s * 0.866f;
}

static float *make_weights(int64_t out, int64_t in, double sparsity)
{
    float *w = malloc((size_t)(out * in) * sizeof *w);
    for (int64_t i = 0; i < out * in; i++) {
        w[i] = gauss();
        if ((double)(test_rand_u64() >> 11) / 9007199254740992.0 < sparsity)
            w[i] = 0.0f;
    }
    return w;
}

static float *make_acts(int64_t tokens, int64_t in, int relu)
{
    float *x = malloc((size_t)(tokens * in) * sizeof *x);
    for (int64_t i = 0; i < tokens * in; i++) {
        x[i] = gauss();
        if (relu && x[i] < 0.0f)
            x[i] = 0.0f;
    }
    return x;
}

static tasd_target *target(const char *spec)
{
    tasd_target *t = NULL;
    if (tasd_target_create(NULL, spec, &t) != TASD_OK) {
        fprintf(stderr, "target %s: %s\n", spec, tasd_last_error_message());
        abort();
    }
    return t;
}

/* A fixed CPU-like cost table (sparse terms cheaper than dense): the
 * search-logic tests use it, so they do not move when the built-in "cpu"
 * table is refitted to new kernels. */
#define CPU_LIKE "1:4=0.47,2:4=0.65,1:8=0.38,2:8=0.47,4:8=0.65,1:16=0.33,2:16=0.38,act=130"

/* ---- targets ---- */

static void test_targets_builtin(void)
{
    tasd_target *cpu = target("cpu"), *stc = target("sparse-tensor-core"), *veg = target("vegeta");
    CHECK(strcmp(tasd_target_name(cpu), "cpu") == 0);
    CHECK(!tasd_target_is_measured(cpu));
    CHECK(tasd_target_patterns(cpu) >= 4);
    for (int i = 0; i < tasd_target_patterns(cpu); i++) {
        int n = 0, m = 0;
        double c = 0;
        CHECK_OK(tasd_target_pattern(cpu, i, &n, &m, &c));
        CHECK(c > 0.0 && c < 2.0 && n >= 1 && n <= m);
    }
    CHECK(tasd_target_act_cost(cpu) > 0.0);
    CHECK(tasd_target_patterns(stc) == 1);
    int n = 0, m = 0;
    double c = 0;
    CHECK_OK(tasd_target_pattern(stc, 0, &n, &m, &c));
    CHECK(n == 2 && m == 4 && c == 0.5);
    CHECK(tasd_target_act_cost(stc) == 0.0);
    CHECK(tasd_target_patterns(veg) == 2);
    tasd_config *c24 = util_config("2:4+2:4"), *c14 = util_config("1:4+2:4"), *c18 = util_config("2:4+1:8");
    CHECK(tasd_target_supports(stc, c24));
    CHECK(!tasd_target_supports(stc, c14));
    CHECK(tasd_target_supports(veg, c14));
    CHECK(!tasd_target_supports(veg, c18));
    CHECK(tasd_target_supports(cpu, c18));
    CHECK(!tasd_target_supports(NULL, c18));
    CHECK(!tasd_target_supports(cpu, NULL));
    CHECK_STATUS(tasd_target_pattern(stc, 1, &n, &m, &c), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_target_pattern(stc, -1, &n, &m, &c), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_target_pattern(NULL, 0, &n, &m, &c), TASD_ERR_NULL_POINTER);
    CHECK_OK(tasd_target_pattern(stc, 0, NULL, NULL, NULL));
    tasd_config_destroy(c24);
    tasd_config_destroy(c14);
    tasd_config_destroy(c18);
    tasd_target_destroy(cpu);
    tasd_target_destroy(stc);
    tasd_target_destroy(veg);
    tasd_target_destroy(NULL);
}

static void test_target_custom(void)
{
    tasd_target *t = target("1:4,2:4,1:8");
    CHECK(strcmp(tasd_target_name(t), "custom") == 0);
    CHECK(tasd_target_patterns(t) == 3);
    double c = 0;
    int n, m;
    CHECK_OK(tasd_target_pattern(t, 2, &n, &m, &c));
    CHECK(n == 1 && m == 8 && c == 0.125);
    tasd_target_destroy(t);
    t = target(" 1:4=0.3 , 2:4=0.55,act=4 ");
    CHECK_OK(tasd_target_pattern(t, 1, &n, &m, &c));
    CHECK(n == 2 && m == 4 && c == 0.55);
    CHECK(tasd_target_act_cost(t) == 4.0);
    char buf[256];
    size_t need = 0;
    CHECK_OK(tasd_target_format(t, buf, sizeof buf, &need));
    CHECK(strcmp(buf, "1:4=0.3,2:4=0.55,act=4") == 0);
    CHECK(need == strlen(buf));
    char small[4] = "abc";
    CHECK_STATUS(tasd_target_format(t, small, sizeof small, NULL), TASD_ERR_BUFFER_TOO_SMALL);
    CHECK(strcmp(small, "abc") == 0);
    tasd_target *back = target(buf);
    CHECK(tasd_target_patterns(back) == 2);
    CHECK_OK(tasd_target_pattern(back, 0, &n, &m, &c));
    CHECK(n == 1 && m == 4 && c == 0.3);
    tasd_target_destroy(back);
    tasd_target_destroy(t);
    /* shared: what a series saves per term after its first, written back */
    t = target("1:4=0.3, 2:4=0.55, shared = 0.1, act=4");
    CHECK_OK(tasd_target_format(t, buf, sizeof buf, NULL));
    CHECK(strcmp(buf, "1:4=0.3,2:4=0.55,shared=0.1,act=4") == 0);
    tasd_config *c2414 = util_config("2:4+1:4"), *c24 = util_config("2:4");
    double cost = 0;
    CHECK_OK(tasd_target_cost(t, c2414, NULL, 8, &cost));
    CHECK(fabs(cost - (0.55 + 0.3 - 0.1)) < 1e-12);
    CHECK_OK(tasd_target_cost(t, c24, NULL, 8, &cost));
    CHECK(cost == 0.55);
    tasd_config_destroy(c2414);
    tasd_config_destroy(c24);
    tasd_target_destroy(t);
    const char *bad[] = {"",        ",",         "1:3",        "5:4",        "0:4",
                         "2:4=abc", "2:4=-1",    "2:4=0",      "2:4,2:4",    "act=-1",
                         "act=1",   "foo",       "1:4;2:4",    "2:4=1e9",    "1:4,,2:4",
                         "2:4,act=1,act=2", "2:",  "2:64",     "cpu,1:4",    "1:4=nan",
                         "1:4=0.3,shared=0.3", "shared=-1,1:4", "1:4,shared=0.1,shared=0.1",
                         "1:4,shared", "1:4,shared=x", "1:4=0.5,shared=nan"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tasd_target *x = NULL;
        CHECKF(tasd_target_create(NULL, bad[i], &x) == TASD_ERR_INVALID_ARGUMENT, "spec \"%s\"", bad[i]);
        CHECK(x == NULL);
    }
    char longspec[700];
    memset(longspec, ' ', sizeof longspec - 1);
    longspec[sizeof longspec - 1] = '\0';
    longspec[0] = '2', longspec[1] = ':', longspec[2] = '4';
    tasd_target *x = NULL;
    CHECK_STATUS(tasd_target_create(NULL, longspec, &x), TASD_ERR_INVALID_ARGUMENT);
    /* 17 distinct patterns are too many */
    CHECK_STATUS(tasd_target_create(NULL, "1:2,2:2,1:4,2:4,3:4,4:4,1:8,2:8,3:8,4:8,5:8,6:8,7:8,8:8,1:16,2:16,3:16", &x),
                 TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_target_create(NULL, NULL, &x), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_target_create(NULL, "cpu", NULL), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_target_format(NULL, buf, sizeof buf, NULL), TASD_ERR_NULL_POINTER);
    CHECK(strcmp(tasd_target_name(NULL), "?") == 0);
    CHECK(tasd_target_patterns(NULL) == 0);
}

static void test_target_cost(void)
{
    tasd_target *cpu = target("cpu"), *stc = target("sparse-tensor-core");
    tasd_config *c18 = util_config("2:4+1:8"), *c24 = util_config("2:4");
    double c24w = 0, c18w = 0, c24a = 0, dense = 0, p0 = -1, p1 = -1;
    CHECK_OK(tasd_target_cost(cpu, c24, NULL, 100, &c24w));
    CHECK_OK(tasd_target_cost(cpu, c18, NULL, 100, &c18w));
    CHECK_OK(tasd_target_cost(cpu, NULL, c24, 128, &c24a));
    CHECK_OK(tasd_target_cost(cpu, NULL, NULL, 0, &dense));
    CHECK(dense == 1.0);
    for (int i = 0; i < tasd_target_patterns(cpu); i++) {
        int n, m;
        double c;
        tasd_target_pattern(cpu, i, &n, &m, &c);
        if (n == 2 && m == 4)
            p0 = c;
        if (n == 1 && m == 8)
            p1 = c;
    }
    /* the cpu table charges a series its shared pass once */
    char spec[512];
    CHECK_OK(tasd_target_format(cpu, spec, sizeof spec, NULL));
    const char *sh = strstr(spec, "shared=");
    const double shared = sh ? strtod(sh + 7, NULL) : 0.0;
    CHECK(shared > 0.0 && shared < p1);
    CHECK(fabs(c24w - p0) < 1e-12 && fabs(c18w - (p0 + p1 - shared)) < 1e-9);
    CHECK(fabs(c24a - (p0 + tasd_target_act_cost(cpu) / 128.0)) < 1e-12);
    double keep = 42.0;
    CHECK_STATUS(tasd_target_cost(stc, c18, NULL, 8, &keep), TASD_ERR_UNSUPPORTED);
    CHECK_STATUS(tasd_target_cost(stc, NULL, c18, 8, &keep), TASD_ERR_UNSUPPORTED);
    CHECK_STATUS(tasd_target_cost(cpu, c24, c24, 8, &keep), TASD_ERR_UNSUPPORTED);
    CHECK_STATUS(tasd_target_cost(cpu, NULL, c24, 0, &keep), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_target_cost(NULL, c24, NULL, 8, &keep), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_target_cost(cpu, c24, NULL, 8, NULL), TASD_ERR_NULL_POINTER);
    CHECK(keep == 42.0);
    tasd_config_destroy(c18);
    tasd_config_destroy(c24);
    tasd_target_destroy(cpu);
    tasd_target_destroy(stc);
}

static void test_target_measure(void)
{
    tasd_target *t = target("cpu");
    CHECK_OK(tasd_target_measure(NULL, t, 0.05));
    CHECK(tasd_target_is_measured(t));
    CHECK(strcmp(tasd_target_name(t), "cpu-measured") == 0);
    for (int i = 0; i < tasd_target_patterns(t); i++) {
        double c = 0;
        CHECK_OK(tasd_target_pattern(t, i, NULL, NULL, &c));
        CHECK(c > 0.0 && isfinite(c));
    }
    CHECK(tasd_target_act_cost(t) >= 0.0 && isfinite(tasd_target_act_cost(t)));
    /* the measured target's spec reads back: shared below every cost */
    char spec[512];
    CHECK_OK(tasd_target_format(t, spec, sizeof spec, NULL));
    tasd_target *back = target(spec);
    CHECK(back && tasd_target_patterns(back) == tasd_target_patterns(t));
    tasd_target_destroy(back);
    CHECK_STATUS(tasd_target_measure(NULL, NULL, 0.1), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_target_measure(NULL, t, 100.0), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_target_measure(NULL, t, NAN), TASD_ERR_INVALID_ARGUMENT);
    tasd_target_destroy(t);
    tasd_target *m = NULL;
    CHECK_OK(tasd_target_create(NULL, "cpu-measured", &m));
    CHECK(m && tasd_target_is_measured(m));
    tasd_target_destroy(m);
    /* timed at the tokens a model runs at: 16 (the wide kernels' small-n
     * rows) and 1 (the single-column kernels) */
    const char *at[] = {"cpu-measured@16", "cpu-measured@1"};
    for (int k = 0; k < 2; k++) {
        m = NULL;
        CHECK_OK(tasd_target_create(NULL, at[k], &m));
        CHECK(m && tasd_target_is_measured(m) && tasd_target_patterns(m) == 7);
        CHECK(m && strcmp(tasd_target_name(m), "cpu-measured") == 0);
        for (int i = 0; m && i < tasd_target_patterns(m); i++) {
            double c = 0;
            CHECK_OK(tasd_target_pattern(m, i, NULL, NULL, &c));
            CHECKF(c > 0.0 && isfinite(c), "%s pattern %d cost %g", at[k], i, c);
        }
        CHECK(m && tasd_target_act_cost(m) >= 0.0 && isfinite(tasd_target_act_cost(m)));
        tasd_target_destroy(m);
    }
    const char *bad[] = {"cpu-measured@",   "cpu-measured@0",  "cpu-measured@4097",
                         "cpu-measured@16x", "cpu-measured@-3", "cpu-measured@ 16",
                         "cpu-measured@+16", "cpu@16",          "cpu-measured16",
                         "cpu-measured@99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m = NULL;
        CHECK_STATUS(tasd_target_create(NULL, bad[i], &m), TASD_ERR_INVALID_ARGUMENT);
        CHECKF(m == NULL, "%s", bad[i]);
    }
    CHECK_STATUS(tasd_target_create(NULL, "cpu-measured@0", &m), TASD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(tasd_last_error_message(), "cpu-measured@TOKENS") != NULL);
}

/* ---- per-layer search ---- */

/* Relative output error of a layer config, measured through tasd_layer. */
static double measured_error(const tasd_layer_config *lc, const float *w, int64_t out,
                             int64_t in, const float *x, int64_t tokens)
{
    tasd_view wv = tasd_view_2d(w, TASD_F32, out, in, in);
    tasd_view xv = tasd_view_2d(x, TASD_F32, tokens, in, in);
    float *y = malloc((size_t)(tokens * out) * sizeof *y);
    tasd_view yv = tasd_view_2d(y, TASD_F32, tokens, out, out);
    tasd_layer *l = NULL;
    double e2 = 0, r2 = 0;
    if (tasd_layer_create(NULL, &wv, NULL, lc, &l) || tasd_layer_forward(NULL, l, &xv, &yv)) {
        e2 = INFINITY;
    } else {
        for (int64_t t = 0; t < tokens; t++)
            for (int64_t o = 0; o < out; o++) {
                double ref = 0;
                for (int64_t k = 0; k < in; k++)
                    ref += (double)x[t * in + k] * w[o * in + k];
                double d = y[t * out + o] - ref;
                e2 += d * d;
                r2 += ref * ref;
            }
    }
    tasd_layer_destroy(l);
    free(y);
    return sqrt(e2 / r2);
}

static int config_ok_for(const tasd_target *t, const tasd_layer_config *lc)
{
    const tasd_config *w = tasd_layer_config_weights(lc), *a = tasd_layer_config_activations(lc);
    if (w && a)
        return 0;
    if (w && !tasd_target_supports(t, w))
        return 0;
    if (a && !tasd_target_supports(t, a))
        return 0;
    return 1;
}

static void check_front(const tasd_layer_search *s)
{
    int nf = tasd_layer_search_front_size(s);
    CHECK(nf >= 1);
    tasd_search_point prev = {.size = sizeof prev}, p = {.size = sizeof p};
    for (int i = 0; i < nf; i++) {
        CHECK_OK(tasd_layer_search_front(s, i, &p));
        if (i > 0)
            CHECK(p.cost > prev.cost && p.error < prev.error);
        prev = p;
    }
    CHECK(prev.error == 0.0 && prev.cost <= 1.0);
    /* no candidate dominates a front point */
    for (int i = 0; i < tasd_layer_search_candidates(s); i++) {
        tasd_search_point c = {.size = sizeof c};
        CHECK_OK(tasd_layer_search_candidate(s, i, &c));
        for (int j = 0; j < nf; j++) {
            tasd_layer_search_front(s, j, &p);
            CHECK(!(c.cost < p.cost && c.error < p.error));
        }
    }
}

static void test_search_budgets(void)
{
    const char *targets[] = {"cpu", "vegeta", "sparse-tensor-core", "1:8,2:8=0.3,4:16,act=2"};
    const double budgets[] = {0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 10.0};
    int64_t out = 24, in = 40, tokens = 33;
    test_seed(11);
    float *w = make_weights(out, in, 0.3);
    float *x = make_acts(tokens, in, 1);
    tasd_view wv = tasd_view_2d(w, TASD_F32, out, in, in);
    tasd_view xv = tasd_view_2d(x, TASD_F32, tokens, in, in);
    for (int ti = 0; ti < 4; ti++) {
        tasd_target *t = target(targets[ti]);
        double prev_cost = INFINITY;
        for (int bi = 0; bi < 10; bi++) {
            tasd_layer_search *s = NULL;
            CHECK_OK(tasd_search_layer(NULL, t, "fc", &wv, &xv, budgets[bi], NULL, &s));
            if (!s)
                continue;
            tasd_search_point p = {.size = sizeof p};
            CHECK_OK(tasd_layer_search_choice(s, &p));
            CHECKF(p.error <= budgets[bi], "%s budget %g: error %g", targets[ti], budgets[bi], p.error);
            CHECKF(p.cost <= prev_cost, "%s budget %g: cost %g after %g", targets[ti],
                   budgets[bi], p.cost, prev_cost);
            prev_cost = p.cost;
            CHECK(fabs(tasd_layer_search_speedup(s) - 1.0 / p.cost) < 1e-12);
            double me = measured_error(p.config, w, out, in, x, tokens);
            CHECKF(fabs(me - p.error) <= 1e-4 + 1e-3 * p.error, "%s: reported %g measured %g",
                   targets[ti], p.error, me);
            for (int i = 0; i < tasd_layer_search_candidates(s); i++) {
                tasd_search_point c = {.size = sizeof c};
                CHECK_OK(tasd_layer_search_candidate(s, i, &c));
                CHECK(config_ok_for(t, c.config));
                CHECK(c.cost <= 1.0 && c.error >= 0.0);
                /* the search prices a candidate as tasd_target_cost does
                 * (a series' shared pass charged once) */
                double want = -1.0;
                CHECK_OK(tasd_target_cost(t, tasd_layer_config_weights(c.config),
                                          tasd_layer_config_activations(c.config), out, &want));
                CHECKF(fabs(want - c.cost) < 1e-9, "%s candidate %d: cost %g, target says %g",
                       targets[ti], i, c.cost, want);
                CHECK(strcmp(tasd_layer_config_name(c.config), "fc") == 0);
            }
            check_front(s);
            if (bi == 0) {
                CHECK(p.error == 0.0);
                /* every candidate's reported error is what a layer built
                 * from it actually does on the calibration data */
                for (int i = 0; i < tasd_layer_search_candidates(s); i++) {
                    tasd_search_point c = {.size = sizeof c};
                    CHECK_OK(tasd_layer_search_candidate(s, i, &c));
                    double mc = measured_error(c.config, w, out, in, x, tokens);
                    CHECKF(fabs(mc - c.error) <= 1e-4 + 1e-3 * c.error,
                           "%s candidate %d: reported %g measured %g", targets[ti], i,
                           c.error, mc);
                }
            }
            tasd_layer_search_destroy(s);
        }
        tasd_target_destroy(t);
    }
    free(w);
    free(x);
}

/* Strided and bf16 views search the same as their contiguous f32 values. */
static void test_search_views(void)
{
    int64_t out = 12, in = 40, tokens = 9;
    test_seed(21);
    float *w = make_weights(out, in, 0.4), *x = make_acts(tokens, in, 1);
    /* W stored transposed ([in][out]), X with padded rows */
    float *wt = malloc((size_t)(out * in) * sizeof *wt);
    uint16_t *wb = malloc((size_t)(out * in) * sizeof *wb);
    float *xp = malloc((size_t)(tokens * (in + 5)) * sizeof *xp);
    for (int64_t o = 0; o < out; o++)
        for (int64_t k = 0; k < in; k++) {
            uint32_t u;
            float v = w[o * in + k];
            memcpy(&u, &v, 4);
            u &= 0xffff0000u; /* exactly representable in bf16 */
            memcpy(&v, &u, 4);
            w[o * in + k] = v;
            wt[k * out + o] = v;
            wb[o * in + k] = (uint16_t)(u >> 16);
        }
    for (int64_t t = 0; t < tokens; t++)
        for (int64_t k = 0; k < in; k++)
            xp[t * (in + 5) + k] = x[t * in + k];
    tasd_view wv = tasd_view_2d(w, TASD_F32, out, in, in);
    tasd_view wtv = tasd_view_2d_strided(wt, TASD_F32, out, in, 1, out);
    tasd_view wbv = tasd_view_2d(wb, TASD_BF16, out, in, in);
    tasd_view xv = tasd_view_2d(x, TASD_F32, tokens, in, in);
    tasd_view xpv = tasd_view_2d(xp, TASD_F32, tokens, in, in + 5);
    tasd_target *t = target("vegeta");
    tasd_layer_search *s0 = NULL, *s1 = NULL, *s2 = NULL;
    CHECK_OK(tasd_search_layer(NULL, t, "v", &wv, &xv, 0.2, NULL, &s0));
    CHECK_OK(tasd_search_layer(NULL, t, "v", &wtv, &xpv, 0.2, NULL, &s1));
    CHECK_OK(tasd_search_layer(NULL, t, "v", &wbv, &xpv, 0.2, NULL, &s2));
    CHECK(tasd_layer_search_candidates(s0) == tasd_layer_search_candidates(s1));
    CHECK(tasd_layer_search_candidates(s0) == tasd_layer_search_candidates(s2));
    for (int i = 0; i < tasd_layer_search_candidates(s0); i++) {
        tasd_search_point a = {.size = sizeof a};
        tasd_search_point b = {.size = sizeof b};
        tasd_search_point c = {.size = sizeof c};
        CHECK_OK(tasd_layer_search_candidate(s0, i, &a));
        CHECK_OK(tasd_layer_search_candidate(s1, i, &b));
        CHECK_OK(tasd_layer_search_candidate(s2, i, &c));
        CHECK(a.cost == b.cost && a.error == b.error);
        CHECK(a.cost == c.cost && a.error == c.error);
    }
    tasd_layer_search_destroy(s0);
    tasd_layer_search_destroy(s1);
    tasd_layer_search_destroy(s2);
    tasd_target_destroy(t);
    free(w);
    free(wt);
    free(wb);
    free(x);
    free(xp);
}

static void test_search_weights_only(void)
{
    int64_t out = 16, in = 64;
    test_seed(5);
    float *w = make_weights(out, in, 0.0);
    tasd_view wv = tasd_view_2d(w, TASD_F32, out, in, in);
    tasd_target *t = target(CPU_LIKE);
    tasd_layer_search *s = NULL;
    CHECK_OK(tasd_search_layer(NULL, t, "w", &wv, NULL, 0.5, NULL, &s));
    for (int i = 0; s && i < tasd_layer_search_candidates(s); i++) {
        tasd_search_point c = {.size = sizeof c};
        tasd_layer_search_candidate(s, i, &c);
        CHECK(tasd_layer_config_activations(c.config) == NULL);
        const tasd_config *cfg = tasd_layer_config_weights(c.config);
        if (!cfg)
            continue;
        /* the error is the weight error of that series */
        tasd_series *ser = NULL;
        tasd_stats st = {.size = sizeof st};
        CHECK_OK(tasd_decompose(NULL, &wv, cfg, TASD_GREEDY, &ser));
        CHECK_OK(tasd_series_stats(ser, &st));
        CHECK(fabs(st.rel_error - c.error) < 1e-9);
        tasd_series_destroy(ser);
    }
    tasd_search_point p = {.size = sizeof p};
    CHECK_OK(tasd_layer_search_choice(s, &p));
    CHECK(p.error <= 0.5 && p.cost < 1.0);
    CHECK(tasd_layer_search_flops(s) == (double)(out * in));
    tasd_layer_search_destroy(s);
    tasd_target_destroy(t);
    free(w);
}

/* A 75%-unstructured-sparse layer gets a series cheaper than dense at 5%. */
static void test_search_sparse_layer(void)
{
    int64_t out = 64, in = 128, tokens = 48;
    test_seed(75);
    float *w = make_weights(out, in, 0.75);
    float *x = make_acts(tokens, in, 0);
    tasd_view wv = tasd_view_2d(w, TASD_F32, out, in, in);
    tasd_view xv = tasd_view_2d(x, TASD_F32, tokens, in, in);
    const char *targets[] = {CPU_LIKE, "vegeta"};
    for (int ti = 0; ti < 2; ti++)
        for (int data = 0; data < 2; data++) {
            tasd_target *t = target(targets[ti]);
            tasd_layer_search *s = NULL;
            CHECK_OK(tasd_search_layer(NULL, t, "sparse", &wv, data ? &xv : NULL, 0.05, NULL, &s));
            tasd_search_point p = {.size = sizeof p};
            CHECK_OK(tasd_layer_search_choice(s, &p));
            CHECKF(p.cost < 1.0 && p.error <= 0.05, "%s data %d: cost %g error %g",
                   targets[ti], data, p.cost, p.error);
            CHECK(tasd_layer_config_weights(p.config) != NULL);
            CHECK(tasd_layer_search_speedup(s) > 1.0);
            tasd_layer_search_destroy(s);
            tasd_target_destroy(t);
        }
    free(w);
    free(x);
}

/* ReLU activations (about half zeros) make TASD-A the better side. */
static void test_search_relu_prefers_activations(void)
{
    int64_t out = 64, in = 128, tokens = 64;
    test_seed(3);
    float *w = make_weights(out, in, 0.0);
    float *x = make_acts(tokens, in, 1);
    int64_t zeros = 0;
    for (int64_t i = 0; i < tokens * in; i++)
        zeros += x[i] == 0.0f;
    CHECK(zeros > tokens * in * 2 / 5 && zeros < tokens * in * 3 / 5);
    tasd_view wv = tasd_view_2d(w, TASD_F32, out, in, in);
    tasd_view xv = tasd_view_2d(x, TASD_F32, tokens, in, in);
    struct {
        const char *target;
        double budget;
    } cases[] = {{"vegeta", 0.1}, {"sparse-tensor-core", 0.25}, {"1:4,2:4,1:8,2:8", 0.1}};
    for (int i = 0; i < 3; i++) {
        tasd_target *t = target(cases[i].target);
        tasd_layer_search *s = NULL;
        CHECK_OK(tasd_search_layer(NULL, t, "relu_in", &wv, &xv, cases[i].budget, NULL, &s));
        tasd_search_point p = {.size = sizeof p};
        CHECK_OK(tasd_layer_search_choice(s, &p));
        CHECKF(tasd_layer_config_activations(p.config) != NULL && p.cost < 1.0,
               "%s: chose cost %g error %g", cases[i].target, p.cost, p.error);
        /* and with the weight side only it would cost more */
        tasd_search_options opt;
        tasd_search_options_init(&opt);
        opt.sides = TASD_SEARCH_WEIGHTS;
        tasd_layer_search *sw = NULL;
        CHECK_OK(tasd_search_layer(NULL, t, "relu_in", &wv, &xv, cases[i].budget, &opt, &sw));
        tasd_search_point pw = {.size = sizeof pw};
        CHECK_OK(tasd_layer_search_choice(sw, &pw));
        CHECK(pw.cost > p.cost);
        tasd_layer_search_destroy(sw);
        tasd_layer_search_destroy(s);
        tasd_target_destroy(t);
    }
    free(w);
    free(x);
}

static void test_search_options(void)
{
    int64_t out = 16, in = 32, tokens = 20;
    test_seed(8);
    float *w = make_weights(out, in, 0.5);
    float *x = make_acts(tokens, in, 1);
    tasd_view wv = tasd_view_2d(w, TASD_F32, out, in, in);
    tasd_view xv = tasd_view_2d(x, TASD_F32, tokens, in, in);
    tasd_target *t = target(CPU_LIKE);
    tasd_search_options opt;
    tasd_search_options_init(&opt);
    CHECK(opt.max_terms == 2 && opt.sides == 3 && opt.method == TASD_GREEDY && opt.max_tokens == 256);
    /* activations only without data: only the dense point */
    opt.sides = TASD_SEARCH_ACTIVATIONS;
    tasd_layer_search *s = NULL;
    CHECK_OK(tasd_search_layer(NULL, t, "a", &wv, NULL, 0.1, &opt, &s));
    CHECK(tasd_layer_search_candidates(s) == 1);
    tasd_layer_search_destroy(s);
    /* one term, optimal method, few tokens */
    tasd_search_options_init(&opt);
    opt.max_terms = 1;
    opt.method = TASD_OPTIMAL;
    opt.max_tokens = 5;
    CHECK_OK(tasd_search_layer(NULL, t, "a", &wv, &xv, 0.1, &opt, &s));
    for (int i = 0; i < tasd_layer_search_candidates(s); i++) {
        tasd_search_point c = {.size = sizeof c};
        tasd_layer_search_candidate(s, i, &c);
        const tasd_config *cw = tasd_layer_config_weights(c.config);
        const tasd_config *ca = tasd_layer_config_activations(c.config);
        CHECK(!cw || tasd_config_terms(cw) == 1);
        CHECK(!ca || tasd_config_terms(ca) == 1);
        CHECK(tasd_layer_config_method(c.config) == TASD_OPTIMAL);
    }
    CHECK(tasd_layer_search_flops(s) == (double)(out * in * tokens));
    CHECK_OK(tasd_layer_search_set_flops(s, 123.0));
    CHECK(tasd_layer_search_flops(s) == 123.0);
    CHECK_STATUS(tasd_layer_search_set_flops(s, 0.0), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_layer_search_set_flops(s, NAN), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_layer_search_set_flops(NULL, 1.0), TASD_ERR_NULL_POINTER);
    tasd_layer_search_destroy(s);
    /* three terms are more candidates than two */
    int n2, n3;
    tasd_search_options_init(&opt);
    CHECK_OK(tasd_search_layer(NULL, t, "a", &wv, &xv, 0.1, &opt, &s));
    n2 = tasd_layer_search_candidates(s);
    tasd_layer_search_destroy(s);
    opt.max_terms = 3;
    CHECK_OK(tasd_search_layer(NULL, t, "a", &wv, &xv, 0.1, &opt, &s));
    n3 = tasd_layer_search_candidates(s);
    CHECK(n3 > n2);
    tasd_layer_search_destroy(s);
    /* bad options */
    s = NULL;
    tasd_search_options bad;
    tasd_search_options_init(&bad);
    bad.max_terms = 9;
    CHECK_STATUS(tasd_search_layer(NULL, t, "a", &wv, &xv, 0.1, &bad, &s), TASD_ERR_INVALID_ARGUMENT);
    tasd_search_options_init(&bad);
    bad.sides = 4;
    CHECK_STATUS(tasd_search_layer(NULL, t, "a", &wv, &xv, 0.1, &bad, &s), TASD_ERR_INVALID_ARGUMENT);
    tasd_search_options_init(&bad);
    bad.method = 3;
    CHECK_STATUS(tasd_search_layer(NULL, t, "a", &wv, &xv, 0.1, &bad, &s), TASD_ERR_INVALID_ARGUMENT);
    tasd_search_options_init(&bad);
    bad.max_tokens = -1;
    CHECK_STATUS(tasd_search_layer(NULL, t, "a", &wv, &xv, 0.1, &bad, &s), TASD_ERR_INVALID_ARGUMENT);
    tasd_search_options_init(&bad);
    bad.size = sizeof bad - 8; /* e.g. built against another header */
    CHECK_STATUS(tasd_search_layer(NULL, t, "a", &wv, &xv, 0.1, &bad, &s), TASD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(tasd_last_error_message(), "tasd_search_options.size") != NULL);
    CHECK(s == NULL);
    tasd_target_destroy(t);
    /* too many candidates: a refusal, not hours of work */
    tasd_target *cheap = target("1:16=0.01,2:16=0.01,3:16=0.01,1:32=0.01,2:32=0.01,3:32=0.01,4:32=0.01,5:32=0.01");
    tasd_search_options_init(&opt);
    opt.max_terms = 8;
    CHECK_STATUS(tasd_search_layer(NULL, cheap, "a", &wv, NULL, 0.1, &opt, &s), TASD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(tasd_last_error_message(), "max_terms") != NULL);
    tasd_target_destroy(cheap);
    free(w);
    free(x);
}

static void test_search_errors(void)
{
    float w[8 * 8], x[4 * 8];
    for (int i = 0; i < 64; i++)
        w[i] = test_rand_float();
    for (int i = 0; i < 32; i++)
        x[i] = test_rand_float();
    tasd_view wv = tasd_view_2d(w, TASD_F32, 8, 8, 8);
    tasd_view xv = tasd_view_2d(x, TASD_F32, 4, 8, 8);
    tasd_target *t = target("vegeta");
    tasd_layer_search *s = NULL;
    CHECK_STATUS(tasd_search_layer(NULL, NULL, "a", &wv, &xv, 0.1, NULL, &s), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_search_layer(NULL, t, NULL, &wv, &xv, 0.1, NULL, &s), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_search_layer(NULL, t, "a", NULL, &xv, 0.1, NULL, &s), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_search_layer(NULL, t, "a", &wv, &xv, 0.1, NULL, NULL), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_search_layer(NULL, t, "a b", &wv, &xv, 0.1, NULL, &s), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_search_layer(NULL, t, "a", &wv, &xv, -0.1, NULL, &s), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_search_layer(NULL, t, "a", &wv, &xv, NAN, NULL, &s), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_search_layer(NULL, t, "a", &wv, &xv, INFINITY, NULL, &s), TASD_ERR_INVALID_ARGUMENT);
    tasd_view bad = tasd_view_2d(x, TASD_F32, 4, 7, 8);
    CHECK_STATUS(tasd_search_layer(NULL, t, "a", &wv, &bad, 0.1, NULL, &s), TASD_ERR_SHAPE);
    bad = tasd_view_2d(x, TASD_F32, 0, 8, 8);
    CHECK_STATUS(tasd_search_layer(NULL, t, "a", &wv, &bad, 0.1, NULL, &s), TASD_ERR_SHAPE);
    bad = xv;
    bad.dtype = TASD_F16;
    CHECK_STATUS(tasd_search_layer(NULL, t, "a", &wv, &bad, 0.1, NULL, &s), TASD_ERR_SHAPE);
    bad = tasd_view_2d(w, TASD_F32, 0, 8, 8);
    CHECK_STATUS(tasd_search_layer(NULL, t, "a", &bad, NULL, 0.1, NULL, &s), TASD_ERR_SHAPE);
    x[9] = NAN;
    CHECK_STATUS(tasd_search_layer(NULL, t, "a", &wv, &xv, 0.1, NULL, &s), TASD_ERR_NONFINITE);
    x[9] = 0.0f;
    w[20] = INFINITY;
    CHECK_STATUS(tasd_search_layer(NULL, t, "a", &wv, NULL, 0.1, NULL, &s), TASD_ERR_NONFINITE);
    w[20] = 0.0f;
    CHECK(s == NULL);
    CHECK_OK(tasd_search_layer(NULL, t, "a", &wv, &xv, 0.1, NULL, &s));
    tasd_search_point p = {.size = sizeof p};
    CHECK_STATUS(tasd_layer_search_front(s, tasd_layer_search_front_size(s), &p), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_layer_search_front(s, -1, &p), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_layer_search_front(NULL, 0, &p), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_layer_search_front(s, 0, NULL), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_layer_search_candidate(s, tasd_layer_search_candidates(s), &p), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_layer_search_candidate(NULL, 0, &p), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_layer_search_choice(NULL, &p), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_layer_search_choice(s, NULL), TASD_ERR_NULL_POINTER);
    CHECK(tasd_layer_search_front_size(NULL) == 0);
    CHECK(tasd_layer_search_candidates(NULL) == 0);
    CHECK(tasd_layer_search_speedup(NULL) == 0.0);
    tasd_layer_search_destroy(s);
    tasd_layer_search_destroy(NULL);
    tasd_target_destroy(t);
    tasd_search_options_init(NULL);
}

/* ---- per-model ---- */

#define NL 4

typedef struct model_fixture {
    tasd_layer_search *s[NL];
    float *w[NL], *x[NL];
} model_fixture;

static void fixture_make(model_fixture *f, const char *tname, int same_shape)
{
    static const int64_t dims[NL][3] = {{32, 64, 40}, {64, 32, 40}, {16, 48, 40}, {48, 48, 40}};
    tasd_target *t = target(tname);
    test_seed(99);
    for (int l = 0; l < NL; l++) {
        int64_t out = same_shape ? 32 : dims[l][0], in = same_shape ? 48 : dims[l][1],
                tokens = dims[l][2];
        f->w[l] = make_weights(out, in, l == 2 ? 0.75 : 0.2 * l);
        f->x[l] = make_acts(tokens, in, l % 2);
        tasd_view wv = tasd_view_2d(f->w[l], TASD_F32, out, in, in);
        tasd_view xv = tasd_view_2d(f->x[l], TASD_F32, tokens, in, in);
        char name[24];
        snprintf(name, sizeof name, "layer%d", l);
        f->s[l] = NULL;
        CHECK_OK(tasd_search_layer(NULL, t, name, &wv, &xv, 0.05, NULL, &f->s[l]));
    }
    tasd_target_destroy(t);
}

static void fixture_free(model_fixture *f)
{
    for (int l = 0; l < NL; l++) {
        tasd_layer_search_destroy(f->s[l]);
        free(f->w[l]);
        free(f->x[l]);
    }
}

static void test_model_search(void)
{
    model_fixture f;
    fixture_make(&f, "cpu", 0);
    const tasd_layer_search *const *layers = (const tasd_layer_search *const *)f.s;
    double total = 0;
    for (int l = 0; l < NL; l++)
        total += tasd_layer_search_flops(f.s[l]);
    const double caps[] = {0.0, 0.1, 0.3, 1e9};
    for (int ci = 0; ci < 4; ci++) {
        double prev = INFINITY;
        for (double b = 0.0; b <= 0.5; b += 0.01) {
            int choice[NL];
            tasd_model_search_result r = {.size = sizeof r};
            CHECK_OK(tasd_search_model(layers, NL, caps[ci], b, choice, &r));
            CHECKF(r.error <= b * (1 + 1e-9), "cap %g budget %g: error %g", caps[ci], b, r.error);
            CHECK(r.max_error <= caps[ci]);
            CHECKF(r.cost <= prev + 1e-12, "cap %g budget %g: cost %g after %g", caps[ci], b, r.cost, prev);
            prev = r.cost;
            /* the summary matches the choice */
            double cost = 0, err = 0;
            for (int l = 0; l < NL; l++) {
                tasd_search_point p = {.size = sizeof p};
                CHECK_OK(tasd_layer_search_front(f.s[l], choice[l], &p));
                double wl = tasd_layer_search_flops(f.s[l]) / total;
                cost += wl * p.cost;
                err += wl * p.error;
                CHECK(p.error <= caps[ci]);
            }
            CHECK(fabs(cost - r.cost) < 1e-9 && fabs(err - r.error) < 1e-9);
            CHECK(fabs(r.speedup - 1.0 / r.cost) < 1e-9);
            if (caps[ci] == 0.0)
                CHECK(r.error == 0.0);
        }
    }
    /* unlimited: every layer at its cheapest point */
    int choice[NL];
    tasd_model_search_result r = {.cost = -1.0}; /* size not set: refused */
    CHECK_STATUS(tasd_search_model(layers, NL, 1e9, 1e9, choice, &r), TASD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(tasd_last_error_message(), "tasd_model_search_result.size") && r.cost == -1.0);
    tasd_search_point unsized = {.cost = -1.0};
    CHECK_STATUS(tasd_layer_search_front(layers[0], 0, &unsized), TASD_ERR_INVALID_ARGUMENT);
    CHECK(unsized.cost == -1.0);
    r.size = sizeof r;
    CHECK_OK(tasd_search_model(layers, NL, 1e9, 1e9, choice, &r));
    for (int l = 0; l < NL; l++)
        CHECK(choice[l] == 0);
    CHECK(r.cost < 1.0);
    /* the model config of a choice */
    tasd_model_config *m = NULL;
    CHECK_OK(tasd_search_model_config(NULL, layers, NL, choice, &m));
    CHECK(tasd_model_config_count(m) == NL);
    for (int l = 0; l < NL; l++) {
        tasd_search_point p = {.size = sizeof p};
        tasd_layer_search_front(f.s[l], choice[l], &p);
        char a[256], b[256];
        tasd_layer_config_format(p.config, a, sizeof a, NULL);
        tasd_layer_config_format(tasd_model_config_layer(m, l), b, sizeof b, NULL);
        CHECK(strcmp(a, b) == 0);
    }
    tasd_model_config_destroy(m);
    /* errors */
    CHECK_STATUS(tasd_search_model(NULL, NL, 0.1, 0.1, choice, &r), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_search_model(layers, NL, 0.1, 0.1, NULL, &r), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_search_model(layers, 0, 0.1, 0.1, choice, &r), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_search_model(layers, NL, -1, 0.1, choice, &r), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_search_model(layers, NL, 0.1, NAN, choice, &r), TASD_ERR_INVALID_ARGUMENT);
    const tasd_layer_search *holes[2] = {f.s[0], NULL};
    CHECK_STATUS(tasd_search_model(holes, 2, 0.1, 0.1, choice, &r), TASD_ERR_NULL_POINTER);
    int badc[NL] = {0, 0, 0, 999};
    CHECK_STATUS(tasd_search_model_config(NULL, layers, NL, badc, &m), TASD_ERR_INVALID_ARGUMENT);
    badc[3] = -1;
    CHECK_STATUS(tasd_search_model_config(NULL, layers, NL, badc, &m), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_search_model_config(NULL, layers, NL, choice, NULL), TASD_ERR_NULL_POINTER);
    /* duplicate layer names cannot form a model config */
    const tasd_layer_search *dup[2] = {f.s[0], f.s[0]};
    CHECK_STATUS(tasd_search_model_config(NULL, dup, 2, choice, &m), TASD_ERR_INVALID_ARGUMENT);
    fixture_free(&f);
}

/* The callback's score: 1 - mean of the layers' proxy errors, looked up by
 * matching each assigned config against the fronts. */
typedef struct score_state {
    model_fixture *f;
    int calls;
    int fail_with;
} score_state;

static tasd_status score_cb(void *user, const tasd_model_config *m, double *score)
{
    score_state *st = user;
    st->calls++;
    if (st->fail_with)
        return (tasd_status)st->fail_with;
    if (tasd_model_config_count(m) != NL)
        return TASD_ERR_INTERNAL;
    double sum = 0;
    for (int l = 0; l < NL; l++) {
        char a[256], b[256];
        tasd_layer_config_format(tasd_model_config_layer(m, l), a, sizeof a, NULL);
        int found = 0;
        for (int i = 0; i < tasd_layer_search_front_size(st->f->s[l]); i++) {
            tasd_search_point p = {.size = sizeof p};
            tasd_layer_search_front(st->f->s[l], i, &p);
            tasd_layer_config_format(p.config, b, sizeof b, NULL);
            if (strcmp(a, b) == 0) {
                sum += p.error;
                found = 1;
                break;
            }
        }
        if (!found)
            return TASD_ERR_INTERNAL;
    }
    *score = 1.0 - sum / NL;
    return TASD_OK;
}

static void test_model_scored(void)
{
    model_fixture f;
    fixture_make(&f, "vegeta", 1); /* equal FLOPs: score == 1 - model error */
    const tasd_layer_search *const *layers = (const tasd_layer_search *const *)f.s;
    const double thresholds[] = {1.0, 0.97, 0.9, 0.8, 0.5};
    for (int i = 0; i < 5; i++) {
        score_state st = {&f, 0, 0};
        int choice[NL], ref[NL];
        tasd_model_search_result r = {.size = sizeof r};
        tasd_model_search_result rr = {.size = sizeof rr};
        CHECK_OK(tasd_search_model_scored(NULL, layers, NL, 1e9, score_cb, &st,
                                          thresholds[i], 64, choice, &r));
        CHECK(st.calls == r.calls && r.calls <= 64 && r.calls >= 1);
        CHECK(r.found);
        CHECK(r.score >= thresholds[i]);
        /* the score falls monotonically along the path here, so the
         * answer is the budget search's for budget 1 - threshold */
        CHECK_OK(tasd_search_model(layers, NL, 1e9, 1.0 - thresholds[i] + 1e-12, ref, &rr));
        CHECKF(fabs(rr.cost - r.cost) < 1e-12, "threshold %g: scored cost %g, budget cost %g",
               thresholds[i], r.cost, rr.cost);
    }
    /* a tight call limit is respected, and the answer still verified */
    for (int limit = 1; limit <= 4; limit++) {
        score_state st = {&f, 0, 0};
        int choice[NL];
        tasd_model_search_result r = {.size = sizeof r};
        CHECK_OK(tasd_search_model_scored(NULL, layers, NL, 1e9, score_cb, &st, 0.9, limit,
                                          choice, &r));
        CHECK(st.calls <= limit && r.calls == st.calls);
        CHECK(!r.found || r.score >= 0.9);
    }
    /* an impossible threshold: the start (error 0), found = 0 */
    score_state st = {&f, 0, 0};
    int choice[NL];
    tasd_model_search_result r = {.size = sizeof r};
    CHECK_OK(tasd_search_model_scored(NULL, layers, NL, 1e9, score_cb, &st, 2.0, 10, choice, &r));
    CHECK(!r.found && r.error == 0.0 && st.calls <= 10);
    for (int l = 0; l < NL; l++)
        CHECK(choice[l] == tasd_layer_search_front_size(f.s[l]) - 1);
    /* the callback's failure is the search's */
    score_state failing = {&f, 0, TASD_ERR_IO};
    CHECK_STATUS(tasd_search_model_scored(NULL, layers, NL, 1e9, score_cb, &failing, 0.9, 10,
                                          choice, &r), TASD_ERR_IO);
    CHECK(failing.calls == 1);
    CHECK_STATUS(tasd_search_model_scored(NULL, layers, NL, 1e9, NULL, &st, 0.9, 10, choice, &r),
                 TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_search_model_scored(NULL, layers, NL, 1e9, score_cb, &st, 0.9, 0, choice, &r),
                 TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_search_model_scored(NULL, layers, NL, 1e9, score_cb, &st, NAN, 3, choice, &r),
                 TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_search_model_scored(NULL, layers, NL, 1e9, score_cb, &st, 0.9, 3, NULL, &r),
                 TASD_ERR_NULL_POINTER);
    fixture_free(&f);
}

/* A search under a failing allocator fails cleanly and leaks nothing. */
static void test_search_oom(void)
{
    int64_t out = 8, in = 16, tokens = 4;
    test_seed(1);
    float *w = make_weights(out, in, 0.0), *x = make_acts(tokens, in, 1);
    tasd_view wv = tasd_view_2d(w, TASD_F32, out, in, in);
    tasd_view xv = tasd_view_2d(x, TASD_F32, tokens, in, in);
    tasd_target *t = target("vegeta");
    bool succeeded = false;
    for (long fail = 1; fail < 400 && !succeeded; fail++) {
        util_counting_allocator ca;
        util_counting_allocator_init(&ca);
        tasd_context *ctx = NULL;
        if (tasd_context_create(&ca.hooks, &ctx) != TASD_OK)
            break;
        ca.fail_after = ca.total_allocs + fail;
        tasd_layer_search *s = NULL;
        tasd_status st = tasd_search_layer(ctx, t, "l", &wv, &xv, 0.1, NULL, &s);
        /* a failure that happened is reported; success means none happened */
        CHECKF(st == TASD_OK ? ca.injected == 0 : st == TASD_ERR_OUT_OF_MEMORY && ca.injected == 1,
               "fail at %ld: status %d, %ld failures injected", fail, (int)st, (long)ca.injected);
        tasd_layer_search_destroy(s);
        tasd_context_destroy(ctx);
        CHECKF(ca.live_blocks == 0, "fail at %ld: %ld blocks leaked", fail, (long)ca.live_blocks);
        succeeded = st == TASD_OK;
    }
    CHECK(succeeded); /* the loop ran past the last allocation */
    tasd_target_destroy(t);
    free(w);
    free(x);
}

/* Accessors given NULL answer neutrally instead of crashing. */
static void test_null_accessors(void)
{
    CHECK(tasd_target_is_measured(NULL) == 0);
    CHECK(tasd_target_act_cost(NULL) == 0.0);
    CHECK(tasd_layer_config_activations(NULL) == NULL);
    CHECK(tasd_layer_config_target(NULL) == NULL);
    CHECK(tasd_layer_config_method(NULL) == TASD_GREEDY);
    CHECK(tasd_model_config_layer(NULL, 0) == NULL);
    CHECK(tasd_layer_search_flops(NULL) == 0.0);
    tasd_model_config *m = NULL;
    CHECK_OK(tasd_model_config_create(NULL, &m));
    CHECK(tasd_model_config_find(m, NULL) == NULL);
    tasd_model_config_destroy(m);
}

TEST_MAIN(RUN(test_null_accessors); RUN(test_targets_builtin); RUN(test_target_custom); RUN(test_target_cost);
          RUN(test_target_measure); RUN(test_search_budgets); RUN(test_search_views); RUN(test_search_weights_only);
          RUN(test_search_sparse_layer); RUN(test_search_relu_prefers_activations);
          RUN(test_search_options); RUN(test_search_errors); RUN(test_model_search);
          RUN(test_model_scored); RUN(test_search_oom);)
