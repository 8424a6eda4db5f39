/* Tensor files (.npy, safetensors, ONNX) opened for reading: mmap, strict header
 * parsing, tensors read as views or converted to f32. */
#include "io.h"

#include <stdio.h>

void tasd_tensorfile_close(tasd_tensorfile *m)
{
    if (!m)
        return;
    tasd_allocator a = m->a;
    for (int64_t i = 0; m->t && i < m->count; i++) {
        tasdi_tensor *t = &m->t[i];
        if (t->name)
            tasdi_free(&a, t->name, t->name_len + 1);
        if (t->op_type)
            tasdi_free(&a, t->op_type, t->op_len + 1);
        tasdi_free(&a, t->owned, t->owned_size);
    }
    tasdi_free(&a, m->t, (size_t)m->t_cap * sizeof *m->t);
    tasdi_onnx_free(m);
    tasdi_unmap(&m->map);
    tasdi_free(&a, m, sizeof *m);
}

tasd_status tasdi_shape_bytes(const char *file, const char *tname, int ndim,
                               const int64_t *shape, size_t elem, uint64_t *out)
{
    /* A zero dimension makes the tensor empty, but the strides of its view
       still multiply the other dimensions (a zero counted as one), so those
       must fit as well. */
    uint64_t span = elem;
    bool empty = false;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return tasdi_fail(TASD_ERR_FORMAT, "%s: tensor \"%s\": negative dimension", file,
                              tname);
        uint64_t dim = shape[d] ? (uint64_t)shape[d] : 1;
        empty |= shape[d] == 0;
        if (span > UINT64_MAX / dim)
            return tasdi_fail(TASD_ERR_OVERFLOW,
                              "%s: tensor \"%s\": shape overflows 64-bit sizes", file, tname);
        span *= dim;
    }
    if (span > ((uint64_t)1 << 62))
        return tasdi_fail(TASD_ERR_OVERFLOW, "%s: tensor \"%s\": shape spans %llu bytes, too large",
                          file, tname, (unsigned long long)span);
    *out = empty ? 0 : span;
    return TASD_OK;
}

static tasd_status tensorfile_open_map(tasd_context *ctx, tasdi_map map, tasd_file_format format,
                                  const char *file, bool on_disk, tasd_tensorfile **out)
{
    const tasd_allocator *a = tasdi_allocator(ctx);
    tasd_tensorfile *m = tasdi_alloc(a, sizeof *m);
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
            st = m->t[0].name ? tasdi_npy_parse(file, map.data, map.size, &m->t[0])
                              : TASD_ERR_OUT_OF_MEMORY;
        }
    } else if (format == TASD_FORMAT_SAFETENSORS) {
        st = tasdi_safetensors_parse(m, file);
    } else if (format == TASD_FORMAT_ONNX) {
        st = tasdi_onnx_parse(m, file, on_disk);
    } else if (format == TASD_FORMAT_TASD) {
        st = tasdi_fail(TASD_ERR_UNSUPPORTED,
                        "%s: a .tasd series file, not a model: open it with tasd_archive_open", file);
    } else {
        st = tasdi_fail(TASD_ERR_FORMAT, "%s: not a .npy, safetensors or ONNX file (unknown magic)", file);
    }
    if (st) {
        tasd_tensorfile_close(m);
        return st;
    }
    *out = m;
    return TASD_OK;
}

tasd_status tasd_tensorfile_open(tasd_context *ctx, const char *path, tasd_tensorfile **out)
{
    if (!path || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_tensorfile_open: NULL argument");
    tasdi_map map;
    tasd_status st = tasdi_map_file(path, &map);
    if (st)
        return st;
    /* An ONNX file has no magic: the .onnx extension also names it. */
    tasd_file_format f = tasd_file_format_sniff(map.data, map.size);
    if (f == TASD_FORMAT_UNKNOWN && tasdi_has_onnx_extension(path))
        f = TASD_FORMAT_ONNX;
    return tensorfile_open_map(ctx, map, f, path, true, out);
}

tasd_status tasd_tensorfile_open_memory(tasd_context *ctx, const void *data, size_t size,
                                   tasd_file_format format, tasd_tensorfile **out)
{
    if ((!data && size) || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_tensorfile_open_memory: NULL argument");
    tasdi_map map = {data, size, false, false, 0, 0};
    return tensorfile_open_map(ctx, map, format, "<memory>", false, out);
}

tasd_file_format tasd_tensorfile_format(const tasd_tensorfile *m)
{
    return m ? m->format : TASD_FORMAT_UNKNOWN;
}

int64_t tasd_tensorfile_count(const tasd_tensorfile *m)
{
    return m ? m->count : 0;
}

/* Where tensor t's bytes are (ONNX keeps some outside the mapping). */
static const unsigned char *tensor_data(const tasd_tensorfile *m, const tasdi_tensor *t)
{
    return t->data ? t->data : m->map.data + t->offset;
}

static tasd_status check_index(const tasd_tensorfile *m, int64_t i, const char *fn)
{
    if (!m)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "%s: model is NULL", fn);
    if (i < 0 || i >= m->count)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "%s: tensor %lld of %lld", fn,
                          (long long)i, (long long)m->count);
    return TASD_OK;
}

tasd_status tasd_tensorfile_info(const tasd_tensorfile *m, int64_t i, tasd_tensor_info *out)
{
    tasd_status st = check_index(m, i, "tasd_tensorfile_info");
    if (st)
        return st;
    if (!out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_tensorfile_info: out is NULL");
    st = TASDI_CHECK_SIZE("tasd_tensorfile_info", tasd_tensor_info, out);
    if (st)
        return st;
    const tasdi_tensor *t = &m->t[i];
    tasd_tensor_info info;
    memset(&info, 0, sizeof info);
    info.size = sizeof info;
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

tasd_status tasd_tensorfile_find(const tasd_tensorfile *m, const char *name, int64_t *index)
{
    if (!m || !name || !index)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_tensorfile_find: NULL argument");
    for (int64_t i = 0; i < m->count; i++)
        if (strcmp(m->t[i].name, name) == 0) {
            *index = i;
            return TASD_OK;
        }
    return tasdi_fail(TASD_ERR_NOT_FOUND, "no tensor named \"%.200s\"", name);
}

tasd_status tasd_tensorfile_view(const tasd_tensorfile *m, int64_t i, tasd_view *out)
{
    tasd_status st = check_index(m, i, "tasd_tensorfile_view");
    if (st)
        return st;
    if (!out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_tensorfile_view: out is NULL");
    const tasdi_tensor *t = &m->t[i];
    if (t->dtype < 0)
        return tasdi_fail(TASD_ERR_DTYPE, "tensor \"%s\": dtype %s cannot be viewed (want F32, F16 or BF16)",
                          t->name, t->dtype_name);
    if (t->ndim > TASD_MAX_DIMS)
        return tasdi_fail(TASD_ERR_SHAPE, "tensor \"%s\": rank %d > %d", t->name, (int)t->ndim,
                          TASD_MAX_DIMS);
    if (t->no_data)
        return tasdi_fail(TASD_ERR_UNSUPPORTED, "tensor \"%s\": its data is stored in typed fields libtasd does not read",
                          t->name);
    const unsigned char *p = tensor_data(m, t);
    if ((uintptr_t)p % t->elem != 0)
        return tasdi_fail(TASD_ERR_UNSUPPORTED,
                          "tensor \"%s\": data is not aligned to its element size; use tasd_tensorfile_read_f32",
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

tasd_status tasd_tensorfile_read_f32(const tasd_tensorfile *m, int64_t i, float *dst, int64_t capacity)
{
    tasd_status st = check_index(m, i, "tasd_tensorfile_read_f32");
    if (st)
        return st;
    const tasdi_tensor *t = &m->t[i];
    if (t->dtype < 0)
        return tasdi_fail(TASD_ERR_DTYPE, "tensor \"%s\": dtype %s cannot be read as f32",
                          t->name, t->dtype_name);
    uint64_t n = t->nbytes / t->elem;
    if (capacity < 0 || (uint64_t)capacity < n)
        return tasdi_fail(TASD_ERR_BUFFER_TOO_SMALL, "tensor \"%s\": needs %llu floats", t->name,
                          (unsigned long long)n);
    if (!dst && n)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_tensorfile_read_f32: dst is NULL");
    const unsigned char *p = tensor_data(m, t);
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

void tasd_tensorfile_release(const tasd_tensorfile *m, int64_t i)
{
    if (m && i >= 0 && i < m->count) {
        if (m->format == TASD_FORMAT_ONNX)
            tasdi_onnx_release(m, &m->t[i]);
        else
            tasdi_map_release(&m->map, m->t[i].offset, m->t[i].nbytes);
    }
}

tasd_status tasd_tensorfile_raw(const tasd_tensorfile *m, int64_t i, const void **data, uint64_t *nbytes)
{
    tasd_status st = check_index(m, i, "tasd_tensorfile_raw");
    if (st)
        return st;
    if (!data || !nbytes)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_tensorfile_raw: NULL argument");
    if (m->t[i].no_data)
        return tasdi_fail(TASD_ERR_UNSUPPORTED,
                          "tensor \"%s\": its data is stored in typed fields libtasd does not read",
                          m->t[i].name);
    *data = tensor_data(m, &m->t[i]);
    *nbytes = m->t[i].nbytes;
    return TASD_OK;
}

tasd_status tasd_tensorfile_consumer(const tasd_tensorfile *m, int64_t i, const char **op_type,
                                     int32_t *input, int32_t *out_axis)
{
    tasd_status st = check_index(m, i, "tasd_tensorfile_consumer");
    if (st)
        return st;
    const tasdi_tensor *t = &m->t[i];
    bool known = m->format == TASD_FORMAT_ONNX && t->op_type;
    if (op_type)
        *op_type = known ? t->op_type : "";
    if (input)
        *input = known ? t->op_input : -1;
    if (out_axis)
        *out_axis = known ? t->out_axis : -1;
    return TASD_OK;
}

tasd_status tasd_tensorfile_data_file(const tasd_tensorfile *m, int64_t i, const char **location)
{
    tasd_status st = check_index(m, i, "tasd_tensorfile_data_file");
    if (st)
        return st;
    if (!location)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_tensorfile_data_file: location is NULL");
    const char *loc = m->format == TASD_FORMAT_ONNX ? tasdi_onnx_location(m, &m->t[i]) : NULL;
    *location = loc ? loc : "";
    return TASD_OK;
}
