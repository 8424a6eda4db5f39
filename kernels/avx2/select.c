/* AVX2 + FMA kernels of the decomposer: the vectorized top-N-of-M
 * select and the row statistics. Compiled with -mavx2 -mfma -mf16c only. Kept
 * apart from the GEMM kernels (kernels.c), whose template takes minutes
 * to compile. */
#include "../kernels.h"

#include <immintrin.h>
#include <string.h>

#include "../x86/select_lut.h"

#include "vec.h"

/* Top-N-of-M select for M <= 8: each register holds 8/M whole groups. An
 * element's rank is the number of elements of its group that beat it
 * (greater magnitude, or equal magnitude and lower index), counted by
 * comparing with the M-1 in-group rotations of the register; rank < N keeps
 * it. The magnitudes are compared as integers (the bits of |x|: the same
 * order for finite floats, which is all the callers pass, NaN and Inf being
 * rejected first), so "equal and lower index" is one compare: b > a - 1.
 * Exactly the scalar rule, so the results are identical. Short tails and
 * other M go to the scalar code. */
static inline __attribute__((always_inline)) void
select_m(float *x, int64_t k, int n, const int m, float *values, uint8_t *index)
{
    vi rot[7], tie[7];
    for (int d = 1; d < m; d++) {
        int32_t r[8], t[8];
        for (int i = 0; i < 8; i++) {
            r[i] = (i & ~(m - 1)) | ((i + d) & (m - 1));
            t[i] = (i & (m - 1)) + d >= m ? -1 : 0; /* rotated element has lower index */
        }
        rot[d - 1] = VI_LOADU(r);
        tie[d - 1] = VI_LOADU(t);
    }
    const vi absmask = _mm256_set1_epi32(0x7fffffff);
    const vi nv = _mm256_set1_epi32(n);
    const uint64_t inmask = 0x0101010101010101ull * (uint64_t)(m - 1);
    const int per = n * (8 / m);                 /* slots written per register */
    const int64_t total = (k + m - 1) / m * n;   /* slots of the whole row */
    int64_t off = 0, g = 0;
    for (; off + 8 <= k; off += 8) {
        vf xv = _mm256_loadu_ps(x + off);
        vi a = _mm256_and_si256(_mm256_castps_si256(xv), absmask);
        vi rank = _mm256_setzero_si256();
#pragma GCC unroll 7
        for (int d = 0; d < m - 1; d++) {
            /* tie is -1 where the rotated element has the lower index:
             * there b >= a, i.e. b > a - 1, beats (a - 1 >= -1: no wrap) */
            vi rv = _mm256_permutevar8x32_epi32(a, rot[d]);
            rank = _mm256_sub_epi32(rank, _mm256_cmpgt_epi32(rv, _mm256_add_epi32(a, tie[d])));
        }
        vf keep = _mm256_castsi256_ps(_mm256_cmpgt_epi32(nv, rank));
        unsigned bits = (unsigned)_mm256_movemask_ps(keep);
        _mm256_storeu_ps(x + off, _mm256_andnot_ps(keep, xv));
        /* compact the kept lanes (ascending, so group by group) with one
         * permute; their in-group positions are the table bytes & (M-1) */
        uint64_t posb = tasdi_x86_setbit_pos[bits];
        vi perm = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)posb));
        vf kept = _mm256_permutevar8x32_ps(xv, perm);
        uint64_t ib = posb & inmask;
        if (g * n + 8 <= total) { /* room for a full 8-lane store */
            _mm256_storeu_ps(values + g * n, kept);
            memcpy(index + g * n, &ib, 8);
        } else {
            float tmp[8];
            uint8_t tb[8];
            _mm256_storeu_ps(tmp, kept);
            memcpy(tb, &ib, 8);
            for (int i = 0; i < per; i++) {
                values[g * n + i] = tmp[i];
                index[g * n + i] = tb[i];
            }
        }
        g += 8 / m;
    }
    if (off < k)
        tasdi_scalar_select(x + off, k - off, n, m, values + g * n, index + g * n);
}

/* 1 of 8 (the usual second term): one group per register, so the kept
 * element is the first lane holding the group's largest magnitude, found by
 * a max over three in-register swaps: the scalar rule, far fewer steps than
 * seven rotations. */
static void select_1of8(float *x, int64_t k, float *values, uint8_t *index)
{
    const vf absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    int64_t off = 0, g = 0;
    for (; off + 8 <= k; off += 8, g++) {
        vf a = _mm256_and_ps(_mm256_loadu_ps(x + off), absmask);
        vf t = _mm256_max_ps(a, _mm256_permute2f128_ps(a, a, 1));
        t = _mm256_max_ps(t, _mm256_shuffle_ps(t, t, _MM_SHUFFLE(1, 0, 3, 2)));
        t = _mm256_max_ps(t, _mm256_shuffle_ps(t, t, _MM_SHUFFLE(2, 3, 0, 1)));
        unsigned bits = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(a, t, _CMP_EQ_OQ));
        int first = bits ? __builtin_ctz(bits) : 0; /* 0: NaN, rejected by the caller */
        values[g] = x[off + first];
        index[g] = (uint8_t)first;
        x[off + first] = 0.0f;
    }
    if (off < k)
        tasdi_scalar_select(x + off, k - off, 1, 8, values + g, index + g);
}

void tasdi_avx2_select(float *x, int64_t k, int n, int m, float *values, uint8_t *index)
{
    /* M known at compile time for the common groups: the rotations unroll
     * and stay in registers */
    if (m > 8 || n >= m)
        tasdi_scalar_select(x, k, n, m, values, index);
    else if (m == 4)
        select_m(x, k, n, 4, values, index);
    else if (m == 8 && n == 1)
        select_1of8(x, k, values, index);
    else if (m == 8)
        select_m(x, k, n, 8, values, index);
    else
        select_m(x, k, n, m, values, index);
}

/* Row statistics for the decomposer: sum of squares in double (eight
 * accumulators of 4 lanes, fixed order: the double FMA's latency, not its
 * throughput, bounded four), nonzero count, finiteness. full = 0: the sum
 * alone (the residual's error energy), the same value. */
static inline __attribute__((always_inline)) double
stats_body(const float *x, int64_t n, int64_t *nnz, int *finite, float *copy, const int full)
{
    __m256d acc[8];
    for (int i = 0; i < 8; i++)
        acc[i] = _mm256_setzero_pd();
    vi nzv = _mm256_setzero_si256();
    vf bad = _mm256_setzero_ps();
    const vf absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const vf big = _mm256_set1_ps(3.40282347e+38f), zero = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 32 <= n; j += 32) {
#pragma GCC unroll 4
        for (int h = 0; h < 4; h++) {
            vf xv = _mm256_loadu_ps(x + j + 8 * h);
            if (copy)
                _mm256_storeu_ps(copy + j + 8 * h, xv);
            __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(xv));
            __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(xv, 1));
            acc[2 * h] = _mm256_fmadd_pd(lo, lo, acc[2 * h]);
            acc[2 * h + 1] = _mm256_fmadd_pd(hi, hi, acc[2 * h + 1]);
            if (full) {
                nzv = _mm256_sub_epi32(nzv, _mm256_castps_si256(_mm256_cmp_ps(xv, zero, _CMP_NEQ_UQ)));
                bad = _mm256_or_ps(bad, _mm256_cmp_ps(_mm256_and_ps(xv, absmask), big, _CMP_NLE_UQ));
            }
        }
    }
    __m256d s = _mm256_add_pd(_mm256_add_pd(_mm256_add_pd(acc[0], acc[1]), _mm256_add_pd(acc[2], acc[3])),
                              _mm256_add_pd(_mm256_add_pd(acc[4], acc[5]), _mm256_add_pd(acc[6], acc[7])));
    double lanes[4];
    _mm256_storeu_pd(lanes, s);
    int64_t nz = 0;
    int tail_finite = 1;
    double tail =
        j < n ? tasdi_scalar_stats(x + j, n - j, &nz, &tail_finite, copy ? copy + j : NULL) : 0.0;
    if (full) {
        int32_t cnt[8];
        _mm256_storeu_si256((__m256i *)(void *)cnt, nzv);
        for (int i = 0; i < 8; i++)
            nz += cnt[i];
        *nnz += nz;
        *finite = tail_finite && _mm256_movemask_ps(bad) == 0;
    }
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + tail;
}

double tasdi_avx2_stats(const float *x, int64_t n, int64_t *nnz, int *finite, float *copy)
{
    return nnz && finite ? stats_body(x, n, nnz, finite, copy, 1)
                         : stats_body(x, n, NULL, NULL, copy, 0);
}
