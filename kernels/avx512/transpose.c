/* The 8x8-tile transpose (kernels/x86/transpose.h), compiled with the
 * AVX-512 backend's flags only. */
#include "../kernels.h"

#include <immintrin.h>

#define PFX(name) tasdi_avx512_##name
#include "../x86/transpose.h"
