/* An 8x8 transpose of floats in eight 256-bit registers (8 unpacks, 8
 * shuffles, 8 lane permutes): r[i] lane l becomes r[l] lane i. The AVX2
 * narrow 1:8 path (NF_TRANSPOSE8) and the x86 transpose kernel share it;
 * the including file is compiled with AVX2 or later. */
#ifndef TASDI_X86_TRANSPOSE8X8_H
#define TASDI_X86_TRANSPOSE8X8_H

#include <immintrin.h>

static inline void tasdi_transpose8x8(__m256 r[8])
{
    __m256 t[8], u[8];
#pragma GCC unroll 4
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]); /* a0 b0 a1 b1 | a4 b4 a5 b5 */
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]); /* a2 b2 a3 b3 | a6 b6 a7 b7 */
    }
#pragma GCC unroll 2
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44); /* a0 b0 c0 d0 | a4 .. */
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) {
        r[q] = _mm256_permute2f128_ps(u[q], u[q + 4], 0x20);
        r[q + 4] = _mm256_permute2f128_ps(u[q], u[q + 4], 0x31);
    }
}

#endif
