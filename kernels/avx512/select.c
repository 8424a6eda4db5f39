/* AVX-512 (F/BW/VL/DQ) kernels of the decomposer: the vectorized top-N-of-M
 * select and the row statistics. Compiled with the AVX-512 flags only. Kept
 * apart from the GEMM kernels (kernels.c), whose template takes minutes
 * to compile. */
#include "../kernels.h"

#include <immintrin.h>
#include <string.h>

#include "vec.h"

/* 1 of 8 (the usual second term), two groups per register: the kept element
 * is the first lane holding its group's largest magnitude (the scalar rule),
 * the max found by three in-group swaps instead of seven rotations. */
static void select_1of8(float *x, int64_t k, float *values, uint8_t *index)
{
    int64_t off = 0, g = 0;
    for (; off + 16 <= k; off += 16, g += 2) {
        vf a = _mm512_abs_ps(_mm512_loadu_ps(x + off));
        vf t = _mm512_max_ps(a, _mm512_shuffle_f32x4(a, a, _MM_SHUFFLE(2, 3, 0, 1)));
        t = _mm512_max_ps(t, _mm512_shuffle_ps(t, t, _MM_SHUFFLE(1, 0, 3, 2)));
        t = _mm512_max_ps(t, _mm512_shuffle_ps(t, t, _MM_SHUFFLE(2, 3, 0, 1)));
        unsigned bits = (unsigned)_mm512_cmp_ps_mask(a, t, _CMP_EQ_OQ);
        for (int h = 0; h < 2; h++) {
            unsigned b = (bits >> (8 * h)) & 0xffu;
            int first = b ? __builtin_ctz(b) : 0; /* 0: NaN, rejected by the caller */
            values[g + h] = x[off + 8 * h + first];
            index[g + h] = (uint8_t)first;
            x[off + 8 * h + first] = 0.0f;
        }
    }
    if (off < k)
        tasdi_scalar_select(x + off, k - off, 1, 8, values + g, index + g);
}

/* Top-N-of-M select for M <= 16, the same method as the AVX2 one: ranks by
 * comparison with the M-1 in-group rotations, counted with mask adds. */
void tasdi_avx512_select(float *x, int64_t k, int n, int m, float *values, uint8_t *index)
{
    if (m > 16 || n >= m) {
        tasdi_scalar_select(x, k, n, m, values, index);
        return;
    }
    if (m == 8 && n == 1) {
        select_1of8(x, k, values, index);
        return;
    }
    vi rot[15];
    __mmask16 tie[15];
    for (int d = 1; d < m; d++) {
        int32_t r[16];
        unsigned t = 0;
        for (int i = 0; i < 16; i++) {
            r[i] = (i & ~(m - 1)) | ((i + d) & (m - 1));
            if ((i & (m - 1)) + d >= m) /* rotated element has the lower index */
                t |= 1u << i;
        }
        rot[d - 1] = VI_LOADU(r);
        tie[d - 1] = (__mmask16)t;
    }
    const vi one = _mm512_set1_epi32(1), nv = _mm512_set1_epi32(n);
    const vi inpos = _mm512_and_si512(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(m - 1));
    const __mmask16 outmask = lanes_below(n * (16 / m)); /* slots per register */
    int64_t off = 0, g = 0;
    for (; off + 16 <= k; off += 16) {
        vf xv = _mm512_loadu_ps(x + off);
        vf a = _mm512_abs_ps(xv);
        vi rank = _mm512_setzero_si512();
        for (int d = 0; d < m - 1; d++) {
            vf rv = _mm512_permutexvar_ps(rot[d], a);
            __mmask16 beat = _mm512_cmp_ps_mask(rv, a, _CMP_GT_OQ) |
                             (_mm512_cmp_ps_mask(rv, a, _CMP_EQ_OQ) & tie[d]);
            rank = _mm512_mask_add_epi32(rank, beat, rank, one);
        }
        __mmask16 keep = _mm512_cmplt_epi32_mask(rank, nv);
        _mm512_storeu_ps(x + off, _mm512_maskz_mov_ps((__mmask16)~keep, xv));
        /* compact the kept lanes (ascending, so group by group) in registers;
         * masked stores write exactly the `per` slots of these groups */
        vf kept = _mm512_maskz_compress_ps(keep, xv);
        vi pos = _mm512_maskz_compress_epi32(keep, inpos);
        _mm512_mask_storeu_ps(values + g * n, outmask, kept);
        _mm_mask_storeu_epi8(index + g * n, outmask, _mm512_cvtepi32_epi8(pos));
        g += 16 / m;
    }
    if (off < k)
        tasdi_scalar_select(x + off, k - off, n, m, values + g * n, index + g * n);
}

/* Row statistics for the decomposer: sum of squares in double (2 x 8 lanes,
 * fixed order), nonzero count, finiteness. */
double tasdi_avx512_stats(const float *x, int64_t n, int64_t *nnz, int *finite, float *copy)
{
    __m512d a0 = _mm512_setzero_pd(), a1 = a0;
    int64_t nz = 0;
    __mmask16 bad = 0;
    const vf big = _mm512_set1_ps(3.40282347e+38f), zero = _mm512_setzero_ps();
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        vf x0 = _mm512_loadu_ps(x + j);
        if (copy)
            _mm512_storeu_ps(copy + j, x0);
        __m512d d0 = _mm512_cvtps_pd(_mm512_castps512_ps256(x0));
        __m512d d1 = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x0), 1)));
        a0 = _mm512_fmadd_pd(d0, d0, a0);
        a1 = _mm512_fmadd_pd(d1, d1, a1);
        nz += __builtin_popcount((unsigned)_mm512_cmp_ps_mask(x0, zero, _CMP_NEQ_UQ));
        bad |= _mm512_cmp_ps_mask(_mm512_abs_ps(x0), big, _CMP_NLE_UQ);
    }
    double lanes[8];
    _mm512_storeu_pd(lanes, _mm512_add_pd(a0, a1));
    int tail_finite = 1;
    double tail =
        j < n ? tasdi_scalar_stats(x + j, n - j, &nz, &tail_finite, copy ? copy + j : NULL) : 0.0;
    if (nnz && finite) {
        *nnz += nz;
        *finite = tail_finite && bad == 0;
    }
    return (((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
            ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))) + tail;
}
