/* Writers for .npy and safetensors: the layout is fixed at creation (header
 * written at once), tensors are then put in any order with pwrite, and the
 * file is renamed into place when every tensor is there. */
#include "io.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct wtensor {
    char *name;
    size_t name_len;
    char dtype_name[12];
    int32_t dtype;     /* tasd_dtype or -1 */
    size_t elem;
    int64_t elems;
    uint64_t offset, nbytes;
} wtensor;

struct tasd_writer {
    tasd_allocator a;
    tasd_file_format format;
    tasdi_outfile out;
    int64_t count;
    wtensor *t;
    unsigned char *done;
};


static void writer_free(tasd_writer *w)
{
    tasd_allocator a = w->a;
    for (int64_t i = 0; w->t && i < w->count; i++)
        tasdi_free(&a, w->t[i].name, w->t[i].name_len + 1);
    tasdi_free(&a, w->t, (size_t)w->count * sizeof *w->t);
    tasdi_free(&a, w->done, (size_t)w->count);
    tasdi_free(&a, w, sizeof *w);
}

/* A growing text buffer for the header. */
typedef struct sbuf {
    const tasd_allocator *a;
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        char *np = tasdi_alloc(b->a, ncap);
        if (!np) {
            b->oom = true;
            return;
        }
        if (b->len)
            memcpy(np, b->p, b->len);
        tasdi_free(b->a, b->p, b->cap);
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_fmt(sbuf *b, const char *fmt, long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, fmt, v);
    sb_put(b, tmp, (size_t)n);
}

static void sb_json_string(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_put(b, e, 2);
        } else if (c < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", c);
            sb_put(b, e, 6);
        } else {
            sb_put(b, (const char *)&c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

static int cmp_wname(const void *x, const void *y)
{
    const wtensor *const *a = x, *const *b = y;
    return strcmp((*a)->name, (*b)->name);
}

tasd_status tasd_writer_create(tasd_context *ctx, const char *path, tasd_file_format format,
                               int64_t count, const tasd_tensor_info *tensors,
                               tasd_writer **out)
{
    if (!path || !out || (count > 0 && !tensors))
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_writer_create: NULL argument");
    if (format != TASD_FORMAT_NPY && format != TASD_FORMAT_SAFETENSORS)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "tasd_writer_create: format must be npy or safetensors");
    if (format == TASD_FORMAT_NPY && count != 1)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "%s: a .npy file holds exactly one tensor, not %lld",
                          path, (long long)count);
    if (count < 0 || count > ((int64_t)1 << 22))
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "tasd_writer_create: count %lld", (long long)count);
    for (int64_t i = 0; i < count; i++) {
        tasd_status st = TASDI_CHECK_SIZE("tasd_writer_create", tasd_tensor_info, &tensors[i]);
        if (st)
            return st;
    }
    const tasd_allocator *a = tasdi_allocator(ctx);
    tasd_writer *w = tasdi_alloc(a, sizeof *w);
    if (!w)
        return TASD_ERR_OUT_OF_MEMORY;
    memset(w, 0, sizeof *w);
    w->a = *a;
    w->out.fd = -1;
    w->format = format;
    w->t = tasdi_calloc(a, count ? (size_t)count : 1, sizeof *w->t);
    w->done = tasdi_calloc(a, count ? (size_t)count : 1, 1);
    if (!w->t || !w->done) {
        w->count = 0;
        tasdi_free(a, w->t, (count ? (size_t)count : 1) * sizeof *w->t);
        tasdi_free(a, w->done, count ? (size_t)count : 1);
        w->t = NULL;
        w->done = NULL;
        writer_free(w);
        return TASD_ERR_OUT_OF_MEMORY;
    }
    if (count == 0) {
        tasdi_free(a, w->t, sizeof *w->t);
        tasdi_free(a, w->done, 1);
        w->t = NULL;
        w->done = NULL;
    }
    w->count = count;
    tasd_status st = TASD_OK;
    for (int64_t i = 0; i < count && !st; i++) {
        const tasd_tensor_info *in = &tensors[i];
        wtensor *t = &w->t[i];
        const char *nm = in->name ? in->name : "";
        const char *dn = in->dtype_name ? in->dtype_name : "";
        t->name_len = strlen(nm);
        t->name = tasdi_strdup(a, nm, t->name_len);
        if (!t->name) {
            st = TASD_ERR_OUT_OF_MEMORY;
            break;
        }
        if (format == TASD_FORMAT_SAFETENSORS &&
            (t->name_len == 0 || !tasdi_utf8_valid((const unsigned char *)nm, t->name_len) ||
             strcmp(nm, "__metadata__") == 0)) {
            st = tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "%s: tensor %lld: name must be non-empty UTF-8 "
                            "and not __metadata__", path, (long long)i);
            break;
        }
        t->dtype = -2;
        if (format == TASD_FORMAT_NPY) {
            if (strcmp(dn, "<f4") == 0 || strcmp(dn, "F32") == 0)
                t->dtype = TASD_F32, t->elem = 4, memcpy(t->dtype_name, "<f4", 4);
            else if (strcmp(dn, "<f2") == 0 || strcmp(dn, "F16") == 0)
                t->dtype = TASD_F16, t->elem = 2, memcpy(t->dtype_name, "<f2", 4);
        } else {
            const tasdi_st_dtype *sd = tasdi_safetensors_dtype(dn, strlen(dn));
            if (sd) {
                t->dtype = sd->dtype;
                t->elem = sd->size;
                snprintf(t->dtype_name, sizeof t->dtype_name, "%s", sd->name);
            }
        }
        if (t->dtype == -2) {
            st = tasdi_fail(TASD_ERR_DTYPE, "%s: tensor \"%.200s\": cannot write dtype \"%.16s\" to %s",
                            path, nm, dn, tasd_file_format_name(format));
            break;
        }
        if (in->ndim < 0 || in->ndim > TASD_FILE_MAX_DIMS) {
            st = tasdi_fail(TASD_ERR_SHAPE, "%s: tensor \"%.200s\": rank %d", path, nm, (int)in->ndim);
            break;
        }
        uint64_t n = 1;
        for (int d = 0; d < in->ndim && !st; d++) {
            if (in->shape[d] < 0 || (in->shape[d] && n > ((uint64_t)1 << 56) / (uint64_t)in->shape[d]))
                st = tasdi_fail(TASD_ERR_OVERFLOW, "%s: tensor \"%.200s\": bad or too large shape",
                                path, nm);
            else
                n *= (uint64_t)in->shape[d];
        }
        t->elems = (int64_t)n;
        t->nbytes = n * t->elem;
    }
    if (!st && format == TASD_FORMAT_SAFETENSORS && count > 1) {
        wtensor **byname = tasdi_alloc(a, (size_t)count * sizeof *byname);
        if (!byname) {
            st = TASD_ERR_OUT_OF_MEMORY;
        } else {
            for (int64_t i = 0; i < count; i++)
                byname[i] = &w->t[i];
            qsort(byname, (size_t)count, sizeof *byname, cmp_wname);
            for (int64_t i = 1; i < count && !st; i++)
                if (strcmp(byname[i]->name, byname[i - 1]->name) == 0)
                    st = tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "%s: duplicate tensor name \"%.200s\"",
                                    path, byname[i]->name);
            tasdi_free(a, byname, (size_t)count * sizeof *byname);
        }
    }
    sbuf b = {a, NULL, 0, 0, false};
    uint64_t data_start = 0;
    if (!st && format == TASD_FORMAT_NPY) {
        const wtensor *t = &w->t[0];
        const tasd_tensor_info *in = &tensors[0];
        sb_str(&b, "{'descr': '");
        sb_str(&b, t->dtype_name);
        sb_str(&b, "', 'fortran_order': False, 'shape': (");
        for (int d = 0; d < in->ndim; d++) {
            sb_fmt(&b, "%lld", (long long)in->shape[d]);
            sb_str(&b, in->ndim == 1 ? "," : d + 1 < in->ndim ? ", " : "");
        }
        sb_str(&b, "), }");
        size_t pre = b.len + 1 + 10 > 65535 ? 12 : 10;
        while (!b.oom && (pre + b.len + 1) % 64 != 0)
            sb_put(&b, " ", 1);
        sb_put(&b, "\n", 1);
        if (b.oom) {
            st = TASD_ERR_OUT_OF_MEMORY;
        } else {
            unsigned char head[12];
            memcpy(head, "\x93NUMPY", 6);
            head[6] = pre == 10 ? 1 : 2;
            head[7] = 0;
            if (pre == 10)
                tasdi_st16(head + 8, (uint16_t)b.len);
            else
                tasdi_st32(head + 8, (uint32_t)b.len);
            data_start = pre + b.len;
            w->t[0].offset = data_start;
            st = tasdi_out_open(a, path, &w->out);
            if (!st)
                st = tasdi_out_pwrite(&w->out, head, pre, 0);
            if (!st)
                st = tasdi_out_pwrite(&w->out, b.p, b.len, pre);
        }
    } else if (!st) {
        /* Data laid out by descending element size (stable), so every tensor
         * stays aligned to its element size; the header lists them in the
         * caller's order. */
        uint64_t off = 0;
        for (size_t es = 8; es >= 1; es /= 2)
            for (int64_t i = 0; i < count; i++)
                if (w->t[i].elem == es) {
                    w->t[i].offset = off;
                    off += w->t[i].nbytes;
                }
        sb_str(&b, "{\"__metadata__\":{\"format\":\"pt\"}");
        for (int64_t i = 0; i < count; i++) {
            const wtensor *t = &w->t[i];
            sb_str(&b, ",");
            sb_json_string(&b, t->name);
            sb_str(&b, ":{\"dtype\":\"");
            sb_str(&b, t->dtype_name);
            sb_str(&b, "\",\"shape\":[");
            for (int d = 0; d < tensors[i].ndim; d++) {
                if (d)
                    sb_str(&b, ",");
                sb_fmt(&b, "%lld", (long long)tensors[i].shape[d]);
            }
            sb_str(&b, "],\"data_offsets\":[");
            sb_fmt(&b, "%lld", (long long)t->offset);
            sb_str(&b, ",");
            sb_fmt(&b, "%lld", (long long)(t->offset + t->nbytes));
            sb_str(&b, "]}");
        }
        sb_str(&b, "}");
        while (!b.oom && b.len % 8 != 0)
            sb_put(&b, " ", 1);
        if (b.oom) {
            st = TASD_ERR_OUT_OF_MEMORY;
        } else {
            unsigned char head[8];
            tasdi_st64(head, b.len);
            data_start = 8 + b.len;
            for (int64_t i = 0; i < count; i++)
                w->t[i].offset += data_start;
            st = tasdi_out_open(a, path, &w->out);
            if (!st)
                st = tasdi_out_pwrite(&w->out, head, 8, 0);
            if (!st)
                st = tasdi_out_pwrite(&w->out, b.p, b.len, 8);
        }
    }
    tasdi_free(a, b.p, b.cap);
    if (st) {
        tasdi_out_abort(&w->out);
        writer_free(w);
        return st;
    }
    *out = w;
    return TASD_OK;
}

static tasd_status put_check(tasd_writer *w, int64_t i, const char *fn)
{
    if (!w)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "%s: writer is NULL", fn);
    if (i < 0 || i >= w->count)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "%s: tensor %lld of %lld", fn, (long long)i,
                          (long long)w->count);
    return TASD_OK;
}

tasd_status tasd_writer_put_raw(tasd_writer *w, int64_t i, const void *bytes, size_t nbytes)
{
    tasd_status st = put_check(w, i, "tasd_writer_put_raw");
    if (st)
        return st;
    const wtensor *t = &w->t[i];
    if (nbytes != t->nbytes)
        return tasdi_fail(TASD_ERR_SHAPE, "%s: tensor \"%.200s\": %zu bytes given, %llu expected",
                          w->out.path, t->name, nbytes, (unsigned long long)t->nbytes);
    if (!bytes && nbytes)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_writer_put_raw: bytes is NULL");
    st = tasdi_out_pwrite(&w->out, bytes, nbytes, t->offset);
    if (!st)
        w->done[i] = 1;
    return st;
}

static float load_elem(const unsigned char *p, int32_t dtype)
{
    if (dtype == TASD_F32) {
        float f;
        memcpy(&f, p, 4);
        return f;
    }
    uint16_t h;
    memcpy(&h, p, 2);
    return dtype == TASD_F16 ? tasdi_f16_to_f32(h) : tasdi_bf16_to_f32(h);
}

tasd_status tasd_writer_put(tasd_writer *w, int64_t i, const tasd_view *v)
{
    tasd_status st = put_check(w, i, "tasd_writer_put");
    if (st)
        return st;
    const wtensor *t = &w->t[i];
    if (!v)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_writer_put: view is NULL");
    if (t->dtype < 0)
        return tasdi_fail(TASD_ERR_DTYPE, "%s: tensor \"%.200s\": dtype %s takes raw bytes only",
                          w->out.path, t->name, t->dtype_name);
    size_t vel = tasd_dtype_size((tasd_dtype)v->dtype);
    if (vel == 0)
        return tasdi_fail(TASD_ERR_DTYPE, "tasd_writer_put: unknown view dtype %d", (int)v->dtype);
    if (v->ndim < 1 || v->ndim > TASD_MAX_DIMS)
        return tasdi_fail(TASD_ERR_SHAPE, "tasd_writer_put: view rank %d", (int)v->ndim);
    int64_t n = 1;
    for (int d = 0; d < v->ndim; d++)
        if (v->shape[d] < 0 || !tasdi_mul_i64(n, v->shape[d], &n))
            return tasdi_fail(TASD_ERR_SHAPE, "tasd_writer_put: bad view shape");
    if (n != t->elems)
        return tasdi_fail(TASD_ERR_SHAPE, "%s: tensor \"%.200s\": view has %lld elements, tensor %lld",
                          w->out.path, t->name, (long long)n, (long long)t->elems);
    if (n > 0 && !v->data)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_writer_put: view data is NULL");
    enum { CHUNK = 4096 }; /* 16 KiB of stack at most */
    unsigned char buf[CHUNK * 4];
    int64_t idx[TASD_MAX_DIMS] = {0, 0, 0, 0};
    uint64_t off = t->offset;
    size_t fill = 0;
    const unsigned char *base = v->data;
    for (int64_t k = 0; k < n; k++) {
        int64_t eo = 0;
        for (int d = 0; d < v->ndim; d++)
            eo += idx[d] * v->strides[d];
        float f = load_elem(base + eo * (int64_t)vel, v->dtype);
        unsigned char *o = buf + fill;
        if (t->dtype == TASD_F32)
            tasdi_stf32(o, f);
        else
            tasdi_st16(o, t->dtype == TASD_F16 ? tasdi_f32_to_f16(f) : tasdi_f32_to_bf16(f));
        fill += t->elem;
        if (fill == sizeof buf || k + 1 == n) {
            st = tasdi_out_pwrite(&w->out, buf, fill, off);
            if (st)
                return st;
            off += fill;
            fill = 0;
        }
        for (int d = v->ndim - 1; d >= 0; d--) {
            if (++idx[d] < v->shape[d])
                break;
            idx[d] = 0;
        }
    }
    w->done[i] = 1;
    return TASD_OK;
}

tasd_status tasd_writer_finish(tasd_writer *w)
{
    if (!w)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_writer_finish: writer is NULL");
    tasd_status st = TASD_OK;
    for (int64_t i = 0; i < w->count && !st; i++)
        if (!w->done[i])
            st = tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "%s: tensor \"%.200s\" was never written",
                            w->out.path, w->t[i].name);
    if (st) {
        tasdi_out_abort(&w->out);
        writer_free(w);
        return st;
    }
    st = tasdi_out_commit(&w->out);
    writer_free(w);
    return st;
}

void tasd_writer_abort(tasd_writer *w)
{
    if (!w)
        return;
    tasdi_out_abort(&w->out);
    writer_free(w);
}
