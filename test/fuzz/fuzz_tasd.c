/* libFuzzer target: the .tasd loader (archive directory, record headers,
 * data sections), and save(load(x)) == x for anything that loads. */
#include "fuzz_util.h"
#include "../support/bytes.h"

/* Recompute every checksum the structure lets us find (docs/format.md), so
 * the fuzzer also reaches the checks behind the CRCs. Best effort: stops at
 * the first thing that does not fit. */
static void fix_crcs(uint8_t *p, size_t size)
{
    if (size < 56)
        return;
    uint8_t *t = p + size - 40;
    uint64_t doff = ld64(t + 8), dsize = ld64(t + 16), count = ld64(t + 24);
    if (doff > size - 40 || dsize > size - 40 - doff)
        return;
    uint64_t pos = doff;
    for (uint64_t i = 0; i < count && pos + 20 <= doff + dsize; i++) {
        uint64_t off = ld64(p + pos), esize = ld64(p + pos + 8);
        uint32_t nl = ld32(p + pos + 16);
        pos += 20 + (uint64_t)nl;
        if (off > size || esize > size - off || esize < 68)
            continue;
        uint8_t *r = p + off;
        uint32_t hs = ld32(r + 4), terms = ld32(r + 12);
        if (terms < 1 || terms > 8 || hs != 64 + 48 * terms + 4 || hs > esize)
            continue;
        uint64_t rows = ld64(r + 16), cols = ld64(r + 24);
        for (uint32_t k = 0; k < terms; k++) {
            uint8_t *d = r + 64 + 48 * k;
            uint64_t n = ld32(d), m = ld32(d + 4), bits = ld32(d + 8);
            if (m == 0 || bits > 8 || rows > (1u << 20) || cols > (1u << 20))
                continue;
            uint64_t slots = rows * ((cols + m - 1) / m * n);
            uint64_t vo = ld64(d + 16), io = ld64(d + 24);
            if (slots > (1u << 24))
                continue;
            if (vo <= esize && slots * 4 <= esize - vo)
                st32(d + 32, crc32_ref(r + vo, slots * 4));
            if (io <= esize && (slots * bits + 7) / 8 <= esize - io)
                st32(d + 36, crc32_ref(r + io, (slots * bits + 7) / 8));
        }
        st32(r + hs - 4, crc32_ref(r, hs - 4));
    }
    st32(t + 32, crc32_ref(p + doff, dsize));
    st32(t + 36, crc32_ref(t, 36));
}

static void check_one(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_one(data, size);
    uint8_t *q = fuzz_private_copy(data, size);
    if (q) {
        fix_crcs(q, size);
        check_one(q, size);
        free(q);
    }
    return 0;
}

static void check_one(const uint8_t *data, size_t size)
{
    uint8_t *p = fuzz_private_copy(data, size);
    if (!p)
        return;
    tasd_archive *ar = NULL;
    if (tasd_archive_open_memory(NULL, p, size, &ar) == TASD_OK) {
        for (int64_t i = 0; i < tasd_archive_count(ar); i++) {
            tasd_archive_entry e = {.size = sizeof e};
            if (tasd_archive_entry_info(ar, i, &e) != TASD_OK)
                abort();
            tasd_series *s = NULL;
            if (tasd_archive_load(ar, i, &s) == TASD_OK) {
                tasd_stats st = {.size = sizeof st};
                if (tasd_series_stats(s, &st) != TASD_OK)
                    abort();
                int64_t rows, cols;
                tasd_series_shape(s, &rows, &cols);
                if (rows != e.rows || cols != e.cols)
                    abort();
                if (rows * cols <= (1 << 16)) {
                    float *d = malloc((size_t)(rows * cols + 1) * sizeof *d);
                    tasd_view v = tasd_view_2d(d, TASD_F32, rows, cols, cols);
                    if (d && tasd_series_reconstruct(s, &v) != TASD_OK)
                        abort();
                    free(d);
                }
                if (tasd_archive_count(ar) == 1 && e.name[0] == 0) {
                    /* A single unnamed series saves back to the same bytes,
                     * but for the format version (byte 8): f32 values are
                     * written as version 1, which a version-2 file may
                     * also hold. */
                    size_t need = 0;
                    tasd_series_save_buffer(s, NULL, 0, &need);
                    uint8_t *b = malloc(need ? need : 1);
                    if (b && tasd_series_save_buffer(s, b, need, NULL) == TASD_OK) {
                        int f32_v2 = size > 8 && p[8] == 2 && b[8] == 1 &&
                                     tasd_series_value_type(s) == TASD_F32;
                        if (need != size || memcmp(b, p, 8) != 0 ||
                            (b[8] != p[8] && !f32_v2) ||
                            memcmp(b + 9, p + 9, size - 9) != 0)
                            abort();
                    }
                    free(b);
                }
                tasd_series_destroy(s);
            } else if (s) {
                abort();
            }
        }
        tasd_archive_close(ar);
    } else if (ar) {
        abort();
    }
    free(p);
}
