/* The ONNX reader: a strict parser of the protobuf wire format for the few
 * messages libtasd needs (ModelProto.graph, GraphProto.initializer/node,
 * TensorProto, NodeProto, AttributeProto), no protobuf library. Every
 * length is checked against its enclosing message before use; unknown
 * fields are skipped by wire type only, so nesting never recurses past the
 * fixed message levels above. Field numbers are those of onnx.proto. */
#include "io.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- wire format ---- */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

typedef struct pb {
    const unsigned char *p, *end;
} pb;

/* One field: number, wire type, and its value: v for varint/fixed, the
 * payload for length-delimited. data/len are the value's bytes in the file
 * (for length-delimited the payload, after the length). */
typedef struct pbf {
    uint32_t num;
    int wire;
    uint64_t v;
    const unsigned char *data;
    size_t len;
    const unsigned char *at;   /* where the field (its tag) starts */
} pbf;

/* What is being parsed, for error messages: file, where the file starts,
 * and a short path such as "initializer \"w\"". */
typedef struct ox {
    tasd_tensorfile *m;
    const char *file;
    const unsigned char *base;
    char where[160];
} ox;

#define ONNX_MAX_TENSORS ((int64_t)1 << 22)

static tasd_status ox_fail(const ox *x, const unsigned char *at, const char *what)
{
    return tasdi_fail(TASD_ERR_FORMAT, "%s: ONNX: %s%s%s at byte %zu", x->file, x->where,
                      x->where[0] ? ": " : "", what, (size_t)(at - x->base));
}

static bool pb_varint(pb *c, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (c->p >= c->end)
            return false;
        unsigned char b = *c->p++;
        /* The tenth byte may only carry the top bit of a 64-bit value. */
        if (i == 9 && b > 1)
            return false;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* Read the next field of the message at c. */
static tasd_status pb_next(const ox *x, pb *c, pbf *f)
{
    const unsigned char *at = c->p;
    uint64_t tag;
    f->at = at;
    if (!pb_varint(c, &tag))
        return ox_fail(x, at, "truncated or overlong field tag");
    f->num = (uint32_t)(tag >> 3);
    f->wire = (int)(tag & 7);
    if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
        return ox_fail(x, at, "invalid field number");
    f->data = c->p;
    switch (f->wire) {
    case WT_VARINT:
        if (!pb_varint(c, &f->v))
            return ox_fail(x, at, "truncated varint");
        f->len = (size_t)(c->p - f->data);
        return TASD_OK;
    case WT_I64:
        if (c->end - c->p < 8)
            return ox_fail(x, at, "truncated 64-bit field");
        f->v = tasdi_ld64(c->p);
        f->len = 8;
        c->p += 8;
        return TASD_OK;
    case WT_I32:
        if (c->end - c->p < 4)
            return ox_fail(x, at, "truncated 32-bit field");
        f->v = tasdi_ld32(c->p);
        f->len = 4;
        c->p += 4;
        return TASD_OK;
    case WT_LEN: {
        uint64_t n;
        if (!pb_varint(c, &n))
            return ox_fail(x, at, "truncated length");
        if (n > (uint64_t)(c->end - c->p))
            return ox_fail(x, at, "length runs past the end of its message");
        f->data = c->p;
        f->len = (size_t)n;
        c->p += n;
        return TASD_OK;
    }
    default:
        /* Groups (3, 4) are not used by ONNX; 6 and 7 do not exist. */
        return ox_fail(x, at, "unsupported wire type");
    }
}

/* The next field of the message at c, for the loop every parser here runs:
 *     while (pb_field(x, &c, &f, &st)) { ... }
 *     if (st) return st;
 * false at the end of the message (*st TASD_OK) or on a malformed field
 * (*st says so). */
static bool pb_field(const ox *x, pb *c, pbf *f, tasd_status *st)
{
    *st = TASD_OK;
    if (c->p >= c->end)
        return false;
    *st = pb_next(x, c, f);
    return *st == TASD_OK;
}

/* The values of one field of a repeated varint (dims, int32_data), which a
 * writer may pack (one length-delimited field of varints) or not (a varint
 * field per value):
 *     pb_varints vs = pb_varints_of(&f);
 *     while ((got = pb_varints_next(&vs, &v)) > 0) ...
 *     if (got < 0) ... truncated packed varint */
typedef struct pb_varints {
    bool packed;
    pb rest;       /* packed: the values not read yet */
    uint64_t one;  /* unpacked: the field's value */
    bool one_read;
} pb_varints;

static pb_varints pb_varints_of(const pbf *f)
{
    pb_varints vs = {f->wire == WT_LEN, {f->data, f->data + f->len}, f->v, false};
    return vs;
}

/* 1: *v is the next value; 0: no more values; -1: a truncated packed varint. */
static int pb_varints_next(pb_varints *vs, uint64_t *v)
{
    if (!vs->packed) {
        if (vs->one_read)
            return 0;
        vs->one_read = true;
        *v = vs->one;
        return 1;
    }
    if (vs->rest.p >= vs->rest.end)
        return 0;
    return pb_varint(&vs->rest, v) ? 1 : -1;
}

static tasd_status want_wire(const ox *x, const pbf *f, int wire, const char *field)
{
    if (f->wire == wire)
        return TASD_OK;
    char msg[96];
    snprintf(msg, sizeof msg, "field %s has the wrong wire type", field);
    return ox_fail(x, f->at, msg);
}

/* ---- data types ---- */

typedef struct onnx_dtype {
    int code;
    const char *name;
    size_t size;      /* bytes per element in raw_data; 0: not fixed-size */
    int32_t dtype;    /* tasd_dtype or -1 */
} onnx_dtype;

static const onnx_dtype onnx_dtypes[] = {
    {1, "FLOAT", 4, TASD_F32},   {2, "UINT8", 1, -1},     {3, "INT8", 1, -1},
    {4, "UINT16", 2, -1},        {5, "INT16", 2, -1},     {6, "INT32", 4, -1},
    {7, "INT64", 8, -1},         {8, "STRING", 0, -1},    {9, "BOOL", 1, -1},
    {10, "FLOAT16", 2, TASD_F16}, {11, "DOUBLE", 8, -1},  {12, "UINT32", 4, -1},
    {13, "UINT64", 8, -1},       {14, "COMPLEX64", 8, -1}, {15, "COMPLEX128", 16, -1},
    {16, "BFLOAT16", 2, TASD_BF16}, {17, "FLOAT8E4M3FN", 1, -1},
    {18, "FLOAT8E4M3FNUZ", 1, -1}, {19, "FLOAT8E5M2", 1, -1}, {20, "FLOAT8E5M2FNUZ", 1, -1},
};

static const onnx_dtype *dtype_of(uint64_t code)
{
    for (size_t i = 0; i < sizeof onnx_dtypes / sizeof onnx_dtypes[0]; i++)
        if ((uint64_t)onnx_dtypes[i].code == code)
            return &onnx_dtypes[i];
    return NULL;
}

/* ---- external data files ---- */

typedef struct onnx_ext {
    char *location;
    size_t loc_len;
    tasdi_map map;
} onnx_ext;

struct tasdi_onnx {
    onnx_ext *ext;
    int64_t count, cap;
};

const char *tasdi_onnx_location(const tasd_tensorfile *m, const tasdi_tensor *t)
{
    return t->ext > 0 && m->onnx && t->ext <= m->onnx->count ? m->onnx->ext[t->ext - 1].location
                                                             : NULL;
}

void tasdi_onnx_free(tasd_tensorfile *m)
{
    struct tasdi_onnx *o = m->onnx;
    if (!o)
        return;
    for (int64_t i = 0; i < o->count; i++) {
        tasdi_free(&m->a, o->ext[i].location, o->ext[i].loc_len + 1);
        tasdi_unmap(&o->ext[i].map);
    }
    tasdi_free(&m->a, o->ext, (size_t)o->cap * sizeof *o->ext);
    tasdi_free(&m->a, o, sizeof *o);
    m->onnx = NULL;
}

/* A location must stay inside the model's directory: relative, without
 * ".." components, NUL-free. Symbolic links are not resolved. */
static bool location_safe(const unsigned char *s, size_t n)
{
    if (n == 0 || s[0] == '/' || memchr(s, 0, n) || memchr(s, '\\', n))
        return false;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '/')
            j++;
        if (j - i == 2 && s[i] == '.' && s[i + 1] == '.')
            return false;
        i = j + 1;
    }
    return true;
}

/* The directory a file's external data locations are relative to: its
 * own ("." when the name has none; "" for the root, as "/" + location). */
static void dir_of_file(const char *file, const char **dir, size_t *dir_len)
{
    const char *slash = strrchr(file, '/');
    *dir = slash ? file : ".";
    *dir_len = slash ? (size_t)(slash - file) : 1;
}

/* dir + "/" + loc as a new string of *size bytes (tasdi_free it), or NULL. */
static char *join_location(const tasd_allocator *a, const char *dir, size_t dir_len,
                           const char *loc, size_t loc_len, size_t *size)
{
    *size = dir_len + loc_len + 2;
    char *path = tasdi_alloc(a, *size);
    if (!path)
        return NULL;
    memcpy(path, dir, dir_len);
    path[dir_len] = '/';
    memcpy(path + dir_len + 1, loc, loc_len);
    path[dir_len + 1 + loc_len] = 0;
    return path;
}

/* Map (once per location) the external file named by loc. */
static tasd_status ext_map(const ox *x, const char *dir, size_t dir_len,
                           const unsigned char *loc, size_t loc_len, int64_t *out)
{
    tasd_tensorfile *m = x->m;
    if (!m->onnx) {
        m->onnx = tasdi_calloc(&m->a, 1, sizeof(struct tasdi_onnx));
        if (!m->onnx)
            return TASD_ERR_OUT_OF_MEMORY;
    }
    struct tasdi_onnx *o = m->onnx;
    for (int64_t i = 0; i < o->count; i++)
        if (o->ext[i].loc_len == loc_len && memcmp(o->ext[i].location, loc, loc_len) == 0) {
            *out = i;
            return TASD_OK;
        }
    if (o->count == o->cap) {
        int64_t ncap = o->cap ? 2 * o->cap : 4;
        onnx_ext *ne = tasdi_calloc(&m->a, (size_t)ncap, sizeof *ne);
        if (!ne)
            return TASD_ERR_OUT_OF_MEMORY;
        if (o->count)
            memcpy(ne, o->ext, (size_t)o->count * sizeof *ne);
        tasdi_free(&m->a, o->ext, (size_t)o->cap * sizeof *o->ext);
        o->ext = ne;
        o->cap = ncap;
    }
    size_t psize;
    char *path = join_location(&m->a, dir, dir_len, (const char *)loc, loc_len, &psize);
    if (!path)
        return TASD_ERR_OUT_OF_MEMORY;
    onnx_ext *e = &o->ext[o->count];
    tasd_status st = tasdi_map_file(path, &e->map);
    tasdi_free(&m->a, path, psize);
    if (st) {
        char why[256];
        snprintf(why, sizeof why, "%s", tasd_last_error_message());
        return tasdi_fail(st, "%s: ONNX: %s: external data: %s", x->file, x->where, why);
    }
    e->location = tasdi_strdup(&m->a, (const char *)loc, loc_len);
    if (!e->location) {
        tasdi_unmap(&e->map);
        return TASD_ERR_OUT_OF_MEMORY;
    }
    e->loc_len = loc_len;
    *out = o->count++;
    return TASD_OK;
}

/* ---- TensorProto ---- */

/* Strict decimal, as the external_data offset/length strings. */
static bool parse_dec(const unsigned char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 19)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

typedef struct tensor_src {
    const unsigned char *raw;     /* raw_data */
    size_t raw_len;
    bool has_raw;
    int64_t nfloat;               /* float_data elements over all fields */
    int float_chunks;             /* fields holding float_data */
    const unsigned char *fpacked; /* the one packed chunk, if that is all */
    int64_t nint32;               /* int32_data elements */
    bool has_other;               /* other typed data fields */
    const unsigned char *loc;     /* external_data */
    size_t loc_len;
    uint64_t ext_off, ext_len;
    bool has_loc, has_off, has_len;
    uint64_t location;            /* data_location */
} tensor_src;

static tasd_status parse_external_entry(ox *x, const pbf *f, tensor_src *s)
{
    pb c = {f->data, f->data + f->len};
    const unsigned char *key = NULL, *val = NULL;
    size_t klen = 0, vlen = 0;
    bool hk = false, hv = false;
    pbf g;
    tasd_status st;
    while (pb_field(x, &c, &g, &st)) {
        if (g.num == 1 || g.num == 2) {
            if ((st = want_wire(x, &g, WT_LEN, g.num == 1 ? "external_data.key"
                                                          : "external_data.value")))
                return st;
            if (g.num == 1) {
                key = g.data, klen = g.len, hk = true;
            } else {
                val = g.data, vlen = g.len, hv = true;
            }
        }
    }
    if (st)
        return st;
    if (!hk || !hv)
        return ox_fail(x, f->data, "external_data entry without key or value");
#define KEY_IS(k) (klen == sizeof(k) - 1 && memcmp(key, k, klen) == 0)
    if (KEY_IS("location")) {
        if (s->has_loc)
            return ox_fail(x, f->data, "external_data location given twice");
        if (!location_safe(val, vlen))
            return ox_fail(x, f->data, "external_data location must be a relative path "
                                       "inside the model's directory (no '/' start, no '..')");
        s->loc = val, s->loc_len = vlen, s->has_loc = true;
    } else if (KEY_IS("offset") || KEY_IS("length")) {
        bool is_off = KEY_IS("offset");
        uint64_t v;
        if ((is_off ? s->has_off : s->has_len) || !parse_dec(val, vlen, &v))
            return ox_fail(x, f->data, is_off ? "bad or repeated external_data offset"
                                              : "bad or repeated external_data length");
        if (is_off)
            s->ext_off = v, s->has_off = true;
        else
            s->ext_len = v, s->has_len = true;
    } else if (!KEY_IS("checksum")) {
        return ox_fail(x, f->data, "unknown external_data key");
    }
#undef KEY_IS
    return TASD_OK;
}

/* Decode a tensor's typed data into dst as little-endian bytes: float_data
 * (field 4; fixed32, packed or not) as f32, or int32_data (field 5;
 * varints, packed or not) as f16/bf16 bits. parse_tensor has checked the
 * wire types and counted the `count` values. */
static tasd_status decode_typed(ox *x, const pbf *tf, uint32_t field, unsigned char *dst,
                                int64_t count)
{
    pb c = {tf->data, tf->data + tf->len};
    int64_t k = 0;
    pbf f;
    tasd_status st;
    while (pb_field(x, &c, &f, &st)) {
        if (f.num != field)
            continue;
        if (field == 4 && f.wire == WT_LEN) {
            /* packed: already little-endian f32 bytes */
            if (k + (int64_t)(f.len / 4) > count)
                return TASD_ERR_INTERNAL;
            memcpy(dst + 4 * k, f.data, f.len);
            k += (int64_t)(f.len / 4);
        } else if (field == 4) {
            if (k >= count)
                return TASD_ERR_INTERNAL;
            tasdi_st32(dst + 4 * k++, (uint32_t)f.v);
        } else {
            pb_varints vs = pb_varints_of(&f);
            uint64_t val;
            int got;
            while ((got = pb_varints_next(&vs, &val)) > 0) {
                if (val > 0xffff)
                    return ox_fail(x, f.data, "int32_data value out of range for a 16-bit float");
                if (k >= count)
                    return TASD_ERR_INTERNAL;
                tasdi_st16(dst + 2 * k++, (uint16_t)val);
            }
            if (got < 0)
                return ox_fail(x, f.data, "truncated packed int32_data");
        }
    }
    if (st)
        return st;
    return k == count ? TASD_OK : TASD_ERR_INTERNAL;
}

static tasd_status parse_tensor(ox *x, const pbf *tf, tasdi_tensor *t, const char *dir,
                                size_t dir_len)
{
    const tasd_allocator *a = &x->m->a;
    pb c = {tf->data, tf->data + tf->len};
    tensor_src s;
    memset(&s, 0, sizeof s);
    uint64_t code = 0;
    bool has_type = false, has_name = false;
    tasd_status st;
    pbf f;
    pb_varints vs;
    uint64_t v;
    int got;
    while (pb_field(x, &c, &f, &st)) {
        switch (f.num) {
        case 1: /* dims: int64, packed or not */
            if (f.wire != WT_LEN && (st = want_wire(x, &f, WT_VARINT, "dims")))
                return st;
            for (vs = pb_varints_of(&f); (got = pb_varints_next(&vs, &v)) > 0;) {
                if (t->ndim >= TASD_FILE_MAX_DIMS)
                    return ox_fail(x, f.at, "more than 8 dimensions");
                t->shape[t->ndim++] = (int64_t)v;
            }
            if (got < 0)
                return ox_fail(x, f.at, "truncated packed dims");
            break; /* negative dimensions: tasdi_shape_bytes below */
        case 2:
            if ((st = want_wire(x, &f, WT_VARINT, "data_type")))
                return st;
            if (has_type)
                return ox_fail(x, f.at, "data_type given twice");
            code = f.v;
            has_type = true;
            break;
        case 3:
            return ox_fail(x, f.at, "segmented tensors are not supported");
        case 4: /* float_data: packed fixed32, or one fixed32 per field */
            if (f.wire == WT_LEN) {
                if (f.len % 4)
                    return ox_fail(x, f.at, "packed float_data is not a multiple of 4 bytes");
                s.nfloat += (int64_t)(f.len / 4);
                s.fpacked = f.data;
            } else if ((st = want_wire(x, &f, WT_I32, "float_data"))) {
                return st;
            } else {
                s.nfloat++;
                s.fpacked = NULL;
            }
            s.float_chunks++;
            break;
        case 5: /* int32_data: varints, packed or not */
            if (f.wire != WT_LEN && (st = want_wire(x, &f, WT_VARINT, "int32_data")))
                return st;
            for (vs = pb_varints_of(&f); (got = pb_varints_next(&vs, &v)) > 0;)
                s.nint32++;
            if (got < 0)
                return ox_fail(x, f.at, "truncated packed int32_data");
            break;
        case 6: case 7: case 10: case 11:
            s.has_other = true;
            break;
        case 8:
            if ((st = want_wire(x, &f, WT_LEN, "name")))
                return st;
            if (has_name)
                return ox_fail(x, f.at, "name given twice");
            has_name = true;
            if (f.len == 0 || memchr(f.data, 0, f.len) ||
                !tasdi_utf8_valid(f.data, f.len))
                return ox_fail(x, f.at, "initializer name is empty, holds NUL or is not UTF-8");
            t->name = tasdi_strdup(a, (const char *)f.data, f.len);
            if (!t->name)
                return TASD_ERR_OUT_OF_MEMORY;
            t->name_len = f.len;
            snprintf(x->where, sizeof x->where, "initializer \"%.100s\"", t->name);
            break;
        case 9:
            if ((st = want_wire(x, &f, WT_LEN, "raw_data")))
                return st;
            if (s.has_raw)
                return ox_fail(x, f.at, "raw_data given twice");
            s.raw = f.data, s.raw_len = f.len, s.has_raw = true;
            break;
        case 13:
            if ((st = want_wire(x, &f, WT_LEN, "external_data")))
                return st;
            if ((st = parse_external_entry(x, &f, &s)))
                return st;
            break;
        case 14:
            if ((st = want_wire(x, &f, WT_VARINT, "data_location")))
                return st;
            if (f.v > 1)
                return ox_fail(x, f.at, "unknown data_location");
            s.location = f.v;
            break;
        default:
            break;
        }
    }
    if (st)
        return st;
    if (!has_name)
        return ox_fail(x, tf->data, "initializer without a name");
    const onnx_dtype *dt = dtype_of(code);
    if (!has_type || !dt)
        return ox_fail(x, tf->data, has_type ? "unknown data_type" : "no data_type");
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", dt->name);
    t->dtype = dt->dtype;
    t->elem = dt->size;
    t->out_axis = -1;
    t->op_input = -1;
    uint64_t elems = 1;
    if ((st = tasdi_shape_bytes(x->file, t->name, t->ndim, t->shape, 1, &elems)))
        return st;
    if (dt->size == 0) {
        /* Strings have no fixed size: listed, never read. */
        t->nbytes = 0;
        t->no_data = true;
        return TASD_OK;
    }
    if ((st = tasdi_shape_bytes(x->file, t->name, t->ndim, t->shape, dt->size, &t->nbytes)))
        return st;

    bool ext = s.location == 1;
    int sources = (int)s.has_raw + (s.float_chunks > 0) + (s.nint32 > 0) + (int)ext + s.has_other;
    if ((s.has_loc || s.has_off || s.has_len) && !ext)
        return ox_fail(x, tf->data, "external_data without data_location EXTERNAL");
    if (sources > 1)
        return ox_fail(x, tf->data, "data given in more than one way "
                                    "(raw_data, typed fields, external data)");
    if (sources == 0) {
        if (elems != 0)
            return ox_fail(x, tf->data, "no data for a non-empty tensor");
        t->data = x->base;
        return TASD_OK;
    }
    if (s.has_raw) {
        if (s.raw_len != t->nbytes) {
            char msg[128];
            snprintf(msg, sizeof msg, "raw_data holds %zu bytes, its shape and data_type need %llu",
                     s.raw_len, (unsigned long long)t->nbytes);
            return ox_fail(x, s.raw, msg);
        }
        t->data = s.raw;
        t->offset = (uint64_t)(s.raw - x->base);
        return TASD_OK;
    }
    if (ext) {
        if (!s.has_loc)
            return ox_fail(x, tf->data, "data_location EXTERNAL without a location");
        if (!dir)
            return tasdi_fail(TASD_ERR_UNSUPPORTED,
                              "%s: ONNX: %s: external data cannot be followed for a model in memory",
                              x->file, x->where);
        if (s.has_len && s.ext_len != t->nbytes) {
            char msg[128];
            snprintf(msg, sizeof msg, "external_data length %llu, its shape and data_type need %llu",
                     (unsigned long long)s.ext_len, (unsigned long long)t->nbytes);
            return ox_fail(x, tf->data, msg);
        }
        int64_t ei = 0;
        if ((st = ext_map(x, dir, dir_len, s.loc, s.loc_len, &ei)))
            return st;
        const tasdi_map *em = &x->m->onnx->ext[ei].map;
        if (s.ext_off > em->size || t->nbytes > em->size - s.ext_off)
            return tasdi_fail(TASD_ERR_FORMAT,
                              "%s: ONNX: %s: external data [%llu, +%llu) runs past the end of "
                              "\"%.*s\" (%zu bytes)",
                              x->file, x->where, (unsigned long long)s.ext_off,
                              (unsigned long long)t->nbytes, (int)s.loc_len, s.loc, em->size);
        t->data = em->data + s.ext_off;
        t->offset = s.ext_off;
        t->ext = ei + 1;
        return TASD_OK;
    }
    /* Typed fields: libtasd reads float_data (FLOAT) and int32_data
     * (FLOAT16/BFLOAT16 bits); other types are listed but not read. */
    if (dt->dtype < 0) {
        t->no_data = true;
        return TASD_OK;
    }
    if (s.has_other || (s.float_chunks > 0 && dt->dtype != TASD_F32) ||
        (s.nint32 > 0 && dt->dtype == TASD_F32))
        return ox_fail(x, tf->data, "typed data field that does not match data_type");
    bool floats = s.float_chunks > 0;
    if (floats) {
        if ((uint64_t)s.nfloat != elems)
            return ox_fail(x, tf->data, "float_data count differs from the shape");
        if (s.float_chunks == 1 && s.fpacked) {
            /* One packed field: already little-endian f32 bytes in the file. */
            t->data = s.fpacked;
            t->offset = (uint64_t)(s.fpacked - x->base);
            return TASD_OK;
        }
    } else if ((uint64_t)s.nint32 != elems) {
        return ox_fail(x, tf->data, "int32_data count differs from the shape");
    }
    t->owned = tasdi_alloc(a, t->nbytes ? (size_t)t->nbytes : 1);
    if (!t->owned)
        return TASD_ERR_OUT_OF_MEMORY;
    t->owned_size = t->nbytes ? (size_t)t->nbytes : 1;
    t->data = t->owned;
    return decode_typed(x, tf, floats ? 4 : 5, t->owned, floats ? s.nfloat : s.nint32);
}

/* ---- NodeProto: who consumes each initializer ---- */

static int cmp_name_ptr(const void *p, const void *q)
{
    const tasdi_tensor *const *a = p, *const *b = q;
    return strcmp((*a)->name, (*b)->name);
}

/* Names as bytes and lengths, in strcmp's order for NUL-free names. */
static int cmp_bytes(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : al < bl ? -1 : al > bl;
}

static tasdi_tensor *find_sorted(tasdi_tensor **byname, int64_t n, const unsigned char *s,
                                 size_t len)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        const tasdi_tensor *t = byname[mid];
        int c = cmp_bytes((const unsigned char *)t->name, t->name_len, s, len);
        if (c == 0)
            return byname[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The output names of the graph's Identity nodes, sorted (so that lookups
 * cost O(log n) whatever the names, and following any number of Identity
 * nodes stays O(n log n)), each with the initializer it carries: NULL until
 * its Identity node, read in file order, finds one as its input. A name
 * made by more than one Identity node (an invalid graph) is not followed.
 * Names point into the model's bytes. */
typedef struct id_out {
    const unsigned char *name;
    size_t len;
    tasdi_tensor *t;
    bool dup;
} id_out;

typedef struct id_map {
    id_out *e;
    size_t count, cap;
} id_map;

static int cmp_id_out(const void *p, const void *q)
{
    const id_out *a = p, *b = q;
    return cmp_bytes(a->name, a->len, b->name, b->len);
}

static id_out *id_find(const id_map *im, const unsigned char *s, size_t len)
{
    size_t lo = 0, hi = im->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_bytes(im->e[mid].name, im->e[mid].len, s, len);
        if (c == 0)
            return im->e[mid].dup ? NULL : &im->e[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static tasd_status id_add(const tasd_allocator *a, id_map *im, const unsigned char *s, size_t len)
{
    if (im->count == im->cap) {
        size_t ncap = im->cap ? 2 * im->cap : 16;
        if (ncap > SIZE_MAX / sizeof *im->e)
            return TASD_ERR_OUT_OF_MEMORY;
        id_out *ne = tasdi_alloc(a, ncap * sizeof *ne);
        if (!ne)
            return TASD_ERR_OUT_OF_MEMORY;
        if (im->count)
            memcpy(ne, im->e, im->count * sizeof *ne);
        if (im->e)
            tasdi_free(a, im->e, im->cap * sizeof *im->e);
        im->e = ne;
        im->cap = ncap;
    }
    id_out o = {s, len, NULL, false};
    im->e[im->count++] = o;
    return TASD_OK;
}

/* Sort, and mark the names made more than once. */
static void id_sort(id_map *im)
{
    if (im->count < 2)
        return;
    qsort(im->e, im->count, sizeof *im->e, cmp_id_out);
    for (size_t i = 1; i < im->count; i++)
        if (cmp_id_out(&im->e[i - 1], &im->e[i]) == 0)
            im->e[i - 1].dup = im->e[i].dup = true;
}

/* The initializer a node input names: an initializer's own name, or the
 * output of an Identity node before it that carries one. NULL if neither. */
static tasdi_tensor *input_tensor(tasdi_tensor **byname, int64_t n, const id_map *im,
                                  const unsigned char *s, size_t len)
{
    tasdi_tensor *t = find_sorted(byname, n, s, len);
    if (t || len == 0)
        return t;
    id_out *o = id_find(im, s, len);
    return o ? o->t : NULL;
}

/* The axis of input `slot` of op that indexes output features, with every
 * other axis reduced over; -1 when libtasd does not know the operator. */
static int32_t output_axis(const unsigned char *op, size_t op_len, int slot, int ndim,
                           int64_t trans_a, int64_t trans_b)
{
#define OP_IS(k) (op_len == sizeof(k) - 1 && memcmp(op, k, op_len) == 0)
    if (OP_IS("MatMul") && ndim == 2) {
        if (slot == 0)
            return 0;  /* A [M, K] */
        if (slot == 1)
            return 1;  /* B [K, N] */
    }
    if (OP_IS("Gemm") && ndim == 2) {
        if (slot == 0)
            return trans_a ? 1 : 0;  /* A [M, K], or [K, M] with transA */
        if (slot == 1)
            return trans_b ? 0 : 1;  /* B [K, N], or [N, K] with transB */
    }
    if (OP_IS("Conv") && slot == 1 && ndim >= 3)
        return 0;  /* [C_out, C_in/group, k...] */
    return -1;
#undef OP_IS
}

/* What parse_node needs of a node before its inputs: op_type, whether it
 * is in the default domain, the transpose attributes, how many inputs and
 * outputs, and the first output's name. */
typedef struct node_head {
    const unsigned char *op, *out;
    size_t op_len, out_len;
    int64_t trans_a, trans_b;
    int inputs, outputs;
    bool std_domain;
    bool identity;   /* a default-domain Identity with one input */
} node_head;

static tasd_status read_node_head(ox *x, const pbf *nf, node_head *h)
{
    pb c = {nf->data, nf->data + nf->len};
    const unsigned char *dom = NULL;
    size_t dom_len = 0;
    tasd_status st;
    pbf f;
    memset(h, 0, sizeof *h);
    while (pb_field(x, &c, &f, &st)) {
        if (f.num == 1 || f.num == 2 || f.num == 4 || f.num == 7 || f.num == 5)
            if ((st = want_wire(x, &f, WT_LEN, "of a node")))
                return st;
        h->inputs += f.num == 1;
        if (f.num == 2 && h->outputs++ == 0)
            h->out = f.data, h->out_len = f.len;
        if (f.num == 4)
            h->op = f.data, h->op_len = f.len;
        else if (f.num == 7)
            dom = f.data, dom_len = f.len;
        else if (f.num == 5) {
            pb ac = {f.data, f.data + f.len};
            const unsigned char *an = NULL;
            size_t an_len = 0;
            uint64_t iv = 0;
            pbf g;
            while (pb_field(x, &ac, &g, &st)) {
                if (g.num == 1) {
                    if ((st = want_wire(x, &g, WT_LEN, "attribute.name")))
                        return st;
                    an = g.data, an_len = g.len;
                } else if (g.num == 3) {
                    if ((st = want_wire(x, &g, WT_VARINT, "attribute.i")))
                        return st;
                    iv = g.v;
                }
            }
            if (st)
                return st;
            if (an && an_len == 6 && memcmp(an, "transA", 6) == 0)
                h->trans_a = iv != 0;
            if (an && an_len == 6 && memcmp(an, "transB", 6) == 0)
                h->trans_b = iv != 0;
        }
    }
    if (st)
        return st;
    if (!h->op)
        return ox_fail(x, nf->data, "node without op_type");
    /* Only the default domain's operators have a known layout. */
    h->std_domain = dom_len == 0 || (dom_len == 7 && memcmp(dom, "ai.onnx", 7) == 0);
    h->identity = h->std_domain && h->inputs == 1 && h->op_len == 8 &&
                  memcmp(h->op, "Identity", 8) == 0;
    return TASD_OK;
}

/* Record node nf's use of the initializers among its inputs. An Identity
 * node (default domain, one input) is not a consumer: the initializer it
 * carries is followed to the nodes taking its output (through im), and it
 * is recorded as the consumer only until one of those is seen. */
static tasd_status parse_node(ox *x, const pbf *nf, tasdi_tensor **byname, int64_t n,
                              const id_map *im)
{
    node_head h;
    tasd_status st = read_node_head(x, nf, &h);
    if (st)
        return st;
    const unsigned char *op = h.op;
    size_t op_len = h.op_len;
    pb c = {nf->data, nf->data + nf->len};
    pbf f;
    int slot = 0;
    while (pb_field(x, &c, &f, &st)) {
        if (f.num != 1)
            continue;
        tasdi_tensor *t = input_tensor(byname, n, im, f.data, f.len);
        if (t && h.identity) {
            /* Its output carries t on (im holds its single output, unless
             * named as an initializer, which that name means, or made twice). */
            id_out *o = h.outputs == 1 ? id_find(im, h.out, h.out_len) : NULL;
            if (o)
                o->t = t;
            if (!t->op_type) {
                t->op_type = tasdi_strdup(&x->m->a, (const char *)op, op_len);
                if (!t->op_type)
                    return TASD_ERR_OUT_OF_MEMORY;
                t->op_len = op_len;
                t->op_input = 0;
                t->out_axis = -1;
                t->op_identity = true;
            }
        } else if (t) {
            int32_t axis = h.std_domain
                               ? output_axis(op, op_len, slot, t->ndim, h.trans_a, h.trans_b)
                               : -1;
            if (!t->op_type || t->op_identity) {
                char *name = tasdi_strdup(&x->m->a, (const char *)op, op_len);
                if (!name)
                    return TASD_ERR_OUT_OF_MEMORY;
                if (t->op_type)
                    tasdi_free(&x->m->a, t->op_type, t->op_len + 1);
                t->op_type = name;
                t->op_len = op_len;
                t->op_input = slot;
                t->out_axis = axis;
                t->op_identity = false;
            } else if (t->out_axis != axis) {
                /* Consumers that disagree: no single layout to follow. */
                t->out_axis = -1;
            }
        }
        slot++;
    }
    return st;
}

/* ---- ModelProto / GraphProto ---- */

static tasd_status grow(tasd_tensorfile *m)
{
    int64_t ncap = m->t_cap ? 2 * m->t_cap : 16;
    if (ncap > ONNX_MAX_TENSORS)
        return TASD_ERR_OVERFLOW;
    tasdi_tensor *nt = tasdi_calloc(&m->a, (size_t)ncap, sizeof *nt);
    if (!nt)
        return TASD_ERR_OUT_OF_MEMORY;
    if (m->count)
        memcpy(nt, m->t, (size_t)m->count * sizeof *nt);
    tasdi_free(&m->a, m->t, (size_t)m->t_cap * sizeof *nt);
    m->t = nt;
    m->t_cap = ncap;
    return TASD_OK;
}

tasd_status tasdi_onnx_parse(tasd_tensorfile *m, const char *file, bool on_disk)
{
    ox x;
    memset(&x, 0, sizeof x);
    x.m = m;
    x.file = file;
    x.base = m->map.data;
    /* The directory that external data paths are relative to. */
    const char *dir = NULL;
    size_t dir_len = 0;
    if (on_disk)
        dir_of_file(file, &dir, &dir_len);
    if (m->map.size == 0)
        return tasdi_fail(TASD_ERR_FORMAT, "%s: ONNX: empty file", file);
    pb c = {m->map.data, m->map.data + m->map.size};
    pbf graph;
    memset(&graph, 0, sizeof graph);
    bool has_graph = false, has_ir = false;
    tasd_status st;
    pbf f;
    while (pb_field(&x, &c, &f, &st)) {
        if (f.num == 1) {
            if ((st = want_wire(&x, &f, WT_VARINT, "ir_version")))
                return st;
            has_ir = true;
        } else if (f.num == 7) {
            if ((st = want_wire(&x, &f, WT_LEN, "graph")))
                return st;
            if (has_graph)
                return ox_fail(&x, f.at, "more than one graph");
            graph = f;
            has_graph = true;
        } else if (f.num == 8 || f.num == 14) {
            if ((st = want_wire(&x, &f, WT_LEN, f.num == 8 ? "opset_import" : "metadata_props")))
                return st;
        }
    }
    if (st)
        return st;
    if (!has_ir || !has_graph)
        return ox_fail(&x, c.p, has_ir ? "model without a graph" : "model without ir_version");

    /* Initializers first: nodes may come before or after them. */
    m->count = 0;
    c.p = graph.data;
    c.end = graph.data + graph.len;
    while (pb_field(&x, &c, &f, &st)) {
        if (f.num != 5 && f.num != 1)
            continue;
        if ((st = want_wire(&x, &f, WT_LEN, f.num == 5 ? "initializer" : "node")))
            return st;
        if (f.num == 1)
            continue;
        if (m->count == m->t_cap && (st = grow(m)))
            return st == TASD_ERR_OVERFLOW ? ox_fail(&x, f.at, "too many initializers") : st;
        tasdi_tensor *t = &m->t[m->count++];
        snprintf(x.where, sizeof x.where, "initializer %lld", (long long)(m->count - 1));
        if ((st = parse_tensor(&x, &f, t, dir, dir_len)))
            return st;
        x.where[0] = 0;
    }
    if (st)
        return st;

    tasdi_tensor **byname = NULL;
    if (m->count) {
        byname = tasdi_alloc(&m->a, (size_t)m->count * sizeof *byname);
        if (!byname)
            return TASD_ERR_OUT_OF_MEMORY;
        for (int64_t i = 0; i < m->count; i++)
            byname[i] = &m->t[i];
        qsort(byname, (size_t)m->count, sizeof *byname, cmp_name_ptr);
        for (int64_t i = 1; i < m->count; i++)
            if (strcmp(byname[i]->name, byname[i - 1]->name) == 0) {
                st = tasdi_fail(TASD_ERR_FORMAT, "%s: ONNX: duplicate initializer name \"%s\"",
                                file, byname[i]->name);
                tasdi_free(&m->a, byname, (size_t)m->count * sizeof *byname);
                return st;
            }
    }
    /* The Identity nodes' outputs, then the nodes in their order (ONNX
     * sorts them topologically), so that an Identity's output carries its
     * initializer before the nodes that take it are read. */
    id_map im = {NULL, 0, 0};
    c.p = graph.data;
    int64_t node = 0;
    st = TASD_OK;
    while (m->count && !st && pb_field(&x, &c, &f, &st)) {
        node_head h;
        if (f.num != 1)
            continue;
        snprintf(x.where, sizeof x.where, "node %lld", (long long)node++);
        if (!(st = read_node_head(&x, &f, &h)) && h.identity && h.outputs == 1 &&
            h.out_len > 0 && !find_sorted(byname, m->count, h.out, h.out_len))
            st = id_add(&m->a, &im, h.out, h.out_len);
    }
    id_sort(&im);
    c.p = graph.data;
    node = 0;
    while (!st && pb_field(&x, &c, &f, &st)) {
        if (f.num != 1)
            continue;
        snprintf(x.where, sizeof x.where, "node %lld", (long long)node++);
        st = parse_node(&x, &f, byname, m->count, &im);
    }
    if (im.e)
        tasdi_free(&m->a, im.e, im.cap * sizeof *im.e);
    tasdi_free(&m->a, byname, (size_t)m->count * sizeof *byname);
    return st;
}

/* A cheap look at the first bytes: ModelProto starts with ir_version
 * (field 1, varint: byte 0x08) in every writer we know, followed by a small
 * version and the tag of another ModelProto field. Only a hint: opening
 * parses the whole file strictly. */
bool tasdi_onnx_sniff(const unsigned char *p, size_t size)
{
    if (size < 3 || p[0] != 0x08 || p[1] == 0 || p[1] > 0x7f)
        return false;
    switch (p[2]) {
    case 0x12: case 0x1a: case 0x22: case 0x28: case 0x32: case 0x3a: case 0x42: case 0x72:
        return true;
    }
    return false;
}

void tasdi_onnx_release(const tasd_tensorfile *m, const tasdi_tensor *t)
{
    if (t->owned || t->no_data)
        return;
    if (t->ext > 0 && m->onnx && t->ext <= m->onnx->count)
        tasdi_map_release(&m->onnx->ext[t->ext - 1].map, t->offset, t->nbytes);
    else if (t->ext == 0)
        tasdi_map_release(&m->map, t->offset, t->nbytes);
}

/* ---- writing a copy with some initializers replaced ---- */

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t varint_put(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

static tasd_status put_varint(tasdi_outfile *o, uint64_t v)
{
    unsigned char b[10];
    return tasdi_out_append(o, b, varint_put(b, v));
}

/* Fields of a TensorProto that hold or locate its data: dropped from a
 * replaced initializer, whose new bytes go in one raw_data field. */
static bool is_data_field(uint32_t num)
{
    return num == 4 || num == 5 || num == 6 || num == 7 || num == 9 || num == 10 || num == 11 ||
           num == 13 || num == 14;
}

/* Length of a replaced initializer's new body (its other fields kept). */
static tasd_status new_tensor_len(const ox *x, const pbf *tf, uint64_t nbytes, uint64_t *out)
{
    pb c = {tf->data, tf->data + tf->len};
    uint64_t n = 1 + varint_size(nbytes) + nbytes; /* raw_data: tag 0x4a */
    pbf f;
    tasd_status st;
    while (pb_field(x, &c, &f, &st))
        if (!is_data_field(f.num))
            n += (uint64_t)(c.p - f.at);
    if (st)
        return st;
    *out = n;
    return TASD_OK;
}

/* The values of view v converted to dtype, little-endian, into dst. */
static void convert_view(const tasd_view *v, int32_t dtype, unsigned char *dst, int64_t n)
{
    size_t vel = tasd_dtype_size((tasd_dtype)v->dtype), oel = tasd_dtype_size((tasd_dtype)dtype);
    int64_t idx[TASD_MAX_DIMS] = {0, 0, 0, 0};
    const unsigned char *base = v->data;
    for (int64_t k = 0; k < n; k++) {
        int64_t eo = 0;
        for (int d = 0; d < v->ndim; d++)
            eo += idx[d] * v->strides[d];
        const unsigned char *p = base + eo * (int64_t)vel;
        float f;
        if (v->dtype == TASD_F32) {
            memcpy(&f, p, 4);
        } else {
            uint16_t h;
            memcpy(&h, p, 2);
            f = v->dtype == TASD_F16 ? tasdi_f16_to_f32(h) : tasdi_bf16_to_f32(h);
        }
        unsigned char *o = dst + (size_t)k * oel;
        if (dtype == TASD_F32)
            tasdi_stf32(o, f);
        else
            tasdi_st16(o, dtype == TASD_F16 ? tasdi_f32_to_f16(f) : tasdi_f32_to_bf16(f));
        for (int d = v->ndim - 1; d >= 0; d--) {
            if (++idx[d] < v->shape[d])
                break;
            idx[d] = 0;
        }
    }
}

static tasd_status write_tensor(const ox *x, tasdi_outfile *o, const pbf *tf, const tasdi_tensor *t,
                                const tasd_view *v)
{
    const tasd_allocator *a = &x->m->a;
    uint64_t len;
    tasd_status st = new_tensor_len(x, tf, t->nbytes, &len);
    if (st)
        return st;
    if ((st = put_varint(o, (5u << 3) | WT_LEN)) || (st = put_varint(o, len)))
        return st;
    pb c = {tf->data, tf->data + tf->len};
    pbf f;
    while (pb_field(x, &c, &f, &st))
        if (!is_data_field(f.num) && (st = tasdi_out_append(o, f.at, (size_t)(c.p - f.at))))
            return st;
    if (st)
        return st;
    if ((st = put_varint(o, (9u << 3) | WT_LEN)) || (st = put_varint(o, t->nbytes)))
        return st;
    unsigned char *buf = tasdi_alloc(a, t->nbytes ? (size_t)t->nbytes : 1);
    if (!buf)
        return TASD_ERR_OUT_OF_MEMORY;
    convert_view(v, t->dtype, buf, (int64_t)(t->nbytes / t->elem));
    st = tasdi_out_append(o, buf, (size_t)t->nbytes);
    tasdi_free(a, buf, t->nbytes ? (size_t)t->nbytes : 1);
    return st;
}

/* Whether the file at `there` holds tensor t's external bytes as e does:
 * it is e's file, or another (a copy) with the same bytes at t's range. */
static bool same_data_there(const char *there, const onnx_ext *e, const tasdi_tensor *t)
{
    if (tasdi_same_file(there, &e->map))
        return true;
    tasdi_map other;
    if (tasdi_map_file(there, &other) != TASD_OK)
        return false; /* the caller reports it, in its words */
    bool same = other.size >= t->offset && other.size - t->offset >= t->nbytes &&
                e->map.size >= t->offset + t->nbytes &&
                (t->nbytes == 0 ||
                 memcmp(other.data + t->offset, e->map.data + t->offset, t->nbytes) == 0);
    tasdi_unmap(&other);
    return same;
}

/* The copy at `path` keeps the external data of the initializers it does
 * not replace (which[i] == 0) under their locations, which a reader takes
 * relative to the copy's own directory: each must name a file holding the
 * same bytes there (the model's own, a link, a copy), or the copy would not
 * load or would load other values. Nor may the copy be one of the model's
 * external data files. */
static tasd_status check_copy_data(const tasd_tensorfile *m, const char *path,
                                   const int64_t *which)
{
    const struct tasdi_onnx *o = m->onnx;
    if (!o)
        return TASD_OK;
    for (int64_t e = 0; e < o->count; e++)
        if (tasdi_same_file(path, &o->ext[e].map))
            return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                              "tasd_tensorfile_write_onnx: %s is the model's external data "
                              "file \"%s\": it would be overwritten",
                              path, o->ext[e].location);
    const char *dir;
    size_t dir_len, len;
    dir_of_file(path, &dir, &dir_len);
    for (int64_t i = 0; i < m->count; i++) {
        const tasdi_tensor *t = &m->t[i];
        if (which[i] || t->ext <= 0 || t->ext > o->count)
            continue;
        const onnx_ext *e = &o->ext[t->ext - 1];
        char *there = join_location(&m->a, dir, dir_len, e->location, e->loc_len, &len);
        if (!there)
            return TASD_ERR_OUT_OF_MEMORY;
        bool same = same_data_there(there, e, t);
        tasdi_free(&m->a, there, len);
        if (!same)
            return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                              "tasd_tensorfile_write_onnx: %s: initializer \"%.200s\" is kept "
                              "with its external data, which the copy refers to as \"%s\" "
                              "relative to its own directory, and no file there holds its "
                              "bytes: write the copy beside the model, link the data file "
                              "into the copy's directory, or replace the initializer",
                              path, t->name, e->location);
    }
    return TASD_OK;
}

tasd_status tasd_tensorfile_write_onnx(const tasd_tensorfile *m, const char *path, int64_t count,
                                       const int64_t *index, const tasd_view *values)
{
    if (!m || !path || (count && (!index || !values)))
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_tensorfile_write_onnx: NULL argument");
    if (m->format != TASD_FORMAT_ONNX)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "tasd_tensorfile_write_onnx: the model is %s, not ONNX",
                          tasd_file_format_name(m->format));
    if (count < 0 || count > m->count)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "tasd_tensorfile_write_onnx: count %lld",
                          (long long)count);
    /* which[i]: 1 + the position in index[] of initializer i, 0 if kept. */
    const tasd_allocator *a = &m->a;
    int64_t *which = tasdi_calloc(a, m->count ? (size_t)m->count : 1, sizeof *which);
    if (!which)
        return TASD_ERR_OUT_OF_MEMORY;
    tasd_status st = TASD_OK;
    for (int64_t k = 0; k < count && !st; k++) {
        int64_t i = index[k];
        if (i < 0 || i >= m->count) {
            st = tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "tasd_tensorfile_write_onnx: index %lld of %lld",
                            (long long)i, (long long)m->count);
            break;
        }
        const tasdi_tensor *t = &m->t[i];
        const tasd_view *v = &values[k];
        int64_t n = 1;
        if (which[i])
            st = tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "tasd_tensorfile_write_onnx: initializer \"%.200s\" given twice", t->name);
        else if (t->dtype < 0)
            st = tasdi_fail(TASD_ERR_DTYPE, "initializer \"%.200s\": %s cannot be replaced (FLOAT, FLOAT16 or BFLOAT16 only)",
                            t->name, t->dtype_name);
        else if (!tasd_dtype_size((tasd_dtype)v->dtype) || v->ndim < 1 || v->ndim > TASD_MAX_DIMS)
            st = tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "initializer \"%.200s\": bad view (dtype %d, rank %d)",
                            t->name, (int)v->dtype, (int)v->ndim);
        for (int d = 0; !st && d < v->ndim; d++)
            if (v->shape[d] < 0 || !tasdi_mul_i64(n, v->shape[d], &n))
                st = tasdi_fail(TASD_ERR_SHAPE, "initializer \"%.200s\": bad view shape", t->name);
        if (!st && (uint64_t)n != t->nbytes / t->elem)
            st = tasdi_fail(TASD_ERR_SHAPE, "initializer \"%.200s\": view has %lld elements, the tensor %llu",
                            t->name, (long long)n, (unsigned long long)(t->nbytes / t->elem));
        if (!st && n > 0 && !v->data)
            st = tasdi_fail(TASD_ERR_NULL_POINTER, "initializer \"%.200s\": view data is NULL", t->name);
        which[i] = k + 1;
    }
    if (!st)
        st = check_copy_data(m, path, which);
    tasdi_outfile o;
    memset(&o, 0, sizeof o);
    if (!st)
        st = tasdi_out_open(a, path, &o);
    ox x;
    memset(&x, 0, sizeof x);
    x.m = (tasd_tensorfile *)(uintptr_t)m;
    x.file = path;
    x.base = m->map.data;
    /* Model level: every field byte for byte, except the graph's length. */
    pb c = {m->map.data, m->map.data + m->map.size};
    pbf f, e;
    while (!st && pb_field(&x, &c, &f, &st)) {
        if (f.num != 7) {
            st = tasdi_out_append(&o, f.at, (size_t)(c.p - f.at));
            continue;
        }
        /* Pass 1: the graph's new length. */
        pb g = {f.data, f.data + f.len};
        uint64_t glen = 0;
        int64_t ti = 0;
        while (!st && pb_field(&x, &g, &e, &st)) {
            if (e.num == 5 && ti < m->count && which[ti]) {
                uint64_t tl = 0;
                st = new_tensor_len(&x, &e, m->t[ti].nbytes, &tl);
                glen += 1 + varint_size(tl) + tl;
            } else {
                glen += (uint64_t)(g.p - e.at);
            }
            ti += e.num == 5;
        }
        if (!st)
            st = put_varint(&o, (7u << 3) | WT_LEN);
        if (!st)
            st = put_varint(&o, glen);
        /* Pass 2: unchanged runs copied whole, replaced initializers rebuilt. */
        g.p = f.data;
        ti = 0;
        const unsigned char *run = g.p;
        while (!st && pb_field(&x, &g, &e, &st)) {
            if (e.num == 5 && ti < m->count && which[ti]) {
                if (e.at > run)
                    st = tasdi_out_append(&o, run, (size_t)(e.at - run));
                if (!st)
                    st = write_tensor(&x, &o, &e, &m->t[ti], &values[which[ti] - 1]);
                run = g.p;
            }
            ti += e.num == 5;
        }
        if (!st && g.end > run)
            st = tasdi_out_append(&o, run, (size_t)(g.end - run));
    }
    if (!st)
        st = tasdi_out_commit(&o);
    else
        tasdi_out_abort(&o);
    tasdi_free(a, which, (size_t)(m->count ? m->count : 1) * sizeof *which);
    return st;
}
