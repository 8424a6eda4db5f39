/* FMA peak of one core, measured: independent chains of vector FMAs (12, so
 * that even a 4-cycle latency with 2 FMA pipes is covered), best of `reps`
 * passes. Compiled for AVX2 / AVX-512 through target attributes, so the
 * including file needs no ISA flags; call a function only when the CPU has
 * its ISA. Shared by bench/peak.c and bench/bench.c (the eff= field). */
#ifndef TASD_BENCH_PEAK_H
#define TASD_BENCH_PEAK_H

#include <immintrin.h>
#include <time.h>

static double peak_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* 12 named accumulators (an array would live on the stack); PROD products
 * per lane and instruction */
#define PEAK_BODY(vec, SET1, FMA, ADD, LANES, PROD)                                    \
    vec b = SET1(0.5f), c = SET1(1.0f);                                                \
    vec a0 = SET1(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0,   \
        a8 = a0, a9 = a0, a10 = a0, a11 = a0;                                          \
    double best = 0;                                                                   \
    for (int rep = 0; rep < reps; rep++) {                                             \
        double t0 = peak_now();                                                        \
        for (long it = 0; it < iters; it++) {                                          \
            a0 = FMA(a0, b, c); a1 = FMA(a1, b, c); a2 = FMA(a2, b, c);                \
            a3 = FMA(a3, b, c); a4 = FMA(a4, b, c); a5 = FMA(a5, b, c);                \
            a6 = FMA(a6, b, c); a7 = FMA(a7, b, c); a8 = FMA(a8, b, c);                \
            a9 = FMA(a9, b, c); a10 = FMA(a10, b, c); a11 = FMA(a11, b, c);            \
            __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4),    \
                             "+x"(a5), "+x"(a6), "+x"(a7), "+x"(a8), "+x"(a9),         \
                             "+x"(a10), "+x"(a11));                                    \
        }                                                                              \
        double gf = (double)iters * 12.0 * 2 * LANES * PROD / (peak_now() - t0) / 1e9; \
        if (gf > best)                                                                 \
            best = gf;                                                                 \
    }                                                                                  \
    vec s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));         \
    s = ADD(s, ADD(ADD(a8, a9), ADD(a10, a11)));                                       \
    float out[LANES];                                                                  \
    __builtin_memcpy(out, &s, sizeof out);                                             \
    return out[0] == 12345.0f ? 0 : best; /* keeps the chains live */

__attribute__((target("avx2,fma"))) static double peak_avx2(long iters, int reps)
{
    PEAK_BODY(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, 8, 1)
}

__attribute__((target("avx512f"))) static double peak_avx512(long iters, int reps)
{
    PEAK_BODY(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, 16, 1)
}

/* Products per second of AVX512_BF16's vdpbf16ps (each lane: two bf16
 * products added to an f32 accumulator), as GFLOP/s of those products (64
 * per instruction), measured the same way: whether a bf16 x bf16 kernel
 * built on it would beat widening bf16 to f32 and using the FMA. */
#define PEAK_DPBF16(a, b, c) _mm512_dpbf16_ps((a), (__m512bh)(b), (__m512bh)(c))
__attribute__((target("avx512f,avx512bf16"))) static double peak_avx512_bf16(long iters,
                                                                            int reps)
{
    PEAK_BODY(__m512, _mm512_set1_ps, PEAK_DPBF16, _mm512_add_ps, 16, 2)
}

#endif
