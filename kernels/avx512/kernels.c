/* AVX-512 (F/BW/VL/DQ) GEMM kernels: the vector macros for kernels/x86/tmpl.h
 * (wide and narrow GEMM; the decomposer's kernels are in select.c). Compiled with
 * the AVX-512 flags only; run only when dispatch found AVX-512 F/BW/VL/DQ and
 * OS ZMM + opmask support. The narrow kernel's 2:4 windows (32 floats) are
 * one vpermt2ps. */
#include "../kernels.h"

#include <immintrin.h>
#include <string.h>

#include "vec.h"

#define VLOAD8_V(p) _mm256_loadu_ps(p)
#define PFX(name) tasdi_avx512_##name
#include "../x86/tmpl.h"

int PFX(narrow_fast)(const tasdi_packed *p)
{
    return nf_cols(p);
}
