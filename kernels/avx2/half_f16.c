/* AVX2 wide and narrow kernels for f16 series values: kernels/x86/tmpl.h
 * with the values widened in registers by F16C (vcvtph2ps), never copied to
 * fp32. Run only where dispatch found F16C. */
#include "vec.h"

#include <string.h>

#define VT uint16_t
#define VAL_BASE(pt) ((pt)->hval)
#define VAL_F(x) tasdi_f16_f32(x)
#define VBCAST_V(p) _mm256_cvtph_ps(_mm_set1_epi16((short)*(p)))
#define VLOAD_V(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p)))

/* n < VL values, never reading past p[n-1] (the short last chunk of a row) */
static inline vf load_f16_n(const uint16_t *p, int n)
{
    uint16_t t[VL] = {0};
    memcpy(t, p, (size_t)n * sizeof *p);
    return VLOAD_V(t);
}
#define VLOAD_V_N(p, n) load_f16_n((p), (n))
#define VLOAD4(p) VLOAD4_HALF((p), _mm_cvtph_ps)

#define PFX(name) tasdi_avx2_##name##_f16
#include "../x86/tmpl.h"
