/* AVX-512 dense tiles: 14 tokens x 32 outputs (two W panels; 28 zmm
 * accumulators, 2 W loads + 14 broadcasts per 28 FMAs). Compiled with the
 * AVX-512 flags only. */
#include "vec.h" /* VL, vf, lanes_below and the load / store / FMA macros */

#define PFX(name) tasdi_avx512_##name
#define VSTORE_N(p, v, n) _mm512_mask_storeu_ps((p), lanes_below(n), (v))

/* kc 192: the 192x32 W block (24 KiB) and the 14x192 X block (10.5 KiB) fit
 * a 48 KiB L1; mc 140 tokens x 192 of X is 105 KiB of L2. */
#define DENSE_MR 14
#define DENSE_NV 4
/* up to 6 rows: 4 panels (<= 24 accumulators + 4 W + 1 X registers);
 * else 2 panels (<= 28 + 2 + 1) */
#define DENSE_NVMAX(mr) ((mr) <= 6 ? 4 : 2)
#define DENSE_NR_TILE 32
#define DENSE_KC 192
#define DENSE_MC 140

/* X read in place: measured on an AMD EPYC Zen 5 (lib/core/dense.c) */
#define DENSE_ROWS 1
#include "../dense_tmpl.h"
