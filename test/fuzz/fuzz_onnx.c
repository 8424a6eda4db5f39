/* libFuzzer target: the ONNX reader (in memory, so external data is
 * refused) and data access of every initializer. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *p = fuzz_private_copy(data, size);
    if (!p)
        return 0;
    tasd_tensorfile *m = NULL;
    if (tasd_tensorfile_open_memory(NULL, p, size, TASD_FORMAT_ONNX, &m) == TASD_OK) {
        for (int64_t i = 0; i < tasd_tensorfile_count(m); i++) {
            tasd_tensor_info info = {.size = sizeof info};
            if (tasd_tensorfile_info(m, i, &info) != TASD_OK)
                abort();
            const char *op;
            int32_t in, axis;
            if (tasd_tensorfile_consumer(m, i, &op, &in, &axis) != TASD_OK || !op ||
                axis < -1 || axis >= (info.ndim > 0 ? info.ndim : 1))
                abort();
            const void *raw;
            uint64_t nb;
            if (tasd_tensorfile_raw(m, i, &raw, &nb) == TASD_OK) {
                if (nb != info.nbytes)
                    abort();
                /* Touch the first and last byte: they must be readable. */
                volatile uint8_t sink = 0;
                if (nb)
                    sink ^= ((const uint8_t *)raw)[0] ^ ((const uint8_t *)raw)[nb - 1];
                (void)sink;
            }
            if (info.dtype >= 0)
                fuzz_read_f32(m, i, info.nbytes);
            tasd_view v;
            (void)tasd_tensorfile_view(m, i, &v);
        }
        tasd_tensorfile_close(m);
    } else if (m) {
        abort();
    }
    free(p);
    return 0;
}
