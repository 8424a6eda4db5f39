/* The AVX2 vector macros of kernels/x86/tmpl.h, shared by the
 * kernel files of this folder (f32 values: kernels.c; bf16 / f16 values:
 * half_bf16.c, half_f16.c). */
#ifndef TASDI_AVX2_VEC_H
#define TASDI_AVX2_VEC_H

#include "../kernels.h"

#include <immintrin.h>

#include "../x86/transpose8x8.h"

#define VL 8
#define WIDE_PASS 1 /* B panels per wide call */
typedef __m256 vf;
typedef __m256i vi;

static inline vi lanes_below(int n) /* lanes i < n all ones */
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#define VADD(a, b) _mm256_add_ps((a), (b))
#define PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#define PREFETCH_L2(p) _mm_prefetch((const char *)(p), _MM_HINT_T1)
#define VZERO() _mm256_setzero_ps()
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VBCAST(p) _mm256_broadcast_ss(p)
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VLOAD_N(p, n) _mm256_maskload_ps((p), lanes_below(n))
#define VI_SET1(x) _mm256_set1_epi32(x)
#define VI_LOADU(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define VI_ADD(a, b) _mm256_add_epi32((a), (b))
#define VI_AND(a, b) _mm256_and_si256((a), (b))
#define VI_SRLV(a, c) _mm256_srlv_epi32((a), (c))
#define VI_SLLV(a, c) _mm256_sllv_epi32((a), (c))
#define VI_LOAD_WORDS(w, n) _mm256_maskload_epi32((const int *)(const void *)(w), lanes_below(n))
#define VI_PERM(a, l) _mm256_permutevar8x32_epi32((a), (l))

static inline vf win1(const float *x, vi pos)
{
    return _mm256_permutevar8x32_ps(_mm256_loadu_ps(x), pos);
}

/* vpermps uses bits 0..2 of pos; bit 3 picks the second register */
static inline vf win2(const float *x, vi pos)
{
    vf lo = _mm256_permutevar8x32_ps(_mm256_loadu_ps(x), pos);
    vf hi = _mm256_permutevar8x32_ps(_mm256_loadu_ps(x + 8), pos);
    return _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(pos, 28)));
}

/* hi where pos has bit `bit` (a power of two) set, else lo */
static inline vf blend_bit(vf lo, vf hi, vi pos, int bit)
{
    __m128i sh = _mm_cvtsi32_si128(31 - __builtin_ctz((unsigned)bit));
    return _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_sll_epi32(pos, sh)));
}

static inline float hsum(vf v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#define WIN1(x, pos) win1((x), (pos))
#define WIN2(x, pos) win2((x), (pos))
#define VBLEND_BIT(lo, hi, pos, bit) blend_bit((lo), (hi), (pos), (bit))
#define GATHER_N(x, pos, n)                                                            \
    _mm256_mask_i32gather_ps(_mm256_setzero_ps(), (x), (pos),                          \
                             _mm256_castsi256_ps(lanes_below(n)), 4)
#define VHSUM(v) hsum(v)

/* in-lane permute by the low 2 bits of each lane; constant blends: lanes
 * i % 2 == 1 (AA) or i % 4 >= 2 (CC) from b */
#define VPERMIL(a, ctl) _mm256_permutevar_ps((a), (ctl))
#define VPERMIL_IMM(a, imm) _mm256_permute_ps((a), (imm))
#define VBLEND_AA(a, b) _mm256_blend_ps((a), (b), 0xAA)
#define VBLEND_CC(a, b) _mm256_blend_ps((a), (b), 0xCC)

/* The wide kernel's slot values: each file's VLOAD4 puts four of them in
 * both 128-bit lanes, which kernels/x86/tmpl.h's spread4 hands out one at a
 * time by an in-lane permute (VPERMIL_IMM): 1.03-1.07x on Zen 3, whose
 * shuffles issue beside the FMAs (a broadcast per slot was a ninth load per
 * 8 FMAs on the bound load ports). The AVX-512 kernels spread them only for
 * AMD CPUs (kernels/avx512/kernels.c): on Intel the permute takes an FMA
 * port. VLOAD4_HALF: the bf16 / f16 files' four 16-bit values,
 * widened to f32 by w. */
#define VLOAD4_HALF(p, w)                                                              \
    bcast_lanes(w(_mm_loadl_epi64((const __m128i *)(const void *)(p))))
static inline vf bcast_lanes(__m128 x)
{
    return _mm256_insertf128_ps(_mm256_castps128_ps256(x), x, 1);
}

/* The narrow 1:8 path (kernels/x86/tmpl.h, nf_t8_rows): r[i][l] becomes
 * r[l][i] for i, l < 8. */
#define NF_TRANSPOSE8(r) tasdi_transpose8x8(r)
#define WIN8(x, pos) WIN1((x), (pos))
/* p[0], p[s], ..., p[7 s] (uint32) */
#define VI_STRIDED(p, s)                                                              \
    _mm256_setr_epi32((int)(p)[0], (int)(p)[(s)], (int)(p)[2 * (s)], (int)(p)[3 * (s)], \
                      (int)(p)[4 * (s)], (int)(p)[5 * (s)], (int)(p)[6 * (s)],         \
                      (int)(p)[7 * (s)])
#define VI_SRL3(a) _mm256_srli_epi32((a), 3)

#endif
