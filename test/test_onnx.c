/* The ONNX reader: initializers of the committed models in test/data/onnx/
 * (made by test/data/make_onnx.py), their consumers, external data, and
 * malformed files (truncated at every byte, corrupted, lying sizes,
 * hand-encoded edge cases). Run from the source tree. */
#include "harness.h"
#include "tasd.h"
#include "support/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static float val(int64_t i, int seed)
{
    return (float)(((i * 37 + 11 + seed) % 17) - 8) / 4.0f;
}

/* Tensor `name` of m holds v(i, seed) for every element, read as f32. */
static void check_values(const tasd_tensorfile *m, const char *name, int seed)
{
    int64_t i;
    tasd_tensor_info info = {.size = sizeof info};
    CHECK_OK(tasd_tensorfile_find(m, name, &i));
    CHECK_OK(tasd_tensorfile_info(m, i, &info));
    int64_t n = 1;
    for (int d = 0; d < info.ndim; d++)
        n *= info.shape[d];
    float *buf = malloc((size_t)n * sizeof *buf);
    if (!buf)
        return;
    CHECK_OK(tasd_tensorfile_read_f32(m, i, buf, n));
    int bad = 0;
    for (int64_t k = 0; k < n; k++)
        bad += buf[k] != val(k, seed);
    CHECKF(bad == 0, "%s: %d of %lld values differ", name, bad, (long long)n);
    free(buf);
}

static void check_consumer(const tasd_tensorfile *m, const char *name, const char *op, int input,
                           int axis)
{
    int64_t i;
    const char *got_op = NULL;
    int32_t got_in = 99, got_axis = 99;
    CHECK_OK(tasd_tensorfile_find(m, name, &i));
    CHECK_OK(tasd_tensorfile_consumer(m, i, &got_op, &got_in, &got_axis));
    CHECKF(got_op && !strcmp(got_op, op) && got_in == input && got_axis == axis,
           "%s: consumer %s input %d axis %d, want %s %d %d", name, got_op ? got_op : "(null)",
           (int)got_in, (int)got_axis, op, input, axis);
}

static void test_mlp(void)
{
    tasd_file_format f = TASD_FORMAT_UNKNOWN;
    CHECK_OK(tasd_file_format_detect("test/data/onnx/mlp.onnx", &f));
    CHECK(f == TASD_FORMAT_ONNX);
    CHECK(!strcmp(tasd_file_format_name(TASD_FORMAT_ONNX), "onnx"));
    tasd_tensorfile *m = NULL;
    CHECK_OK(tasd_tensorfile_open(NULL, "test/data/onnx/mlp.onnx", &m));
    if (!m)
        return;
    CHECK(tasd_tensorfile_format(m) == TASD_FORMAT_ONNX);
    CHECK(tasd_tensorfile_count(m) == 7);
    tasd_tensor_info info = {.size = sizeof info};
    CHECK_OK(tasd_tensorfile_info(m, 0, &info));
    CHECK(!strcmp(info.name, "W1") && !strcmp(info.dtype_name, "FLOAT") &&
          info.dtype == TASD_F32 && info.ndim == 2 && info.shape[0] == 8 && info.shape[1] == 16 &&
          info.nbytes == 8 * 16 * 4);
    check_values(m, "W1", 0);  /* raw_data */
    check_values(m, "b1", 1);
    check_values(m, "W2", 2);  /* float_data */
    check_values(m, "W3", 3);
    check_values(m, "Wc", 4);
    check_consumer(m, "W1", "MatMul", 1, 1);
    check_consumer(m, "b1", "Add", 1, -1);
    check_consumer(m, "W2", "Gemm", 1, 0);  /* transB = 1: [N, K] */
    check_consumer(m, "W3", "Gemm", 1, 1);  /* transB = 0: [K, N] */
    check_consumer(m, "Wc", "Conv", 1, 0);
    check_consumer(m, "shape", "Reshape", 1, -1);
    check_consumer(m, "unused", "", -1, -1);

    int64_t i;
    CHECK_OK(tasd_tensorfile_find(m, "Wc", &i));
    CHECK_OK(tasd_tensorfile_info(m, i, &info));
    CHECK(info.ndim == 4 && info.shape[0] == 4 && info.shape[3] == 3);
    /* The raw bytes are the file's own (zero copy), at info.offset. */
    const void *raw;
    uint64_t nb;
    size_t fsize;
    unsigned char *file = util_read_file("test/data/onnx/mlp.onnx", &fsize);
    CHECK_OK(tasd_tensorfile_raw(m, i, &raw, &nb));
    CHECK(file && nb == info.nbytes && info.offset + nb <= fsize &&
          memcmp(file + info.offset, raw, nb) == 0);
    free(file);
    /* INT64: listed, not converted. */
    CHECK_OK(tasd_tensorfile_find(m, "shape", &i));
    CHECK_OK(tasd_tensorfile_info(m, i, &info));
    CHECK(info.dtype == -1 && !strcmp(info.dtype_name, "INT64") && info.nbytes == 16);
    float buf[16];
    CHECK_STATUS(tasd_tensorfile_read_f32(m, i, buf, 16), TASD_ERR_DTYPE);
    CHECK_STATUS(tasd_tensorfile_raw(m, i, &raw, &nb), TASD_ERR_UNSUPPORTED);
    /* A decomposition of the MatMul weight in its reduction layout. */
    CHECK_OK(tasd_tensorfile_find(m, "W1", &i));
    tasd_view v;
    if (tasd_tensorfile_view(m, i, &v) == TASD_OK) {
        tasd_view t = tasd_view_transpose(v);
        tasd_config *c = NULL;
        tasd_series *s = NULL;
        CHECK_OK(tasd_config_parse(NULL, "2:4+2:4", &c));
        CHECK_OK(tasd_decompose(NULL, &t, c, TASD_OPTIMAL, &s));
        int64_t rows = 0, cols = 0;
        CHECK_OK(tasd_series_shape(s, &rows, &cols));
        CHECK(rows == 16 && cols == 8);
        tasd_series_destroy(s);
        tasd_config_destroy(c);
    }
    tasd_tensorfile_release(m, i);
    tasd_tensorfile_close(m);
}

/* Weights shared through Identity nodes (torch's export of a layer used
 * twice): the consumer is the node reached through them, with its layout. */
static void test_identity(void)
{
    tasd_tensorfile *m = NULL;
    CHECK_OK(tasd_tensorfile_open(NULL, "test/data/onnx/identity.onnx", &m));
    if (!m)
        return;
    CHECK(tasd_tensorfile_count(m) == 4);
    check_values(m, "Wsq", 13);
    check_consumer(m, "Wsq", "MatMul", 1, 1);   /* directly and through two Identity */
    check_consumer(m, "Wonly", "Gemm", 1, 0);   /* only through an Identity, transB */
    check_consumer(m, "Wdis", "MatMul", 1, -1); /* MatMul [K, N] and Gemm [N, K] disagree */
    check_consumer(m, "Wdead", "Identity", 0, -1); /* the Identity's output is a graph output */
    tasd_tensorfile_close(m);
}

static void test_half(void)
{
    tasd_tensorfile *m = NULL;
    CHECK_OK(tasd_tensorfile_open(NULL, "test/data/onnx/half.onnx", &m));
    if (!m)
        return;
    CHECK(tasd_tensorfile_count(m) == 4);
    check_values(m, "h_raw", 6);
    check_values(m, "h_int", 7);
    check_values(m, "bf_raw", 8);
    check_values(m, "bf_int", 9);
    int64_t i;
    tasd_tensor_info info = {.size = sizeof info};
    CHECK_OK(tasd_tensorfile_find(m, "h_int", &i));
    CHECK_OK(tasd_tensorfile_info(m, i, &info));
    CHECK(info.dtype == TASD_F16 && !strcmp(info.dtype_name, "FLOAT16") && info.nbytes == 64);
    CHECK_OK(tasd_tensorfile_find(m, "bf_raw", &i));
    CHECK_OK(tasd_tensorfile_info(m, i, &info));
    CHECK(info.dtype == TASD_BF16 && !strcmp(info.dtype_name, "BFLOAT16"));
    tasd_tensorfile_close(m);
}

static void test_external(void)
{
    tasd_tensorfile *m = NULL;
    CHECK_OK(tasd_tensorfile_open(NULL, "test/data/onnx/ext.onnx", &m));
    if (!m)
        return;
    CHECK(tasd_tensorfile_count(m) == 3);
    check_values(m, "A", 10);
    check_values(m, "B", 11);
    check_values(m, "C", 12);
    check_consumer(m, "A", "MatMul", 1, 1);
    int64_t i;
    tasd_tensor_info info = {.size = sizeof info};
    CHECK_OK(tasd_tensorfile_find(m, "B", &i));
    CHECK_OK(tasd_tensorfile_info(m, i, &info));
    CHECK(info.offset == 6 * 8 * 4 + 16);  /* offset in ext.bin */
    tasd_view v;
    CHECK_OK(tasd_tensorfile_view(m, i, &v));
    tasd_tensorfile_release(m, i);
    tasd_tensorfile_close(m);

    /* Escaping paths, missing files and short files are refused. */
    const char *bad[] = {"ext_dotdot.onnx", "ext_absolute.onnx", "ext_past_end.onnx",
                         "ext_missing.onnx"};
    const tasd_status want[] = {TASD_ERR_FORMAT, TASD_ERR_FORMAT, TASD_ERR_FORMAT, TASD_ERR_IO};
    for (int k = 0; k < 4; k++) {
        char path[128];
        snprintf(path, sizeof path, "test/data/onnx/%s", bad[k]);
        m = NULL;
        CHECK_STATUS(tasd_tensorfile_open(NULL, path, &m), want[k]);
        CHECK(m == NULL);
        CHECKF(strstr(tasd_last_error_message(), "\"A\"") || strstr(tasd_last_error_message(), "\"B\""),
               "%s: message names no tensor: %s", bad[k], tasd_last_error_message());
    }
    /* In memory, external data cannot be followed. */
    size_t n;
    unsigned char *d = util_read_file("test/data/onnx/ext.onnx", &n);
    CHECK_STATUS(tasd_tensorfile_open_memory(NULL, d, n, TASD_FORMAT_ONNX, &m), TASD_ERR_UNSUPPORTED);
    free(d);
}

static void test_lying(void)
{
    const char *files[] = {"lie_raw.onnx", "lie_float.onnx", "dup_name.onnx"};
    const char *why[] = {"raw_data holds 60 bytes", "float_data count", "duplicate"};
    for (int k = 0; k < 3; k++) {
        char path[128];
        snprintf(path, sizeof path, "test/data/onnx/%s", files[k]);
        tasd_tensorfile *m = NULL;
        CHECK_STATUS(tasd_tensorfile_open(NULL, path, &m), TASD_ERR_FORMAT);
        CHECKF(strstr(tasd_last_error_message(), why[k]) != NULL, "%s: %s", files[k],
               tasd_last_error_message());
        CHECK(m == NULL);
    }
}

/* Every prefix of a model either fails with TASD_ERR_FORMAT or (cut at a
 * field boundary, which protobuf cannot tell apart) reads consistently;
 * every single-byte corruption fails cleanly or reads; none crashes. */
static void test_truncated_and_corrupted(void)
{
    const char *files[] = {"test/data/onnx/mlp.onnx", "test/data/onnx/half.onnx"};
    for (int k = 0; k < 2; k++) {
        size_t n;
        unsigned char *d = util_read_file(files[k], &n);
        CHECK(d != NULL);
        if (!d)
            continue;
        int ok = 0, other = 0;
        for (size_t len = 0; len < n; len++) {
            unsigned char *p = malloc(len ? len : 1);
            memcpy(p, d, len);
            tasd_tensorfile *m = NULL;
            tasd_status st = tasd_tensorfile_open_memory(NULL, p, len, TASD_FORMAT_ONNX, &m);
            if (st == TASD_OK) {
                ok++;
                float buf[512];
                for (int64_t i = 0; i < tasd_tensorfile_count(m); i++)
                    (void)tasd_tensorfile_read_f32(m, i, buf, 512);
                tasd_tensorfile_close(m);
            } else if (st != TASD_ERR_FORMAT || m != NULL) {
                other++;
            }
            free(p);
        }
        CHECKF(other == 0, "%s: %d prefixes failed with something else than FORMAT", files[k], other);
        CHECKF(ok < 8, "%s: %d prefixes read as valid", files[k], ok);
        other = 0;
        for (size_t at = 0; at < n; at++) {
            for (int bit = 0; bit < 8; bit += 3) {
                unsigned char *p = malloc(n);
                memcpy(p, d, n);
                p[at] ^= (unsigned char)(1u << bit);
                tasd_tensorfile *m = NULL;
                tasd_status st = tasd_tensorfile_open_memory(NULL, p, n, TASD_FORMAT_ONNX, &m);
                if (st == TASD_OK) {
                    float buf[512];
                    for (int64_t i = 0; i < tasd_tensorfile_count(m); i++)
                        (void)tasd_tensorfile_read_f32(m, i, buf, 512);
                    tasd_tensorfile_close(m);
                } else if (m != NULL || (st != TASD_ERR_FORMAT && st != TASD_ERR_OVERFLOW &&
                                         st != TASD_ERR_UNSUPPORTED)) {
                    other++;
                }
                free(p);
            }
        }
        CHECKF(other == 0, "%s: %d corruptions gave an unexpected status", files[k], other);
        free(d);
    }
}

/* ---- hand-encoded models ---- */

typedef struct buf {
    unsigned char d[1024];
    size_t n;
} buf;

static void put_varint(buf *b, uint64_t v)
{
    do {
        unsigned char c = v & 0x7f;
        v >>= 7;
        b->d[b->n++] = c | (v ? 0x80 : 0);
    } while (v);
}

static void put_tag(buf *b, unsigned field, unsigned wire)
{
    put_varint(b, (uint64_t)field << 3 | wire);
}

static void put_bytes(buf *b, unsigned field, const void *p, size_t n)
{
    put_tag(b, field, 2);
    put_varint(b, n);
    memcpy(b->d + b->n, p, n);
    b->n += n;
}

static void put_fixed32(buf *b, unsigned field, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_tag(b, field, 5);
    for (int i = 0; i < 4; i++)
        b->d[b->n++] = (unsigned char)(u >> (8 * i));
}

/* A model whose graph holds one initializer (tensor bytes t). */
static void wrap(buf *model, const buf *t)
{
    buf g = {{0}, 0};
    put_bytes(&g, 5, t->d, t->n);
    model->n = 0;
    put_tag(model, 1, 0);
    put_varint(model, 8);
    put_bytes(model, 7, g.d, g.n);
}

static tasd_status open_buf(const buf *b, tasd_tensorfile **m)
{
    *m = NULL;
    return tasd_tensorfile_open_memory(NULL, b->d, b->n, TASD_FORMAT_UNKNOWN, m);
}

/* A TensorProto's start: FLOAT16 (data_type 10), dims [2], name "h"; the
 * data fields follow. */
static void f16_pair_header(buf *t)
{
    t->n = 0;
    put_tag(t, 2, 0);
    put_varint(t, 10);
    put_tag(t, 1, 0);
    put_varint(t, 2);
    put_bytes(t, 8, "h", 1);
}

/* A hand-encoded FLOAT16 tensor of two values opens and reads as {1, -2}. */
static void check_f16_one_minus_two(const buf *model)
{
    tasd_tensorfile *f;
    CHECK_OK(open_buf(model, &f));
    if (f) {
        float v[2] = {0, 0};
        CHECK_OK(tasd_tensorfile_read_f32(f, 0, v, 2));
        CHECK(v[0] == 1.0f && v[1] == -2.0f);
        tasd_tensorfile_close(f);
    }
}

static void test_hand_encoded(void)
{
    /* Unpacked float_data and unpacked dims, fields in an unusual order. */
    buf t = {{0}, 0}, m = {{0}, 0};
    for (int i = 0; i < 6; i++)
        put_fixed32(&t, 4, val(i, 0));
    put_tag(&t, 1, 0);
    put_varint(&t, 2);
    put_tag(&t, 1, 0);
    put_varint(&t, 3);
    put_tag(&t, 2, 0);
    put_varint(&t, 1);
    put_bytes(&t, 8, "u", 1);
    put_tag(&t, 99, 0);  /* an unknown field is skipped */
    put_varint(&t, 5);
    wrap(&m, &t);
    CHECK(tasd_file_format_sniff(m.d, m.n) == TASD_FORMAT_ONNX);
    tasd_tensorfile *f;
    CHECK_OK(open_buf(&m, &f));
    if (f) {
        check_values(f, "u", 0);
        tasd_tensorfile_close(f);
    }

    /* Unpacked int32_data for FLOAT16 (1.0 = 0x3c00). */
    f16_pair_header(&t);
    put_tag(&t, 5, 0);
    put_varint(&t, 0x3c00);
    put_tag(&t, 5, 0);
    put_varint(&t, 0xc000);
    wrap(&m, &t);
    check_f16_one_minus_two(&m);
    /* An empty packed int32_data field holds no values (it is valid protobuf). */
    f16_pair_header(&t);
    put_bytes(&t, 5, "", 0);
    put_tag(&t, 5, 0);
    put_varint(&t, 0x3c00);
    put_bytes(&t, 5, "\x80\x80\x03", 3); /* packed: 0xc000 */
    wrap(&m, &t);
    check_f16_one_minus_two(&m);
    /* An int32_data value past 16 bits is a lie. */
    t.n = 0;
    put_tag(&t, 2, 0);
    put_varint(&t, 10);
    put_bytes(&t, 8, "h", 1);
    put_tag(&t, 5, 0);
    put_varint(&t, 0x10000);
    wrap(&m, &t);
    CHECK_STATUS(open_buf(&m, &f), TASD_ERR_FORMAT);
    CHECK(strstr(tasd_last_error_message(), "out of range") != NULL);

    /* raw_data and float_data together; no data_type; group wire type. */
    t.n = 0;
    put_tag(&t, 2, 0);
    put_varint(&t, 1);
    put_bytes(&t, 8, "x", 1);
    put_bytes(&t, 9, "\0\0\0\0", 4);
    put_fixed32(&t, 4, 1.0f);
    wrap(&m, &t);
    CHECK_STATUS(open_buf(&m, &f), TASD_ERR_FORMAT);
    CHECK(strstr(tasd_last_error_message(), "more than one way") != NULL);
    t.n = 0;
    put_bytes(&t, 8, "x", 1);
    put_bytes(&t, 9, "\0\0\0\0", 4);
    wrap(&m, &t);
    CHECK_STATUS(open_buf(&m, &f), TASD_ERR_FORMAT);
    CHECK(strstr(tasd_last_error_message(), "data_type") != NULL);
    t.n = 0;
    put_tag(&t, 2, 3);
    wrap(&m, &t);
    CHECK_STATUS(open_buf(&m, &f), TASD_ERR_FORMAT);
    CHECK(strstr(tasd_last_error_message(), "wire type") != NULL);
    /* An overlong varint (11 bytes). */
    m.n = 0;
    put_tag(&m, 1, 0);
    for (int i = 0; i < 10; i++)
        m.d[m.n++] = 0xff;
    m.d[m.n++] = 0x01;
    CHECK_STATUS(tasd_tensorfile_open_memory(NULL, m.d, m.n, TASD_FORMAT_ONNX, &f),
                 TASD_ERR_FORMAT);
    /* A graph length past the end of the file. */
    m.n = 0;
    put_tag(&m, 1, 0);
    put_varint(&m, 8);
    put_tag(&m, 7, 2);
    put_varint(&m, 1000);
    CHECK_STATUS(tasd_tensorfile_open_memory(NULL, m.d, m.n, TASD_FORMAT_ONNX, &f),
                 TASD_ERR_FORMAT);
    CHECK(strstr(tasd_last_error_message(), "past the end") != NULL);
    /* No graph at all. */
    m.n = 0;
    put_tag(&m, 1, 0);
    put_varint(&m, 8);
    CHECK_STATUS(tasd_tensorfile_open_memory(NULL, m.d, m.n, TASD_FORMAT_ONNX, &f),
                 TASD_ERR_FORMAT);
    /* The npy/safetensors readers report no consumer. */
    CHECK_OK(tasd_tensorfile_open(NULL, "test/data/tiny_f32.npy", &f));
    if (f) {
        const char *op = NULL;
        int32_t in = 0, axis = 0;
        CHECK_OK(tasd_tensorfile_consumer(f, 0, &op, &in, &axis));
        CHECK(op && op[0] == 0 && in == -1 && axis == -1);
        CHECK_STATUS(tasd_tensorfile_consumer(f, 1, &op, &in, &axis), TASD_ERR_INVALID_ARGUMENT);
        tasd_tensorfile_close(f);
    }
}

/* ---- graphs built here: Identity nodes in valid and invalid models ---- */

/* A growable byte buffer for graphs with thousands of nodes. */
typedef struct gbuf {
    unsigned char *d;
    size_t n, cap;
} gbuf;

static void g_room(gbuf *b, size_t more)
{
    if (b->n + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more)
        cap *= 2;
    unsigned char *d = realloc(b->d, cap);
    if (!d)
        abort();
    b->d = d;
    b->cap = cap;
}

static void g_varint(gbuf *b, uint64_t v)
{
    g_room(b, 10);
    do {
        unsigned char c = v & 0x7f;
        v >>= 7;
        b->d[b->n++] = c | (v ? 0x80 : 0);
    } while (v);
}

static void g_bytes(gbuf *b, unsigned field, const void *p, size_t n)
{
    g_varint(b, (uint64_t)field << 3 | 2);
    g_varint(b, n);
    g_room(b, n);
    if (n)
        memcpy(b->d + b->n, p, n);
    b->n += n;
}

static void g_str(gbuf *b, unsigned field, const char *s)
{
    g_bytes(b, field, s, strlen(s));
}

/* A node of graph g: op_type, inputs and outputs ("" entries are given as
 * empty names; NULL ends each list). */
static void g_node(gbuf *g, const char *op, const char *const *in, const char *const *out)
{
    gbuf n = {NULL, 0, 0};
    for (int k = 0; in && in[k]; k++)
        g_str(&n, 1, in[k]);
    for (int k = 0; out && out[k]; k++)
        g_str(&n, 2, out[k]);
    g_str(&n, 4, op);
    g_bytes(g, 1, n.d, n.n);
    free(n.d);
}

static void g_node1(gbuf *g, const char *op, const char *in0, const char *in1, const char *out)
{
    const char *in[3] = {in0, in1, NULL}, *o[2] = {out, NULL};
    g_node(g, op, in, o);
}

/* A FLOAT [4, 4] initializer named name, zeros. */
static void g_init(gbuf *g, const char *name)
{
    gbuf t = {NULL, 0, 0};
    unsigned char raw[64] = {0};
    g_varint(&t, 1 << 3 | 0);
    g_varint(&t, 4);
    g_varint(&t, 1 << 3 | 0);
    g_varint(&t, 4);
    g_varint(&t, 2 << 3 | 0);
    g_varint(&t, 1);
    g_str(&t, 8, name);
    g_bytes(&t, 9, raw, sizeof raw);
    g_bytes(g, 5, t.d, t.n);
    free(t.d);
}

/* Opens the model of graph g (which it frees) into *m. */
static tasd_status g_open(gbuf *g, tasd_tensorfile **m, gbuf *model)
{
    model->n = 0;
    g_varint(model, 1 << 3 | 0);
    g_varint(model, 8);
    g_bytes(model, 7, g->d, g->n);
    free(g->d);
    g->d = NULL;
    g->n = g->cap = 0;
    *m = NULL;
    return tasd_tensorfile_open_memory(NULL, model->d, model->n, TASD_FORMAT_ONNX, m);
}

static void test_identity_graphs(void)
{
    gbuf g = {NULL, 0, 0}, model = {NULL, 0, 0};
    tasd_tensorfile *m = NULL;
    char a[32], b[32];
    enum { CHAIN = 5000 };

    /* A chain of thousands of Identity nodes, then the MatMul; the same
     * listed backwards (not topologically sorted): not followed, only the
     * last Identity consumes W directly. */
    for (int rev = 0; rev < 2; rev++) {
        g_init(&g, "W");
        if (rev)
            g_node1(&g, "MatMul", "x", "i4999", NULL);
        for (int k = 0; k < CHAIN; k++) {
            int j = rev ? CHAIN - 1 - k : k;
            snprintf(a, sizeof a, "i%d", j - 1);
            snprintf(b, sizeof b, "i%d", j);
            g_node1(&g, "Identity", j ? a : "W", NULL, b);
        }
        if (!rev)
            g_node1(&g, "MatMul", "x", "i4999", "y");
        CHECK_OK(g_open(&g, &m, &model));
        if (m) {
            if (rev)
                check_consumer(m, "W", "Identity", 0, -1);
            else
                check_consumer(m, "W", "MatMul", 1, 1);
            tasd_tensorfile_close(m);
        }
    }

    /* Invalid graphs: a cycle of Identity nodes, an Identity that is its
     * own input, Identity nodes without input or output, with two inputs,
     * names that are no initializer, an Identity whose output is named as
     * an initializer, one name made by two Identity nodes (followed for
     * neither initializer). */
    g_init(&g, "W");
    g_init(&g, "V");
    g_init(&g, "U");
    g_init(&g, "T");
    g_node1(&g, "Identity", "c2", NULL, "c1");        /* a cycle, no initializer */
    g_node1(&g, "Identity", "c1", NULL, "c2");
    g_node1(&g, "Identity", "W", NULL, "w1");
    g_node1(&g, "Identity", "o", NULL, "o");          /* its own input */
    g_node1(&g, "Identity", "w1", NULL, "w2");
    g_node(&g, "Identity", NULL, (const char *const[]){"z", NULL});    /* no input */
    g_node(&g, "Identity", (const char *const[]){"W", NULL}, NULL);   /* no output */
    g_node(&g, "Identity", (const char *const[]){"", NULL}, (const char *const[]){"e", NULL});
    g_node(&g, "Identity", (const char *const[]){"W", NULL}, (const char *const[]){"", NULL});
    g_node1(&g, "Identity", "x", NULL, "x1");         /* not an initializer */
    g_node1(&g, "Identity", "V", NULL, "T");          /* named as initializer T */
    g_node1(&g, "Identity", "U", NULL, "s");
    g_node1(&g, "Identity", "V", NULL, "s");          /* s: U's or V's? */
    g_node1(&g, "Identity", "U", "V", "uv");          /* two inputs: an ordinary node */
    g_node1(&g, "MatMul", "x1", "c1", "y1");
    g_node1(&g, "MatMul", "z", "e", "y2");
    g_node1(&g, "MatMul", "x", "w2", "y3");
    g_node1(&g, "MatMul", "o", "c2", "y6");
    g_node1(&g, "Gemm", "x", "s", "y4");
    g_node1(&g, "Gemm", "x", "T", "y5");
    CHECK_OK(g_open(&g, &m, &model));
    if (m) {
        check_consumer(m, "W", "MatMul", 1, 1);
        check_consumer(m, "V", "Identity", 1, -1);  /* the two-input one */
        check_consumer(m, "U", "Identity", 0, -1);
        check_consumer(m, "T", "Gemm", 1, 1);
        tasd_tensorfile_close(m);
    }

    /* Identity in a custom domain is an ordinary (unknown) node; the
     * standard one's consumers decide even when a direct one disagrees. */
    g_init(&g, "W");
    g_init(&g, "V");
    {
        gbuf n = {NULL, 0, 0};
        g_str(&n, 1, "W");
        g_str(&n, 2, "wc");
        g_str(&n, 4, "Identity");
        g_str(&n, 7, "com.example");
        g_bytes(&g, 1, n.d, n.n);
        free(n.d);
    }
    g_node1(&g, "MatMul", "x", "wc", "y1");
    g_node1(&g, "MatMul", "x", "V", "y2");
    g_node1(&g, "Identity", "V", NULL, "v1");
    g_node1(&g, "Conv", "img", "v1", "y3");           /* rank 2: unknown layout */
    CHECK_OK(g_open(&g, &m, &model));
    if (m) {
        check_consumer(m, "W", "Identity", 0, -1);
        check_consumer(m, "V", "MatMul", 1, -1);
        tasd_tensorfile_close(m);
    }
    free(model.d);
}

/* ---- writing a copy with replaced initializers ---- */

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
    static char p[128];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

static void test_write_copy(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tasd_onnx_XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);
    tasd_tensorfile *m = NULL;
    CHECK_OK(tasd_tensorfile_open(NULL, "test/data/onnx/mlp.onnx", &m));
    if (!m)
        return;
    size_t n0, n1;
    unsigned char *orig = util_read_file("test/data/onnx/mlp.onnx", &n0);
    /* Nothing replaced: the very same bytes. */
    CHECK_OK(tasd_tensorfile_write_onnx(m, tmp_path("same.onnx"), 0, NULL, NULL));
    unsigned char *copy = util_read_file(tmp_path("same.onnx"), &n1);
    CHECK(orig && copy && n0 == n1 && memcmp(orig, copy, n0) == 0);
    free(copy);
    /* W1 with its own values (raw_data last already): identical too. */
    int64_t w1, w2, wc;
    CHECK_OK(tasd_tensorfile_find(m, "W1", &w1));
    CHECK_OK(tasd_tensorfile_find(m, "W2", &w2));
    CHECK_OK(tasd_tensorfile_find(m, "Wc", &wc));
    tasd_view v1;
    CHECK_OK(tasd_tensorfile_view(m, w1, &v1));
    CHECK_OK(tasd_tensorfile_write_onnx(m, tmp_path("same2.onnx"), 1, &w1, &v1));
    copy = util_read_file(tmp_path("same2.onnx"), &n1);
    CHECK(orig && copy && n0 == n1 && memcmp(orig, copy, n0) == 0);
    free(copy);

    /* New values: W2 (was float_data) from a transposed f32 view, Wc from f16. */
    float w2new[12 * 16];          /* stored [16, 12], viewed transposed */
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 12; c++)
            w2new[r * 12 + c] = (float)(c * 16 + r) * 0.5f;
    uint16_t wcnew[4 * 2 * 3 * 3];
    for (int k = 0; k < 72; k++)
        wcnew[k] = (uint16_t)(0x3c00 + k); /* 1.0 and up in f16 */
    tasd_view vals[2];
    vals[0] = tasd_view_transpose(tasd_view_2d(w2new, TASD_F32, 16, 12, 12));
    vals[1] = tasd_view_2d(wcnew, TASD_F16, 4, 18, 18);
    int64_t idx[2] = {w2, wc};
    CHECK_OK(tasd_tensorfile_write_onnx(m, tmp_path("new.onnx"), 2, idx, vals));
    tasd_tensorfile *c = NULL;
    CHECK_OK(tasd_tensorfile_open(NULL, tmp_path("new.onnx"), &c));
    if (c) {
        CHECK(tasd_tensorfile_count(c) == tasd_tensorfile_count(m));
        check_values(c, "W1", 0);
        check_values(c, "W3", 3);
        check_consumer(c, "W2", "Gemm", 1, 0);
        float got[72];
        int64_t i;
        CHECK_OK(tasd_tensorfile_find(c, "W2", &i));
        CHECK_STATUS(tasd_tensorfile_read_f32(c, i, got, 72), TASD_ERR_BUFFER_TOO_SMALL);
        float w2got[12 * 16];
        CHECK_OK(tasd_tensorfile_read_f32(c, i, w2got, 12 * 16));
        int bad = 0;
        for (int k = 0; k < 12 * 16; k++)
            bad += w2got[k] != (float)k * 0.5f;
        CHECK(bad == 0);
        CHECK_OK(tasd_tensorfile_find(c, "Wc", &i));
        CHECK_OK(tasd_tensorfile_read_f32(c, i, got, 72));
        bad = 0;
        for (int k = 0; k < 72; k++)
            bad += got[k] != (float)(1.0 + k / 1024.0);
        CHECK(bad == 0);
        tasd_tensorfile_close(c);
    }
    /* Misuse: bad index, twice the same, wrong element count, INT64. */
    int64_t twice[2] = {w1, w1};
    tasd_view vv[2] = {v1, v1};
    CHECK_STATUS(tasd_tensorfile_write_onnx(m, tmp_path("bad.onnx"), 2, twice, vv),
                 TASD_ERR_INVALID_ARGUMENT);
    int64_t oob = 99;
    CHECK_STATUS(tasd_tensorfile_write_onnx(m, tmp_path("bad.onnx"), 1, &oob, vv),
                 TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_tensorfile_write_onnx(m, tmp_path("bad.onnx"), 1, &w2, vv), TASD_ERR_SHAPE);
    int64_t sh;
    CHECK_OK(tasd_tensorfile_find(m, "shape", &sh));
    CHECK_STATUS(tasd_tensorfile_write_onnx(m, tmp_path("bad.onnx"), 1, &sh, vv), TASD_ERR_DTYPE);
    FILE *f = fopen(tmp_path("bad.onnx"), "rb");
    CHECK(f == NULL);  /* nothing left behind */
    if (f)
        fclose(f);
    tasd_tensorfile_close(m);
    free(orig);

    /* int32_data and external data become raw_data; kept external data
     * still resolves next to the copy. */
    CHECK_OK(tasd_tensorfile_open(NULL, "test/data/onnx/half.onnx", &m));
    if (m) {
        int64_t hi;
        tasd_view hv;
        CHECK_OK(tasd_tensorfile_find(m, "h_int", &hi));
        CHECK_OK(tasd_tensorfile_view(m, hi, &hv));
        CHECK_OK(tasd_tensorfile_write_onnx(m, tmp_path("half.onnx"), 1, &hi, &hv));
        tasd_tensorfile_close(m);
        CHECK_OK(tasd_tensorfile_open(NULL, tmp_path("half.onnx"), &m));
        if (m) {
            check_values(m, "h_int", 7);
            check_values(m, "bf_int", 9);
            tasd_tensorfile_close(m);
        }
    }
    CHECK(util_copy_file("test/data/onnx/ext.bin", tmp_path("ext.bin")));
    CHECK_OK(tasd_tensorfile_open(NULL, "test/data/onnx/ext.onnx", &m));
    if (m) {
        int64_t ai;
        float anew[48];
        for (int k = 0; k < 48; k++)
            anew[k] = (float)k;
        tasd_view av = tasd_view_2d(anew, TASD_F32, 6, 8, 8);
        CHECK_OK(tasd_tensorfile_find(m, "A", &ai));
        CHECK_OK(tasd_tensorfile_write_onnx(m, tmp_path("ext.onnx"), 1, &ai, &av));
        tasd_tensorfile_close(m);
        CHECK_OK(tasd_tensorfile_open(NULL, tmp_path("ext.onnx"), &m));
        if (m) {
            float got[48];
            CHECK_OK(tasd_tensorfile_find(m, "A", &ai));
            CHECK_OK(tasd_tensorfile_read_f32(m, ai, got, 48));
            CHECK(memcmp(got, anew, sizeof got) == 0);
            check_values(m, "B", 11);
            tasd_tensorfile_close(m);
        }
    }
    /* A copy elsewhere keeps the kept initializers' external data by their
     * locations: from its directory they must hold the same bytes (above, a
     * copy of ext.bin did). A model copied into sub/, the copy into far/. */
    CHECK(mkdir(tmp_path("sub"), 0777) == 0 && mkdir(tmp_path("far"), 0777) == 0);
    CHECK(util_copy_file("test/data/onnx/ext.onnx", tmp_path("sub/ext.onnx")) &&
          util_copy_file("test/data/onnx/ext.bin", tmp_path("sub/ext.bin")));
    m = NULL;
    CHECK_OK(tasd_tensorfile_open(NULL, tmp_path("sub/ext.onnx"), &m));
    if (m) {
        int64_t ai, all[3], nall = 0;
        float anew[48] = {0}, zeros[64] = {0};
        tasd_view av = tasd_view_2d(anew, TASD_F32, 6, 8, 8), views[3];
        CHECK_OK(tasd_tensorfile_find(m, "A", &ai));
        CHECK_STATUS(tasd_tensorfile_write_onnx(m, tmp_path("far/c.onnx"), 1, &ai, &av),
                     TASD_ERR_INVALID_ARGUMENT);
        CHECKF(strstr(tasd_last_error_message(), "\"B\"") &&
                   strstr(tasd_last_error_message(), "ext.bin"),
               "%s", tasd_last_error_message());
        /* other bytes under that name */
        size_t nb = 0;
        unsigned char *junk = util_read_file("test/data/onnx/ext.bin", &nb);
        if (junk) {
            memset(junk, 0x5a, nb);
            FILE *jf = fopen(tmp_path("far/ext.bin"), "wb");
            CHECK(jf && fwrite(junk, 1, nb, jf) == nb);
            if (jf)
                fclose(jf);
            free(junk);
        }
        CHECK_STATUS(tasd_tensorfile_write_onnx(m, tmp_path("far/c.onnx"), 1, &ai, &av),
                     TASD_ERR_INVALID_ARGUMENT);
        CHECK(access(tmp_path("far/c.onnx"), F_OK) != 0);
        /* over the model's own data file */
        CHECK_STATUS(tasd_tensorfile_write_onnx(m, tmp_path("sub/ext.bin"), 1, &ai, &av),
                     TASD_ERR_INVALID_ARGUMENT);
        CHECK(strstr(tasd_last_error_message(), "overwritten") &&
              util_same_file_bytes(tmp_path("sub/ext.bin"), "test/data/onnx/ext.bin"));
        /* every initializer with external data replaced: nothing to find */
        for (int64_t i = 0; i < tasd_tensorfile_count(m); i++) {
            const char *loc = "";
            tasd_tensor_info info = {.size = sizeof info};
            CHECK_OK(tasd_tensorfile_data_file(m, i, &loc));
            CHECK_OK(tasd_tensorfile_info(m, i, &info));
            if (!*loc || info.nbytes > sizeof zeros)
                continue;
            views[nall] = tasd_view_2d(zeros, TASD_F32, 1, (int64_t)(info.nbytes / 4),
                                       (int64_t)(info.nbytes / 4));
            all[nall++] = i;
        }
        CHECK(nall == 2);
        CHECK_OK(tasd_tensorfile_write_onnx(m, tmp_path("far/c.onnx"), nall, all, views));
        tasd_tensorfile_close(m);
    }
    const char *sub[] = {"sub/ext.onnx", "sub/ext.bin", "far/ext.bin", "far/c.onnx"};
    for (int k = 0; k < 4; k++)
        remove(tmp_path(sub[k]));
    CHECK(rmdir(tmp_path("sub")) == 0 && rmdir(tmp_path("far")) == 0);
    /* Copies with nothing replaced are the very same bytes, for every model. */
    const char *models[] = {"half.onnx", "ext.onnx"};
    for (int k = 0; k < 2; k++) {
        char src[128];
        snprintf(src, sizeof src, "test/data/onnx/%s", models[k]);
        m = NULL;
        CHECK_OK(tasd_tensorfile_open(NULL, src, &m));
        if (!m)
            continue;
        CHECK_OK(tasd_tensorfile_write_onnx(m, tmp_path("same.onnx"), 0, NULL, NULL));
        tasd_tensorfile_close(m);
        unsigned char *a = util_read_file(src, &n0), *b = util_read_file(tmp_path("same.onnx"), &n1);
        CHECKF(a && b && n0 == n1 && memcmp(a, b, n0) == 0, "%s: copy differs", models[k]);
        free(a);
        free(b);
    }
    /* Not ONNX. */
    CHECK_OK(tasd_tensorfile_open(NULL, "test/data/tiny_f32.npy", &m));
    if (m) {
        CHECK_STATUS(tasd_tensorfile_write_onnx(m, tmp_path("x.onnx"), 0, NULL, NULL),
                     TASD_ERR_INVALID_ARGUMENT);
        tasd_tensorfile_close(m);
    }
    const char *names[] = {"same.onnx", "same2.onnx", "new.onnx", "half.onnx", "ext.onnx", "ext.bin"};
    for (int k = 0; k < 6; k++)
        remove(tmp_path(names[k]));
    CHECK(rmdir(tmpdir) == 0);
}

TEST_MAIN(RUN(test_mlp); RUN(test_identity); RUN(test_half); RUN(test_external); RUN(test_lying);
          RUN(test_truncated_and_corrupted); RUN(test_hand_encoded);
          RUN(test_identity_graphs); RUN(test_write_copy);)
