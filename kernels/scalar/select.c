/* Reference top-N-of-M selection: plain C, the meaning every backend matches. */
#include "../kernels.h"

#include <float.h>
#include <math.h>
#include <string.h>

void tasdi_scalar_select(float *residual, int64_t k, int n, int m, float *values,
                         uint8_t *index)
{
    int64_t groups = (k + m - 1) / m;
    for (int64_t g = 0; g < groups; g++) {
        float *x = residual + g * m;
        float *v = values + g * n;
        uint8_t *ix = index + g * n;
        int len = k - g * m < m ? (int)(k - g * m) : m;
        /* rank = how many elements of the group beat x[i]; ties go to the
         * lower index. All ranks are taken before anything is zeroed. */
        uint8_t keep[32];
        for (int i = 0; i < len; i++) {
            float a = fabsf(x[i]);
            int rank = 0;
            for (int j = 0; j < len; j++) {
                float b = fabsf(x[j]);
                rank += (b > a) || (b == a && j < i);
            }
            keep[i] = rank < n;
        }
        int out = 0;
        for (int i = 0; i < len; i++)
            if (keep[i]) {
                v[out] = x[i];
                ix[out] = (uint8_t)i;
                out++;
                x[i] = 0.0f;
            }
        for (; out < n; out++) {
            v[out] = 0.0f;
            ix[out] = 0;
        }
    }
}

/* Row statistics: 8 interleaved partial sums in double (fixed order). */
double tasdi_scalar_stats(const float *x, int64_t n, int64_t *nnz, int *finite, float *copy)
{
    if (copy && n > 0)
        memcpy(copy, x, (size_t)n * sizeof *x);
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t nz = 0;
    int bad = 0;
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int i = 0; i < 8; i++) {
            float v = x[j + i];
            acc[i] += (double)v * v;
            nz += v != 0.0f;
            bad |= !(fabsf(v) <= FLT_MAX);
        }
    for (int i = 0; j < n; j++, i++) {
        float v = x[j];
        acc[i] += (double)v * v;
        nz += v != 0.0f;
        bad |= !(fabsf(v) <= FLT_MAX);
    }
    if (nnz && finite) {
        *nnz += nz;
        *finite = !bad;
    }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}
