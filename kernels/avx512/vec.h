/* The AVX512 vector macros of kernels/x86/tmpl.h, shared by the
 * kernel files of this folder (f32 values: kernels.c; bf16 / f16 values:
 * half_bf16.c, half_f16.c). */
#ifndef TASDI_AVX512_VEC_H
#define TASDI_AVX512_VEC_H

#include "../kernels.h"

#include <immintrin.h>

#define VL 16
#define WIDE_PASS 2 /* B panels per wide call */
typedef __m512 vf;
typedef __m512i vi;

static inline __mmask16 lanes_below(int n) /* n in 0..16 */
{
    return (__mmask16)((1u << n) - 1u);
}

#define VADD(a, b) _mm512_add_ps((a), (b))
#define PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#define PREFETCH_L2(p) _mm_prefetch((const char *)(p), _MM_HINT_T1)
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
#define VI_SLLV(a, c) _mm512_sllv_epi32((a), (c))
#define VI_LOAD_WORDS(w, n) _mm512_maskz_loadu_epi32(lanes_below(n), (const void *)(w))
#define VI_PERM(a, l) _mm512_permutexvar_epi32((l), (a))
#define WIN1(x, pos) _mm512_permutexvar_ps((pos), _mm512_loadu_ps(x))
#define WIN2(x, pos) _mm512_permutex2var_ps(_mm512_loadu_ps(x), (pos), _mm512_loadu_ps((x) + 16))
#define VBLEND_BIT(lo, hi, pos, bit)                                                   \
    _mm512_mask_blend_ps(_mm512_test_epi32_mask((pos), _mm512_set1_epi32(bit)), (lo), (hi))
#define GATHER_N(x, pos, n)                                                            \
    _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes_below(n), (pos), (x), 4)
#define VHSUM(v) _mm512_reduce_add_ps(v)

/* in-lane permute by the low 2 bits of each lane; constant blends: lanes
 * i % 2 == 1 (AA) or i % 4 >= 2 (CC) from b */
#define VPERMIL(a, ctl) _mm512_permutevar_ps((a), (ctl))
#define VBLEND_AA(a, b) _mm512_mask_blend_ps((__mmask16)0xAAAA, (a), (b))
#define VBLEND_CC(a, b) _mm512_mask_blend_ps((__mmask16)0xCCCC, (a), (b))

#endif
