/* Reference transpose (kernels/kernels.h): plain C, a source row at a time.
 * Also the fallback of backends without one, and of the SIMD ones for
 * blocks under their tile. */
#include "../kernels.h"

void tasdi_scalar_transpose(const float *src, int64_t lds, int64_t rows, int64_t cols,
                            float *dst, int64_t ldd)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *s = src + r * lds;
        float *d = dst + r;
        for (int64_t c = 0; c < cols; c++)
            d[c * ldd] = s[c];
    }
}
