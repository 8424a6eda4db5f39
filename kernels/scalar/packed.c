/* Plain-C kernels on the packed layout (kernels/kernels.h): the executable
 * specification of the wide and narrow contracts. SIMD backends compute the
 * same sums with vectors. */
#include "../kernels.h"

void tasdi_scalar_wide(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                       const float *bblk, int ncols, float *tile, int accumulate)
{
    for (int64_t r = r0; r < r1; r++) {
        float *t = tile + (r - r0) * TASDI_NR;
        if (!accumulate)
            for (int j = 0; j < ncols; j++)
                t[j] = 0.0f;
        for (int i = 0; i < p->terms; i++) {
            const tasdi_pterm *pt = &p->term[i];
            int64_t cnt = tasdi_wide_cnt(pt, p->nkb, kb);
            int64_t at = tasdi_wide_at(pt, p->rows, p->nkb, kb, r);
            const float *v = pt->wval + at;
            const uint8_t *ko = pt->koff + at;
            for (int64_t s = 0; s < cnt; s++) {
                const float *b = bblk + (size_t)ko[s] * TASDI_NR;
                for (int j = 0; j < ncols; j++)
                    t[j] += v[s] * b[j];
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
            const float *v = pt->values + r * pt->width;
            const uint32_t *w = pt->nidx + r * pt->chunks * pt->words;
            uint32_t mask = (1u << pt->bits) - 1;
            for (int64_t s = 0; s < pt->width; s++) {
                int i16 = (int)(s % 16);
                uint32_t word = w[(s / 16) * pt->words + i16 / pt->per_word];
                int64_t idx = (word >> ((i16 % pt->per_word) * pt->bits)) & mask;
                int64_t k = (s / pt->n) * pt->m + idx;
                for (int j = 0; j < nx; j++)
                    acc[j] += v[s] * x[j * ldx + k];
            }
        }
        for (int j = 0; j < nx; j++)
            y[(r - r0) * ldy + j] = acc[j];
    }
}
