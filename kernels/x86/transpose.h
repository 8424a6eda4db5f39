/* The transpose (kernels/kernels.h) in 8x8 tiles of 256-bit vectors: 8
 * loads, 24 shuffles and 8 stores per 64 floats where the plain loop does a
 * load and a store each. A block's last tiles overlap the ones before them
 * (they rewrite a few values with the same bits) instead of taking a scalar
 * tail; blocks under 8 x 8 go to the plain loop. The including file defines
 * PFX and compiles this with AVX2 or later. */

#include "transpose8x8.h"

/* Rows of src ahead whose runs are prefetched: a layer's X^T packed by
 * tiles read 8 rows of X at a time, 256 bytes each, and stalled on them
 * (the tile loads took most of the transpose's samples); 16 rows ahead:
 * 0.92-0.95 of the time of 64-row layers such as 64x147x12544, 1.00 at
 * 3072x768x128 (AMD EPYC Zen 5, avx512). */
#define TRANSPOSE_AHEAD 16

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
    const int64_t run = cols * (int64_t)sizeof(float); /* bytes of a src row read */
    for (int64_t r0 = 0; r0 < rows; r0 += 8) {
        for (int64_t r = r0 + TRANSPOSE_AHEAD; r < r0 + TRANSPOSE_AHEAD + 8 && r < rows; r++)
            for (int64_t at = 0; at < run + 63; at += 64) /* every line, the last included */
                _mm_prefetch((const char *)(src + r * lds) + (at < run ? at : run - 1),
                             _MM_HINT_T0);
        for (int64_t c0 = 0; c0 < cols; c0 += 8)
            transpose_tile(src, lds, dst, ldd, r0 + 8 <= rows ? r0 : rows - 8,
                           c0 + 8 <= cols ? c0 : cols - 8);
    }
}

/* The panel row (kernels/kernels.h): whole vectors, NaN/Inf found as an
 * exponent of all ones (one compare per vector, OR-ed without a carried
 * float chain). */
int PFX(panel_row)(const float *src, int64_t n, float *dst, int64_t dnext)
{
#if defined(__AVX512F__)
    const __m512i ones = _mm512_set1_epi32(0x7f800000);
    __mmask16 bad = 0;
    for (int64_t j0 = 0; j0 < n; j0 += TASDI_NR, dst += dnext) {
        const int64_t cnt = n - j0 < TASDI_NR ? n - j0 : TASDI_NR;
#pragma GCC unroll 4
        for (int64_t j = 0; j < cnt; j += 16) {
            const __m512i v = _mm512_loadu_si512((const void *)(src + j0 + j));
            _mm512_storeu_si512((void *)(dst + j), v);
            bad |= _mm512_cmpeq_epi32_mask(_mm512_and_si512(v, ones), ones);
        }
    }
    return !bad;
#else
    const __m256i ones = _mm256_set1_epi32(0x7f800000);
    __m256i bad = _mm256_setzero_si256();
    for (int64_t j0 = 0; j0 < n; j0 += TASDI_NR, dst += dnext) {
        const int64_t cnt = n - j0 < TASDI_NR ? n - j0 : TASDI_NR;
#pragma GCC unroll 8
        for (int64_t j = 0; j < cnt; j += 8) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(src + j0 + j));
            _mm256_storeu_si256((__m256i *)(void *)(dst + j), v);
            bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(_mm256_and_si256(v, ones), ones));
        }
    }
    return _mm256_testz_si256(bad, bad);
#endif
}
