/* AVX-512 dense tiles: 14 tokens x 32 outputs (two W panels; 28 zmm
 * accumulators, 2 W loads + 14 broadcasts per 28 FMAs). Compiled with the
 * AVX-512 flags only. */
#include "vec.h" /* VL, vf, lanes_below and the load / store / FMA macros */

#define PFX(name) tasdi_avx512_##name
#define VSTORE_N(p, v, n) _mm512_mask_storeu_ps((p), lanes_below(n), (v))

/* kc 768, not the L1-sized 192 (a 192x32 W block of 24 KiB). AMD EPYC Zen 5,
 * same-process A/B of the dense layer, both load orders, one thread, time
 * of kc 768 / kc 192: 1024x4096x32 0.81-0.85, 4096x4096x9 0.79-0.82,
 * 4096x4096x16 0.82-0.84, 1024x4096x256 0.88-0.90, 4096x4096x64 0.89-0.91,
 * 2048x2048x512 0.89-0.90, 768x3072x128 0.85-0.91, 512x512x4096 (fused)
 * 0.87-0.94, 1000x1000x1000 0.92-0.94, 128x1152x784 0.94-0.96; two threads
 * 0.86-0.94; kc 128 took 1.07-1.16x the time, 384 and 512 fell between,
 * 1024 as 768. Why was not measured (no counters here); each K block
 * restarts the W streams of every output pair (two panels 256 KiB apart at
 * K = 4096) and reloads the Y tiles, which seems to cost more than serving
 * the W block to the later strips from L2 instead of L1. (AVX2, kc 256 ->
 * 512 on the same CPU: 0.94-0.99; left for a Zen 3, whose L1 is 32 KiB.)
 * mc 280 tokens x 768 of X is 840 KiB of L2, beside a Y block of 280 KiB
 * (256 outputs); Zen 4/5 have 1 MiB, Intel 2. Against mc 140 (at kc 192),
 * up to 280 tokens take one pass over W, not two: 1024x4096x256 0.94 of the
 * time, x200 0.90; with kc 768, mc 140 lost again (1024x4096x256 0.93 of
 * main's time against 280's 0.88-0.90). */
#define DENSE_MR 14
#define DENSE_NV 4
/* up to 6 rows: 4 panels (<= 24 accumulators + 4 W + 1 X registers);
 * else 2 panels (<= 28 + 2 + 1) */
#define DENSE_NVMAX(mr) ((mr) <= 6 ? 4 : 2)
#define DENSE_NR_TILE 32
#define DENSE_KC 768
#define DENSE_MC 280

/* X read in place: measured on an AMD EPYC Zen 5 (lib/core/dense.c) */
#define DENSE_ROWS 1
#include "../dense_tmpl.h"
