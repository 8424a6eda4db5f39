/* AVX2 + FMA dense tiles: 6 tokens x 16 outputs (12 ymm accumulators, 2 W
 * loads + 6 broadcasts per 12 FMAs). Compiled with -mavx2 -mfma only. */
#include "../kernels.h"

#include <immintrin.h>

#define VL 8
#define PFX(name) tasdi_avx2_##name
typedef __m256 vf;

static inline __m256i lanes_below(int n) /* lanes i < n all ones */
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#define VZERO() _mm256_setzero_ps()
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VBCAST(p) _mm256_broadcast_ss(p)
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VLOAD_N(p, n) _mm256_maskload_ps((p), lanes_below(n))
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

#include "../dense_tmpl.h"
