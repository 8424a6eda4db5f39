/* FMA peak of one core: 10 independent chains of 256-bit FMAs (AVX2) or
 * 512-bit (AVX-512 when built with -mavx512f), best of 7 passes.
 *   build/bench/peak */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#if defined(__AVX512F__)
typedef __m512 vec;
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define LANES 16
#define NAME "AVX-512"
#else
typedef __m256 vec;
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define LANES 8
#define NAME "AVX2"
#endif

#define F(x) x = FMA(x, b, c)

int main(void)
{
    vec b = SET1(0.5f), c = SET1(1.0f);
    vec a0 = SET1(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0,
        a9 = a0;
    long iters = 100000000;
    double best = 0;
    for (int rep = 0; rep < 7; rep++) {
        double t0 = now();
        for (long it = 0; it < iters; it++) {
            F(a0); F(a1); F(a2); F(a3); F(a4); F(a5); F(a6); F(a7); F(a8); F(a9);
            __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5),
                             "+x"(a6), "+x"(a7), "+x"(a8), "+x"(a9));
        }
        double gf = iters * 10.0 * 2 * LANES / (now() - t0) / 1e9;
        if (gf > best)
            best = gf;
    }
    vec s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(ADD(a4, a5), ADD(a6, a7)), ADD(a8, a9)));
    float out[LANES];
    __builtin_memcpy(out, &s, sizeof out);
    printf("%s FMA peak: %.1f GFLOP/s on one core (check %g)\n", NAME, best, out[0]);
    return 0;
}
