/* The transpose (kernels/kernels.h) in 8x8 tiles of 256-bit vectors: 8
 * loads, 24 shuffles and 8 stores per 64 floats where the plain loop does a
 * load and a store each. A block's last tiles overlap the ones before them
 * (they rewrite a few values with the same bits) instead of taking a scalar
 * tail; blocks under 8 x 8 go to the plain loop. The including file defines
 * PFX and compiles this with AVX2 or later. */

#include "transpose8x8.h"

/* the 8x8 tile at (r, c) */
static inline void transpose_tile(const float *src, int64_t lds, float *dst, int64_t ldd,
                                  int64_t r, int64_t c)
{
    __m256 v[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        v[i] = _mm256_loadu_ps(src + (r + i) * lds + c);
    tasdi_transpose8x8(v);
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        _mm256_storeu_ps(dst + (c + i) * ldd + r, v[i]);
}

void PFX(transpose)(const float *src, int64_t lds, int64_t rows, int64_t cols, float *dst,
                    int64_t ldd)
{
    if (rows < 8 || cols < 8) {
        tasdi_scalar_transpose(src, lds, rows, cols, dst, ldd);
        return;
    }
    for (int64_t r0 = 0; r0 < rows; r0 += 8)
        for (int64_t c0 = 0; c0 < cols; c0 += 8)
            transpose_tile(src, lds, dst, ldd, r0 + 8 <= rows ? r0 : rows - 8,
                           c0 + 8 <= cols ? c0 : cols - 8);
}
