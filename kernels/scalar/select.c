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
        float mag[32];
        for (int i = 0; i < len; i++)
            mag[i] = fabsf(x[i]);
        int out = 0;
        for (int i = 0; i < len; i++) {
            /* rank = how many elements beat x[i]; ties go to the lower index */
            int rank = 0;
            for (int j = 0; j < len; j++)
                rank += (mag[j] > mag[i]) || (mag[j] == mag[i] && j < i);
            if (rank < n) {
                v[out] = x[i];
                ix[out] = (uint8_t)i;
                out++;
                x[i] = 0.0f;
            }
        }
        for (; out < n; out++) {
            v[out] = 0.0f;
            ix[out] = 0;
        }
    }
}
