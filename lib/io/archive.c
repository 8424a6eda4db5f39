/* The .tasd series container (docs/format.md): writer, reader, validation.
 * Every integer is little-endian; every section carries a CRC-32. */
#include "io.h"

#include <math.h>
#include <stdio.h>

#define FILE_MAGIC "TASDSER\0"
#define FILE_VERSION 2u  /* the newest this libtasd reads and writes */
#define FILE_VERSION_F32 1u /* written when every series has f32 values */
#define FILE_HEADER_SIZE 16u
#define REC_MAGIC "TSR1"
#define REC_FIXED 64u
#define TERM_DESC 48u
#define TRAILER_MAGIC "TASDDIR\0"
#define TRAILER_SIZE 40u
#define ALIGN 64u
#define MAX_NAME 65535u

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

static int log2i(int m)
{
    int b = 0;
    while ((1 << b) < m)
        b++;
    return b;
}

static bool all_zero(const unsigned char *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* ---- output sink: a file or a memory buffer ---- */

typedef struct sink {
    tasdi_outfile *file;
    unsigned char *buf;
} sink;

static tasd_status sink_write(sink *k, uint64_t off, const void *data, size_t n)
{
    if (k->file)
        return tasdi_out_pwrite(k->file, data, n, off);
    memcpy(k->buf + off, data, n);
    return TASD_OK;
}

/* ---- series records ---- */

typedef struct rec_layout {
    uint64_t header_size;
    uint64_t values_off[TASD_MAX_TERMS], index_off[TASD_MAX_TERMS];
    uint64_t values_bytes[TASD_MAX_TERMS], index_bytes[TASD_MAX_TERMS];
    uint64_t size;
} rec_layout;

/* Layout from the shape and terms; false when a size overflows. */
/* vsize: bytes per value (4: f32, 2: bf16 / f16) */
static bool rec_plan(int64_t rows, int64_t cols, int terms, const int *n, const int *m,
                     uint64_t vsize, rec_layout *L)
{
    L->header_size = REC_FIXED + TERM_DESC * (uint64_t)terms + 4;
    uint64_t off = align_up(L->header_size, ALIGN);
    for (int i = 0; i < terms; i++) {
        uint64_t groups = ((uint64_t)cols + (uint64_t)m[i] - 1) / (uint64_t)m[i];
        uint64_t width = groups * (uint64_t)n[i];
        if (rows < 0 || cols < 0 || (rows > 0 && width > ((uint64_t)1 << 50) / (uint64_t)rows))
            return false;
        uint64_t slots = (uint64_t)rows * width;
        if (slots > ((uint64_t)1 << 46))
            return false;
        L->values_off[i] = off;
        L->values_bytes[i] = slots * vsize;
        off = align_up(off + L->values_bytes[i], ALIGN);
        L->index_off[i] = off;
        L->index_bytes[i] = (slots * (uint64_t)log2i(m[i]) + 7) / 8;
        off = align_up(off + L->index_bytes[i], ALIGN);
    }
    L->size = off;
    return true;
}

static tasd_status series_plan(const tasd_series *s, rec_layout *L)
{
    int n[TASD_MAX_TERMS], m[TASD_MAX_TERMS];
    for (int i = 0; i < s->terms; i++) {
        n[i] = s->term[i].n;
        m[i] = s->term[i].m;
    }
    if (!rec_plan(s->rows, s->cols, s->terms, n, m, tasd_dtype_size(s->values), L))
        return tasdi_fail(TASD_ERR_OVERFLOW, "series too large to save");
    return TASD_OK;
}

enum { CHUNK_SLOTS = 8 * 512 }; /* 16 KiB of stack at most */

/* Write one record at `base`; L from series_plan. */
static tasd_status rec_write(sink *k, uint64_t base, const tasd_series *s, const rec_layout *L)
{
    static const unsigned char zeros[ALIGN];
    unsigned char head[REC_FIXED + TERM_DESC * TASD_MAX_TERMS + 4];
    unsigned char buf[CHUNK_SLOTS * 4];
    memset(head, 0, sizeof head);
    memcpy(head, REC_MAGIC, 4);
    tasdi_st32(head + 4, (uint32_t)L->header_size);
    tasdi_st32(head + 8, (uint32_t)s->method);
    tasdi_st32(head + 12, (uint32_t)s->terms);
    tasdi_st64(head + 16, (uint64_t)s->rows);
    tasdi_st64(head + 24, (uint64_t)s->cols);
    tasdi_stf64(head + 32, s->input_energy);
    tasdi_stf64(head + 40, s->error_energy);
    tasdi_st64(head + 48, (uint64_t)s->input_nonzeros);
    tasdi_st64(head + 56, L->size);
    tasd_status st = TASD_OK;
    for (int i = 0; i < s->terms && !st; i++) {
        const tasdi_term *t = &s->term[i];
        int bits = log2i(t->m);
        uint64_t slots = (uint64_t)s->rows * (uint64_t)t->width;
        uint32_t vcrc = 0, icrc = 0;
        /* the canonical view of the term, derived from the layout for the
         * time of the write */
        size_t cbytes = (size_t)slots * 5 + 1;
        float *values = tasdi_alloc(&s->allocator, cbytes);
        if (!values)
            return TASD_ERR_OUT_OF_MEMORY;
        uint8_t *index = (uint8_t *)(values + slots);
        for (int64_t r = 0; r < s->rows; r++)
            tasdi_series_get_row(s, i, r, values + r * t->width, index + r * t->width);
        const size_t vs = tasd_dtype_size(s->values);
        for (uint64_t j = 0; j < slots && !st; j += CHUNK_SLOTS) {
            size_t c = slots - j < CHUNK_SLOTS ? (size_t)(slots - j) : CHUNK_SLOTS;
            for (size_t q = 0; q < c; q++)
                if (s->values == TASD_F32)
                    tasdi_stf32(buf + 4 * q, values[j + q]);
                else /* exact: the values are already of this type */
                    tasdi_st16(buf + 2 * q, s->values == TASD_BF16
                                                ? tasdi_f32_to_bf16(values[j + q])
                                                : tasdi_f32_to_f16(values[j + q]));
            vcrc = tasdi_crc32(vcrc, buf, c * vs);
            st = sink_write(k, base + L->values_off[i] + j * vs, buf, c * vs);
        }
        for (uint64_t j = 0; j < slots && !st; j += CHUNK_SLOTS) {
            size_t c = slots - j < CHUNK_SLOTS ? (size_t)(slots - j) : CHUNK_SLOTS;
            size_t nb = (c * (size_t)bits + 7) / 8;
            memset(buf, 0, nb);
            for (size_t q = 0; q < c; q++) {
                size_t bit = q * (size_t)bits;
                unsigned v = index[j + q];
                buf[bit / 8] |= (unsigned char)(v << (bit % 8));
                if (bit % 8 + (size_t)bits > 8)
                    buf[bit / 8 + 1] |= (unsigned char)(v >> (8 - bit % 8));
            }
            icrc = tasdi_crc32(icrc, buf, nb);
            /* CHUNK_SLOTS is a multiple of 8, so chunks start on byte boundaries. */
            st = sink_write(k, base + L->index_off[i] + j / 8 * (uint64_t)bits, buf, nb);
        }
        tasdi_free(&s->allocator, values, cbytes);
        unsigned char *d = head + REC_FIXED + TERM_DESC * (size_t)i;
        tasdi_st32(d, (uint32_t)t->n);
        tasdi_st32(d + 4, (uint32_t)t->m);
        tasdi_st32(d + 8, (uint32_t)bits);
        tasdi_st32(d + 12, (uint32_t)s->values); /* version 2; 0 (f32) in 1 */
        tasdi_st64(d + 16, L->values_off[i]);
        tasdi_st64(d + 24, L->index_off[i]);
        tasdi_st32(d + 32, vcrc);
        tasdi_st32(d + 36, icrc);
        /* Zero padding between sections, so files are byte-for-byte reproducible. */
        uint64_t vend = L->values_off[i] + L->values_bytes[i];
        uint64_t iend = L->index_off[i] + L->index_bytes[i];
        if (!st && L->index_off[i] > vend)
            st = sink_write(k, base + vend, zeros, (size_t)(L->index_off[i] - vend));
        uint64_t next = i + 1 < s->terms ? L->values_off[i + 1] : L->size;
        if (!st && next > iend)
            st = sink_write(k, base + iend, zeros, (size_t)(next - iend));
    }
    if (st)
        return st;
    size_t hs = (size_t)L->header_size;
    tasdi_st32(head + hs - 4, tasdi_crc32(0, head, hs - 4));
    st = sink_write(k, base, head, hs);
    uint64_t first = align_up(L->header_size, ALIGN);
    if (!st && first > hs)
        st = sink_write(k, base + hs, zeros, (size_t)(first - hs));
    return st;
}

/* Parsed and checked record header (no data read yet). */
typedef struct rec_info {
    int64_t rows, cols;
    int method, terms;
    int n[TASD_MAX_TERMS], m[TASD_MAX_TERMS];
    uint32_t vcrc[TASD_MAX_TERMS], icrc[TASD_MAX_TERMS];
    double input_energy, error_energy;
    int64_t input_nonzeros;
    tasd_dtype values;   /* value type (version 2; f32 in version 1) */
    rec_layout L;
} rec_info;

static tasd_status rec_parse(const char *file, const char *name, uint32_t version,
                             const unsigned char *p, uint64_t avail, rec_info *r)
{
#define REC_BAD(...) return tasdi_fail(TASD_ERR_FORMAT, __VA_ARGS__)
    if (avail < REC_FIXED + 4)
        REC_BAD("%s: series \"%s\": truncated record", file, name);
    if (memcmp(p, REC_MAGIC, 4) != 0)
        REC_BAD("%s: series \"%s\": bad record magic", file, name);
    uint32_t hs = tasdi_ld32(p + 4);
    uint32_t terms = tasdi_ld32(p + 12);
    if (terms < 1 || terms > TASD_MAX_TERMS)
        REC_BAD("%s: series \"%s\": %u terms (want 1..%d)", file, name, terms, TASD_MAX_TERMS);
    if (hs != REC_FIXED + TERM_DESC * terms + 4)
        REC_BAD("%s: series \"%s\": header size %u does not match %u terms", file, name, hs, terms);
    if (hs > avail)
        REC_BAD("%s: series \"%s\": truncated record header", file, name);
    if (tasdi_crc32(0, p, hs - 4) != tasdi_ld32(p + hs - 4))
        REC_BAD("%s: series \"%s\": header checksum mismatch (corrupt file)", file, name);
    uint32_t method = tasdi_ld32(p + 8);
    if (method != TASD_GREEDY && method != TASD_OPTIMAL)
        REC_BAD("%s: series \"%s\": unknown method %u", file, name, method);
    r->method = (int)method;
    r->terms = (int)terms;
    r->rows = (int64_t)tasdi_ld64(p + 16);
    r->cols = (int64_t)tasdi_ld64(p + 24);
    r->input_energy = tasdi_ldf64(p + 32);
    r->error_energy = tasdi_ldf64(p + 40);
    r->input_nonzeros = (int64_t)tasdi_ld64(p + 48);
    uint64_t size = tasdi_ld64(p + 56);
    if (r->rows < 0 || r->cols < 0 || r->rows > ((int64_t)1 << 40) || r->cols > ((int64_t)1 << 40))
        REC_BAD("%s: series \"%s\": bad shape %lld x %lld", file, name, (long long)r->rows,
                (long long)r->cols);
    if (!isfinite(r->input_energy) || !isfinite(r->error_energy) || r->input_energy < 0 ||
        r->error_energy < 0 || r->input_nonzeros < 0)
        REC_BAD("%s: series \"%s\": bad stats", file, name);
    for (uint32_t i = 0; i < terms; i++) {
        const unsigned char *d = p + REC_FIXED + TERM_DESC * i;
        uint32_t n = tasdi_ld32(d), m = tasdi_ld32(d + 4);
        if (m < 2 || m > TASD_MAX_M || (m & (m - 1)) || n < 1 || n > m)
            REC_BAD("%s: series \"%s\": term %u has invalid N:M %u:%u", file, name, i + 1, n, m);
        r->n[i] = (int)n;
        r->m[i] = (int)m;
        if (tasdi_ld32(d + 8) != (uint32_t)log2i((int)m) || tasdi_ld64(d + 40) != 0)
            REC_BAD("%s: series \"%s\": term %u: bad index width or reserved field", file, name, i + 1);
        /* value type: 0 f32, 1 f16, 2 bf16 (tasd_dtype), the same for all
         * terms; version 1 has a reserved 0 there */
        uint32_t vt = tasdi_ld32(d + 12);
        if ((version < 2 && vt != 0) || vt > TASD_BF16 || (i > 0 && vt != (uint32_t)r->values))
            REC_BAD("%s: series \"%s\": term %u: bad value type %u", file, name, i + 1, vt);
        r->values = (tasd_dtype)vt;
        r->vcrc[i] = tasdi_ld32(d + 32);
        r->icrc[i] = tasdi_ld32(d + 36);
    }
    if (!rec_plan(r->rows, r->cols, r->terms, r->n, r->m, tasd_dtype_size(r->values), &r->L))
        return tasdi_fail(TASD_ERR_OVERFLOW, "%s: series \"%s\": %lld x %lld is too large", file,
                          name, (long long)r->rows, (long long)r->cols);
    for (uint32_t i = 0; i < terms; i++) {
        const unsigned char *d = p + REC_FIXED + TERM_DESC * i;
        if (tasdi_ld64(d + 16) != r->L.values_off[i] || tasdi_ld64(d + 24) != r->L.index_off[i])
            REC_BAD("%s: series \"%s\": term %u: section offsets do not match the layout", file,
                    name, i + 1);
    }
    if (size != r->L.size)
        REC_BAD("%s: series \"%s\": record size %llu, its shape needs %llu", file, name,
                (unsigned long long)size, (unsigned long long)r->L.size);
    if (size != avail) /* a longer entry would hold bytes no CRC or zero rule covers */
        REC_BAD("%s: series \"%s\": record of %llu bytes in a directory entry of %llu", file,
                name, (unsigned long long)size, (unsigned long long)avail);
    return TASD_OK;
#undef REC_BAD
}

/* Validate the data sections and build the series (packed once). */
static tasd_status rec_load(const tasd_allocator *a, const char *file, const char *name,
                            const unsigned char *p, const rec_info *r, tasd_series **out)
{
    /* Padding between sections must be zero (no unchecked bytes in a file). */
    uint64_t at = r->L.header_size;
    for (int i = 0; i <= r->terms; i++) {
        uint64_t next = i < r->terms ? r->L.values_off[i] : r->L.size;
        if (!all_zero(p + at, next - at))
            return tasdi_fail(TASD_ERR_FORMAT, "%s: series \"%s\": nonzero padding before section %d",
                              file, name, 2 * i + 1);
        if (i == r->terms)
            break;
        at = r->L.values_off[i] + r->L.values_bytes[i];
        if (!all_zero(p + at, r->L.index_off[i] - at))
            return tasdi_fail(TASD_ERR_FORMAT, "%s: series \"%s\": nonzero padding before section %d",
                              file, name, 2 * i + 2);
        at = r->L.index_off[i] + r->L.index_bytes[i];
    }
    for (int i = 0; i < r->terms; i++) {
        if (tasdi_crc32(0, p + r->L.values_off[i], (size_t)r->L.values_bytes[i]) != r->vcrc[i])
            return tasdi_fail(TASD_ERR_FORMAT, "%s: series \"%s\": term %d values checksum mismatch",
                              file, name, i + 1);
        if (tasdi_crc32(0, p + r->L.index_off[i], (size_t)r->L.index_bytes[i]) != r->icrc[i])
            return tasdi_fail(TASD_ERR_FORMAT, "%s: series \"%s\": term %d index checksum mismatch",
                              file, name, i + 1);
    }
    tasd_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.allocator = *a;
    cfg.terms = r->terms;
    for (int i = 0; i < r->terms; i++) {
        cfg.n[i] = r->n[i];
        cfg.m[i] = r->m[i];
    }
    tasd_series *s;
    tasd_status st = tasdi_series_alloc_typed(a, r->rows, r->cols, &cfg, (tasd_method)r->method,
                                              r->values, &s);
    if (st)
        return st;
    /* one canonical row at a time, written straight into the layout */
    int64_t maxw = 0;
    for (int i = 0; i < r->terms; i++)
        maxw = s->term[i].width > maxw ? s->term[i].width : maxw;
    size_t rbytes = (size_t)maxw * 5 + 1;
    float *rowv = tasdi_alloc(a, rbytes);
    uint8_t *rowi = (uint8_t *)(rowv + maxw);
    if (!rowv)
        st = TASD_ERR_OUT_OF_MEMORY;
    for (int i = 0; i < r->terms && !st; i++) {
        tasdi_term *t = &s->term[i];
        int bits = log2i(t->m);
        const unsigned char *vp = p + r->L.values_off[i], *ip = p + r->L.index_off[i];
        uint64_t slots = (uint64_t)s->rows * (uint64_t)t->width;
        for (uint64_t j = 0; j < slots; j++) {
            float v = r->values == TASD_F32    ? tasdi_ldf32(vp + 4 * j)
                      : r->values == TASD_BF16 ? tasdi_bf16_to_f32(tasdi_ld16(vp + 2 * j))
                                               : tasdi_f16_to_f32(tasdi_ld16(vp + 2 * j));
            uint64_t bit = j * (uint64_t)bits;
            unsigned x = ip[bit / 8] >> (bit % 8);
            if (bit % 8 + (uint64_t)bits > 8)
                x |= (unsigned)ip[bit / 8 + 1] << (8 - bit % 8);
            x &= (1u << bits) - 1;
            int64_t k = (int64_t)(j % (uint64_t)t->width), row = (int64_t)(j / (uint64_t)t->width);
            if (!isfinite(v)) {
                st = tasdi_fail(TASD_ERR_NONFINITE, "%s: series \"%s\": term %d row %lld holds NaN or Inf",
                                file, name, i + 1, (long long)row);
                break;
            }
            rowv[k] = v;
            rowi[k] = (uint8_t)x;
            if (k + 1 < t->width)
                continue;
            const char *why;
            int64_t bad = tasdi_row_bad_slot(t, s->cols, rowv, rowi, &why);
            if (bad >= 0) {
                st = tasdi_fail(TASD_ERR_FORMAT, "%s: series \"%s\": term %d row %lld slot %lld: index %u %s",
                                file, name, i + 1, (long long)row, (long long)bad, rowi[bad], why);
                break;
            }
            tasdi_series_put_row(s, i, row, rowv, rowi);
        }
        uint64_t used = slots * (uint64_t)bits;
        if (!st && used % 8 && (ip[used / 8] >> (used % 8)) != 0)
            st = tasdi_fail(TASD_ERR_FORMAT, "%s: series \"%s\": term %d: nonzero padding bits",
                            file, name, i + 1);
    }
    if (!st) {
        s->input_energy = r->input_energy;
        s->error_energy = r->error_energy;
        s->input_nonzeros = r->input_nonzeros;
    }
    tasdi_free(a, rowv, rbytes);
    if (st) {
        tasd_series_destroy(s);
        return st;
    }
    *out = s;
    return TASD_OK;
}

/* ---- directory ---- */

typedef struct dir_entry {
    char *name;
    size_t name_len;
    uint64_t offset, size;
    rec_info info;
} dir_entry;

static uint64_t dir_bytes(const dir_entry *e, int64_t count)
{
    uint64_t n = 0;
    for (int64_t i = 0; i < count; i++)
        n += 20 + e[i].name_len;
    return n;
}

/* Directory + trailer at `off` into the sink. */
static tasd_status dir_write(sink *k, uint64_t off, const dir_entry *e, int64_t count)
{
    uint32_t crc = 0;
    uint64_t pos = off;
    tasd_status st = TASD_OK;
    for (int64_t i = 0; i < count && !st; i++) {
        unsigned char h[20];
        tasdi_st64(h, e[i].offset);
        tasdi_st64(h + 8, e[i].size);
        tasdi_st32(h + 16, (uint32_t)e[i].name_len);
        crc = tasdi_crc32(crc, h, 20);
        crc = tasdi_crc32(crc, e[i].name, e[i].name_len);
        st = sink_write(k, pos, h, 20);
        if (!st && e[i].name_len)
            st = sink_write(k, pos + 20, e[i].name, e[i].name_len);
        pos += 20 + e[i].name_len;
    }
    if (st)
        return st;
    unsigned char tr[TRAILER_SIZE];
    memcpy(tr, TRAILER_MAGIC, 8);
    tasdi_st64(tr + 8, off);
    tasdi_st64(tr + 16, pos - off);
    tasdi_st64(tr + 24, (uint64_t)count);
    tasdi_st32(tr + 32, crc);
    tasdi_st32(tr + 36, tasdi_crc32(0, tr, 36));
    return sink_write(k, pos, tr, TRAILER_SIZE);
}

/* Version 1 while every series has f32 values (any libtasd reads it),
 * version 2 (value types) otherwise. */
static void file_header(unsigned char h[FILE_HEADER_SIZE], uint32_t version)
{
    memcpy(h, FILE_MAGIC, 8);
    tasdi_st32(h + 8, version);
    tasdi_st32(h + 12, 0);
}

/* ---- archive writer ---- */

struct tasd_archive_writer {
    tasd_allocator a;
    tasdi_outfile out;
    dir_entry *e;
    int64_t count, cap;
    uint32_t version;  /* of the header written so far */
};

static void aw_free(tasd_archive_writer *w)
{
    tasd_allocator a = w->a;
    for (int64_t i = 0; i < w->count; i++)
        tasdi_free(&a, w->e[i].name, w->e[i].name_len + 1);
    tasdi_free(&a, w->e, (size_t)w->cap * sizeof *w->e);
    tasdi_free(&a, w, sizeof *w);
}

tasd_status tasd_archive_writer_create(tasd_context *ctx, const char *path,
                                       tasd_archive_writer **out)
{
    if (!path || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_archive_writer_create: NULL argument");
    const tasd_allocator *a = tasdi_allocator(ctx);
    tasd_archive_writer *w = tasdi_alloc(a, sizeof *w);
    if (!w)
        return TASD_ERR_OUT_OF_MEMORY;
    memset(w, 0, sizeof *w);
    w->a = *a;
    tasd_status st = tasdi_out_open(&w->a, path, &w->out);
    if (!st) {
        unsigned char h[FILE_HEADER_SIZE];
        w->version = FILE_VERSION_F32;
        file_header(h, w->version);
        st = tasdi_out_append(&w->out, h, sizeof h);
    }
    if (st) {
        tasdi_out_abort(&w->out);
        aw_free(w);
        return st;
    }
    *out = w;
    return TASD_OK;
}

tasd_status tasd_archive_writer_add(tasd_archive_writer *w, const char *name,
                                    const tasd_series *s)
{
    if (!w || !name || !s)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_archive_writer_add: NULL argument");
    size_t len = strlen(name);
    if (len > MAX_NAME || !tasdi_utf8_valid((const unsigned char *)name, len))
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "tasd_archive_writer_add: name must be UTF-8 of at most %u bytes", MAX_NAME);
    for (int64_t i = 0; i < w->count; i++)
        if (w->e[i].name_len == len && memcmp(w->e[i].name, name, len) == 0)
            return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "%s: duplicate series name \"%.200s\"",
                              w->out.path, name);
    rec_layout L;
    tasd_status st = series_plan(s, &L);
    if (st)
        return st;
    if (w->count == w->cap) {
        int64_t ncap = w->cap ? 2 * w->cap : 16;
        dir_entry *ne = tasdi_calloc(&w->a, (size_t)ncap, sizeof *ne);
        if (!ne)
            return TASD_ERR_OUT_OF_MEMORY;
        if (w->count)
            memcpy(ne, w->e, (size_t)w->count * sizeof *ne);
        tasdi_free(&w->a, w->e, (size_t)w->cap * sizeof *ne);
        w->e = ne;
        w->cap = ncap;
    }
    dir_entry *e = &w->e[w->count];
    memset(e, 0, sizeof *e);
    e->name = tasdi_strdup(&w->a, name, len);
    if (!e->name)
        return TASD_ERR_OUT_OF_MEMORY;
    e->name_len = len;
    e->offset = align_up(w->out.size, ALIGN);
    e->size = L.size;
    sink k = {&w->out, NULL};
    static const unsigned char zeros[ALIGN];
    st = e->offset > w->out.size
             ? sink_write(&k, w->out.size, zeros, (size_t)(e->offset - w->out.size))
             : TASD_OK;
    if (!st)
        st = rec_write(&k, e->offset, s, &L);
    if (!st && s->values != TASD_F32 && w->version < FILE_VERSION) {
        unsigned char h[FILE_HEADER_SIZE]; /* the first half-valued series */
        file_header(h, FILE_VERSION);
        st = sink_write(&k, 0, h, sizeof h);
        w->version = FILE_VERSION;
    }
    if (st) {
        tasdi_free(&w->a, e->name, len + 1);
        return st;
    }
    w->out.size = e->offset + e->size;
    w->count++;
    return TASD_OK;
}

tasd_status tasd_archive_writer_finish(tasd_archive_writer *w)
{
    if (!w)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_archive_writer_finish: writer is NULL");
    sink k = {&w->out, NULL};
    tasd_status st = dir_write(&k, w->out.size, w->e, w->count);
    if (!st)
        st = tasdi_out_commit(&w->out);
    else
        tasdi_out_abort(&w->out);
    aw_free(w);
    return st;
}

void tasd_archive_writer_abort(tasd_archive_writer *w)
{
    if (!w)
        return;
    tasdi_out_abort(&w->out);
    aw_free(w);
}

tasd_status tasd_series_save(const tasd_series *s, const char *path)
{
    if (!s || !path)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_series_save: NULL argument");
    tasd_archive_writer *w;
    tasd_status st = tasd_archive_writer_create(NULL, path, &w);
    if (st)
        return st;
    st = tasd_archive_writer_add(w, "", s);
    if (st) {
        tasd_archive_writer_abort(w);
        return st;
    }
    return tasd_archive_writer_finish(w);
}

tasd_status tasd_series_save_buffer(const tasd_series *s, void *buf, size_t size, size_t *needed)
{
    if (!s)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_series_save_buffer: series is NULL");
    rec_layout L;
    tasd_status st = series_plan(s, &L);
    if (st)
        return st;
    dir_entry e;
    memset(&e, 0, sizeof e);
    e.name = (char *)"";
    e.offset = align_up(FILE_HEADER_SIZE, ALIGN);
    e.size = L.size;
    uint64_t total = e.offset + e.size + dir_bytes(&e, 1) + TRAILER_SIZE;
    if (total > SIZE_MAX)
        return tasdi_fail(TASD_ERR_OVERFLOW, "tasd_series_save_buffer: series too large");
    if (needed)
        *needed = (size_t)total;
    if (!buf || size < total)
        return tasdi_fail(TASD_ERR_BUFFER_TOO_SMALL, "tasd_series_save_buffer: need %llu bytes",
                          (unsigned long long)total);
    unsigned char *b = buf;
    file_header(b, s->values == TASD_F32 ? FILE_VERSION_F32 : FILE_VERSION);
    memset(b + FILE_HEADER_SIZE, 0, (size_t)(e.offset - FILE_HEADER_SIZE));
    sink k = {NULL, b};
    st = rec_write(&k, e.offset, s, &L);
    if (!st)
        st = dir_write(&k, e.offset + e.size, &e, 1);
    return st;
}

/* ---- archive reader ---- */

struct tasd_archive {
    tasd_allocator a;
    tasdi_map map;
    char *file;
    size_t file_len;
    dir_entry *e;
    int64_t count, e_cap;
};

void tasd_archive_close(tasd_archive *ar)
{
    if (!ar)
        return;
    tasd_allocator a = ar->a;
    for (int64_t i = 0; i < ar->count; i++)
        tasdi_free(&a, ar->e[i].name, ar->e[i].name_len + 1);
    tasdi_free(&a, ar->e, (size_t)ar->e_cap * sizeof *ar->e);
    tasdi_free(&a, ar->file, ar->file_len + 1);
    tasdi_unmap(&ar->map);
    tasdi_free(&a, ar, sizeof *ar);
}

static tasd_status archive_parse(tasd_archive *ar)
{
    const char *f = ar->file;
    const unsigned char *d = ar->map.data;
    uint64_t size = ar->map.size;
#define AR_BAD(...) return tasdi_fail(TASD_ERR_FORMAT, __VA_ARGS__)
    if (size < FILE_HEADER_SIZE || memcmp(d, FILE_MAGIC, 8) != 0)
        AR_BAD("%s: not a .tasd file (bad magic)", f);
    const uint32_t version = tasdi_ld32(d + 8);
    if (version < 1 || version > FILE_VERSION)
        return tasdi_fail(TASD_ERR_UNSUPPORTED, "%s: .tasd version %u (this libtasd reads 1..%u)",
                          f, version, FILE_VERSION);
    if (tasdi_ld32(d + 12) != 0)
        AR_BAD("%s: unknown .tasd flags %#x", f, tasdi_ld32(d + 12));
    if (size < FILE_HEADER_SIZE + TRAILER_SIZE)
        AR_BAD("%s: truncated .tasd file (%llu bytes)", f, (unsigned long long)size);
    const unsigned char *tr = d + size - TRAILER_SIZE;
    if (memcmp(tr, TRAILER_MAGIC, 8) != 0)
        AR_BAD("%s: truncated .tasd file (no directory trailer at the end)", f);
    if (tasdi_crc32(0, tr, 36) != tasdi_ld32(tr + 36))
        AR_BAD("%s: directory trailer checksum mismatch", f);
    uint64_t doff = tasdi_ld64(tr + 8), dsize = tasdi_ld64(tr + 16), count = tasdi_ld64(tr + 24);
    if (doff < FILE_HEADER_SIZE || doff > size - TRAILER_SIZE || dsize != size - TRAILER_SIZE - doff)
        AR_BAD("%s: directory offset/size do not match the file length", f);
    if (count > dsize / 20)
        AR_BAD("%s: directory claims %llu entries in %llu bytes", f, (unsigned long long)count,
               (unsigned long long)dsize);
    if (tasdi_crc32(0, d + doff, (size_t)dsize) != tasdi_ld32(tr + 32))
        AR_BAD("%s: directory checksum mismatch", f);
    ar->e = tasdi_calloc(&ar->a, count ? (size_t)count : 1, sizeof *ar->e);
    if (!ar->e)
        return TASD_ERR_OUT_OF_MEMORY;
    ar->e_cap = count ? (int64_t)count : 1;
    uint64_t pos = doff, end = doff + dsize, prev_end = FILE_HEADER_SIZE;
    for (uint64_t i = 0; i < count; i++) {
        if (end - pos < 20)
            AR_BAD("%s: directory entry %llu truncated", f, (unsigned long long)i);
        dir_entry *e = &ar->e[i];
        e->offset = tasdi_ld64(d + pos);
        e->size = tasdi_ld64(d + pos + 8);
        uint32_t nl = tasdi_ld32(d + pos + 16);
        pos += 20;
        if (nl > MAX_NAME || nl > end - pos)
            AR_BAD("%s: directory entry %llu: bad name length", f, (unsigned long long)i);
        if (!tasdi_utf8_valid(d + pos, nl) || memchr(d + pos, 0, nl))
            AR_BAD("%s: directory entry %llu: name is not valid UTF-8", f, (unsigned long long)i);
        e->name = tasdi_strdup(&ar->a, (const char *)d + pos, nl);
        if (!e->name)
            return TASD_ERR_OUT_OF_MEMORY;
        e->name_len = nl;
        ar->count = (int64_t)i + 1;
        pos += nl;
        for (uint64_t k = 0; k < i; k++)
            if (ar->e[k].name_len == nl && memcmp(ar->e[k].name, e->name, nl) == 0)
                AR_BAD("%s: duplicate series name \"%s\"", f, e->name);
        if (e->offset % ALIGN || e->offset < prev_end || e->offset > doff ||
            e->size > doff - e->offset)
            AR_BAD("%s: series \"%s\": entry [%llu, +%llu) is outside the data area or overlaps "
                   "another", f, e->name, (unsigned long long)e->offset,
                   (unsigned long long)e->size);
        if (!all_zero(d + prev_end, e->offset - prev_end))
            AR_BAD("%s: nonzero padding before series \"%s\"", f, e->name);
        prev_end = e->offset + e->size;
        tasd_status st = rec_parse(f, e->name, version, d + e->offset, e->size, &e->info);
        if (st)
            return st;
    }
    if (!all_zero(d + prev_end, doff - prev_end))
        AR_BAD("%s: nonzero bytes between the last series and the directory", f);
    if (pos != end)
        AR_BAD("%s: %llu stray bytes in the directory", f, (unsigned long long)(end - pos));
    return TASD_OK;
#undef AR_BAD
}

static tasd_status archive_open(tasd_context *ctx, tasdi_map map, const char *file,
                                tasd_archive **out)
{
    const tasd_allocator *a = tasdi_allocator(ctx);
    tasd_archive *ar = tasdi_alloc(a, sizeof *ar);
    if (!ar) {
        tasdi_unmap(&map);
        return TASD_ERR_OUT_OF_MEMORY;
    }
    memset(ar, 0, sizeof *ar);
    ar->a = *a;
    ar->map = map;
    ar->file_len = strlen(file);
    ar->file = tasdi_strdup(a, file, ar->file_len);
    tasd_status st = ar->file ? archive_parse(ar) : TASD_ERR_OUT_OF_MEMORY;
    if (st) {
        tasd_archive_close(ar);
        return st;
    }
    *out = ar;
    return TASD_OK;
}

tasd_status tasd_archive_open(tasd_context *ctx, const char *path, tasd_archive **out)
{
    if (!path || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_archive_open: NULL argument");
    tasdi_map map;
    tasd_status st = tasdi_map_file(path, &map);
    if (st)
        return st;
    return archive_open(ctx, map, path, out);
}

tasd_status tasd_archive_open_memory(tasd_context *ctx, const void *data, size_t size,
                                     tasd_archive **out)
{
    if ((!data && size) || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_archive_open_memory: NULL argument");
    tasdi_map map = {data, size, false, false, 0, 0};
    return archive_open(ctx, map, "<memory>", out);
}

int64_t tasd_archive_count(const tasd_archive *ar) { return ar ? ar->count : 0; }

static tasd_status ar_index(const tasd_archive *ar, int64_t i, const char *fn)
{
    if (!ar)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "%s: archive is NULL", fn);
    if (i < 0 || i >= ar->count)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "%s: entry %lld of %lld", fn, (long long)i,
                          (long long)ar->count);
    return TASD_OK;
}

tasd_status tasd_archive_entry_info(const tasd_archive *ar, int64_t i, tasd_archive_entry *out)
{
    tasd_status st = ar_index(ar, i, "tasd_archive_entry_info");
    if (st)
        return st;
    if (!out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_archive_entry_info: out is NULL");
    st = TASDI_CHECK_SIZE("tasd_archive_entry_info", tasd_archive_entry, out);
    if (st)
        return st;
    const dir_entry *e = &ar->e[i];
    tasd_archive_entry x;
    memset(&x, 0, sizeof x);
    x.size = sizeof x;
    x.name = e->name;
    x.rows = e->info.rows;
    x.cols = e->info.cols;
    x.method = e->info.method;
    x.terms = e->info.terms;
    for (int k = 0; k < e->info.terms; k++) {
        x.n[k] = e->info.n[k];
        x.m[k] = e->info.m[k];
    }
    x.bytes = e->size;
    *out = x;
    return TASD_OK;
}

tasd_status tasd_archive_find(const tasd_archive *ar, const char *name, int64_t *index)
{
    if (!ar || !name || !index)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_archive_find: NULL argument");
    for (int64_t i = 0; i < ar->count; i++)
        if (strcmp(ar->e[i].name, name) == 0) {
            *index = i;
            return TASD_OK;
        }
    return tasdi_fail(TASD_ERR_NOT_FOUND, "%s: no series named \"%.200s\"", ar->file, name);
}

tasd_status tasd_archive_load(const tasd_archive *ar, int64_t i, tasd_series **out)
{
    tasd_status st = ar_index(ar, i, "tasd_archive_load");
    if (st)
        return st;
    if (!out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_archive_load: out is NULL");
    const dir_entry *e = &ar->e[i];
    return rec_load(&ar->a, ar->file, e->name, ar->map.data + e->offset, &e->info, out);
}

static tasd_status load_only(tasd_archive *ar, tasd_series **out)
{
    tasd_status st;
    if (ar->count != 1)
        st = tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                        "%s: holds %lld series, not one; use tasd_archive_load", ar->file,
                        (long long)ar->count);
    else
        st = tasd_archive_load(ar, 0, out);
    tasd_archive_close(ar);
    return st;
}

tasd_status tasd_series_load(tasd_context *ctx, const char *path, tasd_series **out)
{
    if (!out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_series_load: out is NULL");
    tasd_archive *ar;
    tasd_status st = tasd_archive_open(ctx, path, &ar);
    return st ? st : load_only(ar, out);
}

tasd_status tasd_series_load_buffer(tasd_context *ctx, const void *data, size_t size,
                                    tasd_series **out)
{
    if (!out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_series_load_buffer: out is NULL");
    tasd_archive *ar;
    tasd_status st = tasd_archive_open_memory(ctx, data, size, &ar);
    return st ? st : load_only(ar, out);
}
