/* libFuzzer target: the safetensors header (strict JSON) and tensor access. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *p = fuzz_private_copy(data, size);
    if (!p)
        return 0;
    tasd_tensorfile *m = NULL;
    if (tasd_tensorfile_open_memory(NULL, p, size, TASD_FORMAT_SAFETENSORS, &m) == TASD_OK) {
        uint64_t prev_end = 0;
        for (int64_t i = 0; i < tasd_tensorfile_count(m); i++) {
            tasd_tensor_info info = {.size = sizeof info};
            if (tasd_tensorfile_info(m, i, &info) != TASD_OK)
                abort();
            /* in bounds, sorted, not overlapping */
            if (info.offset > size || info.nbytes > size - info.offset || info.offset < prev_end)
                abort();
            prev_end = info.offset + info.nbytes;
            int64_t idx;
            if (tasd_tensorfile_find(m, info.name, &idx) != TASD_OK || idx != i)
                abort(); /* names are unique */
            if (info.dtype >= 0)
                fuzz_read_f32(m, i, info.nbytes);
        }
        tasd_tensorfile_close(m);
    } else if (m) {
        abort();
    }
    free(p);
    return 0;
}
