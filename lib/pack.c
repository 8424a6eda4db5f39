/* Kernel-ready packing of a series, built once when the series is created
 * (decompose, import, load). The layout is documented in kernels/kernels.h
 * and docs/design.md ("Kernel layout"). One allocation holds the
 * tasdi_packed header and, per term, the koff and nidx arrays; the canonical
 * values and indices are shared with the series, not copied. */
#include "internal.h"
#include "../kernels/kernels.h"

#include <string.h>

static size_t round64(size_t x)
{
    return (x + 63) & ~(size_t)63;
}

static int log2i(int m)
{
    int b = 0;
    while ((1 << b) < m)
        b++;
    return b;
}

static void pack_term(tasdi_pterm *pt, int64_t r0, int64_t r1)
{
    uint16_t *koff = (uint16_t *)(uintptr_t)pt->koff;
    uint32_t *nidx = (uint32_t *)(uintptr_t)pt->nidx;
    const int n = pt->n, m = pt->m;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *ix = pt->index + r * pt->width;
        uint16_t *ko = koff + r * pt->width;
        /* koff: position of the slot inside its K block */
        int64_t s = 0;
        for (int64_t g = 0; g < pt->groups; g++) {
            int base = (int)((g * m) % TASDI_KC);
            for (int j = 0; j < n; j++, s++)
                ko[s] = (uint16_t)(base + ix[s]);
        }
        /* nidx: chunks of 16 slots, bits each, per_word per uint32 */
        uint32_t *w = nidx + r * pt->chunks * pt->words;
        memset(w, 0, (size_t)(pt->chunks * pt->words) * sizeof *w);
        for (s = 0; s < pt->width; s++) {
            int64_t c = s / 16;
            int i = (int)(s % 16);
            w[c * pt->words + i / pt->per_word] |= (uint32_t)ix[s]
                                                   << ((i % pt->per_word) * pt->bits);
        }
    }
}

tasd_status tasdi_series_pack(tasd_series *s)
{
    s->packed = NULL;
    s->packed_size = 0;
    size_t koff_bytes[TASD_MAX_TERMS], nidx_bytes[TASD_MAX_TERMS];
    size_t total = round64(sizeof(tasdi_packed));
    for (int i = 0; i < s->terms; i++) {
        const tasdi_term *t = &s->term[i];
        int bits = log2i(t->m) > 0 ? log2i(t->m) : 1;
        int per_word = 32 / bits > 16 ? 16 : 32 / bits;
        int words = (16 + per_word - 1) / per_word;
        size_t slots, chunk_words;
        if (!tasdi_mul_size((size_t)s->rows, (size_t)t->width, &slots) ||
            !tasdi_mul_size((size_t)s->rows,
                            (size_t)((t->width + 15) / 16) * (size_t)words, &chunk_words) ||
            slots > SIZE_MAX / 8 || chunk_words > SIZE_MAX / 8)
            return tasdi_fail(TASD_ERR_OVERFLOW, "packing a %lld x %lld series overflows",
                              (long long)s->rows, (long long)s->cols);
        koff_bytes[i] = round64(slots * sizeof(uint16_t));
        nidx_bytes[i] = round64(chunk_words * sizeof(uint32_t));
        total += koff_bytes[i] + nidx_bytes[i];
    }
    char *mem = tasdi_alloc(&s->allocator, total);
    if (!mem)
        return TASD_ERR_OUT_OF_MEMORY;
    tasdi_packed *p = (tasdi_packed *)(void *)mem;
    memset(p, 0, sizeof *p);
    p->rows = s->rows;
    p->cols = s->cols;
    p->nkb = (s->cols + TASDI_KC - 1) / TASDI_KC;
    p->terms = s->terms;
    char *at = mem + round64(sizeof(tasdi_packed));
    for (int i = 0; i < s->terms; i++) {
        const tasdi_term *t = &s->term[i];
        tasdi_pterm *pt = &p->term[i];
        pt->n = t->n;
        pt->m = t->m;
        pt->bits = log2i(t->m) > 0 ? log2i(t->m) : 1;
        pt->per_word = 32 / pt->bits > 16 ? 16 : 32 / pt->bits;
        pt->words = (16 + pt->per_word - 1) / pt->per_word;
        pt->pow2n = t->n <= 16 && (t->n & (t->n - 1)) == 0;
        pt->groups = t->groups;
        pt->width = t->width;
        pt->spb = (int64_t)(TASDI_KC / t->m) * t->n;
        pt->chunks = (t->width + 15) / 16;
        pt->values = t->values;
        pt->index = t->index;
        pt->koff = (const uint16_t *)(void *)at;
        at += koff_bytes[i];
        pt->nidx = (const uint32_t *)(void *)at;
        at += nidx_bytes[i];
        pack_term(pt, 0, s->rows);
    }
    s->packed = p;
    s->packed_size = total;
    return TASD_OK;
}

void tasdi_series_unpack(tasd_series *s)
{
    tasdi_free(&s->allocator, s->packed, s->packed_size);
    s->packed = NULL;
    s->packed_size = 0;
}
