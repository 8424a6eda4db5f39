/* AVX2 wide and narrow kernels for bf16 series values: kernels/x86/tmpl.h
 * with the values widened in registers (a bf16 is the top half of a f32:
 * zero-extend to 32 bits and shift left by 16), never copied to fp32. */
#include "vec.h"

#include <string.h>

#define VT uint16_t
#define VAL_BASE(pt) ((pt)->hval)
#define VAL_F(x) tasdi_bf16_f32(x)
#define VBCAST_V(p) _mm256_castsi256_ps(_mm256_set1_epi32((int)((uint32_t)*(p) << 16)))
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

#define PFX(name) tasdi_avx2_##name##_bf16
#include "../x86/tmpl.h"
