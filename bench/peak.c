/* FMA peak of one core for each x86 vector ISA this CPU has, and the rate of
 * vdpbf16ps where the CPU has AVX512_BF16 (bench/peak.h).
 *   build/bench/peak */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#endif
#include <stdio.h>

#include "peak.h"

int main(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        printf("AVX2 FMA peak: %.1f GFLOP/s on one core\n", peak_avx2(100000000, 7));
    if (__builtin_cpu_supports("avx512f"))
        printf("AVX-512 FMA peak: %.1f GFLOP/s on one core\n", peak_avx512(100000000, 7));
    if (__builtin_cpu_supports("avx512bf16"))
        printf("AVX512_BF16 vdpbf16ps: %.1f GFLOP/s of bf16 products on one core\n",
               peak_avx512_bf16(50000000, 7));
    return 0;
}
