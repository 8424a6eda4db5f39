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
#define VPERMIL_IMM(a, imm) _mm512_permute_ps((a), (imm))
#define VBLEND_AA(a, b) _mm512_mask_blend_ps((__mmask16)0xAAAA, (a), (b))
#define VBLEND_CC(a, b) _mm512_mask_blend_ps((__mmask16)0xCCCC, (a), (b))

/* The narrow 1:8 path (kernels/x86/tmpl.h, nf_t8_rows), 16 rows at a time:
 * r[l] holds row l's 8 values in its low half and row l + 8's in its high
 * half, and becomes value l of rows 0..15: an 8x8 transpose in each half
 * (8 unpacks, 8 shuffles, 8 two-source permutes). */
static inline void transpose8x2(vf r[8])
{
    vf t[8], u[8];
#pragma GCC unroll 4
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 2
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    /* per half, 128-bit lane 0 of u[q] and of u[q + 4], then their lane 1 */
    const __m512i lo = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
    const __m512i hi = _mm512_setr_epi32(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) {
        r[q] = _mm512_permutex2var_ps(u[q], lo, u[q + 4]);
        r[q + 4] = _mm512_permutex2var_ps(u[q], hi, u[q + 4]);
    }
}
#define NF_TRANSPOSE8(r) transpose8x2(r)
#define NF_ROWS2(lo, hi) _mm512_insertf32x8(_mm512_castps256_ps512(lo), (hi), 1)
/* x[pos % 8]: the 8 floats in both halves, so bit 3 of pos does not matter */
#define WIN8(x, pos) _mm512_permutexvar_ps((pos), _mm512_broadcast_f32x8(_mm256_loadu_ps(x)))
/* p[0], p[s], ..., p[15 s] (uint32) */
#define VI_STRIDED(p, s)                                                               \
    _mm512_setr_epi32((int)(p)[0], (int)(p)[(s)], (int)(p)[2 * (s)], (int)(p)[3 * (s)], \
                      (int)(p)[4 * (s)], (int)(p)[5 * (s)], (int)(p)[6 * (s)],         \
                      (int)(p)[7 * (s)], (int)(p)[8 * (s)], (int)(p)[9 * (s)],         \
                      (int)(p)[10 * (s)], (int)(p)[11 * (s)], (int)(p)[12 * (s)],      \
                      (int)(p)[13 * (s)], (int)(p)[14 * (s)], (int)(p)[15 * (s)])
#define VI_SRL3(a) _mm512_srli_epi32((a), 3)

#endif
