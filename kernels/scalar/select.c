/* Reference top-N-of-M selection: plain C, the meaning every backend matches. */
#include "../kernels.h"

#include <math.h>

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
