/* Reference series-term GEMM: C += alpha * term * B, one slot at a time. */
#include "../kernels.h"

void tasdi_scalar_term_gemm(const float *values, const uint8_t *index,
                            int64_t width, int n, int m, int64_t r0, int64_t r1,
                            const float *b, int64_t b_rs, int64_t b_cs,
                            int64_t ncols, float alpha, float *c, int64_t c_rs,
                            int64_t c_cs)
{
    for (int64_t r = r0; r < r1; r++) {
        const float *v = values + r * width;
        const uint8_t *ix = index + r * width;
        float *crow = c + r * c_rs;
        for (int64_t s = 0; s < width; s++) {
            if (v[s] == 0.0f) /* structural zero: padding or nothing kept */
                continue;
            float a = alpha * v[s];
            const float *brow = b + ((s / n) * m + ix[s]) * b_rs;
            for (int64_t j = 0; j < ncols; j++)
                crow[j * c_cs] += a * brow[j * b_cs];
        }
    }
}
