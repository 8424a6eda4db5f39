/* FMA peak of one core for each x86 vector ISA this CPU has (bench/peak.h),
 * the rate of the wide kernel's instruction mix (below), and the rate of
 * vdpbf16ps where the CPU has AVX512_BF16.
 *   build/bench/peak */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#endif
#include <stdio.h>

#include "peak.h"

/* The wide kernel's instruction mix (kernels/x86/tmpl.h, wide_run, 2:4 with
 * 8 vectors per row): 16 slots per 32-bit index word held in a register, each
 * slot's B row a shift and a mask of it plus its group's offset, one
 * broadcast of the slot's value and 8 FMAs whose B operands come from that
 * row of an L1-resident 64-row block, into 8 accumulators; GFLOP/s. A
 * reference for the bench's eff=: on an AMD EPYC Zen 5 VM this ran at
 * 138-168 GFLOP/s with AVX-512 (68-80% of the FMA peak; AVX2 80-86, 79-82%),
 * where the wide kernel's 2:4 eff= was 53-63%. (An earlier form loaded each
 * slot's row from a byte table, an instruction the kernel does not have:
 * 104-142.) */
#define PEAK_MIX_BODY(vec, SET1, LOAD, FMA, ADD, LANES)                                \
    static float blk[64 * 8 * LANES] __attribute__((aligned(64)));                    \
    static float val[1024];                                                            \
    static unsigned word[64];                                                          \
    unsigned r = 1;                                                                    \
    for (int i = 0; i < 64 * 8 * LANES; i++)                                           \
        blk[i] = 1e-3f * (float)(i % 7);                                               \
    for (int i = 0; i < 1024; i++)                                                     \
        val[i] = 1e-3f * (float)(i % 5);                                               \
    for (int i = 0; i < 64; i++) {                                                     \
        r = r * 1103515245u + 12345u;                                                  \
        word[i] = r;                                                                   \
    }                                                                                  \
    vec a0 = SET1(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;   \
    double best = 0;                                                                   \
    for (int rep = 0; rep < reps; rep++) {                                             \
        double t0 = peak_now();                                                        \
        for (long it = 0; it < iters; it += 16) {                                      \
            const unsigned wd = word[(it >> 4) & 63];                                  \
            const float *v = val + (it & 1023);                                        \
            /* a K block's 32 slots: 16 in each half of the block */                   \
            const float *half = blk + ((it >> 4) & 1) * 32 * 8 * LANES;                \
            _Pragma("GCC unroll 16") for (int i = 0; i < 16; i++) {                    \
                const vec x = SET1(v[i]);                                              \
                const float *b = half + ((i / 2) * 4 + ((wd >> (2 * i)) & 3)) * 8 * LANES; \
                a0 = FMA(x, LOAD(b), a0); a1 = FMA(x, LOAD(b + LANES), a1);            \
                a2 = FMA(x, LOAD(b + 2 * LANES), a2); a3 = FMA(x, LOAD(b + 3 * LANES), a3); \
                a4 = FMA(x, LOAD(b + 4 * LANES), a4); a5 = FMA(x, LOAD(b + 5 * LANES), a5); \
                a6 = FMA(x, LOAD(b + 6 * LANES), a6); a7 = FMA(x, LOAD(b + 7 * LANES), a7); \
            }                                                                          \
        }                                                                              \
        double gf = (double)(iters / 16 * 16) * 8.0 * 2 * LANES / (peak_now() - t0) / 1e9; \
        if (gf > best)                                                                 \
            best = gf;                                                                 \
    }                                                                                  \
    vec s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));         \
    float out[LANES];                                                                  \
    __builtin_memcpy(out, &s, sizeof out);                                             \
    return out[0] == 12345.0f ? 0 : best;

__attribute__((target("avx2,fma"))) static double peak_avx2_mix(long iters, int reps)
{
    PEAK_MIX_BODY(__m256, _mm256_set1_ps, _mm256_load_ps, _mm256_fmadd_ps, _mm256_add_ps, 8)
}

__attribute__((target("avx512f"))) static double peak_avx512_mix(long iters, int reps)
{
    PEAK_MIX_BODY(__m512, _mm512_set1_ps, _mm512_load_ps, _mm512_fmadd_ps, _mm512_add_ps, 16)
}

int main(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        printf("AVX2 FMA peak: %.1f GFLOP/s on one core\n", peak_avx2(100000000, 7));
        printf("AVX2 wide-kernel mix (2:4 index word, broadcast + 8 FMAs with B from L1): %.1f GFLOP/s\n",
               peak_avx2_mix(100000000, 7));
    }
    if (__builtin_cpu_supports("avx512f")) {
        printf("AVX-512 FMA peak: %.1f GFLOP/s on one core\n", peak_avx512(100000000, 7));
        printf("AVX-512 wide-kernel mix (2:4 index word, broadcast + 8 FMAs with B from L1): %.1f GFLOP/s\n",
               peak_avx512_mix(100000000, 7));
    }
    if (__builtin_cpu_supports("avx512bf16"))
        printf("AVX512_BF16 vdpbf16ps: %.1f GFLOP/s of bf16 products on one core\n",
               peak_avx512_bf16(50000000, 7));
    return 0;
}
