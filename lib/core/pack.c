/* The one resident layout of a series (kernels/kernels.h, docs/design.md
 * "Kernel layout"): values once (fp32, bf16 or f16), K-block major with all terms of a row
 * interleaved; indices once, bit-packed in the same order. Producers write
 * canonical rows into it (tasdi_series_put_row); the canonical view is read
 * back a row at a time (tasdi_series_get_row). */
#include "dispatch.h"

#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "put_run packs index bytes read as little-endian words"
#endif

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

_Static_assert(TASDI_KC % TASD_MAX_M == 0, "a K block holds whole groups");

/* Index words of a run of cnt slots: `words` per full chunk of 16, only the
 * words its slots use for a short last chunk (1:8 runs are 8 slots: one word,
 * not two; what brings 2:4+1:8 with bf16 values to 1.5 bytes per weight). */
static int64_t run_words(const tasdi_pterm *pt, int64_t cnt)
{
    return cnt / 16 * pt->words + (cnt % 16 + pt->per_word - 1) / pt->per_word;
}

/* Byte offsets and sizes of a layout block: header | values | indices. */
typedef struct layout_bytes {
    size_t head;   /* header, rounded: where the values start       */
    size_t vbytes; /* values, rounded: indices start at head+vbytes */
    size_t vused;  /* of which the slots use                        */
    size_t iused;  /* index bytes the words use                     */
    size_t total;  /* the block, with TASDI_IDX_SLACK, rounded      */
} layout_bytes;

/* The header of s's layout and the bytes of the whole block; false on
 * overflow. */
static bool layout_plan(const tasd_series *s, tasdi_packed *hdr_out, layout_bytes *lb)
{
    tasdi_packed hdr;
    memset(&hdr, 0, sizeof hdr);
    hdr.rows = s->rows;
    hdr.cols = s->cols;
    hdr.nkb = s->cols / TASDI_KC + (s->cols % TASDI_KC != 0); /* cols + KC - 1 may overflow */
    hdr.terms = s->terms;
    hdr.vtype = (int)s->values; /* TASDI_V_* numbers are tasd_dtype's */
    int64_t tspb = 0, tlast = 0, twpb = 0, twlast = 0;
    for (int i = 0; i < s->terms; i++) {
        const tasdi_term *t = &s->term[i];
        tasdi_pterm *pt = &hdr.term[i];
        pt->n = t->n;
        pt->m = t->m;
        pt->bits = log2i(t->m) > 0 ? log2i(t->m) : 1;
        pt->per_word = 32 / pt->bits > 16 ? 16 : 32 / pt->bits;
        pt->words = (16 + pt->per_word - 1) / pt->per_word;
        pt->pow2n = t->n <= 16 && (t->n & (t->n - 1)) == 0;
        pt->groups = t->groups;
        pt->width = t->width;
        pt->spb = (int64_t)(TASDI_KC / t->m) * t->n;
        pt->last = t->width - (hdr.nkb > 0 ? hdr.nkb - 1 : 0) * pt->spb;
        pt->wpb = run_words(pt, pt->spb);
        pt->wlast = run_words(pt, pt->last);
        pt->pspb = tspb;
        pt->plast = tlast;
        pt->pwpb = twpb;
        pt->pwlast = twlast;
        tspb += pt->spb;
        tlast += pt->last;
        twpb += pt->wpb;
        twlast += pt->wlast;
    }
    /* slots and words of all rows: (nkb - 1) full blocks + the last */
    size_t slots = 0, words = 0;
    if (hdr.nkb > 0 &&
        (!tasdi_mul_size((size_t)s->rows, (size_t)((hdr.nkb - 1) * tspb + tlast), &slots) ||
         !tasdi_mul_size((size_t)s->rows, (size_t)((hdr.nkb - 1) * twpb + twlast), &words) ||
         slots > SIZE_MAX / 16 || words > SIZE_MAX / 16))
        return false;
    for (int i = 0; i < s->terms; i++) {
        hdr.term[i].tspb = tspb;
        hdr.term[i].tlast = tlast;
        hdr.term[i].twpb = twpb;
        hdr.term[i].twlast = twlast;
    }
    *hdr_out = hdr;
    lb->head = round64(sizeof(tasdi_packed));
    lb->vused = slots * (s->values == TASD_F32 ? sizeof(float) : 2);
    lb->vbytes = round64(lb->vused);
    lb->iused = words * sizeof(uint32_t);
    /* + TASDI_IDX_SLACK: kernels may load a short chunk's `words` words */
    lb->total = lb->head + lb->vbytes + round64(lb->iused + TASDI_IDX_SLACK);
    return true;
}

/* Put the layout planned as hdr into the block mem. The padding after the
 * values and the index words is zeroed: kernels load whole vectors and
 * chunks there (the lanes are discarded, but must not depend on garbage). */
static void layout_place(tasd_series *s, tasdi_packed *hdr, char *mem, const layout_bytes *lb)
{
    char *idx = mem + lb->head + lb->vbytes;
    for (int i = 0; i < s->terms; i++) {
        hdr->term[i].val = (const float *)(void *)(mem + lb->head); /* or hval */
        hdr->term[i].idx = (const uint32_t *)(void *)idx;
    }
    memcpy(mem, hdr, sizeof *hdr);
    /* the gap after the header is written too: the bf16 kernels read the
     * 2 bytes before the first value (and mask them off) */
    memset(mem + sizeof *hdr, 0, lb->head - sizeof *hdr);
    memset(mem + lb->head + lb->vused, 0, lb->vbytes - lb->vused);
    memset(idx + lb->iused, 0, lb->total - (size_t)(idx - mem) - lb->iused);
    s->packed = (tasdi_packed *)(void *)mem;
    s->packed_size = lb->total;
}

tasd_status tasdi_layout_alloc(tasd_series *s)
{
    tasdi_packed hdr;
    layout_bytes lb;
    if (!layout_plan(s, &hdr, &lb))
        return tasdi_fail(TASD_ERR_OVERFLOW, "a %lld x %lld series overflows",
                          (long long)s->rows, (long long)s->cols);
    char *mem = tasdi_alloc_lasting(&s->allocator, lb.total);
    if (!mem)
        return TASD_ERR_OUT_OF_MEMORY;
    layout_place(s, &hdr, mem, &lb);
    return TASD_OK;
}

void tasdi_layout_carve(tasd_series *s, tasdi_arena *ar)
{
    tasdi_packed hdr;
    layout_bytes lb;
    if (!layout_plan(s, &hdr, &lb)) {
        ar->failed = true;
        return;
    }
    char *mem = tasdi_arena_take(ar, lb.total);
    if (mem)
        layout_place(s, &hdr, mem, &lb);
}

/* Eight in-group indices (bytes < 2^bits) of x packed into 8 * bits bits,
 * index i at bit i * bits: pairs, then quads, then the octet (SWAR). */
static inline __attribute__((always_inline)) uint64_t pack8(uint64_t x, const int bits)
{
    const uint64_t m2 = ((uint64_t)1 << 2 * bits) - 1, m4 = ((uint64_t)1 << 4 * bits) - 1;
    x = (x | x >> (8 - bits)) & (m2 * 0x0001000100010001ull);
    x = (x | x >> (16 - 2 * bits)) & (m4 * 0x0000000100000001ull);
    return (x | x >> (32 - 4 * bits)) & (((uint64_t)1 << 8 * bits) - 1);
}

/* The first `left` (< 16) bytes of ix as two little-endian words, zero
 * filled: a run of 1:8 is 8 slots, one plain load, not a library call. */
static inline void load_short(uint64_t b[2], const uint8_t *ix, int left)
{
    int i = 0;
    if (left >= 8) {
        memcpy(b, ix, 8);
        i = 8;
    }
    for (; i < left; i++)
        b[i / 8] |= (uint64_t)ix[i] << (8 * (i % 8));
}

/* Pack the in-group indices of one run of cnt slots into chunks of 16;
 * bits is a constant where inlined. bits <= 4: a chunk's 16 indices fit one
 * uint64 (words of per_word indices cut from it); 5 (M = 32) goes one by
 * one. */
static inline __attribute__((always_inline)) void
put_run(uint32_t *w, const uint8_t *ix, int64_t cnt, const int bits)
{
    const int per_word = 32 / bits > 16 ? 16 : 32 / bits;
    for (int64_t c = 0; c * 16 < cnt; c++) {
        const uint8_t *ci = ix + c * 16;
        int left = cnt - c * 16 < 16 ? (int)(cnt - c * 16) : 16;
        if (bits <= 4) {
            uint64_t b[2] = {0, 0}; /* little-endian: byte i at bit 8 i */
            if (left == 16)
                memcpy(b, ci, 16); /* two plain loads */
            else
                load_short(b, ci, left);
            uint64_t all = pack8(b[0], bits) | pack8(b[1], bits) << 8 * bits;
            const uint64_t wmask = ((uint64_t)1 << per_word * bits) - 1;
            for (int i0 = 0; i0 < left; i0 += per_word)
                *w++ = (uint32_t)(all >> (i0 * bits) & wmask);
            continue;
        }
        for (int i0 = 0; i0 < left; i0 += per_word) {
            uint32_t acc = 0;
            for (int i = i0; i < i0 + per_word && i < left; i++)
                acc |= (uint32_t)ci[i] << ((i - i0) * bits);
            *w++ = acc;
        }
    }
}

/* The values of one run: fp32 copied in constant-size pieces (inlined, no
 * library call per K block), halves rounded. */
static inline __attribute__((always_inline)) void
put_values(const tasd_series *s, float *val, uint16_t *hval, const float *v, int64_t cnt)
{
    int64_t q = 0;
    if (s->values == TASD_F32) {
        for (; q + 8 <= cnt; q += 8)
            memcpy(val + q, v + q, 8 * sizeof(float));
        for (; q < cnt; q++)
            val[q] = v[q];
    } else if (s->values == TASD_BF16) {
        for (; q < cnt; q++)
            hval[q] = tasdi_f32_to_bf16(v[q]);
    } else {
        for (; q < cnt; q++)
            hval[q] = tasdi_f32_to_f16(v[q]);
    }
}

/* Row r of term i, with the index width a constant: the full K blocks of a
 * row lie a fixed stride apart (a row block's K block), so their places are
 * stepped, not recomputed; the last block goes by tasdi_wide_at. */
static inline __attribute__((always_inline)) void
put_row_bits(tasd_series *s, int i, int64_t r, const float *v, const uint8_t *ix,
             const int bits)
{
    const tasdi_packed *p = s->packed;
    const tasdi_pterm *pt = &p->term[i];
    float *val = (float *)(uintptr_t)pt->val;
    uint16_t *hval = (uint16_t *)(uintptr_t)pt->hval;
    uint32_t *idx = (uint32_t *)(uintptr_t)pt->idx;
    const int64_t nkb = p->nkb, spb = pt->spb;
    int64_t rb0 = r / TASDI_RB * TASDI_RB;
    int64_t nb = p->rows - rb0 < TASDI_RB ? p->rows - rb0 : TASDI_RB;
    int64_t to = tasdi_wide_at(pt, p->rows, nkb, 0, r);
    int64_t wi = tasdi_idx_at(pt, p->rows, nkb, 0, r);
    const int64_t vstep = nb * pt->tspb, wstep = nb * pt->twpb;
    int64_t at = 0;
    const bool ahead = r + 1 < rb0 + nb; /* the next row's places follow */
    const size_t vbytes = (size_t)spb * (s->values == TASD_F32 ? 4 : 2);
    for (int64_t kb = 0; kb + 1 < nkb; kb++, at += spb, to += vstep, wi += wstep) {
        if (ahead) {
            const char *nv = s->values == TASD_F32 ? (const char *)(val + to + pt->tspb)
                                                   : (const char *)(hval + to + pt->tspb);
            for (size_t o = 0; o < vbytes; o += 64)
                __builtin_prefetch(nv + o, 1);
            __builtin_prefetch(nv + vbytes - 1, 1);
            __builtin_prefetch(idx + wi + pt->twpb, 1);
        }
        put_values(s, val + to, hval + to, v + at, spb);
        put_run(idx + wi, ix + at, spb, bits);
    }
    if (nkb > 0) {
        to = tasdi_wide_at(pt, p->rows, nkb, nkb - 1, r);
        wi = tasdi_idx_at(pt, p->rows, nkb, nkb - 1, r);
        put_values(s, val + to, hval + to, v + at, pt->last);
        put_run(idx + wi, ix + at, pt->last, bits);
    }
}

void tasdi_series_put_row(tasd_series *s, int i, int64_t r, const float *v,
                          const uint8_t *ix)
{
    switch (((const tasdi_packed *)s->packed)->term[i].bits) {
    case 1: put_row_bits(s, i, r, v, ix, 1); break;
    case 2: put_row_bits(s, i, r, v, ix, 2); break;
    case 3: put_row_bits(s, i, r, v, ix, 3); break;
    case 4: put_row_bits(s, i, r, v, ix, 4); break;
    default: put_row_bits(s, i, r, v, ix, 5); break;
    }
}

void tasdi_series_get_row(const tasd_series *s, int i, int64_t r, float *v, uint8_t *ix)
{
    const tasdi_packed *p = s->packed;
    const tasdi_pterm *pt = &p->term[i];
    int64_t at = 0;
    for (int64_t kb = 0; kb < p->nkb; kb++) {
        int64_t cnt = tasdi_wide_cnt(pt, p->nkb, kb);
        const uint32_t *w = pt->idx + tasdi_idx_at(pt, p->rows, p->nkb, kb, r);
        int64_t from = tasdi_wide_at(pt, p->rows, p->nkb, kb, r);
        if (v && p->vtype == TASDI_V_F32)
            memcpy(v + at, pt->val + from, (size_t)cnt * sizeof(float));
        else if (v)
            for (int64_t q = 0; q < cnt; q++)
                v[at + q] = tasdi_value(p, pt, from + q);
        for (int64_t q = 0; ix && q < cnt; q++)
            ix[at + q] = (uint8_t)(tasdi_slot_k(pt, w, q) - (q / pt->n) * pt->m);
        at += cnt;
    }
}

void tasdi_series_free_layout(tasd_series *s)
{
    tasdi_free(&s->allocator, s->packed, s->packed_size);
    s->packed = NULL;
    s->packed_size = 0;
}
