/* The safetensors reader: header JSON parsed strictly, tensors checked
 * against the data section (bounds, sizes, overlaps, duplicate names). */
#include "io.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- dtypes (shared with the writer) ---- */

static const tasdi_st_dtype st_dtypes[] = {
    {"BOOL", 1, -1}, {"U8", 1, -1},  {"I8", 1, -1},  {"F8_E5M2", 1, -1},
    {"F8_E4M3", 1, -1}, {"I16", 2, -1}, {"U16", 2, -1}, {"F16", 2, TASD_F16},
    {"BF16", 2, TASD_BF16}, {"I32", 4, -1}, {"U32", 4, -1}, {"F32", 4, TASD_F32},
    {"F64", 8, -1}, {"I64", 8, -1}, {"U64", 8, -1},
};

const tasdi_st_dtype *tasdi_safetensors_dtype(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strlen(st_dtypes[i].name) == len && memcmp(st_dtypes[i].name, name, len) == 0)
            return &st_dtypes[i];
    return NULL;
}

static int cmp_offset(const void *x, const void *y)
{
    const tasdi_tensor *a = x, *b = y;
    if (a->offset != b->offset)
        return a->offset < b->offset ? -1 : 1;
    if (a->nbytes != b->nbytes)
        return a->nbytes < b->nbytes ? -1 : 1;
    return strcmp(a->name, b->name);
}

static int cmp_name_ptr(const void *x, const void *y)
{
    const tasdi_tensor *const *a = x, *const *b = y;
    return strcmp((*a)->name, (*b)->name);
}

#define ST_MAX_HEADER ((uint64_t)100 << 20)
#define ST_MAX_TENSORS ((int64_t)1 << 22)

static tasd_status st_parse_tensor(tasdi_json *j, tasdi_tensor *t, uint64_t *begin, uint64_t *end)
{
    const char *nm = t->name;
    bool have_dtype = false, have_shape = false, have_off = false;
    if (!tasdi_json_eat(j, '{'))
        return tasdi_json_fail(j, "tensor entry is not an object");
    if (tasdi_json_eat(j, '}'))
        return tasdi_json_fail(j, "empty tensor entry");
    for (;;) {
        char *key;
        size_t klen;
        tasd_status st = tasdi_json_string(j, &key, &klen);
        if (st)
            return st;
        int which = strcmp(key, "dtype") == 0 ? 1 : strcmp(key, "shape") == 0 ? 2
                  : strcmp(key, "data_offsets") == 0 ? 3 : 0;
        tasdi_free(j->a, key, klen + 1);
        if (!tasdi_json_eat(j, ':'))
            return tasdi_json_fail(j, "expected ':'");
        if (which == 1 && !have_dtype) {
            char *dt;
            size_t dlen;
            st = tasdi_json_string(j, &dt, &dlen);
            if (st)
                return st;
            const tasdi_st_dtype *sd = tasdi_safetensors_dtype(dt, dlen);
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
            if (!tasdi_json_eat(j, '['))
                return tasdi_json_fail(j, "shape is not an array");
            if (!tasdi_json_eat(j, ']')) {
                for (;;) {
                    uint64_t v;
                    if (t->ndim == TASD_FILE_MAX_DIMS)
                        return tasdi_fail(TASD_ERR_UNSUPPORTED, "%s: tensor \"%s\": rank > %d",
                                          j->file, nm, TASD_FILE_MAX_DIMS);
                    st = tasdi_json_uint(j, &v);
                    if (st)
                        return st;
                    if (v > (uint64_t)INT64_MAX)
                        return tasdi_fail(TASD_ERR_OVERFLOW, "%s: tensor \"%s\": dimension too large",
                                          j->file, nm);
                    t->shape[t->ndim++] = (int64_t)v;
                    if (tasdi_json_eat(j, ']'))
                        break;
                    if (!tasdi_json_eat(j, ','))
                        return tasdi_json_fail(j, "expected ',' or ']' in shape");
                }
            }
            have_shape = true;
        } else if (which == 3 && !have_off) {
            if (!tasdi_json_eat(j, '['))
                return tasdi_json_fail(j, "data_offsets is not an array");
            if ((st = tasdi_json_uint(j, begin)) != TASD_OK)
                return st;
            if (!tasdi_json_eat(j, ','))
                return tasdi_json_fail(j, "data_offsets needs two numbers");
            if ((st = tasdi_json_uint(j, end)) != TASD_OK)
                return st;
            if (!tasdi_json_eat(j, ']'))
                return tasdi_json_fail(j, "data_offsets needs exactly two numbers");
            have_off = true;
        } else {
            return tasdi_fail(TASD_ERR_FORMAT, "%s: tensor \"%s\": unknown or repeated key in its entry",
                              j->file, nm);
        }
        if (tasdi_json_eat(j, '}'))
            break;
        if (!tasdi_json_eat(j, ','))
            return tasdi_json_fail(j, "expected ',' or '}' in a tensor entry");
    }
    if (!have_dtype || !have_shape || !have_off)
        return tasdi_fail(TASD_ERR_FORMAT, "%s: tensor \"%s\": needs dtype, shape and data_offsets",
                          j->file, nm);
    return TASD_OK;
}

static tasd_status st_parse_metadata(tasdi_json *j, int64_t *entries)
{
    if (!tasdi_json_eat(j, '{'))
        return tasdi_json_fail(j, "__metadata__ is not an object");
    if (tasdi_json_eat(j, '}'))
        return TASD_OK;
    for (;;) {
        char *s;
        size_t n;
        tasd_status st = tasdi_json_string(j, &s, &n);
        if (st)
            return st;
        tasdi_free(j->a, s, n + 1);
        if (!tasdi_json_eat(j, ':'))
            return tasdi_json_fail(j, "expected ':' in __metadata__");
        st = tasdi_json_string(j, &s, &n);
        if (st)
            return st == TASD_ERR_FORMAT ? tasdi_json_fail(j, "__metadata__ values must be strings") : st;
        tasdi_free(j->a, s, n + 1);
        (*entries)++;
        if (tasdi_json_eat(j, '}'))
            return TASD_OK;
        if (!tasdi_json_eat(j, ','))
            return tasdi_json_fail(j, "expected ',' or '}' in __metadata__");
    }
}

tasd_status tasdi_safetensors_parse(tasd_tensorfile *m, const char *file)
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
    tasdi_json j = {d + 8, d + 8, d + 8 + hlen, file, &m->a};
    m->count = 0;
    m->t_cap = 0;
    m->t = NULL;
    tasd_status st;
    bool have_meta = false;
    if (!tasdi_json_eat(&j, '{'))
        return tasdi_json_fail(&j, "header is not a JSON object");
    if (!tasdi_json_eat(&j, '}')) {
        for (;;) {
            char *name;
            size_t nlen;
            if ((st = tasdi_json_string(&j, &name, &nlen)) != TASD_OK)
                return st;
            if (!tasdi_json_eat(&j, ':')) {
                tasdi_free(&m->a, name, nlen + 1);
                return tasdi_json_fail(&j, "expected ':'");
            }
            if (strcmp(name, "__metadata__") == 0) {
                tasdi_free(&m->a, name, nlen + 1);
                if (have_meta)
                    return tasdi_json_fail(&j, "__metadata__ appears twice");
                have_meta = true;
                if ((st = st_parse_metadata(&j, &m->metadata_entries)) != TASD_OK)
                    return st;
            } else {
                if (m->count == m->t_cap) {
                    int64_t ncap = m->t_cap ? 2 * m->t_cap : 16;
                    tasdi_tensor *nt = ncap > ST_MAX_TENSORS ? NULL
                                       : tasdi_calloc(&m->a, (size_t)ncap, sizeof *nt);
                    if (!nt) {
                        tasdi_free(&m->a, name, nlen + 1);
                        return ncap > ST_MAX_TENSORS ? tasdi_json_fail(&j, "too many tensors")
                                                     : TASD_ERR_OUT_OF_MEMORY;
                    }
                    if (m->count)
                        memcpy(nt, m->t, (size_t)m->count * sizeof *nt);
                    tasdi_free(&m->a, m->t, (size_t)m->t_cap * sizeof *nt);
                    m->t = nt;
                    m->t_cap = ncap;
                }
                tasdi_tensor *t = &m->t[m->count++];
                /* name_len is the allocation size - 1 (raw escaped length). */
                t->name = name;
                t->name_len = nlen;
                if (name[0] == 0)
                    return tasdi_json_fail(&j, "empty tensor name");
                uint64_t b, e;
                if ((st = st_parse_tensor(&j, t, &b, &e)) != TASD_OK)
                    return st;
                if (b > e || e > data_size)
                    return tasdi_fail(TASD_ERR_FORMAT,
                                      "%s: tensor \"%s\": data_offsets [%llu, %llu) outside the "
                                      "%llu-byte data section",
                                      file, t->name, (unsigned long long)b, (unsigned long long)e,
                                      (unsigned long long)data_size);
                if ((st = tasdi_shape_bytes(file, t->name, t->ndim, t->shape, t->elem, &t->nbytes)) != TASD_OK)
                    return st;
                if (t->nbytes != e - b)
                    return tasdi_fail(TASD_ERR_FORMAT,
                                      "%s: tensor \"%s\": %llu bytes in the file, its shape and "
                                      "dtype need %llu",
                                      file, t->name, (unsigned long long)(e - b),
                                      (unsigned long long)t->nbytes);
                t->offset = data_start + b;
            }
            if (tasdi_json_eat(&j, '}'))
                break;
            if (!tasdi_json_eat(&j, ','))
                return tasdi_json_fail(&j, "expected ',' or '}'");
        }
    }
    tasdi_json_ws(&j);
    if (j.p != j.end)
        return tasdi_json_fail(&j, "bytes after the header object");
    if (m->count > 1) {
        qsort(m->t, (size_t)m->count, sizeof *m->t, cmp_offset);
        for (int64_t i = 1; i < m->count; i++)
            if (m->t[i].offset < m->t[i - 1].offset + m->t[i - 1].nbytes)
                return tasdi_fail(TASD_ERR_FORMAT, "%s: tensors \"%s\" and \"%s\" overlap", file,
                                  m->t[i - 1].name, m->t[i].name);
        const tasdi_tensor **byname = tasdi_alloc(&m->a, (size_t)m->count * sizeof *byname);
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
