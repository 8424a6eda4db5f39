/* The 8x8-tile transpose (kernels/x86/transpose.h), compiled with the
 * AVX2 backend's flags only. */
#include "../kernels.h"

#include <immintrin.h>

#define PFX(name) tasdi_avx2_##name
#include "../x86/transpose.h"
