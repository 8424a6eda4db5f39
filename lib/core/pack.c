/* Kernel-ready packing of a series, built once when the series is created
 * (decompose, import, load). The layout is documented in kernels/kernels.h
 * and docs/design.md ("Kernel layout"). One allocation holds the
 * tasdi_packed header and, per term, the koff and nidx arrays; the canonical
 * values and indices are shared with the series, not copied. */
#include "dispatch.h"

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

_Static_assert(TASDI_KC <= 256 && TASDI_KC % TASD_MAX_M == 0,
               "koff is one byte and a K block holds whole groups");

/* k offsets of one K block's slots: slot q sits at (q / n) * m + index.
 * Inlined with a constant n for the common cases. */
static inline __attribute__((always_inline)) void
koff_run(uint8_t *ko, const uint8_t *ix, int64_t cnt, const int n, int m)
{
    int base = 0;
    for (int64_t q = 0; q < cnt; q += n, base += m)
        for (int j = 0; j < n; j++)
            ko[q + j] = (uint8_t)(base + ix[q + j]);
}

/* One row's nidx words; bits is a constant where inlined. */
static inline __attribute__((always_inline)) void
nidx_row(uint32_t *w, const uint8_t *ix, int64_t width, int64_t chunks, const int bits)
{
    const int per_word = 32 / bits > 16 ? 16 : 32 / bits;
    const int words = (16 + per_word - 1) / per_word;
    int64_t c = 0;
    for (; (c + 1) * 16 <= width; c++) { /* full chunks */
        const uint8_t *ci = ix + c * 16;
        for (int wd = 0; wd < words; wd++) {
            uint32_t acc = 0;
            int i0 = wd * per_word, i1 = i0 + per_word < 16 ? i0 + per_word : 16;
            for (int i = i0; i < i1; i++)
                acc |= (uint32_t)ci[i] << ((i - i0) * bits);
            w[c * words + wd] = acc;
        }
    }
    for (; c < chunks; c++) { /* the short last chunk, zero filled */
        const uint8_t *ci = ix + c * 16;
        int cnt = (int)(width - c * 16);
        for (int wd = 0; wd < words; wd++) {
            uint32_t acc = 0;
            int i0 = wd * per_word, i1 = i0 + per_word < cnt ? i0 + per_word : cnt;
            for (int i = i0; i < i1; i++)
                acc |= (uint32_t)ci[i] << ((i - i0) * bits);
            w[c * words + wd] = acc;
        }
    }
}

static void pack_term(tasdi_pterm *pt, int64_t rows, int64_t nkb, int64_t r0, int64_t r1)
{
    uint8_t *koff = (uint8_t *)(uintptr_t)pt->koff;
    float *wval = (float *)(uintptr_t)pt->wval;
    uint32_t *nidx = (uint32_t *)(uintptr_t)pt->nidx;
    const int n = pt->n, m = pt->m;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *ix = pt->index + r * pt->width;
        const float *v = pt->values + r * pt->width;
        /* wide stream: K-block major; koff = k inside the block */
        int64_t s = 0;
        for (int64_t kb = 0; kb < nkb; kb++) {
            int64_t cnt = tasdi_wide_cnt(pt, nkb, kb), at = tasdi_wide_at(pt, rows, nkb, kb, r);
            memcpy(wval + at, v + s, (size_t)cnt * sizeof(float));
            switch (n) {
            case 1: koff_run(koff + at, ix + s, cnt, 1, m); break;
            case 2: koff_run(koff + at, ix + s, cnt, 2, m); break;
            case 4: koff_run(koff + at, ix + s, cnt, 4, m); break;
            default: koff_run(koff + at, ix + s, cnt, n, m); break;
            }
            s += cnt;
        }
        /* nidx: chunks of 16 slots, bits each, per_word per uint32 */
        uint32_t *w = nidx + r * pt->chunks * pt->words;
        switch (pt->bits) {
        case 1: nidx_row(w, ix, pt->width, pt->chunks, 1); break;
        case 2: nidx_row(w, ix, pt->width, pt->chunks, 2); break;
        case 3: nidx_row(w, ix, pt->width, pt->chunks, 3); break;
        case 4: nidx_row(w, ix, pt->width, pt->chunks, 4); break;
        default: nidx_row(w, ix, pt->width, pt->chunks, 5); break;
        }
    }
}

tasd_status tasdi_series_pack_alloc(tasd_series *s)
{
    s->packed = NULL;
    s->packed_size = 0;
    size_t nidx_bytes[TASD_MAX_TERMS], all_slots = 0;
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
            slots > SIZE_MAX / 16 || chunk_words > SIZE_MAX / 16 ||
            all_slots + slots > SIZE_MAX / 16)
            return tasdi_fail(TASD_ERR_OVERFLOW, "packing a %lld x %lld series overflows",
                              (long long)s->rows, (long long)s->cols);
        all_slots += slots;
        nidx_bytes[i] = round64(chunk_words * sizeof(uint32_t));
        total += nidx_bytes[i];
    }
    const size_t wval_bytes = round64(all_slots * sizeof(float)), koff_bytes = round64(all_slots);
    total += wval_bytes + koff_bytes;
    char *mem = tasdi_alloc_lasting(&s->allocator, total);
    if (!mem)
        return TASD_ERR_OUT_OF_MEMORY;
    tasdi_packed *p = (tasdi_packed *)(void *)mem;
    memset(p, 0, sizeof *p);
    p->rows = s->rows;
    p->cols = s->cols;
    p->nkb = (s->cols + TASDI_KC - 1) / TASDI_KC;
    p->terms = s->terms;
    char *at = mem + round64(sizeof(tasdi_packed));
    const float *wval = (const float *)(void *)at;
    at += wval_bytes;
    const uint8_t *koff = (const uint8_t *)(void *)at;
    at += koff_bytes;
    int64_t tspb = 0, tlast = 0;
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
        pt->last = t->width - (p->nkb > 0 ? p->nkb - 1 : 0) * pt->spb;
        pt->pspb = tspb;
        pt->plast = tlast;
        tspb += pt->spb;
        tlast += pt->last;
        pt->values = t->values;
        pt->index = t->index;
        pt->wval = wval;
        pt->koff = koff;
        pt->nidx = (const uint32_t *)(void *)at;
        at += nidx_bytes[i];
    }
    for (int i = 0; i < s->terms; i++) {
        p->term[i].tspb = tspb;
        p->term[i].tlast = tlast;
    }
    s->packed = p;
    s->packed_size = total;
    return TASD_OK;
}

void tasdi_series_pack_rows(tasd_series *s, int64_t r0, int64_t r1)
{
    tasdi_packed *p = s->packed;
    for (int i = 0; i < p->terms; i++)
        pack_term(&p->term[i], p->rows, p->nkb, r0, r1);
}

tasd_status tasdi_series_pack(tasd_series *s)
{
    tasd_status st = tasdi_series_pack_alloc(s);
    if (st)
        return st;
    tasdi_series_pack_rows(s, 0, s->rows);
    return TASD_OK;
}

void tasdi_series_unpack(tasd_series *s)
{
    tasdi_free(&s->allocator, s->packed, s->packed_size);
    s->packed = NULL;
    s->packed_size = 0;
}
