/* libFuzzer target: the .tasd loader (archive directory, record headers,
 * data sections), and save(load(x)) == x for anything that loads. */
#include "tasd.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size ? size : 1);
    if (!p)
        return 0;
    memcpy(p, data, size);
    tasd_archive *ar = NULL;
    if (tasd_archive_open_memory(NULL, p, size, &ar) == TASD_OK) {
        for (int64_t i = 0; i < tasd_archive_count(ar); i++) {
            tasd_archive_entry e;
            if (tasd_archive_entry_info(ar, i, &e) != TASD_OK)
                abort();
            tasd_series *s = NULL;
            if (tasd_archive_load(ar, i, &s) == TASD_OK) {
                tasd_stats st;
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
                    /* A single unnamed series saves back to the same bytes. */
                    size_t need = 0;
                    tasd_series_save_buffer(s, NULL, 0, &need);
                    uint8_t *b = malloc(need ? need : 1);
                    if (b && tasd_series_save_buffer(s, b, need, NULL) == TASD_OK &&
                        (need != size || memcmp(b, p, size) != 0))
                        abort();
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
    return 0;
}
