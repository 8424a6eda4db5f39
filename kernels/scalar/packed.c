/* Plain-C kernels on the layout (kernels/kernels.h): the executable
 * specification of the wide and narrow contracts, and the scalar backend.
 * A value-0 slot (padding, nothing kept) never touches B or x, so NaN/Inf
 * that only sits where nothing was kept stays out of C. */
#include "../kernels.h"

void tasdi_scalar_wide(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                       const float *bblk, int64_t bnext, int ncols, float *tile,
                       int64_t tnext, int64_t tld, int accumulate)
{
    for (int q = 0; q * TASDI_NR < ncols; q++) { /* panel by panel */
        const float *bq = bblk + q * bnext;
        int nc = ncols - q * TASDI_NR < TASDI_NR ? ncols - q * TASDI_NR : TASDI_NR;
        for (int64_t r = r0; r < r1; r++) {
            float *t = tile + q * tnext + (r - r0) * tld;
            if (!accumulate)
                for (int j = 0; j < nc; j++)
                    t[j] = 0.0f;
            for (int i = 0; i < p->terms; i++) {
                const tasdi_pterm *pt = &p->term[i];
                int64_t cnt = tasdi_wide_cnt(pt, p->nkb, kb);
                const int64_t at = tasdi_wide_at(pt, p->rows, p->nkb, kb, r);
                const uint32_t *w = pt->idx + tasdi_idx_at(pt, p->rows, p->nkb, kb, r);
                for (int64_t s = 0; s < cnt; s++) {
                    const float v = tasdi_value(p, pt, at + s);
                    if (v == 0.0f)
                        continue;
                    const float *b = bq + (size_t)tasdi_slot_k(pt, w, s) * TASDI_NR;
                    for (int j = 0; j < nc; j++)
                        t[j] += v * b[j];
                }
            }
        }
    }
}

void tasdi_scalar_narrow(const tasdi_packed *p, int64_t r0, int64_t r1,
                         const float *x, int64_t ldx, int nx, float *y,
                         int64_t ldy)
{
    for (int64_t r = r0; r < r1; r++) {
        float acc[TASDI_NARROW_MAX] = {0};
        for (int i = 0; i < p->terms; i++) {
            const tasdi_pterm *pt = &p->term[i];
            for (int64_t kb = 0; kb < p->nkb; kb++) {
                int64_t cnt = tasdi_wide_cnt(pt, p->nkb, kb);
                const int64_t at = tasdi_wide_at(pt, p->rows, p->nkb, kb, r);
                const uint32_t *w = pt->idx + tasdi_idx_at(pt, p->rows, p->nkb, kb, r);
                const float *xb = x + kb * TASDI_KC;
                for (int64_t s = 0; s < cnt; s++) {
                    const float v = tasdi_value(p, pt, at + s);
                    if (v == 0.0f)
                        continue;
                    int k = tasdi_slot_k(pt, w, s);
                    for (int j = 0; j < nx; j++)
                        acc[j] += v * xb[j * ldx + k];
                }
            }
        }
        for (int j = 0; j < nx; j++)
            y[(r - r0) * ldy + j] = acc[j];
    }
}
