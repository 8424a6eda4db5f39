/* What the libFuzzer targets share. Header-only: each target is built from
 * its one .c file, with libFuzzer (test/fuzz.mk) or with replay.c's main()
 * by `make test`. */
#ifndef TASD_FUZZ_UTIL_H
#define TASD_FUZZ_UTIL_H

#include "tasd.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input in a heap block of exactly `size` bytes (one when empty), so
 * that ASan catches a parser reading past the end: the buffer libFuzzer or
 * replay.c passes may have room after it. NULL when out of memory (the
 * target then skips the input); free() it. */
static inline uint8_t *fuzz_private_copy(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size ? size : 1);
    if (p)
        memcpy(p, data, size);
    return p;
}

/* Tensor i of a file that opened, read as f32 when it is at most 1 MiB: a
 * tensor the reader accepted must read (abort() otherwise). The count
 * leaves room for the elements of a 2-byte dtype. */
static inline void fuzz_read_f32(const tasd_tensorfile *m, int64_t i, uint64_t nbytes)
{
    if (nbytes > (1u << 20))
        return;
    float *buf = malloc(nbytes * 2 + 4);
    if (buf && tasd_tensorfile_read_f32(m, i, buf, (int64_t)(nbytes / 2 + 1)) != TASD_OK)
        abort();
    free(buf);
}

#endif
