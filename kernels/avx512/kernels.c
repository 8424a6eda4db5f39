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
/* The slot values four at a time (one load per four slots, spread by an
 * in-lane permute) only in tasdi_avx512_wide_spread (and its bf16 / f16
 * twins in half_bf16.c, half_f16.c), AMD's entry: 1.125 loads per FMA
 * become 1.03 at 8 vectors per row, and at 1-3 vectors (n <= 48) a slot's
 * broadcast was a third to a half of its loads. On an AMD EPYC Zen 5 that
 * took 2:4 from 0.92x to 1.10x oneDNN at 3072x768x16, 1.05x -> 1.21x at
 * 2048x512x32, 1.18x -> 1.26x at 3072x768x48 (medians of 8 alternating
 * bench runs) and left n = 64 and 128 even; on an AMD EPYC Zen 4 (in one
 * process, alternating) 2:4 at n = 64..1000 ran at 0.93-1.00 of the time of
 * one load per value, 2:4+1:8 and 1:4 at 0.92-1.03. Intel cores issue the
 * permute on an FMA port: they keep tasdi_avx512_wide (dispatch.c). */
#define VLOAD4(p) _mm512_broadcast_f32x4(_mm_loadu_ps(p))
#define WIDE_SPREAD_OWN 1
#define NF_PF_BYTES 24576 /* 24 KiB: the narrow path's prefetch distance (tmpl.h) */
#define PFX(name) tasdi_avx512_##name
#include "../x86/tmpl.h"
