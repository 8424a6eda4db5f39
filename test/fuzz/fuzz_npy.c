/* libFuzzer target: .npy header parsing and data access. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *p = fuzz_private_copy(data, size);
    if (!p)
        return 0;
    tasd_tensorfile *m = NULL;
    if (tasd_tensorfile_open_memory(NULL, p, size, TASD_FORMAT_NPY, &m) == TASD_OK) {
        tasd_tensor_info info = {.size = sizeof info};
        if (tasd_tensorfile_count(m) != 1 || tasd_tensorfile_info(m, 0, &info) != TASD_OK)
            abort();
        if (info.offset + info.nbytes != size)
            abort();
        fuzz_read_f32(m, 0, info.nbytes);
        tasd_view v;
        (void)tasd_tensorfile_view(m, 0, &v);
        tasd_tensorfile_close(m);
    } else if (m) {
        abort();
    }
    free(p);
    return 0;
}
