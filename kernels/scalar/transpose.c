/* Reference transpose and panel row (kernels/kernels.h): plain C, a source
 * row at a time. Also the fallback of backends without one, and of the SIMD
 * ones for blocks under their tile. */
#include "../kernels.h"

#include <string.h>

int tasdi_scalar_panel_row(const float *src, int64_t n, float *dst, int64_t dnext)
{
    uint32_t any = 0;
    for (int64_t j0 = 0; j0 < n; j0 += TASDI_NR, dst += dnext)
        for (int64_t c0 = 0; c0 < TASDI_NR && j0 + c0 < n; c0 += TASDI_NR_READ)
            for (int j = 0; j < TASDI_NR_READ; j++) { /* vectorised where the ISA allows */
                uint32_t u;
                memcpy(&u, &src[j0 + c0 + j], sizeof u);
                any |= tasdi_nonfinite_bit(u);
                dst[c0 + j] = src[j0 + c0 + j];
            }
    return !(any >> 31);
}

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
