/* AVX2 wide and narrow kernels for bf16 series values: kernels/x86/tmpl.h
 * with the values widened in registers (a bf16 is the top half of a f32:
 * zero-extend to 32 bits and shift left by 16), never copied to fp32. */
#include "vec.h"

#include <string.h>

#define VT uint16_t
#define VAL_BASE(pt) ((pt)->hval)
#define VAL_F(x) tasdi_bf16_f32(x)
/* One value broadcast to all lanes: the 32 bits ending with it are loaded
 * and broadcast in one instruction and their lower half (the value before
 * it) masked off, instead of a scalar load, shift, move and broadcast: the
 * wide kernel does this once per slot, which at n = 5..8 (one FMA per slot)
 * made bf16 values slower than f32. p[-1] is always readable: the layout's
 * header precedes its values (lib/core/pack.c). */
static inline vf bcast_bf16(const uint16_t *p)
{
    uint32_t u;
    memcpy(&u, p - 1, sizeof u);
    return _mm256_and_ps(_mm256_castsi256_ps(_mm256_set1_epi32((int)u)),
                         _mm256_castsi256_ps(_mm256_set1_epi32((int)0xffff0000u)));
}
#define VBCAST_V(p) bcast_bf16(p)
#define VLOAD_V(p)                                                                     \
    _mm256_castsi256_ps(_mm256_slli_epi32(                                             \
        _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))), 16))

/* n < VL values, never reading past p[n-1] (the short last chunk of a row) */
static inline vf load_bf16_n(const uint16_t *p, int n)
{
    uint16_t t[VL] = {0};
    memcpy(t, p, (size_t)n * sizeof *p);
    return VLOAD_V(t);
}
#define VLOAD_V_N(p, n) load_bf16_n((p), (n))
static inline __m128 widen4_bf16(__m128i h)
{
    return _mm_castsi128_ps(_mm_slli_epi32(_mm_cvtepu16_epi32(h), 16));
}
#define VLOAD4(p) VLOAD4_HALF((p), widen4_bf16)

#define PFX(name) tasdi_avx2_##name##_bf16
#include "../x86/tmpl.h"
