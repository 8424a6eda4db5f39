/* Model files: .npy and safetensors readers (mmap, strict header parsing)
 * and writers (laid out at creation, data put in any order, atomic rename). */
#include "io.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct model_tensor {
    char *name;
    size_t name_len;
    char dtype_name[12];
    int32_t dtype;   /* tasd_dtype or -1 */
    int32_t ndim;
    int64_t shape[TASD_FILE_MAX_DIMS];
    uint64_t offset, nbytes;
    size_t elem;
} model_tensor;

struct tasd_model {
    tasd_allocator a;
    tasd_file_format format;
    tasdi_map map;
    int64_t count;
    model_tensor *t;
    int64_t t_cap;   /* allocated length of t */
    int64_t metadata_entries;
};

const char *tasd_file_format_name(tasd_file_format f)
{
    switch (f) {
    case TASD_FORMAT_UNKNOWN: return "unknown";
    case TASD_FORMAT_NPY: return "npy";
    case TASD_FORMAT_SAFETENSORS: return "safetensors";
    case TASD_FORMAT_TASD: return "tasd";
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
    return TASD_FORMAT_UNKNOWN;
}

tasd_status tasd_file_format_detect(const char *path, tasd_file_format *out)
{
    if (!path || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_file_format_detect: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f)
        return tasdi_fail(TASD_ERR_IO, "%s: cannot open", path);
    unsigned char buf[64];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    *out = tasd_file_format_sniff(buf, n);
    return TASD_OK;
}

/* ---- dtypes ---- */

typedef struct st_dtype {
    const char *name;
    size_t size;
    int32_t dtype;
} st_dtype;

static const st_dtype st_dtypes[] = {
    {"BOOL", 1, -1}, {"U8", 1, -1},  {"I8", 1, -1},  {"F8_E5M2", 1, -1},
    {"F8_E4M3", 1, -1}, {"I16", 2, -1}, {"U16", 2, -1}, {"F16", 2, TASD_F16},
    {"BF16", 2, TASD_BF16}, {"I32", 4, -1}, {"U32", 4, -1}, {"F32", 4, TASD_F32},
    {"F64", 8, -1}, {"I64", 8, -1}, {"U64", 8, -1},
};

static const st_dtype *st_dtype_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strlen(st_dtypes[i].name) == len && memcmp(st_dtypes[i].name, name, len) == 0)
            return &st_dtypes[i];
    return NULL;
}

/* ---- model object ---- */

void tasd_model_close(tasd_model *m)
{
    if (!m)
        return;
    tasd_allocator a = m->a;
    for (int64_t i = 0; m->t && i < m->count; i++)
        tasdi_free(&a, m->t[i].name, m->t[i].name_len + 1);
    tasdi_free(&a, m->t, (size_t)m->t_cap * sizeof *m->t);
    tasdi_unmap(&m->map);
    tasdi_free(&a, m, sizeof *m);
}

static tasd_status shape_bytes(const char *file, const char *tname, int ndim,
                               const int64_t *shape, size_t elem, uint64_t *out)
{
    uint64_t n = elem;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return tasdi_fail(TASD_ERR_FORMAT, "%s: tensor \"%s\": negative dimension", file,
                              tname);
        if (shape[d] != 0 && n > UINT64_MAX / (uint64_t)shape[d])
            return tasdi_fail(TASD_ERR_OVERFLOW,
                              "%s: tensor \"%s\": shape overflows 64-bit sizes", file, tname);
        n *= (uint64_t)shape[d];
    }
    if (n > ((uint64_t)1 << 62))
        return tasdi_fail(TASD_ERR_OVERFLOW, "%s: tensor \"%s\": %llu bytes is too large",
                          file, tname, (unsigned long long)n);
    *out = n;
    return TASD_OK;
}

/* ---- .npy ---- */

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

static tasd_status npy_parse(const char *file, const unsigned char *d, size_t size,
                             model_tensor *t)
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
    tasd_status st = shape_bytes(file, "", ndim, shape, t->elem, &t->nbytes);
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

/* ---- strict JSON for the safetensors header ---- */

typedef struct json {
    const unsigned char *b, *p, *end;
    const char *file;
    const tasd_allocator *a;
} json;

static tasd_status jbad(json *j, const char *what)
{
    return tasdi_fail(TASD_ERR_FORMAT, "%s: safetensors header, byte %zu: %s", j->file,
                      (size_t)(j->p - j->b) + 8, what);
}

static void jws(json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool jeat(json *j, unsigned char c)
{
    jws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return true;
    }
    return false;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool jhex4(json *j, uint32_t *v)
{
    if (j->end - j->p < 4)
        return false;
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(j->p[i]);
        if (h < 0)
            return false;
        x = x * 16 + (uint32_t)h;
    }
    j->p += 4;
    *v = x;
    return true;
}

/* Parse a string into a fresh NUL-terminated buffer (*out, *len). Rejects
 * invalid UTF-8, lone surrogates, control characters and \u0000. */
static tasd_status jstring(json *j, char **out, size_t *len)
{
    jws(j);
    if (j->p >= j->end || *j->p != '"')
        return jbad(j, "expected a string");
    j->p++;
    const unsigned char *s = j->p;
    while (j->p < j->end && *j->p != '"') {
        if (*j->p == '\\' && j->end - j->p > 1)
            j->p++;
        j->p++;
    }
    if (j->p >= j->end)
        return jbad(j, "unterminated string");
    size_t raw = (size_t)(j->p - s);
    if (!tasdi_utf8_valid(s, raw))
        return jbad(j, "string is not valid UTF-8");
    char *buf = tasdi_alloc(j->a, raw + 1);
    if (!buf)
        return TASD_ERR_OUT_OF_MEMORY;
    size_t n = 0;
    json k = *j;
    k.p = s;
    const unsigned char *stop = j->p;
    tasd_status st = TASD_OK;
    while (k.p < stop && st == TASD_OK) {
        unsigned char c = *k.p++;
        if (c < 0x20) {
            st = jbad(&k, "control character in a string");
        } else if (c != '\\') {
            buf[n++] = (char)c;
        } else {
            c = *k.p++;
            switch (c) {
            case '"': buf[n++] = '"'; break;
            case '\\': buf[n++] = '\\'; break;
            case '/': buf[n++] = '/'; break;
            case 'b': buf[n++] = '\b'; break;
            case 'f': buf[n++] = '\f'; break;
            case 'n': buf[n++] = '\n'; break;
            case 'r': buf[n++] = '\r'; break;
            case 't': buf[n++] = '\t'; break;
            case 'u': {
                uint32_t cp, lo;
                k.end = stop;
                if (!jhex4(&k, &cp)) {
                    st = jbad(&k, "bad \\u escape");
                    break;
                }
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    st = jbad(&k, "lone low surrogate");
                    break;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (stop - k.p < 6 || k.p[0] != '\\' || k.p[1] != 'u') {
                        st = jbad(&k, "lone high surrogate");
                        break;
                    }
                    k.p += 2;
                    if (!jhex4(&k, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                        st = jbad(&k, "bad surrogate pair");
                        break;
                    }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (cp == 0) {
                    st = jbad(&k, "\\u0000 in a string");
                    break;
                }
                /* UTF-8 encode: never longer than the 6+ escape bytes. */
                if (cp < 0x80) {
                    buf[n++] = (char)cp;
                } else if (cp < 0x800) {
                    buf[n++] = (char)(0xC0 | (cp >> 6));
                    buf[n++] = (char)(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000) {
                    buf[n++] = (char)(0xE0 | (cp >> 12));
                    buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    buf[n++] = (char)(0x80 | (cp & 0x3F));
                } else {
                    buf[n++] = (char)(0xF0 | (cp >> 18));
                    buf[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                    buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    buf[n++] = (char)(0x80 | (cp & 0x3F));
                }
                break;
            }
            default:
                st = jbad(&k, "bad escape in a string");
            }
        }
    }
    j->p++; /* closing quote */
    if (st) {
        tasdi_free(j->a, buf, raw + 1);
        return st;
    }
    buf[n] = 0;
    /* Keep the allocation size recoverable: the buffer is raw + 1 bytes. */
    *out = buf;
    *len = raw;
    return TASD_OK;
}

/* A non-negative integer without sign, fraction or exponent. */
static tasd_status juint(json *j, uint64_t *v)
{
    jws(j);
    if (j->p >= j->end || *j->p < '0' || *j->p > '9')
        return jbad(j, "expected a non-negative integer");
    if (*j->p == '0' && j->end - j->p > 1 && j->p[1] >= '0' && j->p[1] <= '9')
        return jbad(j, "leading zero in a number");
    uint64_t x = 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        unsigned dg = (unsigned)(*j->p - '0');
        if (x > (UINT64_MAX - dg) / 10)
            return tasdi_fail(TASD_ERR_OVERFLOW, "%s: safetensors header, byte %zu: integer overflows 64 bits",
                              j->file, (size_t)(j->p - j->b) + 8);
        x = x * 10 + dg;
        j->p++;
    }
    if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
        return jbad(j, "expected an integer");
    *v = x;
    return TASD_OK;
}

static int cmp_offset(const void *x, const void *y)
{
    const model_tensor *a = x, *b = y;
    if (a->offset != b->offset)
        return a->offset < b->offset ? -1 : 1;
    if (a->nbytes != b->nbytes)
        return a->nbytes < b->nbytes ? -1 : 1;
    return strcmp(a->name, b->name);
}

static int cmp_name_ptr(const void *x, const void *y)
{
    const model_tensor *const *a = x, *const *b = y;
    return strcmp((*a)->name, (*b)->name);
}

#define ST_MAX_HEADER ((uint64_t)100 << 20)
#define ST_MAX_TENSORS ((int64_t)1 << 22)

static tasd_status st_parse_tensor(json *j, model_tensor *t, uint64_t *begin, uint64_t *end)
{
    const char *nm = t->name;
    bool have_dtype = false, have_shape = false, have_off = false;
    if (!jeat(j, '{'))
        return jbad(j, "tensor entry is not an object");
    if (jeat(j, '}'))
        return jbad(j, "empty tensor entry");
    for (;;) {
        char *key;
        size_t klen;
        tasd_status st = jstring(j, &key, &klen);
        if (st)
            return st;
        int which = strcmp(key, "dtype") == 0 ? 1 : strcmp(key, "shape") == 0 ? 2
                  : strcmp(key, "data_offsets") == 0 ? 3 : 0;
        tasdi_free(j->a, key, klen + 1);
        if (!jeat(j, ':'))
            return jbad(j, "expected ':'");
        if (which == 1 && !have_dtype) {
            char *dt;
            size_t dlen;
            st = jstring(j, &dt, &dlen);
            if (st)
                return st;
            const st_dtype *sd = st_dtype_find(dt, dlen);
            if (!sd) {
                st = tasdi_fail(TASD_ERR_DTYPE, "%s: tensor \"%s\": unknown dtype \"%.16s\"",
                                j->file, nm, dt);
                tasdi_free(j->a, dt, dlen + 1);
                return st;
            }
            tasdi_free(j->a, dt, dlen + 1);
            snprintf(t->dtype_name, sizeof t->dtype_name, "%s", sd->name);
            t->dtype = sd->dtype;
            t->elem = sd->size;
            have_dtype = true;
        } else if (which == 2 && !have_shape) {
            if (!jeat(j, '['))
                return jbad(j, "shape is not an array");
            if (!jeat(j, ']')) {
                for (;;) {
                    uint64_t v;
                    if (t->ndim == TASD_FILE_MAX_DIMS)
                        return tasdi_fail(TASD_ERR_UNSUPPORTED, "%s: tensor \"%s\": rank > %d",
                                          j->file, nm, TASD_FILE_MAX_DIMS);
                    st = juint(j, &v);
                    if (st)
                        return st;
                    if (v > (uint64_t)INT64_MAX)
                        return tasdi_fail(TASD_ERR_OVERFLOW, "%s: tensor \"%s\": dimension too large",
                                          j->file, nm);
                    t->shape[t->ndim++] = (int64_t)v;
                    if (jeat(j, ']'))
                        break;
                    if (!jeat(j, ','))
                        return jbad(j, "expected ',' or ']' in shape");
                }
            }
            have_shape = true;
        } else if (which == 3 && !have_off) {
            if (!jeat(j, '['))
                return jbad(j, "data_offsets is not an array");
            if ((st = juint(j, begin)) != TASD_OK)
                return st;
            if (!jeat(j, ','))
                return jbad(j, "data_offsets needs two numbers");
            if ((st = juint(j, end)) != TASD_OK)
                return st;
            if (!jeat(j, ']'))
                return jbad(j, "data_offsets needs exactly two numbers");
            have_off = true;
        } else {
            return tasdi_fail(TASD_ERR_FORMAT, "%s: tensor \"%s\": unknown or repeated key in its entry",
                              j->file, nm);
        }
        if (jeat(j, '}'))
            break;
        if (!jeat(j, ','))
            return jbad(j, "expected ',' or '}' in a tensor entry");
    }
    if (!have_dtype || !have_shape || !have_off)
        return tasdi_fail(TASD_ERR_FORMAT, "%s: tensor \"%s\": needs dtype, shape and data_offsets",
                          j->file, nm);
    return TASD_OK;
}

static tasd_status st_parse_metadata(json *j, int64_t *entries)
{
    if (!jeat(j, '{'))
        return jbad(j, "__metadata__ is not an object");
    if (jeat(j, '}'))
        return TASD_OK;
    for (;;) {
        char *s;
        size_t n;
        tasd_status st = jstring(j, &s, &n);
        if (st)
            return st;
        tasdi_free(j->a, s, n + 1);
        if (!jeat(j, ':'))
            return jbad(j, "expected ':' in __metadata__");
        st = jstring(j, &s, &n);
        if (st)
            return st == TASD_ERR_FORMAT ? jbad(j, "__metadata__ values must be strings") : st;
        tasdi_free(j->a, s, n + 1);
        (*entries)++;
        if (jeat(j, '}'))
            return TASD_OK;
        if (!jeat(j, ','))
            return jbad(j, "expected ',' or '}' in __metadata__");
    }
}

static tasd_status st_parse(tasd_model *m, const char *file)
{
    const unsigned char *d = m->map.data;
    size_t size = m->map.size;
    if (size < 8)
        return tasdi_fail(TASD_ERR_FORMAT, "%s: truncated safetensors file (%zu bytes)", file, size);
    uint64_t hlen = tasdi_ld64(d);
    if (hlen > size - 8)
        return tasdi_fail(TASD_ERR_FORMAT,
                          "%s: safetensors header length %llu runs past the end of the file (%zu bytes)",
                          file, (unsigned long long)hlen, size);
    if (hlen > ST_MAX_HEADER)
        return tasdi_fail(TASD_ERR_FORMAT, "%s: safetensors header length %llu exceeds 100 MiB",
                          file, (unsigned long long)hlen);
    if (hlen < 2)
        return tasdi_fail(TASD_ERR_FORMAT, "%s: safetensors header too short", file);
    uint64_t data_start = 8 + hlen, data_size = size - data_start;
    json j = {d + 8, d + 8, d + 8 + hlen, file, &m->a};
    m->count = 0;
    m->t_cap = 0;
    m->t = NULL;
    tasd_status st;
    bool have_meta = false;
    if (!jeat(&j, '{'))
        return jbad(&j, "header is not a JSON object");
    if (!jeat(&j, '}')) {
        for (;;) {
            char *name;
            size_t nlen;
            if ((st = jstring(&j, &name, &nlen)) != TASD_OK)
                return st;
            if (!jeat(&j, ':')) {
                tasdi_free(&m->a, name, nlen + 1);
                return jbad(&j, "expected ':'");
            }
            if (strcmp(name, "__metadata__") == 0) {
                tasdi_free(&m->a, name, nlen + 1);
                if (have_meta)
                    return jbad(&j, "__metadata__ appears twice");
                have_meta = true;
                if ((st = st_parse_metadata(&j, &m->metadata_entries)) != TASD_OK)
                    return st;
            } else {
                if (m->count == m->t_cap) {
                    int64_t ncap = m->t_cap ? 2 * m->t_cap : 16;
                    model_tensor *nt = ncap > ST_MAX_TENSORS ? NULL
                                       : tasdi_calloc(&m->a, (size_t)ncap, sizeof *nt);
                    if (!nt) {
                        tasdi_free(&m->a, name, nlen + 1);
                        return ncap > ST_MAX_TENSORS ? jbad(&j, "too many tensors")
                                                     : TASD_ERR_OUT_OF_MEMORY;
                    }
                    if (m->count)
                        memcpy(nt, m->t, (size_t)m->count * sizeof *nt);
                    tasdi_free(&m->a, m->t, (size_t)m->t_cap * sizeof *nt);
                    m->t = nt;
                    m->t_cap = ncap;
                }
                model_tensor *t = &m->t[m->count++];
                /* name_len is the allocation size - 1 (raw escaped length). */
                t->name = name;
                t->name_len = nlen;
                if (name[0] == 0)
                    return jbad(&j, "empty tensor name");
                uint64_t b, e;
                if ((st = st_parse_tensor(&j, t, &b, &e)) != TASD_OK)
                    return st;
                if (b > e || e > data_size)
                    return tasdi_fail(TASD_ERR_FORMAT,
                                      "%s: tensor \"%s\": data_offsets [%llu, %llu) outside the "
                                      "%llu-byte data section",
                                      file, t->name, (unsigned long long)b, (unsigned long long)e,
                                      (unsigned long long)data_size);
                if ((st = shape_bytes(file, t->name, t->ndim, t->shape, t->elem, &t->nbytes)) != TASD_OK)
                    return st;
                if (t->nbytes != e - b)
                    return tasdi_fail(TASD_ERR_FORMAT,
                                      "%s: tensor \"%s\": %llu bytes in the file, its shape and "
                                      "dtype need %llu",
                                      file, t->name, (unsigned long long)(e - b),
                                      (unsigned long long)t->nbytes);
                t->offset = data_start + b;
            }
            if (jeat(&j, '}'))
                break;
            if (!jeat(&j, ','))
                return jbad(&j, "expected ',' or '}'");
        }
    }
    jws(&j);
    if (j.p != j.end)
        return jbad(&j, "bytes after the header object");
    if (m->count > 1) {
        qsort(m->t, (size_t)m->count, sizeof *m->t, cmp_offset);
        for (int64_t i = 1; i < m->count; i++)
            if (m->t[i].offset < m->t[i - 1].offset + m->t[i - 1].nbytes)
                return tasdi_fail(TASD_ERR_FORMAT, "%s: tensors \"%s\" and \"%s\" overlap", file,
                                  m->t[i - 1].name, m->t[i].name);
        const model_tensor **byname = tasdi_alloc(&m->a, (size_t)m->count * sizeof *byname);
        if (!byname)
            return TASD_ERR_OUT_OF_MEMORY;
        for (int64_t i = 0; i < m->count; i++)
            byname[i] = &m->t[i];
        qsort(byname, (size_t)m->count, sizeof *byname, cmp_name_ptr);
        st = TASD_OK;
        for (int64_t i = 1; i < m->count && !st; i++)
            if (strcmp(byname[i]->name, byname[i - 1]->name) == 0)
                st = tasdi_fail(TASD_ERR_FORMAT, "%s: duplicate tensor name \"%s\"", file,
                                byname[i]->name);
        tasdi_free(&m->a, byname, (size_t)m->count * sizeof *byname);
        if (st)
            return st;
    }
    /* Shrink bookkeeping: the array keeps its capacity for freeing. */
    return TASD_OK;
}

static tasd_status model_open_map(tasd_context *ctx, tasdi_map map, tasd_file_format format,
                                  const char *file, tasd_model **out)
{
    const tasd_allocator *a = tasdi_allocator(ctx);
    tasd_model *m = tasdi_alloc(a, sizeof *m);
    if (!m) {
        tasdi_unmap(&map);
        return TASD_ERR_OUT_OF_MEMORY;
    }
    memset(m, 0, sizeof *m);
    m->a = *a;
    m->map = map;
    if (format == TASD_FORMAT_UNKNOWN)
        format = tasd_file_format_sniff(map.data, map.size);
    m->format = format;
    tasd_status st;
    if (format == TASD_FORMAT_NPY) {
        m->t = tasdi_calloc(a, 1, sizeof *m->t);
        if (!m->t) {
            st = TASD_ERR_OUT_OF_MEMORY;
        } else {
            m->count = 1;
            m->t_cap = 1;
            m->t[0].name = tasdi_strdup(a, "", 0);
            st = m->t[0].name ? npy_parse(file, map.data, map.size, &m->t[0])
                              : TASD_ERR_OUT_OF_MEMORY;
        }
    } else if (format == TASD_FORMAT_SAFETENSORS) {
        st = st_parse(m, file);
    } else if (format == TASD_FORMAT_TASD) {
        st = tasdi_fail(TASD_ERR_UNSUPPORTED,
                        "%s: a .tasd series file, not a model: open it with tasd_archive_open", file);
    } else {
        st = tasdi_fail(TASD_ERR_FORMAT, "%s: not a .npy or safetensors file (unknown magic)", file);
    }
    if (st) {
        tasd_model_close(m);
        return st;
    }
    *out = m;
    return TASD_OK;
}

tasd_status tasd_model_open(tasd_context *ctx, const char *path, tasd_model **out)
{
    if (!path || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_model_open: NULL argument");
    tasdi_map map;
    tasd_status st = tasdi_map_file(path, &map);
    if (st)
        return st;
    return model_open_map(ctx, map, TASD_FORMAT_UNKNOWN, path, out);
}

tasd_status tasd_model_open_memory(tasd_context *ctx, const void *data, size_t size,
                                   tasd_file_format format, tasd_model **out)
{
    if ((!data && size) || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_model_open_memory: NULL argument");
    tasdi_map map = {data, size, false};
    return model_open_map(ctx, map, format, "<memory>", out);
}

tasd_file_format tasd_model_format(const tasd_model *m)
{
    return m ? m->format : TASD_FORMAT_UNKNOWN;
}

int64_t tasd_model_count(const tasd_model *m)
{
    return m ? m->count : 0;
}

static tasd_status check_index(const tasd_model *m, int64_t i, const char *fn)
{
    if (!m)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "%s: model is NULL", fn);
    if (i < 0 || i >= m->count)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "%s: tensor %lld of %lld", fn,
                          (long long)i, (long long)m->count);
    return TASD_OK;
}

tasd_status tasd_model_info(const tasd_model *m, int64_t i, tasd_tensor_info *out)
{
    tasd_status st = check_index(m, i, "tasd_model_info");
    if (st)
        return st;
    if (!out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_model_info: out is NULL");
    const model_tensor *t = &m->t[i];
    tasd_tensor_info info;
    memset(&info, 0, sizeof info);
    info.name = t->name;
    info.dtype_name = t->dtype_name;
    info.dtype = t->dtype;
    info.ndim = t->ndim;
    memcpy(info.shape, t->shape, sizeof info.shape);
    info.offset = t->offset;
    info.nbytes = t->nbytes;
    *out = info;
    return TASD_OK;
}

tasd_status tasd_model_find(const tasd_model *m, const char *name, int64_t *index)
{
    if (!m || !name || !index)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_model_find: NULL argument");
    for (int64_t i = 0; i < m->count; i++)
        if (strcmp(m->t[i].name, name) == 0) {
            *index = i;
            return TASD_OK;
        }
    return tasdi_fail(TASD_ERR_NOT_FOUND, "no tensor named \"%.200s\"", name);
}

tasd_status tasd_model_view(const tasd_model *m, int64_t i, tasd_view *out)
{
    tasd_status st = check_index(m, i, "tasd_model_view");
    if (st)
        return st;
    if (!out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_model_view: out is NULL");
    const model_tensor *t = &m->t[i];
    if (t->dtype < 0)
        return tasdi_fail(TASD_ERR_DTYPE, "tensor \"%s\": dtype %s cannot be viewed (want F32, F16 or BF16)",
                          t->name, t->dtype_name);
    if (t->ndim > TASD_MAX_DIMS)
        return tasdi_fail(TASD_ERR_SHAPE, "tensor \"%s\": rank %d > %d", t->name, (int)t->ndim,
                          TASD_MAX_DIMS);
    const unsigned char *p = m->map.data + t->offset;
    if ((uintptr_t)p % t->elem != 0)
        return tasdi_fail(TASD_ERR_UNSUPPORTED,
                          "tensor \"%s\": data is not aligned to its element size; use tasd_model_read_f32",
                          t->name);
    tasd_view v;
    memset(&v, 0, sizeof v);
    v.data = (void *)(uintptr_t)p;
    v.dtype = t->dtype;
    v.ndim = t->ndim ? t->ndim : 1;
    if (t->ndim == 0) {
        v.shape[0] = 1;
        v.strides[0] = 1;
    }
    int64_t stride = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        v.shape[d] = t->shape[d];
        v.strides[d] = stride;
        stride *= t->shape[d] ? t->shape[d] : 1;
    }
    *out = v;
    return TASD_OK;
}

tasd_status tasd_model_read_f32(const tasd_model *m, int64_t i, float *dst, int64_t capacity)
{
    tasd_status st = check_index(m, i, "tasd_model_read_f32");
    if (st)
        return st;
    const model_tensor *t = &m->t[i];
    if (t->dtype < 0)
        return tasdi_fail(TASD_ERR_DTYPE, "tensor \"%s\": dtype %s cannot be read as f32",
                          t->name, t->dtype_name);
    uint64_t n = t->nbytes / t->elem;
    if (capacity < 0 || (uint64_t)capacity < n)
        return tasdi_fail(TASD_ERR_BUFFER_TOO_SMALL, "tensor \"%s\": needs %llu floats", t->name,
                          (unsigned long long)n);
    if (!dst && n)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_model_read_f32: dst is NULL");
    const unsigned char *p = m->map.data + t->offset;
    switch (t->dtype) {
    case TASD_F32:
        for (uint64_t k = 0; k < n; k++)
            dst[k] = tasdi_ldf32(p + 4 * k);
        break;
    case TASD_F16:
        for (uint64_t k = 0; k < n; k++)
            dst[k] = tasdi_f16_to_f32(tasdi_ld16(p + 2 * k));
        break;
    default:
        for (uint64_t k = 0; k < n; k++)
            dst[k] = tasdi_bf16_to_f32(tasdi_ld16(p + 2 * k));
        break;
    }
    return TASD_OK;
}

void tasd_model_release(const tasd_model *m, int64_t i)
{
    if (m && i >= 0 && i < m->count)
        tasdi_map_release(&m->map, m->t[i].offset, m->t[i].nbytes);
}

tasd_status tasd_model_raw(const tasd_model *m, int64_t i, const void **data, uint64_t *nbytes)
{
    tasd_status st = check_index(m, i, "tasd_model_raw");
    if (st)
        return st;
    if (!data || !nbytes)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_model_raw: NULL argument");
    *data = m->map.data + m->t[i].offset;
    *nbytes = m->t[i].nbytes;
    return TASD_OK;
}
