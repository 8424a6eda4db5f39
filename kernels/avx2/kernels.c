/* AVX2 + FMA GEMM kernels: the vector macros for kernels/x86/tmpl.h (wide and
 * narrow GEMM; the decomposer's kernels are in select.c). Compiled with
 * -mavx2 -mfma -mf16c only; run only when dispatch found AVX2, FMA, F16C
 * and OS YMM support. */
#include "../kernels.h"

#include <immintrin.h>
#include <string.h>

#include "vec.h"

#define PFX(name) tasdi_avx2_##name
#define VLOAD4(p) _mm256_broadcast_ps((const __m128 *)(const void *)(p))
#include "../x86/tmpl.h"
