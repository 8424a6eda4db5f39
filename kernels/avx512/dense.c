/* AVX-512 dense tiles: 14 tokens x 32 outputs (two W panels; 28 zmm
 * accumulators, 2 W loads + 14 broadcasts per 28 FMAs). Compiled with the
 * AVX-512 flags only. */
#include "vec.h" /* VL, vf, lanes_below and the load / store / FMA macros */

#define PFX(name) tasdi_avx512_##name
#define VSTORE_N(p, v, n) _mm512_mask_storeu_ps((p), lanes_below(n), (v))

/* kc 192: the 192x32 W block (24 KiB) and the 14x192 X block (10.5 KiB) fit
 * a 48 KiB L1; mc 280 tokens x 192 of X is 210 KiB of L2, beside a Y block
 * of 280 KiB (256 outputs) or, fused, up to 560 KiB (512): Zen 4/5 have 1
 * MiB, Intel 2. Against mc 140, up to 280 tokens take one pass over W, not
 * two (AMD EPYC Zen 5, same-process A/B, one thread): 1024x4096x256 0.94
 * of the time (two threads 0.95), x200 0.90, 2048x2048x280 0.97,
 * 1024x4096x512 0.97; 512x512x4096 (fused), 1000x1000x1000, 2048x2048x512,
 * 128x1152x784, 4096x1024x300 0.97-1.01. (AVX2 gained as much there, but
 * its Y and X blocks would then fill a Zen 3's 512 KiB L2: not taken.) */
#define DENSE_MR 14
#define DENSE_NV 4
/* up to 6 rows: 4 panels (<= 24 accumulators + 4 W + 1 X registers);
 * else 2 panels (<= 28 + 2 + 1) */
#define DENSE_NVMAX(mr) ((mr) <= 6 ? 4 : 2)
#define DENSE_NR_TILE 32
#define DENSE_KC 192
#define DENSE_MC 280

/* X read in place: measured on an AMD EPYC Zen 5 (lib/core/dense.c) */
#define DENSE_ROWS 1
#include "../dense_tmpl.h"
