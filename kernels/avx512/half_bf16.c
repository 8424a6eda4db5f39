/* AVX-512 wide and narrow kernels for bf16 series values: kernels/x86/tmpl.h
 * with the values widened in registers (zero-extend to 32 bits, shift left
 * by 16: vpmovzxwd + vpslld), never copied to fp32. */
#include "vec.h"

#include <string.h>

#define VT uint16_t
#define VAL_BASE(pt) ((pt)->hval)
#define VAL_F(x) tasdi_bf16_f32(x)
/* as in kernels/avx2/half_bf16.c: the 32 bits ending with the value,
 * broadcast, lower half masked off (p[-1] is the layout's, always readable) */
static inline vf bcast_bf16(const uint16_t *p)
{
    uint32_t u;
    memcpy(&u, p - 1, sizeof u);
    return _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_set1_epi32((int)u), _mm512_set1_epi32((int)0xffff0000u)));
}
#define VBCAST_V(p) bcast_bf16(p)
#define BF16_WIDEN(h) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16))
#define VLOAD_V(p) BF16_WIDEN(_mm256_loadu_si256((const __m256i *)(const void *)(p)))
#define VLOAD_V_N(p, n) BF16_WIDEN(_mm256_maskz_loadu_epi16(lanes_below(n), (p)))

#define VLOAD8_V(p)                                                                    \
    _mm256_castsi256_ps(_mm256_slli_epi32(                                             \
        _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))), 16))
/* four values widened in each 128-bit lane, spread as the f32 kernel's
 * (kernels.c: AMD's entry only) */
#define VLOAD4(p)                                                                      \
    _mm512_broadcast_f32x4(_mm_castsi128_ps(_mm_slli_epi32(                           \
        _mm_cvtepu16_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p))), 16)))
#define WIDE_SPREAD_OWN 1
#define PFX(name) tasdi_avx512_##name##_bf16
#include "../x86/tmpl.h"
