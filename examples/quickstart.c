/* The smallest useful libtasd program: decompose a weight matrix once, then
 * multiply it with activations. Build against an installed libtasd with
 *     cc quickstart.c $(pkg-config --cflags --libs tasd) -o quickstart */
#include <tasd.h>

#include <stdio.h>

int main(void)
{
    enum { M = 8, K = 16, N = 4 };
    float w[M * K], x[K * N], y[M * N];
    for (int i = 0; i < M * K; i++)
        w[i] = (float)((i * 7919) % 17) - 8.0f;
    for (int i = 0; i < K * N; i++)
        x[i] = (float)(i % 5) - 2.0f;

    tasd_config *config;
    tasd_series *series;
    tasd_stats stats = {.size = sizeof stats};
    tasd_view wv = tasd_view_2d(w, TASD_F32, M, K, K);
    tasd_view xv = tasd_view_2d(x, TASD_F32, K, N, N);
    tasd_view yv = tasd_view_2d(y, TASD_F32, M, N, N);

    if (tasd_config_parse(NULL, "2:4+1:8", &config) != TASD_OK ||
        tasd_decompose(NULL, &wv, config, TASD_OPTIMAL, &series) != TASD_OK ||
        tasd_gemm(NULL, 1.0f, series, &xv, 0.0f, &yv) != TASD_OK) {
        fprintf(stderr, "quickstart: %s\n", tasd_last_error_message());
        return 1;
    }
    tasd_series_stats(series, &stats);
    printf("libtasd %s: 2:4+1:8 keeps %.1f%% of the energy at density %.3f; y[0][0] = %g\n",
           tasd_version(), 100.0 * stats.retained_energy, stats.density, y[0]);
    tasd_series_destroy(series);
    tasd_config_destroy(config);
    return 0;
}
