/* AVX-512 wide and narrow kernels for f16 series values: kernels/x86/tmpl.h
 * with the values widened in registers (vcvtph2ps zmm, AVX512F), never
 * copied to fp32. */
#include "vec.h"

#define VT uint16_t
#define VAL_BASE(pt) ((pt)->hval)
#define VAL_F(x) tasdi_f16_f32(x)
#define VBCAST_V(p) _mm512_cvtph_ps(_mm256_set1_epi16((short)*(p)))
#define VLOAD_V(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(p)))
#define VLOAD_V_N(p, n) _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(lanes_below(n), (p)))

#define VLOAD8_V(p) _mm256_maskz_cvtph_ps(0xff, _mm_loadu_si128((const __m128i *)(const void *)(p)))
/* four values widened in each 128-bit lane, spread as the f32 kernel's
 * (kernels.c: AMD's entry only) */
#define VLOAD4(p)                                                                      \
    _mm512_broadcast_f32x4(_mm512_castps512_ps128(_mm512_cvtph_ps(                     \
        _mm256_castsi128_si256(_mm_loadl_epi64((const __m128i *)(const void *)(p))))))
#define WIDE_SPREAD_OWN 1
#define PFX(name) tasdi_avx512_##name##_f16
#include "../x86/tmpl.h"
