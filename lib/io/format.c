/* File formats: names and sniffing by magic bytes. */
#include "io.h"

#include <errno.h>
#include <stdio.h>

const char *tasd_file_format_name(tasd_file_format f)
{
    switch (f) {
    case TASD_FORMAT_UNKNOWN: return "unknown";
    case TASD_FORMAT_NPY: return "npy";
    case TASD_FORMAT_SAFETENSORS: return "safetensors";
    case TASD_FORMAT_TASD: return "tasd";
    case TASD_FORMAT_ONNX: return "onnx";
    }
    return "unknown";
}

tasd_file_format tasd_file_format_sniff(const void *data, size_t size)
{
    const unsigned char *p = data;
    if (!p)
        return TASD_FORMAT_UNKNOWN;
    if (size >= 6 && memcmp(p, "\x93NUMPY", 6) == 0)
        return TASD_FORMAT_NPY;
    if (size >= 8 && memcmp(p, "TASDSER\0", 8) == 0)
        return TASD_FORMAT_TASD;
    if (size >= 9) {
        size_t i = 8;
        while (i < size && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
            i++;
        if (i < size && p[i] == '{')
            return TASD_FORMAT_SAFETENSORS;
    }
    if (tasdi_onnx_sniff(p, size))
        return TASD_FORMAT_ONNX;
    return TASD_FORMAT_UNKNOWN;
}

tasd_status tasd_file_format_detect(const char *path, tasd_file_format *out)
{
    if (!path || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_file_format_detect: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f)
        return tasdi_fail(TASD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char buf[64];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    *out = tasd_file_format_sniff(buf, n);
    if (*out == TASD_FORMAT_UNKNOWN && tasdi_has_onnx_extension(path))
        *out = TASD_FORMAT_ONNX;
    return TASD_OK;
}

bool tasdi_has_onnx_extension(const char *path)
{
    size_t n = strlen(path);
    return n > 5 && (path[n - 5] == '.') && (path[n - 4] | 0x20) == 'o' &&
           (path[n - 3] | 0x20) == 'n' && (path[n - 2] | 0x20) == 'n' && (path[n - 1] | 0x20) == 'x';
}
