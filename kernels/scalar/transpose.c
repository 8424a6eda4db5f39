/* Reference transpose (kernels/kernels.h): plain C, one element at a time.
 * Also the fallback of backends without one, and of the SIMD ones for
 * blocks under their tile. */
#include "../kernels.h"

#include <string.h>

int tasdi_scalar_transpose(const float *src, int64_t lds, int64_t rows, int64_t cols,
                           float *dst, int64_t ldd)
{
    uint32_t bad = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            uint32_t u;
            memcpy(&u, &src[r * lds + c], sizeof u);
            bad |= (u & 0x7f800000u) == 0x7f800000u; /* exponent all ones */
            dst[c * ldd + r] = src[r * lds + c];
        }
    return (int)bad;
}
