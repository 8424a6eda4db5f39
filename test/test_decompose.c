/* Decomposition properties: N:M bounds, exactness, optimality, errors. */
#include "harness.h"
#include "support/util.h"
#include <tasd.h>

static const char *const configs[] = {"2:4", "1:4", "1:8", "2:8", "4:8", "1:16", "3:32",
                                      "2:4+1:8", "1:8+2:4", "3:8+1:4", "4:8+2:4",
                                      "1:2+1:4+1:8", "1:8+1:8+1:16", "1:32+1:2", "2:4+2:4"};
#define NCONFIGS (sizeof configs / sizeof *configs)

/* Every term keeps at most N nonzeros per group (distinct, ascending indices
 * inside the group and the row), and the reconstruction keeps each element
 * whole or drops it. Returns the number of violations. */
static int check_structure(const tasd_series *s, const float *w)
{
    int64_t rows, cols;
    tasd_series_shape(s, &rows, &cols);
    int bad = 0;
    for (int t = 0; t < tasd_config_terms(tasd_series_config(s)); t++) {
        int n, m;
        int64_t groups;
        tasd_series_term_layout(s, t, &n, &m, &groups);
        int64_t slots = rows * groups * n;
        float *v = malloc(sizeof *v * (size_t)(slots + 1));
        uint8_t *ix = malloc((size_t)slots + 1);
        if (tasd_series_export_term(s, t, v, ix, slots) != TASD_OK)
            bad++;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t g = 0; g < groups; g++) {
                int last = -1;
                for (int j = 0; j < n; j++) {
                    int64_t at = (r * groups + g) * n + j;
                    if (ix[at] >= m || g * m + ix[at] >= cols)
                        bad++;
                    if (v[at] != 0.0f) {
                        if (ix[at] <= last) /* distinct and ascending */
                            bad++;
                        last = ix[at];
                        /* a kept value is an element of W, unchanged */
                        if (v[at] != w[r * cols + g * m + ix[at]])
                            bad++;
                    }
                }
            }
        free(v);
        free(ix);
    }
    float *wa = util_reconstruct(s);
    for (int64_t i = 0; i < rows * cols; i++)
        if (wa[i] != 0.0f && wa[i] != w[i])
            bad++;
    free(wa);
    return bad;
}

static void test_structure_and_stats_on_random_data(void)
{
    const int64_t shapes[][2] = {{1, 1}, {3, 7}, {5, 10}, {8, 64}, {17, 33}, {4, 100}, {2, 31}};
    for (unsigned sh = 0; sh < sizeof shapes / sizeof *shapes; sh++) {
        int64_t rows = shapes[sh][0], cols = shapes[sh][1];
        float *w = malloc(sizeof *w * (size_t)(rows * cols));
        util_fill_random(w, rows * cols, 17 + sh);
        for (unsigned c = 0; c < NCONFIGS; c++)
            for (int method = 0; method < 2; method++) {
                tasd_series *s = util_decompose(NULL, w, rows, cols, configs[c],
                                                (tasd_method)method);
                CHECKF(check_structure(s, w) == 0, "%s %lldx%lld", configs[c],
                       (long long)rows, (long long)cols);
                tasd_stats st = {.size = sizeof st};
                CHECK_OK(tasd_series_stats(s, &st));
                float *wa = util_reconstruct(s);
                double ew = util_energy(w, rows * cols), ea = util_energy(wa, rows * cols);
                CHECKF(fabs(st.retained_energy - ea / ew) < 1e-9, "%s retained %g vs %g",
                       configs[c], st.retained_energy, ea / ew);
                CHECK(fabs(st.retained_energy + st.rel_error * st.rel_error - 1.0) < 1e-9);
                int64_t nnz = 0;
                for (int64_t i = 0; i < rows * cols; i++)
                    nnz += wa[i] != 0.0f;
                CHECK(st.kept_nonzeros == nnz);
                CHECK(st.input_nonzeros == rows * cols); /* random data has no zeros */
                CHECK(fabs(st.density - (double)nnz / (double)(rows * cols)) < 1e-12);
                int64_t per_term = 0;
                for (int t = 0; t < TASD_MAX_TERMS; t++)
                    per_term += st.term_nonzeros[t];
                CHECK(per_term == st.kept_nonzeros);
                free(wa);
                tasd_series_destroy(s);
            }
        free(w);
    }
}

static void test_lossless_series(void)
{
    float w[6 * 24];
    util_fill_random(w, 6 * 24, 3);
    const struct {
        const char *cfg;
        tasd_method method;
    } cases[] = {{"2:4+2:4", TASD_GREEDY}, {"4:8+2:4", TASD_OPTIMAL}, {"4:8+4:8", TASD_GREEDY},
                 {"1:2+1:2", TASD_GREEDY}, {"8:8", TASD_GREEDY}};
    for (unsigned i = 0; i < sizeof cases / sizeof *cases; i++) {
        tasd_series *s = util_decompose(NULL, w, 6, 24, cases[i].cfg, cases[i].method);
        float *wa = util_reconstruct(s);
        CHECKF(memcmp(wa, w, sizeof w) == 0, "%s is not lossless", cases[i].cfg);
        tasd_stats st = {.size = sizeof st};
        tasd_series_stats(s, &st);
        CHECK(st.rel_error == 0.0 && st.retained_energy == 1.0);
        free(wa);
        tasd_series_destroy(s);
    }
    /* Greedy is not lossless on 4:8+2:4: coarse-first leaves elements behind. */
    tasd_series *g = util_decompose(NULL, w, 6, 24, "4:8+2:4", TASD_GREEDY);
    tasd_stats st = {.size = sizeof st};
    tasd_series_stats(g, &st);
    CHECK(st.rel_error > 0.0);
    /* A struct whose size was not set is refused and left untouched. */
    tasd_stats unsized = {.rel_error = -1.0};
    CHECK_STATUS(tasd_series_stats(g, &unsized), TASD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(tasd_last_error_message(), "tasd_stats.size is 0") != NULL);
    CHECK(unsized.rel_error == -1.0);
    tasd_series_destroy(g);
}

static void test_already_structured_is_exact(void)
{
    enum { R = 7, K = 40 };
    float w[R * K];
    util_fill_random(w, R * K, 5);
    for (int r = 0; r < R; r++) /* make it 2:4: zero two positions per group */
        for (int g = 0; g < K / 4; g++) {
            int a = (r + g) % 4, b = (r + 2 * g + 1) % 4;
            if (b == a)
                b = (a + 1) % 4;
            for (int j = 0; j < 4; j++)
                if (j != a && j != b)
                    w[r * K + g * 4 + j] = 0.0f;
        }
    tasd_series *s = util_decompose(NULL, w, R, K, "2:4", TASD_GREEDY);
    float *wa = util_reconstruct(s);
    CHECK(memcmp(wa, w, sizeof w) == 0);
    tasd_stats st = {.size = sizeof st};
    tasd_series_stats(s, &st);
    CHECK(st.kept_nonzeros == st.input_nonzeros && st.coverage == 1.0);
    free(wa);
    tasd_series_destroy(s);
}

/* ---- brute force: the best energy any valid series can keep in a window ---- */

static int bf_n[TASD_MAX_TERMS], bf_m[TASD_MAX_TERMS], bf_terms;

/* Can elements [i..len) of `set` be given to terms with room left? */
static int assignable(const int *set, int count, int i, int used[][32])
{
    if (i == count)
        return 1;
    for (int t = 0; t < bf_terms; t++) {
        int g = set[i] / bf_m[t];
        if (used[t][g] < bf_n[t]) {
            used[t][g]++;
            int ok = assignable(set, count, i + 1, used);
            used[t][g]--;
            if (ok)
                return 1;
        }
    }
    return 0;
}

static double brute_force_best(const float *x, int len)
{
    double best = 0;
    for (unsigned mask = 0; mask < (1u << len); mask++) {
        int set[16], count = 0;
        double e = 0;
        for (int i = 0; i < len; i++)
            if (mask >> i & 1) {
                set[count++] = i;
                e += (double)x[i] * x[i];
            }
        if (e <= best)
            continue;
        int used[TASD_MAX_TERMS][32] = {{0}};
        if (assignable(set, count, 0, used))
            best = e;
    }
    return best;
}

static void test_optimal_matches_brute_force(void)
{
    static const char *const cfgs[] = {"1:8+2:4", "3:8+1:4", "2:4+1:8", "1:2+1:4+1:8",
                                       "1:8+1:2", "2:8+1:4+1:2", "1:16+1:4", "1:4+1:4",
                                       "1:8+1:4+1:2"};
    for (unsigned c = 0; c < sizeof cfgs / sizeof *cfgs; c++) {
        tasd_config *cfg = util_config(cfgs[c]);
        bf_terms = tasd_config_terms(cfg);
        int L = 0;
        for (int t = 0; t < bf_terms; t++) {
            tasd_config_term(cfg, t, &bf_n[t], &bf_m[t]);
            if (bf_m[t] > L)
                L = bf_m[t];
        }
        tasd_config_destroy(cfg);
        for (int trial = 0; trial < 60; trial++) {
            float x[16];
            util_fill_random(x, L, 1000 + trial * 7 + c);
            if (trial % 3 == 0) /* small integers: plenty of ties */
                for (int i = 0; i < L; i++)
                    x[i] = (float)((int)(x[i] * 3.0f));
            double best = brute_force_best(x, L);
            tasd_series *opt = util_decompose(NULL, x, 1, L, cfgs[c], TASD_OPTIMAL);
            tasd_series *gr = util_decompose(NULL, x, 1, L, cfgs[c], TASD_GREEDY);
            float *wo = util_reconstruct(opt), *wg = util_reconstruct(gr);
            double eo = util_energy(wo, L), eg = util_energy(wg, L);
            CHECKF(fabs(eo - best) <= 1e-6 * (best + 1), "%s trial %d: optimal %g, brute force %g",
                   cfgs[c], trial, eo, best);
            CHECKF(eg <= eo + 1e-9, "%s: greedy %g beats optimal %g", cfgs[c], eg, eo);
            free(wo);
            free(wg);
            tasd_series_destroy(opt);
            tasd_series_destroy(gr);
        }
    }
}

static void test_optimal_strictly_better_than_greedy(void)
{
    const float w[8] = {1, 1, 1, 1, 9, 0, 0, 0}; /* DESIGN.md's example */
    tasd_series *g = util_decompose(NULL, w, 1, 8, "1:8+2:4", TASD_GREEDY);
    tasd_series *o = util_decompose(NULL, w, 1, 8, "1:8+2:4", TASD_OPTIMAL);
    tasd_stats sg = {.size = sizeof sg};
    tasd_stats so = {.size = sizeof so};
    tasd_series_stats(g, &sg);
    tasd_series_stats(o, &so);
    CHECKF(fabs(sg.retained_energy - 83.0 / 85.0) < 1e-12, "greedy %g", sg.retained_energy);
    CHECKF(fabs(so.retained_energy - 84.0 / 85.0) < 1e-12, "optimal %g", so.retained_energy);
    /* Terms stay in the user's order: term 0 is the 1:8 term. */
    int n, m;
    int64_t groups;
    CHECK_OK(tasd_series_term_layout(o, 0, &n, &m, &groups));
    CHECK(n == 1 && m == 8 && groups == 1);
    CHECK(tasd_series_method(o) == TASD_OPTIMAL && tasd_series_method(g) == TASD_GREEDY);
    tasd_series_destroy(g);
    tasd_series_destroy(o);
}

static void test_ties_go_to_lower_index(void)
{
    const float w[8] = {1, -1, 1, -1, 0, 0, 0, 0};
    tasd_series *s = util_decompose(NULL, w, 1, 8, "2:4", TASD_GREEDY);
    float v[4];
    uint8_t ix[4];
    CHECK_OK(tasd_series_export_term(s, 0, v, ix, 4));
    CHECK(ix[0] == 0 && ix[1] == 1 && v[0] == 1 && v[1] == -1);
    CHECK(ix[2] == 0 && ix[3] == 1 && v[2] == 0 && v[3] == 0);
    tasd_series_destroy(s);
}

static void test_short_last_group(void)
{
    /* K = 9 with M = 8: the last group has one element; 4:8 pads it. */
    const float w[9] = {1, 2, 3, 4, 5, 6, 7, 8, -9};
    tasd_series *s = util_decompose(NULL, w, 1, 9, "4:8", TASD_GREEDY);
    float v[8];
    uint8_t ix[8];
    int64_t groups;
    CHECK_OK(tasd_series_term_layout(s, 0, NULL, NULL, &groups));
    CHECK(groups == 2);
    CHECK_OK(tasd_series_export_term(s, 0, v, ix, 8));
    CHECK(v[0] == 5 && v[1] == 6 && v[2] == 7 && v[3] == 8);
    CHECK(v[4] == -9 && ix[4] == 0);
    for (int j = 5; j < 8; j++)
        CHECK(v[j] == 0 && ix[j] == 0);
    CHECK_STATUS(tasd_series_export_term(s, 0, v, ix, 7), TASD_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(tasd_series_export_term(s, 1, v, ix, 8), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_series_export_term(s, 0, NULL, ix, 8), TASD_ERR_NULL_POINTER);
    tasd_series_destroy(s);
}

static void test_strided_and_transposed_views(void)
{
    enum { R = 6, K = 20 };
    float w[R * K], wt[K * R], padded[R * 32];
    util_fill_random(w, R * K, 9);
    for (int r = 0; r < R; r++)
        for (int k = 0; k < K; k++) {
            wt[k * R + r] = w[r * K + k];
            padded[r * 32 + k] = w[r * K + k];
        }
    tasd_config *c = util_config("2:4+1:8");
    tasd_series *ref = util_decompose(NULL, w, R, K, "2:4+1:8", TASD_OPTIMAL);
    float *wref = util_reconstruct(ref);
    tasd_view views[2] = {tasd_view_transpose(tasd_view_2d(wt, TASD_F32, K, R, R)),
                          tasd_view_2d(padded, TASD_F32, R, K, 32)};
    for (int i = 0; i < 2; i++) {
        tasd_series *s;
        CHECK_OK(tasd_decompose(NULL, &views[i], c, TASD_OPTIMAL, &s));
        float *wa = util_reconstruct(s);
        CHECK(memcmp(wa, wref, sizeof w) == 0);
        free(wa);
        tasd_series_destroy(s);
    }
    free(wref);
    tasd_series_destroy(ref);
    tasd_config_destroy(c);
}

static void test_rank4_conv_weights(void)
{
    enum { O = 4, I = 3, KH = 3, KW = 3 };
    float w[O * I * KH * KW];
    util_fill_random(w, O * I * KH * KW, 11);
    tasd_view v;
    memset(&v, 0, sizeof v);
    v.data = w;
    v.dtype = TASD_F32;
    v.ndim = 4;
    v.shape[0] = O, v.shape[1] = I, v.shape[2] = KH, v.shape[3] = KW;
    v.strides[0] = I * KH * KW, v.strides[1] = KH * KW, v.strides[2] = KW, v.strides[3] = 1;
    tasd_config *c = util_config("2:4");
    tasd_series *s;
    CHECK_OK(tasd_decompose(NULL, &v, c, TASD_GREEDY, &s));
    int64_t rows, cols;
    tasd_series_shape(s, &rows, &cols);
    CHECK(rows == O && cols == I * KH * KW);
    tasd_series *flat = util_decompose(NULL, w, O, I * KH * KW, "2:4", TASD_GREEDY);
    float *a = util_reconstruct(s), *b = util_reconstruct(flat);
    CHECK(memcmp(a, b, sizeof w) == 0);
    free(a);
    free(b);
    tasd_series_destroy(s);
    /* A 1x1 kernel stored channels-last: [O, I*9, 1, 1] with the size-1
     * axes' strides anything (here I*9, as a channels-last layout gives)
     * is the plain [O, I*9] matrix, its columns 1 apart. */
    tasd_view v11 = v;
    v11.shape[1] = I * KH * KW, v11.shape[2] = 1, v11.shape[3] = 1;
    v11.strides[1] = 1, v11.strides[2] = I * KH * KW, v11.strides[3] = I * KH * KW;
    CHECK_OK(tasd_decompose(NULL, &v11, c, TASD_GREEDY, &s));
    tasd_series_shape(s, &rows, &cols);
    CHECK(rows == O && cols == I * KH * KW);
    a = util_reconstruct(s);
    b = util_reconstruct(flat);
    CHECK(memcmp(a, b, sizeof w) == 0);
    free(a);
    free(b);
    tasd_series_destroy(s);
    tasd_series_destroy(flat);
    /* Axes that do not collapse into one are refused; a size-1 axis between
     * them does not excuse them. */
    tasd_series *never = (tasd_series *)0x1;
    v11.shape[1] = I, v11.shape[2] = 1, v11.shape[3] = KH * KW;
    v11.strides[1] = KH * KW + 1, v11.strides[2] = 5, v11.strides[3] = 1;
    CHECK_STATUS(tasd_decompose(NULL, &v11, c, TASD_GREEDY, &never), TASD_ERR_SHAPE);
    CHECK(never == (tasd_series *)0x1);
    v.strides[1] = KH * KW + 1;
    CHECK_STATUS(tasd_decompose(NULL, &v, c, TASD_GREEDY, &never), TASD_ERR_SHAPE);
    CHECK(never == (tasd_series *)0x1);
    tasd_config_destroy(c);
}

static void test_half_precision_inputs(void)
{
    /* Values exactly representable in f16 and bf16 decompose as in f32. */
    enum { R = 3, K = 16 };
    float w[R * K];
    uint16_t h[R * K], b[R * K];
    for (int i = 0; i < R * K; i++) {
        int q = (i * 37) % 23 - 11;
        w[i] = (float)q * 0.25f;
        uint32_t u;
        memcpy(&u, &w[i], 4);
        b[i] = (uint16_t)(u >> 16); /* exact: few mantissa bits */
        /* f16 of q/4: sign, exponent, mantissa by hand via a small table walk */
        float a = fabsf(w[i]);
        uint16_t bits = 0;
        if (a != 0.0f) {
            int e = 0;
            while (a >= 2.0f) { a /= 2.0f; e++; }
            while (a < 1.0f) { a *= 2.0f; e--; }
            bits = (uint16_t)(((e + 15) << 10) | (uint16_t)((a - 1.0f) * 1024.0f));
        }
        h[i] = (uint16_t)(bits | (w[i] < 0 ? 0x8000u : 0u));
    }
    tasd_config *c = util_config("1:4+1:8");
    tasd_series *ref = util_decompose(NULL, w, R, K, "1:4+1:8", TASD_OPTIMAL);
    float *wref = util_reconstruct(ref);
    const void *data[2] = {h, b};
    const tasd_dtype dt[2] = {TASD_F16, TASD_BF16};
    for (int i = 0; i < 2; i++) {
        tasd_view v = tasd_view_2d(data[i], dt[i], R, K, K);
        tasd_series *s;
        CHECK_OK(tasd_decompose(NULL, &v, c, TASD_OPTIMAL, &s));
        float *wa = util_reconstruct(s);
        CHECKF(memcmp(wa, wref, sizeof w) == 0, "%s", tasd_dtype_name(dt[i]));
        free(wa);
        tasd_series_destroy(s);
    }
    free(wref);
    tasd_series_destroy(ref);
    tasd_config_destroy(c);
}

static void test_zero_and_empty_matrices(void)
{
    float z[12] = {0};
    tasd_series *s = util_decompose(NULL, z, 3, 4, "2:4", TASD_GREEDY);
    tasd_stats st = {.size = sizeof st};
    CHECK_OK(tasd_series_stats(s, &st));
    CHECK(st.retained_energy == 1.0 && st.rel_error == 0.0 && st.kept_nonzeros == 0);
    CHECK(st.coverage == 1.0 && st.input_nonzeros == 0);
    tasd_series_destroy(s);
    const int64_t empty[][2] = {{0, 8}, {4, 0}, {0, 0}};
    for (int i = 0; i < 3; i++) {
        s = util_decompose(NULL, z, empty[i][0], empty[i][1], "1:4+1:8", TASD_OPTIMAL);
        int64_t rows = -1, cols = -1;
        CHECK_OK(tasd_series_shape(s, &rows, &cols));
        CHECK(rows == empty[i][0] && cols == empty[i][1]);
        CHECK_OK(tasd_series_stats(s, &st));
        CHECK(st.slots == 0 && st.kept_nonzeros == 0);
        tasd_series_destroy(s);
    }
}

static void test_nonfinite_rejected(void)
{
    float w[4 * 8];
    util_fill_random(w, 32, 4);
    const float specials[3] = {NAN, INFINITY, -INFINITY};
    tasd_config *c = util_config("2:4");
    for (int i = 0; i < 3; i++) {
        float x[4 * 8];
        memcpy(x, w, sizeof x);
        x[2 * 8 + 5] = specials[i];
        tasd_view v = tasd_view_2d(x, TASD_F32, 4, 8, 8);
        tasd_series *s = (tasd_series *)0x1;
        CHECK_STATUS(tasd_decompose(NULL, &v, c, TASD_GREEDY, &s), TASD_ERR_NONFINITE);
        CHECK(s == (tasd_series *)0x1);
        CHECK(strstr(tasd_last_error_message(), "row 2") != NULL);
    }
    tasd_config_destroy(c);
}

static void test_bad_arguments(void)
{
    float w[16] = {1};
    tasd_config *c = util_config("2:4");
    tasd_view v = tasd_view_2d(w, TASD_F32, 4, 4, 4);
    tasd_series *s = (tasd_series *)0x1;
    CHECK_STATUS(tasd_decompose(NULL, NULL, c, TASD_GREEDY, &s), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_decompose(NULL, &v, NULL, TASD_GREEDY, &s), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_decompose(NULL, &v, c, TASD_GREEDY, NULL), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_decompose(NULL, &v, c, (tasd_method)5, &s), TASD_ERR_INVALID_ARGUMENT);
    tasd_view bad = v;
    bad.ndim = 1;
    CHECK_STATUS(tasd_decompose(NULL, &bad, c, TASD_GREEDY, &s), TASD_ERR_SHAPE);
    bad.ndim = 5;
    CHECK_STATUS(tasd_decompose(NULL, &bad, c, TASD_GREEDY, &s), TASD_ERR_SHAPE);
    bad = v;
    bad.dtype = 17;
    CHECK_STATUS(tasd_decompose(NULL, &bad, c, TASD_GREEDY, &s), TASD_ERR_DTYPE);
    bad = v;
    bad.shape[0] = -1;
    CHECK_STATUS(tasd_decompose(NULL, &bad, c, TASD_GREEDY, &s), TASD_ERR_SHAPE);
    bad = v;
    bad.shape[0] = (int64_t)1 << 40;
    bad.shape[1] = (int64_t)1 << 40;
    CHECK_STATUS(tasd_decompose(NULL, &bad, c, TASD_GREEDY, &s), TASD_ERR_OVERFLOW);
    bad = v;
    bad.data = NULL;
    CHECK_STATUS(tasd_decompose(NULL, &bad, c, TASD_GREEDY, &s), TASD_ERR_NULL_POINTER);
    /* An empty rank-3 view whose other axes are huge (UBSan: their stride
     * product overflowed in the collapsibility check). */
    tasd_view empty3 = v;
    empty3.ndim = 3;
    empty3.shape[0] = 4;
    empty3.shape[1] = 0;
    empty3.shape[2] = (int64_t)1 << 40;
    empty3.strides[0] = empty3.strides[1] = 0;
    empty3.strides[2] = (int64_t)1 << 40;
    tasd_series *e = NULL;
    CHECK_OK(tasd_decompose(NULL, &empty3, c, TASD_GREEDY, &e));
    int64_t er = -1, ec = -1;
    CHECK_OK(tasd_series_shape(e, &er, &ec));
    CHECK(er == 4 && ec == 0);
    tasd_series_destroy(e);
    CHECK(s == (tasd_series *)0x1);
    CHECK_STATUS(tasd_series_stats(NULL, NULL), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_series_shape(NULL, NULL, NULL), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_series_term_layout(NULL, 0, NULL, NULL, NULL), TASD_ERR_NULL_POINTER);
    CHECK(tasd_series_config(NULL) == NULL);
    tasd_series_destroy(NULL);
    tasd_config_destroy(c);
}

static void test_reconstruct_views_and_errors(void)
{
    enum { R = 5, K = 12 };
    float w[R * K];
    util_fill_random(w, R * K, 21);
    tasd_series *s = util_decompose(NULL, w, R, K, "2:4+1:8", TASD_GREEDY);
    float *ref = util_reconstruct(s);
    float t[K * R];
    tasd_view tv = tasd_view_transpose(tasd_view_2d(t, TASD_F32, K, R, R));
    CHECK_OK(tasd_series_reconstruct(s, &tv));
    for (int r = 0; r < R; r++)
        for (int k = 0; k < K; k++)
            CHECK(t[k * R + r] == ref[r * K + k]);
    float out[R * K];
    for (int i = 0; i < R * K; i++)
        out[i] = 42.0f;
    tasd_view wrong = tasd_view_2d(out, TASD_F32, R, K - 1, K);
    CHECK_STATUS(tasd_series_reconstruct(s, &wrong), TASD_ERR_SHAPE);
    tasd_view half = tasd_view_2d(out, TASD_F16, R, K, K);
    CHECK_STATUS(tasd_series_reconstruct(s, &half), TASD_ERR_DTYPE);
    tasd_view overlap = tasd_view_2d_strided(out, TASD_F32, R, K, 1, 1);
    CHECK_STATUS(tasd_series_reconstruct(s, &overlap), TASD_ERR_ALIAS);
    CHECK_STATUS(tasd_series_reconstruct(NULL, &tv), TASD_ERR_NULL_POINTER);
    for (int i = 0; i < R * K; i++)
        CHECK(out[i] == 42.0f);
    free(ref);
    tasd_series_destroy(s);
}

static void test_import_round_trip(void)
{
    enum { R = 4, K = 19 };
    float w[R * K];
    util_fill_random(w, R * K, 31);
    tasd_series *s = util_decompose(NULL, w, R, K, "1:8+2:4", TASD_OPTIMAL);
    const tasd_config *c = tasd_series_config(s);
    float *vals[2];
    uint8_t *idx[2];
    for (int t = 0; t < 2; t++) {
        int n;
        int64_t groups;
        tasd_series_term_layout(s, t, &n, NULL, &groups);
        vals[t] = malloc(sizeof(float) * (size_t)(R * groups * n));
        idx[t] = malloc((size_t)(R * groups * n));
        CHECK_OK(tasd_series_export_term(s, t, vals[t], idx[t], R * groups * n));
    }
    tasd_series *back = NULL;
    CHECK_OK(tasd_series_import(NULL, R, K, c, TASD_OPTIMAL, (const float *const *)vals,
                                (const uint8_t *const *)idx, &back));
    float *a = util_reconstruct(s), *b = util_reconstruct(back);
    CHECK(memcmp(a, b, sizeof w) == 0);
    /* An index that points past the row is refused before anything is built. */
    idx[0][R * 3 - 1] = 7; /* last group of row 0 of the 1:8 term covers k 16..18 */
    tasd_series *never = (tasd_series *)0x1;
    CHECK_STATUS(tasd_series_import(NULL, R, K, c, TASD_OPTIMAL, (const float *const *)vals,
                                    (const uint8_t *const *)idx, &never),
                 TASD_ERR_FORMAT);
    idx[0][R * 3 - 1] = 0;
    /* Two nonzero slots of one group at one position are no 2:4 term; with
     * one of them 0 (nothing kept there) they are. Row 0's 2:4 slots 0, 1. */
    uint8_t idx1 = idx[1][1];
    float val1 = vals[1][1];
    CHECK(vals[1][0] != 0.0f && val1 != 0.0f);
    idx[1][1] = idx[1][0];
    CHECK_STATUS(tasd_series_import(NULL, R, K, c, TASD_OPTIMAL, (const float *const *)vals,
                                    (const uint8_t *const *)idx, &never),
                 TASD_ERR_FORMAT);
    vals[1][1] = 0.0f;
    tasd_series *dup = NULL;
    CHECK_OK(tasd_series_import(NULL, R, K, c, TASD_OPTIMAL, (const float *const *)vals,
                                (const uint8_t *const *)idx, &dup));
    tasd_series_destroy(dup);
    idx[1][1] = idx1;
    vals[1][1] = val1;
    vals[1][0] = NAN;
    CHECK_STATUS(tasd_series_import(NULL, R, K, c, TASD_OPTIMAL, (const float *const *)vals,
                                    (const uint8_t *const *)idx, &never),
                 TASD_ERR_NONFINITE);
    CHECK(never == (tasd_series *)0x1);
    CHECK_STATUS(tasd_series_import(NULL, -1, K, c, TASD_OPTIMAL, (const float *const *)vals,
                                    (const uint8_t *const *)idx, &never),
                 TASD_ERR_SHAPE);
    for (int t = 0; t < 2; t++) {
        free(vals[t]);
        free(idx[t]);
    }
    free(a);
    free(b);
    tasd_series_destroy(back);
    tasd_series_destroy(s);
}

static void test_same_result_for_any_thread_count(void)
{
    enum { R = 200, K = 72 };
    float *w = malloc(sizeof(float) * R * K);
    util_fill_random(w, R * K, 77);
    tasd_series *ref = NULL;
    float *wref = NULL;
    tasd_stats sref = {.size = sizeof sref};
    for (int threads = 1; threads <= 4; threads++) {
        tasd_context *ctx;
        tasd_context_create(NULL, &ctx);
        tasd_context_set_threads(ctx, threads);
        tasd_series *s = util_decompose(ctx, w, R, K, "2:4+1:8", TASD_GREEDY);
        float *wa = util_reconstruct(s);
        tasd_stats st = {.size = sizeof st};
        tasd_series_stats(s, &st);
        if (!ref) {
            ref = s;
            wref = wa;
            sref = st;
        } else {
            CHECK(memcmp(wa, wref, sizeof(float) * R * K) == 0);
            CHECK(st.retained_energy == sref.retained_energy);
            free(wa);
            tasd_series_destroy(s);
        }
        tasd_context_destroy(ctx);
    }
    free(wref);
    tasd_series_destroy(ref);
    free(w);
}

/* tasd_series_bytes is exactly what the series holds through the hooks, and
 * the layout is compact: values once (fp32) plus packed indices. */
static void test_series_bytes(void)
{
    static const struct {
        const char *cfg;
        double max_per_weight;
    } cases[] = {{"2:4", 2.3}, {"2:4+1:8", 2.9}, {"1:8", 0.7}, {"1:4", 1.2}, {"3:8+1:16", 2.4}};
    enum { R = 200, K = 1000 };
    float *w = malloc(sizeof(float) * R * K);
    util_fill_random(w, R * K, 3);
    tasd_view v = tasd_view_2d(w, TASD_F32, R, K, K);
    CHECK(tasd_series_bytes(NULL) == 0);
    for (unsigned i = 0; i < sizeof cases / sizeof *cases; i++) {
        util_counting_allocator a;
        util_counting_allocator_init(&a);
        tasd_context *ctx;
        CHECK_OK(tasd_context_create(&a.hooks, &ctx));
        tasd_config *c;
        CHECK_OK(tasd_config_parse(NULL, cases[i].cfg, &c));
        long long before = a.live_bytes;
        tasd_series *s;
        CHECK_OK(tasd_decompose(ctx, &v, c, TASD_GREEDY, &s));
        size_t bytes = tasd_series_bytes(s);
        CHECKF((long long)bytes == a.live_bytes - before, "%s: reports %zu bytes, holds %lld",
               cases[i].cfg, bytes, a.live_bytes - before);
        double per = (double)bytes / (R * K);
        CHECKF(per <= cases[i].max_per_weight, "%s: %.3f bytes per weight", cases[i].cfg, per);
        tasd_series_destroy(s);
        CHECK(a.live_bytes == before);
        tasd_config_destroy(c);
        tasd_context_destroy(ctx);
    }
    free(w);
}

static void test_allocator_hooks_see_everything(void)
{
    util_counting_allocator a;
    util_counting_allocator_init(&a);
    tasd_context *ctx;
    CHECK_OK(tasd_context_create(&a.hooks, &ctx));
    float w[64 * 48];
    util_fill_random(w, 64 * 48, 8);
    tasd_config *c;
    CHECK_OK(tasd_config_parse(ctx, "2:4+1:8", &c));
    tasd_view v = tasd_view_2d(w, TASD_F32, 64, 48, 48);
    tasd_series *s;
    CHECK_OK(tasd_decompose(ctx, &v, c, TASD_OPTIMAL, &s));
    CHECK(a.live_blocks > 2 && a.misaligned == 0);
    tasd_config_destroy(c);
    tasd_series_destroy(s);
    tasd_context_destroy(ctx);
    CHECK(a.live_blocks == 0 && a.live_bytes == 0);

    /* Every allocation failure is reported cleanly and leaks nothing. */
    long total = a.total_allocs;
    for (long fail = 2; fail <= total; fail++) {
        util_counting_allocator f;
        util_counting_allocator_init(&f);
        f.fail_after = fail;
        tasd_context *fctx;
        if (tasd_context_create(&f.hooks, &fctx) != TASD_OK)
            continue;
        tasd_config *fc = NULL;
        tasd_series *fs = NULL;
        tasd_status st = tasd_config_parse(fctx, "2:4+1:8", &fc);
        if (st == TASD_OK)
            st = tasd_decompose(fctx, &v, fc, TASD_OPTIMAL, &fs);
        /* every ordinal up to the clean run's total is reached: the failure
         * happens, and it is reported, not swallowed */
        CHECKF(f.injected == 1 && st == TASD_ERR_OUT_OF_MEMORY,
               "fail at %ld: status %d, %ld failures injected", fail, st, (long)f.injected);
        tasd_series_destroy(fs);
        tasd_config_destroy(fc);
        tasd_context_destroy(fctx);
        CHECKF(f.live_blocks == 0, "fail at %ld leaks %ld blocks", fail, f.live_blocks);
    }
}

TEST_MAIN(RUN(test_structure_and_stats_on_random_data); RUN(test_lossless_series);
          RUN(test_already_structured_is_exact); RUN(test_optimal_matches_brute_force);
          RUN(test_optimal_strictly_better_than_greedy); RUN(test_ties_go_to_lower_index);
          RUN(test_short_last_group); RUN(test_strided_and_transposed_views);
          RUN(test_rank4_conv_weights); RUN(test_half_precision_inputs);
          RUN(test_zero_and_empty_matrices); RUN(test_nonfinite_rejected);
          RUN(test_bad_arguments); RUN(test_reconstruct_views_and_errors);
          RUN(test_import_round_trip); RUN(test_same_result_for_any_thread_count);
          RUN(test_allocator_hooks_see_everything); RUN(test_series_bytes);)
