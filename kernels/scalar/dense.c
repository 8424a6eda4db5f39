/* Reference dense tile (kernels/kernels.h): plain C, one panel of 16 outputs.
 * Also the fallback of backends without a dense kernel of their own. */
#include "../kernels.h"

#define MR 4
#define NR TASDI_DENSE_PANEL

static void scalar_dense(int64_t kc, const float *xp, int mr, const float *wp,
                         int64_t wps, int nc, float *c, int64_t ldc, int accumulate)
{
    (void)wps; /* one panel per tile */
    float acc[MR][NR];
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < NR; j++)
            acc[r][j] = accumulate && j < nc ? c[r * ldc + j] : 0.0f;
    for (int64_t k = 0; k < kc; k++) {
        const float *w = wp + k * NR;
        for (int r = 0; r < mr; r++) {
            float x = xp[k * mr + r];
            for (int j = 0; j < NR; j++)
                acc[r][j] += x * w[j];
        }
    }
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nc; j++)
            c[r * ldc + j] = acc[r][j];
}

/* kc 256: a 16 KiB W block stays in L1 across the token tiles */
const tasdi_dense_kernel tasdi_scalar_dense = {scalar_dense, MR, NR, NR, 256, 128, NULL};
