/* The .npy reader: a strict parser of the header dict (v1.0 - v3.0). */
#include "io.h"

typedef struct npy_parser {
    const unsigned char *p, *end;
} npy_parser;

static void npy_ws(npy_parser *q)
{
    while (q->p < q->end && (*q->p == ' ' || *q->p == '\t'))
        q->p++;
}

static bool npy_lit(npy_parser *q, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(q->end - q->p) < n || memcmp(q->p, s, n) != 0)
        return false;
    q->p += n;
    return true;
}

/* A quoted Python string without escapes: sets [*s, *s + *len). */
static bool npy_str(npy_parser *q, const unsigned char **s, size_t *len)
{
    if (q->p >= q->end || (*q->p != '\'' && *q->p != '"'))
        return false;
    unsigned char quote = *q->p++;
    const unsigned char *b = q->p;
    while (q->p < q->end && *q->p != quote) {
        if (*q->p == '\\' || *q->p == '\n')
            return false;
        q->p++;
    }
    if (q->p >= q->end)
        return false;
    *s = b;
    *len = (size_t)(q->p - b);
    q->p++;
    return true;
}

static bool npy_int(npy_parser *q, int64_t *v)
{
    if (q->p >= q->end || *q->p < '0' || *q->p > '9')
        return false;
    uint64_t x = 0;
    while (q->p < q->end && *q->p >= '0' && *q->p <= '9') {
        if (x > (uint64_t)INT64_MAX / 10)
            return false;
        x = x * 10 + (uint64_t)(*q->p++ - '0');
        if (x > (uint64_t)INT64_MAX)
            return false;
    }
    if (q->p < q->end && *q->p == 'L')
        q->p++;
    *v = (int64_t)x;
    return true;
}

tasd_status tasdi_npy_parse(const char *file, const unsigned char *d, size_t size,
                             tasdi_tensor *t)
{
#define NPY_BAD(...) return tasdi_fail(TASD_ERR_FORMAT, __VA_ARGS__)
    if (size < 10)
        NPY_BAD("%s: truncated .npy file (%zu bytes)", file, size);
    if (memcmp(d, "\x93NUMPY", 6) != 0)
        NPY_BAD("%s: bad .npy magic", file);
    int major = d[6], minor = d[7];
    if (major < 1 || major > 3 || minor != 0)
        return tasdi_fail(TASD_ERR_UNSUPPORTED, "%s: .npy format version %d.%d (want 1.0, 2.0 or 3.0)",
                          file, major, minor);
    size_t start = major == 1 ? 10 : 12;
    if (size < start)
        NPY_BAD("%s: truncated .npy header", file);
    uint64_t hlen = major == 1 ? tasdi_ld16(d + 8) : tasdi_ld32(d + 8);
    if (hlen > size - start)
        NPY_BAD("%s: .npy header of %llu bytes runs past the end of the file (%zu bytes)",
                file, (unsigned long long)hlen, size);
    if (hlen == 0 || d[start + hlen - 1] != '\n')
        NPY_BAD("%s: .npy header does not end with a newline", file);
    if (major == 3 ? !tasdi_utf8_valid(d + start, (size_t)hlen) : false)
        NPY_BAD("%s: .npy header is not valid UTF-8", file);
    for (size_t i = 0; major < 3 && i < hlen; i++)
        if (d[start + i] >= 0x80)
            NPY_BAD("%s: .npy %d.0 header holds a non-ASCII byte", file, major);
    npy_parser q = {d + start, d + start + hlen - 1};
    const unsigned char *descr = NULL;
    size_t descr_len = 0;
    int fortran = -1, have_shape = 0, ndim = 0;
    int64_t shape[TASD_FILE_MAX_DIMS];
    npy_ws(&q);
    if (!npy_lit(&q, "{"))
        NPY_BAD("%s: .npy header is not a dict", file);
    for (;;) {
        npy_ws(&q);
        if (npy_lit(&q, "}"))
            break;
        const unsigned char *key;
        size_t klen;
        if (!npy_str(&q, &key, &klen))
            NPY_BAD("%s: .npy header: expected a quoted key at byte %zu", file,
                    (size_t)(q.p - d));
        npy_ws(&q);
        if (!npy_lit(&q, ":"))
            NPY_BAD("%s: .npy header: expected ':'", file);
        npy_ws(&q);
        if (klen == 5 && memcmp(key, "descr", 5) == 0 && !descr) {
            if (!npy_str(&q, &descr, &descr_len))
                NPY_BAD("%s: .npy header: descr is not a simple string (structured dtypes "
                        "are not supported)", file);
        } else if (klen == 13 && memcmp(key, "fortran_order", 13) == 0 && fortran < 0) {
            if (npy_lit(&q, "True"))
                fortran = 1;
            else if (npy_lit(&q, "False"))
                fortran = 0;
            else
                NPY_BAD("%s: .npy header: fortran_order is not True or False", file);
        } else if (klen == 5 && memcmp(key, "shape", 5) == 0 && !have_shape) {
            have_shape = 1;
            if (!npy_lit(&q, "("))
                NPY_BAD("%s: .npy header: shape is not a tuple", file);
            npy_ws(&q);
            while (!npy_lit(&q, ")")) {
                if (ndim == TASD_FILE_MAX_DIMS)
                    return tasdi_fail(TASD_ERR_UNSUPPORTED, "%s: .npy rank > %d", file,
                                      TASD_FILE_MAX_DIMS);
                if (!npy_int(&q, &shape[ndim]))
                    NPY_BAD("%s: .npy header: bad dimension in shape", file);
                ndim++;
                npy_ws(&q);
                if (npy_lit(&q, ",")) {
                    npy_ws(&q);
                    continue;
                }
                if (!npy_lit(&q, ")"))
                    NPY_BAD("%s: .npy header: expected ',' or ')' in shape", file);
                if (ndim == 1)
                    NPY_BAD("%s: .npy header: a 1-tuple needs a trailing comma", file);
                break;
            }
        } else {
            NPY_BAD("%s: .npy header: unknown or repeated key '%.*s'", file,
                    (int)(klen > 32 ? 32 : klen), (const char *)key);
        }
        npy_ws(&q);
        if (npy_lit(&q, ","))
            continue;
        npy_ws(&q);
        if (npy_lit(&q, "}"))
            break;
        NPY_BAD("%s: .npy header: expected ',' or '}'", file);
    }
    npy_ws(&q);
    if (q.p != q.end)
        NPY_BAD("%s: .npy header: trailing bytes after the dict", file);
    if (!descr || fortran < 0 || !have_shape)
        NPY_BAD("%s: .npy header lacks descr, fortran_order or shape", file);
    char dn[12];
    size_t dl = descr_len < sizeof dn - 1 ? descr_len : sizeof dn - 1;
    memcpy(dn, descr, dl);
    dn[dl] = 0;
    if (descr_len == 3 && (memcmp(descr, "<f4", 3) == 0 || memcmp(descr, "<f2", 3) == 0)) {
        t->dtype = descr[2] == '4' ? TASD_F32 : TASD_F16;
        t->elem = descr[2] == '4' ? 4 : 2;
    } else if (descr_len >= 1 && descr[0] == '>') {
        return tasdi_fail(TASD_ERR_UNSUPPORTED,
                          "%s: big-endian .npy data ('%s') is not supported; want '<f4' or '<f2'",
                          file, dn);
    } else {
        return tasdi_fail(TASD_ERR_DTYPE, "%s: .npy dtype '%s' is not supported; want '<f4' or '<f2'",
                          file, dn);
    }
    if (fortran)
        return tasdi_fail(TASD_ERR_UNSUPPORTED,
                          "%s: Fortran-order .npy data is not supported; save it in C order", file);
    memcpy(t->dtype_name, dn, dl + 1);
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof shape[0]);
    tasd_status st = tasdi_shape_bytes(file, "", ndim, shape, t->elem, &t->nbytes);
    if (st)
        return st;
    t->offset = start + hlen;
    uint64_t avail = size - t->offset;
    if (avail < t->nbytes)
        NPY_BAD("%s: truncated .npy data: %llu bytes, the shape needs %llu", file,
                (unsigned long long)avail, (unsigned long long)t->nbytes);
    if (avail > t->nbytes)
        NPY_BAD("%s: .npy file has %llu bytes of trailing data after the array", file,
                (unsigned long long)(avail - t->nbytes));
    return TASD_OK;
#undef NPY_BAD
}
