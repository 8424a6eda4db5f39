/* Temporary: avx2 entry points running the plain-C packed kernels. */
#include "../kernels.h"
void tasdi_avx2_select(float *residual, int64_t k, int n, int m, float *values, uint8_t *index)
{ tasdi_scalar_select(residual, k, n, m, values, index); }
void tasdi_avx2_wide(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                     const float *bblk, int ncols, float *tile, int accumulate)
{ tasdi_scalar_wide(p, r0, r1, kb, bblk, ncols, tile, accumulate); }
void tasdi_avx2_narrow(const tasdi_packed *p, int64_t r0, int64_t r1,
                       const float *x, int64_t ldx, int nx, float *y, int64_t ldy)
{ tasdi_scalar_narrow(p, r0, r1, x, ldx, nx, y, ldy); }
