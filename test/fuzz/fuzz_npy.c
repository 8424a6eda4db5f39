/* libFuzzer target: .npy header parsing and data access. */
#include "tasd.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy, so reads past `size` are caught by ASan. */
    uint8_t *p = malloc(size ? size : 1);
    if (!p)
        return 0;
    memcpy(p, data, size);
    tasd_tensorfile *m = NULL;
    if (tasd_tensorfile_open_memory(NULL, p, size, TASD_FORMAT_NPY, &m) == TASD_OK) {
        tasd_tensor_info info = {.size = sizeof info};
        if (tasd_tensorfile_count(m) != 1 || tasd_tensorfile_info(m, 0, &info) != TASD_OK)
            abort();
        if (info.offset + info.nbytes != size)
            abort();
        if (info.nbytes <= (1u << 20)) {
            float *buf = malloc(info.nbytes * 2 + 4);
            if (buf && tasd_tensorfile_read_f32(m, 0, buf, (int64_t)(info.nbytes / 2 + 1)) != TASD_OK)
                abort();
            free(buf);
        }
        tasd_view v;
        (void)tasd_tensorfile_view(m, 0, &v);
        tasd_tensorfile_close(m);
    } else if (m) {
        abort();
    }
    free(p);
    return 0;
}
