/* TASDER on a small MLP: y = fc2(relu(fc1(x))).
 *
 * fc1 is 75% unstructured-sparse (as after magnitude pruning), fc2 is dense
 * but reads ReLU outputs (about half zeros). For each target the example
 * searches every layer on calibration activations, shares one error budget
 * over the model, builds the chosen layers, and reports per layer the
 * chosen W/A configs, the proxy error, the predicted and the measured
 * speed-up of libtasd's kernels, then the whole MLP's output error on
 * held-out inputs.
 *
 * Usage: mlp_search [--measured]   (--measured: cpu costs timed on this
 * machine instead of the built-in table)
 *
 * Build: make (build/examples/mlp_search), or against an installed libtasd:
 *   cc mlp_search.c $(pkg-config --cflags --libs tasd) -lm -o mlp_search */
#include <tasd.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IN 256
#define HIDDEN 512
#define OUT 256
#define CALIB 128
#define EVAL 256
#define REPS 21

#define TRY(call)                                                                  \
    do {                                                                           \
        tasd_status st_ = (call);                                                  \
        if (st_ != TASD_OK) {                                                      \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__,                 \
                    tasd_status_string(st_), tasd_last_error_message());           \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

static unsigned long long rng = 0x853c49e6748fea9bull;
static double uniform(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static float gauss(void)
{
    double u = uniform() + 1e-12, v = uniform();
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void relu(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] < 0.0f)
            x[i] = 0.0f;
}

static double rel_diff(const float *a, const float *ref, size_t n)
{
    double e = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        e += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]);
        r += (double)ref[i] * ref[i];
    }
    return sqrt(e / r);
}

/* Median time of dense vs chosen layer, interleaved, same process. */
static double measured_speedup(tasd_context *ctx, const tasd_layer *dense,
                               const tasd_layer *chosen, const tasd_view *x, const tasd_view *y)
{
    double td[REPS], tc[REPS];
    TRY(tasd_layer_forward(ctx, dense, x, y)); /* warm up both */
    TRY(tasd_layer_forward(ctx, chosen, x, y));
    for (int r = 0; r < REPS; r++) {
        double t0 = now();
        TRY(tasd_layer_forward(ctx, dense, x, y));
        td[r] = now() - t0;
        t0 = now();
        TRY(tasd_layer_forward(ctx, chosen, x, y));
        tc[r] = now() - t0;
    }
    qsort(td, REPS, sizeof td[0], cmp);
    qsort(tc, REPS, sizeof tc[0], cmp);
    return td[REPS / 2] / tc[REPS / 2];
}

static void describe(const tasd_layer_config *lc, char *buf, size_t size)
{
    char w[64] = "none", a[64] = "none";
    if (tasd_layer_config_weights(lc))
        TRY(tasd_config_format(tasd_layer_config_weights(lc), w, sizeof w, NULL));
    if (tasd_layer_config_activations(lc))
        TRY(tasd_config_format(tasd_layer_config_activations(lc), a, sizeof a, NULL));
    snprintf(buf, size, "W=%-10s A=%-10s", w, a);
}

int main(int argc, char **argv)
{
    /* the model */
    float *w1 = malloc(sizeof(float) * HIDDEN * IN), *b1 = malloc(sizeof(float) * HIDDEN);
    float *w2 = malloc(sizeof(float) * OUT * HIDDEN), *b2 = malloc(sizeof(float) * OUT);
    for (int i = 0; i < HIDDEN * IN; i++)
        w1[i] = uniform() < 0.75 ? 0.0f : gauss() * 0.1f;
    for (int i = 0; i < OUT * HIDDEN; i++)
        w2[i] = gauss() * 0.03f;
    for (int i = 0; i < HIDDEN; i++)
        b1[i] = 0.1f * gauss();
    for (int i = 0; i < OUT; i++)
        b2[i] = 0.1f * gauss();
    /* calibration and held-out inputs */
    float *xc = malloc(sizeof(float) * CALIB * IN), *xe = malloc(sizeof(float) * EVAL * IN);
    for (int i = 0; i < CALIB * IN; i++)
        xc[i] = gauss();
    for (int i = 0; i < EVAL * IN; i++)
        xe[i] = gauss();
    float *hc = malloc(sizeof(float) * CALIB * HIDDEN);
    float *he = malloc(sizeof(float) * EVAL * HIDDEN), *he2 = malloc(sizeof(float) * EVAL * HIDDEN);
    float *ye = malloc(sizeof(float) * EVAL * OUT), *ye2 = malloc(sizeof(float) * EVAL * OUT);

    tasd_context *ctx, *timing;
    TRY(tasd_context_create(NULL, &ctx));
    /* timings on one thread: per-core ratios, less disturbed by other work */
    TRY(tasd_context_create(NULL, &timing));
    TRY(tasd_context_set_threads(timing, 1));
    tasd_view w1v = tasd_view_2d(w1, TASD_F32, HIDDEN, IN, IN);
    tasd_view w2v = tasd_view_2d(w2, TASD_F32, OUT, HIDDEN, HIDDEN);
    tasd_view b1v, b2v;
    memset(&b1v, 0, sizeof b1v);
    b1v.data = b1, b1v.dtype = TASD_F32, b1v.ndim = 1, b1v.shape[0] = HIDDEN, b1v.strides[0] = 1;
    b2v = b1v;
    b2v.data = b2, b2v.shape[0] = OUT;
    tasd_view xcv = tasd_view_2d(xc, TASD_F32, CALIB, IN, IN);
    tasd_view hcv = tasd_view_2d(hc, TASD_F32, CALIB, HIDDEN, HIDDEN);
    tasd_view xev = tasd_view_2d(xe, TASD_F32, EVAL, IN, IN);
    tasd_view hev = tasd_view_2d(he, TASD_F32, EVAL, HIDDEN, HIDDEN);
    tasd_view hev2 = tasd_view_2d(he2, TASD_F32, EVAL, HIDDEN, HIDDEN);
    tasd_view yev = tasd_view_2d(ye, TASD_F32, EVAL, OUT, OUT);
    tasd_view yev2 = tasd_view_2d(ye2, TASD_F32, EVAL, OUT, OUT);

    /* dense reference layers; the calibration input of fc2 is the dense
     * model's hidden activation */
    tasd_layer *d1, *d2;
    TRY(tasd_layer_create(ctx, &w1v, &b1v, NULL, &d1));
    TRY(tasd_layer_create(ctx, &w2v, &b2v, NULL, &d2));
    TRY(tasd_layer_forward(ctx, d1, &xcv, &hcv));
    relu(hc, (size_t)CALIB * HIDDEN);
    TRY(tasd_layer_forward(ctx, d1, &xev, &hev));
    relu(he, (size_t)EVAL * HIDDEN);
    TRY(tasd_layer_forward(ctx, d2, &hev, &yev));

    const double layer_cap = 0.25, total_budget = 0.16;
    /* --measured: time the cpu target's patterns on this machine first */
    int measured = argc > 1 && strcmp(argv[1], "--measured") == 0;
    const char *targets[] = {measured ? "cpu-measured" : "cpu", "sparse-tensor-core"};
    printf("MLP %d -> %d (ReLU) -> %d, fc1 75%% sparse; %d calibration, %d held-out tokens\n",
           IN, HIDDEN, OUT, CALIB, EVAL);
    printf("per-layer cap %.2f, total budget %.2f (FLOP-weighted mean relative output error)\n\n",
           layer_cap, total_budget);
    for (int ti = 0; ti < 2; ti++) {
        double t0 = now();
        tasd_target *t;
        TRY(tasd_target_create(ctx, targets[ti], &t));
        tasd_layer_search *s[2];
        TRY(tasd_search_layer(ctx, t, "fc1", &w1v, &xcv, layer_cap, NULL, &s[0]));
        TRY(tasd_search_layer(ctx, t, "fc2", &w2v, &hcv, layer_cap, NULL, &s[1]));
        int choice[2];
        tasd_model_search_result r = {.size = sizeof r};
        TRY(tasd_search_model((const tasd_layer_search *const *)s, 2, layer_cap, total_budget,
                              choice, &r));
        tasd_model_config *mc;
        TRY(tasd_search_model_config(ctx, (const tasd_layer_search *const *)s, 2, choice, &mc));
        double search_s = now() - t0;
        printf("target %s (search %.2f s, %d + %d candidates)\n", tasd_target_name(t), search_s,
               tasd_layer_search_candidates(s[0]), tasd_layer_search_candidates(s[1]));
        /* build the chosen layers and time them against the dense ones */
        tasd_layer *c1, *c2;
        TRY(tasd_layer_create(ctx, &w1v, &b1v, tasd_model_config_layer(mc, 0), &c1));
        TRY(tasd_layer_create(ctx, &w2v, &b2v, tasd_model_config_layer(mc, 1), &c2));
        const tasd_layer *dl[2] = {d1, d2}, *cl[2] = {c1, c2};
        const tasd_view *in[2] = {&xev, &hev}, *outv[2] = {&hev2, &yev2};
        for (int l = 0; l < 2; l++) {
            tasd_search_point p = {.size = sizeof p};
            TRY(tasd_layer_search_front(s[l], choice[l], &p));
            char desc[64];
            describe(p.config, desc, sizeof desc);
            char meas[32] = "(dense)";
            if (tasd_layer_get_mode(cl[l]) != TASD_LAYER_DENSE)
                snprintf(meas, sizeof meas, "x%.2f",
                         measured_speedup(timing, dl[l], cl[l], in[l], outv[l]));
            printf("  %-4s %s error %.4f  predicted x%.2f  measured %s\n",
                   tasd_layer_config_name(p.config), desc, p.error, 1.0 / p.cost, meas);
            printf("       Pareto front (cost/error):");
            for (int i = 0; i < tasd_layer_search_front_size(s[l]); i++) {
                tasd_search_point q = {.size = sizeof q};
                TRY(tasd_layer_search_front(s[l], i, &q));
                printf(" %.2f/%.3f", q.cost, q.error);
            }
            printf("\n");
        }
        /* end to end on held-out inputs */
        TRY(tasd_layer_forward(ctx, c1, &xev, &hev2));
        relu(he2, (size_t)EVAL * HIDDEN);
        TRY(tasd_layer_forward(ctx, c2, &hev2, &yev2));
        printf("  model: predicted cost %.3f (x%.2f), mean error %.4f; end-to-end output "
               "error %.4f\n",
               r.cost, r.speedup, r.error, rel_diff(ye2, ye, (size_t)EVAL * OUT));
        size_t need;
        tasd_model_config_format(mc, NULL, 0, &need);
        char *text = malloc(need + 1);
        TRY(tasd_model_config_format(mc, text, need + 1, NULL));
        printf("  layers.cfg:\n%s\n", text);
        free(text);
        tasd_layer_destroy(c1);
        tasd_layer_destroy(c2);
        tasd_model_config_destroy(mc);
        tasd_layer_search_destroy(s[0]);
        tasd_layer_search_destroy(s[1]);
        tasd_target_destroy(t);
    }
    printf("measured: median of %d interleaved runs on one thread of libtasd's own kernels on\n"
           "this CPU (backend %s) against its dense path; for sparse-tensor-core the prediction\n"
           "is the target's, not this CPU's.\n", REPS,
           tasd_backend_name(tasd_context_backend(ctx)));
    tasd_layer_destroy(d1);
    tasd_layer_destroy(d2);
    tasd_context_destroy(ctx);
    tasd_context_destroy(timing);
    free(w1), free(b1), free(w2), free(b2), free(xc), free(xe), free(hc), free(he), free(he2);
    free(ye), free(ye2);
    return 0;
}
