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
        int out = 0;
        for (int i = 0; i < len; i++) {
            /* rank = how many elements beat x[i]; ties go to the lower index */
            float a = fabsf(x[i]);
            int rank = 0;
            for (int j = 0; j < len; j++) {
                float b = fabsf(x[j]);
                rank += (b > a) || (b == a && j < i);
            }
            if (rank < n) {
                v[out] = x[i];
                ix[out] = (uint8_t)i;
                out++;
            }
        }
        /* zero the kept ones only now: ranks above compare the whole group */
        for (int s = 0; s < out; s++)
            x[ix[s]] = 0.0f;
        for (; out < n; out++) {
            v[out] = 0.0f;
            ix[out] = 0;
        }
    }
}
