/* AVX2 + FMA dense tiles: 6 tokens x 16 outputs (12 ymm accumulators, 2 W
 * loads + 6 broadcasts per 12 FMAs). Compiled with -mavx2 -mfma only. */
#include "vec.h" /* VL, vf, lanes_below and the load / store / FMA macros */

#define PFX(name) tasdi_avx2_##name
#define VSTORE_N(p, v, n) _mm256_maskstore_ps((p), lanes_below(n), (v))

/* kc 256: the 6x256 X block and the 256x16 W block (16 KiB) stay in a 32 KiB
 * L1; mc 144 tokens x 256 of X is 144 KiB, within a 512 KiB L2. */
#define DENSE_MR 6
#define DENSE_NV 8
/* 1 row: 4 panels (8 accumulators, W as FMA memory operands); 2 rows: 2
 * panels; else 1 panel (<= 16 ymm registers in all). Whole panels only. */
#define DENSE_NVMAX(mr) ((mr) == 1 ? 8 : (mr) == 2 ? 4 : 2)
#define DENSE_NR_TILE 16
#define DENSE_KC 256
#define DENSE_MC 144

/* X read in place: measured on an AMD EPYC Zen 5 (lib/core/dense.c) */
#define DENSE_ROWS 1
#include "../dense_tmpl.h"
