/* lib/io/: tensor files (npy, safetensors), .tasd archives, and the
 * file helpers they share: CRC-32, read-only
 * mappings, atomic output files, little-endian loads and stores. */
#ifndef TASD_IO_H
#define TASD_IO_H

#include "core/core.h"

#include <string.h>

/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, init and final xor
 * 0xFFFFFFFF). Chain calls with crc = previous result; start with 0. */
uint32_t tasdi_crc32(uint32_t crc, const void *data, size_t size);

/* A read-only view of a whole file: mmap'd (mapped = true) or a caller's
 * buffer (mapped = false). */
typedef struct tasdi_map {
    const unsigned char *data;
    size_t size;
    bool mapped;
    bool has_id;          /* a file's: dev and ino say which (tasdi_same_file) */
    uint64_t dev, ino;
} tasdi_map;

tasd_status tasdi_map_file(const char *path, tasdi_map *out);
/* Whether path names the file m was mapped from (false for a buffer, or a
 * path that does not exist). */
bool tasdi_same_file(const char *path, const tasdi_map *m);
void tasdi_unmap(tasdi_map *m);
/* Advise the kernel that [off, off+len) of a mapping is not needed. */
void tasdi_map_release(const tasdi_map *m, uint64_t off, uint64_t len);

/* An output file written to PATH.tmp.XXXXXX and renamed over PATH when
 * committed. */
typedef struct tasdi_outfile {
    int fd;
    char *path;
    char *tmp;
    size_t tmp_size;
    const tasd_allocator *a;
    uint64_t size;   /* bytes appended so far (tasdi_out_append) */
} tasdi_outfile;

tasd_status tasdi_out_open(const tasd_allocator *a, const char *path,
                           tasdi_outfile *o);
tasd_status tasdi_out_pwrite(tasdi_outfile *o, const void *data, size_t size,
                             uint64_t offset);
tasd_status tasdi_out_append(tasdi_outfile *o, const void *data, size_t size);
/* Flush and rename; closes the file. On failure the temp file is removed. */
tasd_status tasdi_out_commit(tasdi_outfile *o);
/* Close and remove the temp file (safe after a commit or on a zeroed o). */
void tasdi_out_abort(tasdi_outfile *o);

char *tasdi_strdup(const tasd_allocator *a, const char *s, size_t len);
/* True if s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool tasdi_utf8_valid(const unsigned char *s, size_t len);

static inline uint16_t tasdi_ld16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t tasdi_ld32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static inline uint64_t tasdi_ld64(const unsigned char *p)
{
    return (uint64_t)tasdi_ld32(p) | ((uint64_t)tasdi_ld32(p + 4) << 32);
}
static inline void tasdi_st16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static inline void tasdi_st32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static inline void tasdi_st64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static inline float tasdi_ldf32(const unsigned char *p)
{
    uint32_t u = tasdi_ld32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline void tasdi_stf32(unsigned char *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    tasdi_st32(p, u);
}
static inline double tasdi_ldf64(const unsigned char *p)
{
    uint64_t u = tasdi_ld64(p);
    double d;
    memcpy(&d, &u, 8);
    return d;
}
static inline void tasdi_stf64(unsigned char *p, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    tasdi_st64(p, u);
}

/* ---- tensor files being read (format.c, npy.c, safetensors.c,
 * tensorfile.c) ---- */

typedef struct tasdi_tensor {
    char *name;
    size_t name_len;
    char dtype_name[16];
    int32_t dtype;   /* tasd_dtype or -1 */
    int32_t ndim;
    int64_t shape[TASD_FILE_MAX_DIMS];
    uint64_t offset, nbytes;
    size_t elem;
    /* ONNX only (zero elsewhere): where the bytes are when not at
     * map.data + offset (in the file, an external file or `owned`), the
     * external file (index + 1, 0: the model file), whether typed data
     * libtasd does not decode leaves the tensor unreadable, and the first
     * consuming node (op type, input slot, output axis or -1), reached
     * through Identity nodes; op_identity: it is an Identity, recorded
     * only until a node taking the Identity's output is seen. */
    const unsigned char *data;
    unsigned char *owned;
    size_t owned_size;
    int64_t ext;
    bool no_data;
    char *op_type;
    size_t op_len;
    int32_t op_input;
    int32_t out_axis;
    bool op_identity;
} tasdi_tensor;

struct tasd_tensorfile {
    tasd_allocator a;
    tasd_file_format format;
    tasdi_map map;
    int64_t count;
    tasdi_tensor *t;
    int64_t t_cap;   /* allocated length of t */
    int64_t metadata_entries;
    struct tasdi_onnx *onnx;   /* ONNX external data files, or NULL */
};

/* A safetensors dtype name with its element size; dtype is a tasd_dtype or
 * -1 when the library cannot convert it (the tensor is still listed). */
typedef struct tasdi_st_dtype {
    const char *name;
    size_t size;
    int32_t dtype;
} tasdi_st_dtype;

/* The dtype named name[0..len), or NULL if safetensors has no such dtype. */
const tasdi_st_dtype *tasdi_safetensors_dtype(const char *name, size_t len);

/* Bytes of a tensor of `elem`-byte elements and this shape; fails on
 * negative dimensions and on sizes past 2^62. */
tasd_status tasdi_shape_bytes(const char *file, const char *tname, int ndim,
                              const int64_t *shape, size_t elem, uint64_t *out);
/* Parse a whole .npy file (d, size) into t (name already set). */
tasd_status tasdi_npy_parse(const char *file, const unsigned char *d, size_t size,
                            tasdi_tensor *t);
/* Parse m->map as safetensors into m->t / m->count. */
tasd_status tasdi_safetensors_parse(tasd_tensorfile *m, const char *file);

/* Parse m->map as an ONNX model into m->t / m->count; on_disk: `file` is
 * the model's path, so external data can be followed. */
tasd_status tasdi_onnx_parse(tasd_tensorfile *m, const char *file, bool on_disk);
/* True if the first bytes look like an ONNX ModelProto (a hint only). */
bool tasdi_onnx_sniff(const unsigned char *p, size_t size);
/* True if path ends in ".onnx" (any case). */
bool tasdi_has_onnx_extension(const char *path);
/* The external data location of t (relative to the model's directory), or
 * NULL when its bytes are not in an external file. */
const char *tasdi_onnx_location(const tasd_tensorfile *m, const tasdi_tensor *t);
/* Free what tasdi_onnx_parse added to m (external file mappings). */
void tasdi_onnx_free(tasd_tensorfile *m);
/* tasd_tensorfile_release for an ONNX tensor. */
void tasdi_onnx_release(const tasd_tensorfile *m, const tasdi_tensor *t);

/* ---- strict JSON reading (json.c) ---- */

typedef struct tasdi_json {
    const unsigned char *b, *p, *end;
    const char *file;
    const tasd_allocator *a;
} tasdi_json;

tasd_status tasdi_json_fail(tasdi_json *j, const char *what);
void tasdi_json_ws(tasdi_json *j);
/* Skip whitespace, then consume c if it is next. */
bool tasdi_json_eat(tasdi_json *j, unsigned char c);
/* A string (after whitespace), unescaped into a new NUL-terminated buffer of
 * *len + 1 bytes from j->a. */
tasd_status tasdi_json_string(tasdi_json *j, char **out, size_t *len);
tasd_status tasdi_json_uint(tasdi_json *j, uint64_t *v);

#endif
