/* AVX-512 wide and narrow kernels for bf16 series values: kernels/x86/tmpl.h
 * with the values widened in registers (zero-extend to 32 bits, shift left
 * by 16: vpmovzxwd + vpslld), never copied to fp32. */
#include "vec.h"

#define VT uint16_t
#define VAL_BASE(pt) ((pt)->hval)
#define VAL_F(x) tasdi_bf16_f32(x)
#define VBCAST_V(p) _mm512_castsi512_ps(_mm512_set1_epi32((int)((uint32_t)*(p) << 16)))
#define BF16_WIDEN(h) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16))
#define VLOAD_V(p) BF16_WIDEN(_mm256_loadu_si256((const __m256i *)(const void *)(p)))
#define VLOAD_V_N(p, n) BF16_WIDEN(_mm256_maskz_loadu_epi16(lanes_below(n), (p)))

#define PFX(name) tasdi_avx512_##name##_bf16
#include "../x86/tmpl.h"
