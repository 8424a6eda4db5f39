/* AVX-512 (F/BW/VL/DQ) kernels: the vector macros for kernels/x86/tmpl.h
 * (wide and narrow GEMM) and the vectorized top-N-of-M select. Compiled with
 * the AVX-512 flags only; run only when dispatch found AVX-512 F/BW/VL/DQ and
 * OS ZMM + opmask support. The narrow kernel's 2:4 windows (32 floats) are
 * one vpermt2ps. */
#include "../kernels.h"

#include <immintrin.h>

#define VL 16
#define PFX(name) tasdi_avx512_##name
typedef __m512 vf;
typedef __m512i vi;

static inline __mmask16 lanes_below(int n) /* n in 0..16 */
{
    return (__mmask16)((1u << n) - 1u);
}

#define VZERO() _mm512_setzero_ps()
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VBCAST(p) _mm512_set1_ps(*(p))
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VLOAD_N(p, n) _mm512_maskz_loadu_ps(lanes_below(n), (p))
#define VI_SET1(x) _mm512_set1_epi32(x)
#define VI_LOADU(p) _mm512_loadu_si512((const void *)(p))
#define VI_ADD(a, b) _mm512_add_epi32((a), (b))
#define VI_AND(a, b) _mm512_and_si512((a), (b))
#define VI_SRLV(a, c) _mm512_srlv_epi32((a), (c))
#define VI_LOAD_WORDS(w, n) _mm512_maskz_loadu_epi32(lanes_below(n), (const void *)(w))
#define VI_PERM(a, l) _mm512_permutexvar_epi32((l), (a))
#define WIN1(x, pos) _mm512_permutexvar_ps((pos), _mm512_loadu_ps(x))
#define WIN2(x, pos) _mm512_permutex2var_ps(_mm512_loadu_ps(x), (pos), _mm512_loadu_ps((x) + 16))
#define VBLEND_BIT(lo, hi, pos, bit)                                                   \
    _mm512_mask_blend_ps(_mm512_test_epi32_mask((pos), _mm512_set1_epi32(bit)), (lo), (hi))
#define GATHER_N(x, pos, n)                                                            \
    _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes_below(n), (pos), (x), 4)
#define VHSUM(v) _mm512_reduce_add_ps(v)

#include "../x86/tmpl.h"

/* Top-N-of-M select for M <= 16, the same method as the AVX2 one: ranks by
 * comparison with the M-1 in-group rotations, counted with mask adds. */
void tasdi_avx512_select(float *x, int64_t k, int n, int m, float *values, uint8_t *index)
{
    if (m > 16 || n >= m) {
        tasdi_scalar_select(x, k, n, m, values, index);
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
    const unsigned gmask = (1u << m) - 1;
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
        unsigned bits = keep;
        float tmp[16];
        _mm512_storeu_ps(tmp, xv);
        _mm512_storeu_ps(x + off, _mm512_maskz_mov_ps((__mmask16)~keep, xv));
        for (int gi = 0; gi < 16 / m; gi++, g++) {
            unsigned b = (bits >> (gi * m)) & gmask;
            float *vo = values + g * n;
            uint8_t *io = index + g * n;
            while (b) {
                int i = __builtin_ctz(b);
                *vo++ = tmp[gi * m + i];
                *io++ = (uint8_t)i;
                b &= b - 1;
            }
        }
    }
    if (off < k)
        tasdi_scalar_select(x + off, k - off, n, m, values + g * n, index + g * n);
}
