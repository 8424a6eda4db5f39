/* Model files (.npy, safetensors) and the .tasd series format: round trips,
 * golden files, and bad input of every kind. Run from the source tree (the
 * golden files are read from test/data/). */
#include "harness.h"
#include "tasd.h"
#include "support/util.h"
#include "support/bytes.h"

#include <dirent.h>
#include <stdint.h>
#include <unistd.h>

static char tmpdir[256];

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* Files in tmpdir whose name contains `part` (temp files left behind...). */
static int count_files(const char *part)
{
    DIR *d = opendir(tmpdir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, part))
            n++;
    if (d)
        closedir(d);
    return n;
}

static void clean_tmp(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.')
            unlink(tmp_path(e->d_name));
    if (d)
        closedir(d);
}

static void write_all(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

static float golden_val(int64_t i) { return (float)(((i * 37 + 11) % 17) - 8) / 4.0f; }

static void fill_random(float *p, int64_t n, double zero_frac)
{
    for (int64_t i = 0; i < n; i++) {
        float v = test_rand_float();
        p[i] = (double)(test_rand_u64() % 1000) / 1000.0 < zero_frac ? 0.0f : v;
    }
}

/* ---- golden files ---- */

static void test_golden_npy(void)
{
    static const struct { const char *file; int dtype, ndim; int64_t shape[4]; } g[] = {
        {"test/data/tiny_f32.npy", TASD_F32, 2, {6, 8}},
        {"test/data/tiny_f16_v2.npy", TASD_F16, 2, {4, 10}},
        {"test/data/tiny_conv_v3.npy", TASD_F32, 4, {2, 3, 2, 2}},
    };
    for (size_t k = 0; k < sizeof g / sizeof g[0]; k++) {
        tasd_tensorfile *m = NULL;
        CHECK_OK(tasd_tensorfile_open(NULL, g[k].file, &m));
        if (!m)
            continue;
        CHECK(tasd_tensorfile_format(m) == TASD_FORMAT_NPY);
        CHECK(tasd_tensorfile_count(m) == 1);
        tasd_tensor_info info = {.size = sizeof info};
        CHECK_OK(tasd_tensorfile_info(m, 0, &info));
        CHECK(info.dtype == g[k].dtype && info.ndim == g[k].ndim);
        int64_t n = 1;
        for (int d = 0; d < info.ndim; d++) {
            CHECK(info.shape[d] == g[k].shape[d]);
            n *= info.shape[d];
        }
        float buf[64];
        CHECK_OK(tasd_tensorfile_read_f32(m, 0, buf, 64));
        for (int64_t i = 0; i < n; i++)
            CHECKF(buf[i] == golden_val(i), "%s[%lld] = %g", g[k].file, (long long)i, buf[i]);
        CHECK_STATUS(tasd_tensorfile_read_f32(m, 0, buf, n - 1), TASD_ERR_BUFFER_TOO_SMALL);
        tasd_view v;
        CHECK_OK(tasd_tensorfile_view(m, 0, &v));
        CHECK(v.ndim == info.ndim && v.strides[v.ndim - 1] == 1);
        tasd_tensorfile_close(m);
    }
}

static void test_golden_safetensors(void)
{
    tasd_tensorfile *m = NULL;
    CHECK_OK(tasd_tensorfile_open(NULL, "test/data/tiny.safetensors", &m));
    if (!m)
        return;
    CHECK(tasd_tensorfile_count(m) == 5);
    int64_t i;
    tasd_tensor_info info = {.size = sizeof info};
    float buf[256];
    CHECK_OK(tasd_tensorfile_find(m, "emb.weight", &i));
    CHECK_OK(tasd_tensorfile_info(m, i, &info));
    CHECK(info.dtype == TASD_BF16 && !strcmp(info.dtype_name, "BF16") && info.ndim == 2);
    CHECK_OK(tasd_tensorfile_read_f32(m, i, buf, 256));
    for (int k = 0; k < 32; k++)
        CHECK(buf[k] == golden_val(k + 7));
    CHECK_OK(tasd_tensorfile_find(m, "conv.weight", &i));
    CHECK_OK(tasd_tensorfile_info(m, i, &info));
    CHECK(info.dtype == TASD_F16 && info.ndim == 4 && info.shape[3] == 2);
    CHECK_OK(tasd_tensorfile_read_f32(m, i, buf, 256));
    for (int k = 0; k < 32; k++)
        CHECK(buf[k] == golden_val(k + 3));
    CHECK_OK(tasd_tensorfile_find(m, "pos_ids", &i));
    CHECK_OK(tasd_tensorfile_info(m, i, &info));
    CHECK(info.dtype == -1 && !strcmp(info.dtype_name, "I64") && info.nbytes == 32);
    tasd_view v;
    CHECK_STATUS(tasd_tensorfile_view(m, i, &v), TASD_ERR_DTYPE);
    CHECK_STATUS(tasd_tensorfile_read_f32(m, i, buf, 256), TASD_ERR_DTYPE);
    const void *raw;
    uint64_t nb;
    CHECK_OK(tasd_tensorfile_raw(m, i, &raw, &nb));
    CHECK(nb == 32 && ld64((const unsigned char *)raw + 8) == 1);
    CHECK_STATUS(tasd_tensorfile_find(m, "nope", &i), TASD_ERR_NOT_FOUND);
    CHECK_STATUS(tasd_tensorfile_info(m, 5, &info), TASD_ERR_INVALID_ARGUMENT);
    tasd_tensorfile_close(m);
}

/* ---- F16/BF16 views in tasd_decompose ---- */

static void export_equal(const tasd_series *a, const tasd_series *b, int *same);

/* The committed .tasd golden files still load, and hold exactly what
 * decomposing the golden models gives today (format stability). */
static void test_golden_tasd(void)
{
    tasd_series *g = NULL, *s = NULL;
    CHECK_OK(tasd_series_load(NULL, "test/data/tiny_f32_2x4.tasd", &g));
    tasd_tensorfile *m = NULL;
    CHECK_OK(tasd_tensorfile_open(NULL, "test/data/tiny_f32.npy", &m));
    tasd_config *cfg = NULL;
    CHECK_OK(tasd_config_parse(NULL, "2:4", &cfg));
    tasd_view v;
    if (m && tasd_tensorfile_view(m, 0, &v) == TASD_OK)
        CHECK_OK(tasd_decompose(NULL, &v, cfg, TASD_GREEDY, &s));
    int same = 0;
    if (g && s)
        export_equal(g, s, &same);
    CHECK(same);
    /* Saving it again gives the committed bytes. */
    size_t n = 0, fn = 0;
    unsigned char *want = util_read_file("test/data/tiny_f32_2x4.tasd", &fn);
    if (s && want) {
        tasd_series_save_buffer(s, NULL, 0, &n);
        unsigned char *b = malloc(n);
        CHECK_OK(tasd_series_save_buffer(s, b, n, NULL));
        CHECK(n == fn && memcmp(b, want, n) == 0);
        free(b);
    }
    free(want);
    tasd_series_destroy(g);
    tasd_series_destroy(s);
    tasd_config_destroy(cfg);
    tasd_tensorfile_close(m);
    tasd_archive *ar = NULL;
    CHECK_OK(tasd_archive_open(NULL, "test/data/tiny_2x4_1x8.tasd", &ar));
    if (ar) {
        CHECK(tasd_archive_count(ar) == 3);
        tasd_archive_entry e = {.size = sizeof e};
        CHECK_OK(tasd_archive_entry_info(ar, 1, &e));
        CHECK(!strcmp(e.name, "conv.weight") && e.rows == 4 && e.cols == 8 && e.terms == 2);
        tasd_archive_close(ar);
    }
}


static void export_equal(const tasd_series *a, const tasd_series *b, int *same)
{
    *same = 1;
    int64_t ra, ca, rb, cb;
    tasd_series_shape(a, &ra, &ca);
    tasd_series_shape(b, &rb, &cb);
    if (ra != rb || ca != cb || tasd_config_terms(tasd_series_config(a)) !=
                                    tasd_config_terms(tasd_series_config(b))) {
        *same = 0;
        return;
    }
    for (int t = 0; t < tasd_config_terms(tasd_series_config(a)); t++) {
        int n, m, n2, m2;
        int64_t g, g2;
        tasd_series_term_layout(a, t, &n, &m, &g);
        tasd_series_term_layout(b, t, &n2, &m2, &g2);
        if (n != n2 || m != m2 || g != g2) {
            *same = 0;
            return;
        }
        int64_t slots = ra * g * n;
        float *va = malloc((size_t)(slots + 1) * 4), *vb = malloc((size_t)(slots + 1) * 4);
        uint8_t *ia = malloc((size_t)slots + 1), *ib = malloc((size_t)slots + 1);
        tasd_series_export_term(a, t, va, ia, slots);
        tasd_series_export_term(b, t, vb, ib, slots);
        if (memcmp(va, vb, (size_t)slots * 4) || memcmp(ia, ib, (size_t)slots))
            *same = 0;
        free(va);
        free(vb);
        free(ia);
        free(ib);
    }
}

static void test_decompose_half_views(void)
{
    /* A tensor with values exact in f16/bf16: decomposing the f16/bf16 view
     * must give the same series as the f32 view. */
    tasd_tensorfile *m = NULL;
    CHECK_OK(tasd_tensorfile_open(NULL, "test/data/tiny.safetensors", &m));
    if (!m)
        return;
    tasd_config *cfg;
    CHECK_OK(tasd_config_parse(NULL, "2:4+1:8", &cfg));
    const char *names[] = {"conv.weight", "emb.weight"};
    for (int k = 0; k < 2; k++) {
        int64_t i;
        CHECK_OK(tasd_tensorfile_find(m, names[k], &i));
        tasd_view hv;
        CHECK_OK(tasd_tensorfile_view(m, i, &hv));
        CHECK(hv.dtype == (k == 0 ? TASD_F16 : TASD_BF16));
        float f[64];
        CHECK_OK(tasd_tensorfile_read_f32(m, i, f, 64));
        tasd_view fv = hv;
        fv.data = f;
        fv.dtype = TASD_F32;
        tasd_series *a = NULL, *b = NULL;
        CHECK_OK(tasd_decompose(NULL, &hv, cfg, TASD_GREEDY, &a));
        CHECK_OK(tasd_decompose(NULL, &fv, cfg, TASD_GREEDY, &b));
        int same = 0;
        if (a && b)
            export_equal(a, b, &same);
        CHECK(same);
        tasd_stats sa = {.size = sizeof sa};
        tasd_stats sb = {.size = sizeof sb};
        CHECK_OK(tasd_series_stats(a, &sa));
        CHECK_OK(tasd_series_stats(b, &sb));
        CHECK(sa.rel_error == sb.rel_error && sa.kept_nonzeros == sb.kept_nonzeros);
        tasd_series_destroy(a);
        tasd_series_destroy(b);
    }
    /* A strided (transposed) bf16 view works too. */
    uint16_t h[6 * 8];
    float f[6 * 8];
    for (int i = 0; i < 48; i++) {
        float v = golden_val(i);
        uint32_t u;
        memcpy(&u, &v, 4);
        h[i] = (uint16_t)(u >> 16);
    }
    for (int r = 0; r < 8; r++)
        for (int c = 0; c < 6; c++)
            f[r * 6 + c] = golden_val(c * 8 + r);
    tasd_view tv = tasd_view_transpose(tasd_view_2d(h, TASD_BF16, 6, 8, 8));
    tasd_view fv = tasd_view_2d(f, TASD_F32, 8, 6, 6);
    tasd_series *a = NULL, *b = NULL;
    CHECK_OK(tasd_decompose(NULL, &tv, cfg, TASD_OPTIMAL, &a));
    CHECK_OK(tasd_decompose(NULL, &fv, cfg, TASD_OPTIMAL, &b));
    int same = 0;
    if (a && b)
        export_equal(a, b, &same);
    CHECK(same);
    tasd_series_destroy(a);
    tasd_series_destroy(b);
    tasd_config_destroy(cfg);
    tasd_tensorfile_close(m);
}

/* ---- writers and round trips ---- */

static void test_npy_roundtrip(void)
{
    float src[3 * 5];
    fill_random(src, 15, 0.2);
    static const char *dts[] = {"<f4", "F16"};
    for (int k = 0; k < 2; k++) {
        tasd_tensor_info ti = {.size = sizeof ti};
        ti.dtype_name = dts[k];
        ti.ndim = 2;
        ti.shape[0] = 3;
        ti.shape[1] = 5;
        tasd_writer *w = NULL;
        const char *p = tmp_path("a.npy");
        CHECK_OK(tasd_writer_create(NULL, p, TASD_FORMAT_NPY, 1, &ti, &w));
        tasd_view v = tasd_view_2d(src, TASD_F32, 3, 5, 5);
        CHECK_OK(tasd_writer_put(w, 0, &v));
        CHECK_OK(tasd_writer_finish(w));
        tasd_tensorfile *m = NULL;
        CHECK_OK(tasd_tensorfile_open(NULL, p, &m));
        if (!m)
            continue;
        tasd_tensor_info info = {.size = sizeof info};
        tasd_tensorfile_info(m, 0, &info);
        CHECK(info.dtype == (k ? TASD_F16 : TASD_F32) && info.ndim == 2 && info.shape[1] == 5);
        CHECK(info.offset % 64 == 0);
        float back[15];
        CHECK_OK(tasd_tensorfile_read_f32(m, 0, back, 15));
        for (int i = 0; i < 15; i++)
            CHECK(k ? fabsf(back[i] - src[i]) <= 1e-3f * fabsf(src[i]) + 1e-7f : back[i] == src[i]);
        tasd_tensorfile_close(m);
    }
    /* A tensor larger than the writer's chunk, from a strided view, in f16. */
    {
        int64_t r = 130, c = 70;
        float *big = malloc((size_t)(r * c) * 4);
        fill_random(big, r * c, 0.1);
        tasd_tensor_info ti = {.size = sizeof ti};
        ti.dtype_name = "<f2";
        ti.ndim = 2;
        ti.shape[0] = c;
        ti.shape[1] = r;
        tasd_writer *w = NULL;
        CHECK_OK(tasd_writer_create(NULL, tmp_path("big.npy"), TASD_FORMAT_NPY, 1, &ti, &w));
        tasd_view v = tasd_view_transpose(tasd_view_2d(big, TASD_F32, r, c, c));
        CHECK_OK(tasd_writer_put(w, 0, &v));
        CHECK_OK(tasd_writer_finish(w));
        tasd_tensorfile *m = NULL;
        float *back = malloc((size_t)(r * c) * 4);
        CHECK_OK(tasd_tensorfile_open(NULL, tmp_path("big.npy"), &m));
        CHECK_OK(tasd_tensorfile_read_f32(m, 0, back, r * c));
        int bad = 0;
        for (int64_t i = 0; i < c; i++)
            for (int64_t j = 0; j < r; j++)
                bad += fabsf(back[i * r + j] - big[j * c + i]) > 1e-3f * fabsf(big[j * c + i]) + 1e-7f;
        CHECK(bad == 0);
        tasd_tensorfile_close(m);
        free(back);
        free(big);
    }
    /* rank 1 and rank 0 shapes */
    for (int nd = 0; nd <= 1; nd++) {
        tasd_tensor_info ti = {.size = sizeof ti};
        ti.dtype_name = "<f4";
        ti.ndim = nd;
        ti.shape[0] = 4;
        tasd_writer *w = NULL;
        CHECK_OK(tasd_writer_create(NULL, tmp_path("r.npy"), TASD_FORMAT_NPY, 1, &ti, &w));
        float x[4] = {1, 2, 3, 4};
        tasd_view v = tasd_view_2d(x, TASD_F32, 1, nd ? 4 : 1, 4);
        CHECK_OK(tasd_writer_put(w, 0, &v));
        CHECK_OK(tasd_writer_finish(w));
        tasd_tensorfile *m = NULL;
        CHECK_OK(tasd_tensorfile_open(NULL, tmp_path("r.npy"), &m));
        tasd_tensor_info info = {.size = sizeof info};
        if (m) {
            tasd_tensorfile_info(m, 0, &info);
            CHECK(info.ndim == nd && info.nbytes == (nd ? 16u : 4u));
            tasd_view mv;
            CHECK_OK(tasd_tensorfile_view(m, 0, &mv));
            CHECK(mv.ndim == 1 && mv.shape[0] == (nd ? 4 : 1));
        }
        tasd_tensorfile_close(m);
    }
    /* bf16 cannot go into .npy */
    tasd_tensor_info ti = {.size = sizeof ti};
    ti.dtype_name = "BF16";
    ti.ndim = 1;
    ti.shape[0] = 2;
    tasd_writer *w = NULL;
    CHECK_STATUS(tasd_writer_create(NULL, tmp_path("b.npy"), TASD_FORMAT_NPY, 1, &ti, &w),
                 TASD_ERR_DTYPE);
    CHECK(count_files("b.npy") == 0);
    clean_tmp();
}

static void test_safetensors_roundtrip(void)
{
    float a[4 * 6], b[8];
    fill_random(a, 24, 0.3);
    fill_random(b, 8, 0.0);
    int64_t ids[3] = {7, -1, 1LL << 40};
    tasd_tensor_info ti[4];
    memset(ti, 0, sizeof ti);
    for (int k = 0; k < 4; k++)
        ti[k].size = sizeof ti[k];
    const char *names[4] = {"w \"quoted\" \\ name", "caf\xc3\xa9.bias", "ids", "half"};
    const char *dts[4] = {"F32", "BF16", "I64", "F16"};
    int64_t shapes[4][2] = {{4, 6}, {8, 0}, {3, 0}, {2, 4}};
    int nds[4] = {2, 1, 1, 2};
    for (int k = 0; k < 4; k++) {
        ti[k].name = names[k];
        ti[k].dtype_name = dts[k];
        ti[k].ndim = nds[k];
        ti[k].shape[0] = shapes[k][0];
        ti[k].shape[1] = shapes[k][1];
    }
    const char *p = tmp_path("m.safetensors");
    tasd_writer *w = NULL;
    ti[2].size = sizeof ti[2] + 8; /* one element of the input array with a wrong size */
    CHECK_STATUS(tasd_writer_create(NULL, p, TASD_FORMAT_SAFETENSORS, 4, ti, &w),
                 TASD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(tasd_last_error_message(), "tasd_tensor_info.size") != NULL && w == NULL);
    ti[2].size = sizeof ti[2];
    CHECK_OK(tasd_writer_create(NULL, p, TASD_FORMAT_SAFETENSORS, 4, ti, &w));
    if (!w)
        return;
    tasd_view va = tasd_view_2d(a, TASD_F32, 4, 6, 6);
    tasd_view vb = tasd_view_2d(b, TASD_F32, 1, 8, 8);
    tasd_view vh = tasd_view_transpose(tasd_view_2d(b, TASD_F32, 4, 2, 2)); /* strided */
    CHECK_STATUS(tasd_writer_put(w, 2, &va), TASD_ERR_DTYPE);
    CHECK_STATUS(tasd_writer_put(w, 0, &vb), TASD_ERR_SHAPE);
    CHECK_STATUS(tasd_writer_put_raw(w, 2, ids, 23), TASD_ERR_SHAPE);
    CHECK_OK(tasd_writer_put(w, 3, &vh));
    CHECK_OK(tasd_writer_put(w, 1, &vb));
    CHECK_OK(tasd_writer_put_raw(w, 2, ids, 24));
    CHECK(count_files("m.safetensors") == 1); /* only the temp file so far */
    CHECK(access(p, F_OK) != 0);
    CHECK_OK(tasd_writer_put(w, 0, &va));
    CHECK_OK(tasd_writer_finish(w));
    CHECK(count_files("m.safetensors") == 1 && count_files(".tmp.") == 0);
    tasd_tensorfile *m = NULL;
    CHECK_OK(tasd_tensorfile_open(NULL, p, &m));
    if (!m)
        return;
    CHECK(tasd_tensorfile_count(m) == 4);
    int64_t i;
    tasd_tensor_info info = {.size = sizeof info};
    float back[32];
    CHECK_OK(tasd_tensorfile_find(m, names[0], &i));
    CHECK_OK(tasd_tensorfile_read_f32(m, i, back, 32));
    CHECK(memcmp(back, a, sizeof a) == 0);
    CHECK_OK(tasd_tensorfile_find(m, names[1], &i));
    CHECK_OK(tasd_tensorfile_info(m, i, &info));
    CHECK(info.dtype == TASD_BF16 && info.ndim == 1 && info.shape[0] == 8);
    CHECK_OK(tasd_tensorfile_read_f32(m, i, back, 32));
    for (int k = 0; k < 8; k++)
        CHECK(fabsf(back[k] - b[k]) <= fabsf(b[k]) / 128);
    CHECK_OK(tasd_tensorfile_find(m, "half", &i));
    CHECK_OK(tasd_tensorfile_read_f32(m, i, back, 32));
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 4; c++)
            CHECK(fabsf(back[r * 4 + c] - b[c * 2 + r]) <= fabsf(b[c * 2 + r]) / 1000 + 1e-7f);
    CHECK_OK(tasd_tensorfile_find(m, "ids", &i));
    const void *raw;
    uint64_t nb;
    CHECK_OK(tasd_tensorfile_raw(m, i, &raw, &nb));
    CHECK(nb == 24 && memcmp(raw, ids, 24) == 0);
    /* Every tensor the writer lays out is aligned to its element size. */
    for (int64_t k = 0; k < 4; k++) {
        tasd_tensorfile_info(m, k, &info);
        CHECK(info.offset % (info.dtype == -1 ? 8 : info.dtype == TASD_F32 ? 4 : 2) == 0);
    }
    tasd_tensorfile_close(m);

    /* Aborting and failing writers leave nothing behind. */
    CHECK_OK(tasd_writer_create(NULL, tmp_path("x.safetensors"), TASD_FORMAT_SAFETENSORS, 4, ti, &w));
    CHECK(count_files("x.safetensors") == 1);
    tasd_writer_abort(w);
    CHECK(count_files("x.safetensors") == 0);
    CHECK_OK(tasd_writer_create(NULL, tmp_path("y.safetensors"), TASD_FORMAT_SAFETENSORS, 4, ti, &w));
    CHECK_OK(tasd_writer_put(w, 0, &va));
    CHECK_STATUS(tasd_writer_finish(w), TASD_ERR_INVALID_ARGUMENT); /* 3 never written */
    CHECK(count_files("y.safetensors") == 0);
    /* Duplicate names, bad names, unknown dtypes, unwritable places. */
    ti[1].name = ti[0].name;
    CHECK_STATUS(tasd_writer_create(NULL, tmp_path("z.safetensors"), TASD_FORMAT_SAFETENSORS, 4, ti, &w),
                 TASD_ERR_INVALID_ARGUMENT);
    ti[1].name = "bad\xff";
    CHECK_STATUS(tasd_writer_create(NULL, tmp_path("z.safetensors"), TASD_FORMAT_SAFETENSORS, 4, ti, &w),
                 TASD_ERR_INVALID_ARGUMENT);
    ti[1].name = names[1];
    ti[2].dtype_name = "Q7";
    CHECK_STATUS(tasd_writer_create(NULL, tmp_path("z.safetensors"), TASD_FORMAT_SAFETENSORS, 4, ti, &w),
                 TASD_ERR_DTYPE);
    ti[2].dtype_name = "I64";
    CHECK_STATUS(tasd_writer_create(NULL, "/nonexistent-dir/x.safetensors", TASD_FORMAT_SAFETENSORS, 4,
                                    ti, &w), TASD_ERR_IO);
    CHECK(count_files("z.safetensors") == 0);
    clean_tmp();
}

/* ---- .tasd ---- */

static void gemm_equal(const tasd_series *a, const tasd_series *b, int *same)
{
    int64_t rows, cols;
    tasd_series_shape(a, &rows, &cols);
    int64_t n = 5;
    float *B = malloc((size_t)(cols * n + 1) * 4), *C1 = malloc((size_t)(rows * n + 1) * 4),
          *C2 = malloc((size_t)(rows * n + 1) * 4);
    fill_random(B, cols * n, 0.0);
    tasd_view vb = tasd_view_2d(B, TASD_F32, cols, n, n);
    tasd_view c1 = tasd_view_2d(C1, TASD_F32, rows, n, n), c2 = tasd_view_2d(C2, TASD_F32, rows, n, n);
    *same = tasd_gemm(NULL, 1.0f, a, &vb, 0.0f, &c1) == TASD_OK &&
            tasd_gemm(NULL, 1.0f, b, &vb, 0.0f, &c2) == TASD_OK &&
            memcmp(C1, C2, (size_t)(rows * n) * 4) == 0;
    free(B);
    free(C1);
    free(C2);
}

static void test_tasd_roundtrip(void)
{
    static const struct { const char *cfg; int method; int64_t rows, cols; } cases[] = {
        {"2:4", TASD_GREEDY, 7, 16},  {"2:4+1:8", TASD_GREEDY, 5, 13},
        {"1:8+2:4", TASD_OPTIMAL, 3, 21}, {"1:2", TASD_GREEDY, 4, 9},
        {"3:32+1:16", TASD_OPTIMAL, 6, 70}, {"1:4+1:4+1:4", TASD_GREEDY, 1, 1},
        {"2:4", TASD_GREEDY, 0, 8},
        /* several write chunks (4096 slots each), odd tails */
        {"3:32+1:4", TASD_GREEDY, 700, 100}, {"2:4", TASD_OPTIMAL, 300, 101},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int64_t rows = cases[k].rows, cols = cases[k].cols;
        float *w = malloc((size_t)(rows * cols + 1) * 4);
        fill_random(w, rows * cols, 0.4);
        tasd_config *cfg = NULL;
        CHECK_OK(tasd_config_parse(NULL, cases[k].cfg, &cfg));
        tasd_view v = tasd_view_2d(w, TASD_F32, rows, cols, cols);
        tasd_series *s = NULL, *f = NULL, *bl = NULL;
        CHECK_OK(tasd_decompose(NULL, &v, cfg, (tasd_method)cases[k].method, &s));
        if (!s) {
            free(w);
            tasd_config_destroy(cfg);
            continue;
        }
        const char *p = tmp_path("s.tasd");
        CHECK_OK(tasd_series_save(s, p));
        CHECK_OK(tasd_series_load(NULL, p, &f));
        size_t need = 0;
        CHECK_STATUS(tasd_series_save_buffer(s, NULL, 0, &need), TASD_ERR_BUFFER_TOO_SMALL);
        unsigned char *buf = malloc(need);
        CHECK_OK(tasd_series_save_buffer(s, buf, need, NULL));
        size_t fsize = 0;
        unsigned char *fb = util_read_file(p, &fsize);
        CHECKF(fb && fsize == need && memcmp(fb, buf, need) == 0, "file and buffer differ (%s)",
               cases[k].cfg);
        free(fb);
        CHECK_OK(tasd_series_load_buffer(NULL, buf, need, &bl));
        int same = 0;
        if (f && bl) {
            export_equal(s, f, &same);
            CHECK(same);
            export_equal(s, bl, &same);
            CHECK(same);
            tasd_stats a = {.size = sizeof a};
            tasd_stats b = {.size = sizeof b};
            tasd_series_stats(s, &a);
            tasd_series_stats(f, &b);
            CHECK(a.rel_error == b.rel_error && a.retained_energy == b.retained_energy &&
                  a.kept_nonzeros == b.kept_nonzeros && a.input_nonzeros == b.input_nonzeros &&
                  a.coverage == b.coverage);
            CHECK(tasd_series_method(f) == (tasd_method)cases[k].method);
            char c1[64], c2[64];
            tasd_config_format(tasd_series_config(s), c1, sizeof c1, NULL);
            tasd_config_format(tasd_series_config(f), c2, sizeof c2, NULL);
            CHECK(!strcmp(c1, c2));
            if (rows > 0) {
                gemm_equal(s, f, &same);
                CHECK(same);
            }
        }
        tasd_series_destroy(f);
        tasd_series_destroy(bl);
        free(buf);
        tasd_series_destroy(s);
        tasd_config_destroy(cfg);
        free(w);
    }
    CHECK(count_files(".tmp.") == 0);
    clean_tmp();
}

static tasd_series *make_series(const char *cfgs, int64_t rows, int64_t cols, unsigned seed)
{
    test_seed(seed);
    float *w = malloc((size_t)(rows * cols + 1) * 4);
    fill_random(w, rows * cols, 0.1);
    tasd_config *cfg = NULL;
    tasd_series *s = NULL;
    if (tasd_config_parse(NULL, cfgs, &cfg) == TASD_OK) {
        tasd_view v = tasd_view_2d(w, TASD_F32, rows, cols, cols);
        tasd_decompose(NULL, &v, cfg, TASD_GREEDY, &s);
    }
    tasd_config_destroy(cfg);
    free(w);
    return s;
}

static void test_archive(void)
{
    const char *p = tmp_path("many.tasd");
    tasd_series *s1 = make_series("2:4", 8, 12, 1), *s2 = make_series("1:8+1:16", 3, 40, 2);
    tasd_archive_writer *w = NULL;
    CHECK_OK(tasd_archive_writer_create(NULL, p, &w));
    if (!w || !s1 || !s2)
        return;
    CHECK_OK(tasd_archive_writer_add(w, "layers.0.w", s1));
    CHECK_OK(tasd_archive_writer_add(w, "layers.1.w", s2));
    CHECK_STATUS(tasd_archive_writer_add(w, "layers.0.w", s2), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_archive_writer_add(w, "bad\xc3", s2), TASD_ERR_INVALID_ARGUMENT);
    CHECK_OK(tasd_archive_writer_add(w, "", s1));
    CHECK(access(p, F_OK) != 0);
    CHECK_OK(tasd_archive_writer_finish(w));
    tasd_archive *ar = NULL;
    CHECK_OK(tasd_archive_open(NULL, p, &ar));
    if (!ar)
        return;
    CHECK(tasd_archive_count(ar) == 3);
    tasd_archive_entry e = {.size = sizeof e - 1};
    CHECK_STATUS(tasd_archive_entry_info(ar, 1, &e), TASD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(tasd_last_error_message(), "tasd_archive_entry.size") != NULL && !e.name);
    e.size = sizeof e;
    CHECK_OK(tasd_archive_entry_info(ar, 1, &e));
    CHECK(!strcmp(e.name, "layers.1.w") && e.rows == 3 && e.cols == 40 && e.terms == 2 &&
          e.n[1] == 1 && e.m[1] == 16);
    int64_t i;
    CHECK_OK(tasd_archive_find(ar, "layers.1.w", &i));
    CHECK(i == 1);
    CHECK_STATUS(tasd_archive_find(ar, "zzz", &i), TASD_ERR_NOT_FOUND);
    tasd_series *l = NULL;
    CHECK_OK(tasd_archive_load(ar, 1, &l));
    int same = 0;
    if (l)
        export_equal(s2, l, &same);
    CHECK(same);
    tasd_series_destroy(l);
    CHECK_STATUS(tasd_archive_load(ar, 3, &l), TASD_ERR_INVALID_ARGUMENT);
    tasd_archive_close(ar);
    /* tasd_series_load wants exactly one series */
    CHECK_STATUS(tasd_series_load(NULL, p, &l), TASD_ERR_INVALID_ARGUMENT);
    /* Abort leaves nothing. */
    CHECK_OK(tasd_archive_writer_create(NULL, tmp_path("ab.tasd"), &w));
    CHECK_OK(tasd_archive_writer_add(w, "a", s1));
    tasd_archive_writer_abort(w);
    CHECK(count_files("ab.tasd") == 0);
    tasd_series_destroy(s1);
    tasd_series_destroy(s2);
    clean_tmp();
}

/* Every truncation and every single-bit flip of a .tasd file is rejected
 * cleanly (all bytes are checksummed or checked to be zero). */
static void test_tasd_corruption(void)
{
    tasd_series *s = make_series("2:4+1:8", 5, 19, 3);
    if (!s)
        return;
    size_t n = 0;
    tasd_series_save_buffer(s, NULL, 0, &n);
    unsigned char *buf = malloc(n), *cp = malloc(n);
    CHECK_OK(tasd_series_save_buffer(s, buf, n, NULL));
    tasd_series *l = NULL;
    int bad_trunc = 0, bad_flip = 0;
    for (size_t len = 0; len < n; len++) {
        memcpy(cp, buf, len);
        tasd_status st = tasd_series_load_buffer(NULL, cp, len, &l);
        if (st != TASD_ERR_FORMAT || l)
            bad_trunc++;
    }
    CHECKF(bad_trunc == 0, "%d truncations not rejected", bad_trunc);
    for (size_t bit = 0; bit < n * 8; bit++) {
        memcpy(cp, buf, n);
        cp[bit / 8] ^= (unsigned char)(1u << bit % 8);
        tasd_status st = tasd_series_load_buffer(NULL, cp, n, &l);
        if (st == TASD_OK || l) {
            bad_flip++;
            tasd_series_destroy(l);
            l = NULL;
        }
    }
    CHECKF(bad_flip == 0, "%d bit flips of %zu accepted", bad_flip, n * 8);
    /* A file from the future. */
    memcpy(cp, buf, n);
    cp[8] = 3; /* 2 is the value-type version: an f32 file reads the same */
    CHECK_STATUS(tasd_series_load_buffer(NULL, cp, n, &l), TASD_ERR_UNSUPPORTED);
    free(buf);
    free(cp);
    tasd_series_destroy(s);
}

/* Forged files with valid checksums but bad contents. */
static void refresh_record(unsigned char *rec)
{
    uint32_t hs = ld32(rec + 4);
    st32(rec + hs - 4, crc32_ref(rec, hs - 4));
}

static void refresh_term_crc(unsigned char *rec, int term)
{
    unsigned char *d = rec + 64 + 48 * term;
    uint64_t voff = ld64(d + 16), ioff = ld64(d + 24);
    uint64_t rows = ld64(rec + 16), cols = ld64(rec + 24);
    uint32_t n = ld32(d), m = ld32(d + 4), bits = ld32(d + 8);
    uint64_t slots = rows * ((cols + m - 1) / m * n);
    st32(d + 32, crc32_ref(rec + voff, slots * 4));
    st32(d + 36, crc32_ref(rec + ioff, (slots * bits + 7) / 8));
    refresh_record(rec);
}

static void test_tasd_forged(void)
{
    tasd_series *s = make_series("2:4", 2, 6, 4); /* last group short: cols 4..5 */
    if (!s)
        return;
    size_t n = 0;
    tasd_series_save_buffer(s, NULL, 0, &n);
    unsigned char *buf = malloc(n), *cp = malloc(n);
    CHECK_OK(tasd_series_save_buffer(s, buf, n, NULL));
    unsigned char *rec0 = buf + 64; /* the first record starts at 64 */
    CHECK(memcmp(rec0, "TSR1", 4) == 0);
    /* The independent CRC agrees with the file's. */
    CHECK(crc32_ref(rec0, ld32(rec0 + 4) - 4) == ld32(rec0 + ld32(rec0 + 4) - 4));
    CHECK(crc32_ref((const unsigned char *)"123456789", 9) == 0xCBF43926u);
    tasd_series *l = NULL;
    unsigned char *rec = cp + 64;
    uint64_t voff = ld64(rec0 + 64 + 16), ioff = ld64(rec0 + 64 + 24);
    /* NaN value */
    memcpy(cp, buf, n);
    st32(rec + voff, 0x7fc00000u);
    refresh_term_crc(rec, 0);
    CHECK_STATUS(tasd_series_load_buffer(NULL, cp, n, &l), TASD_ERR_NONFINITE);
    /* Infinity */
    memcpy(cp, buf, n);
    st32(rec + voff + 4, 0x7f800000u);
    refresh_term_crc(rec, 0);
    CHECK_STATUS(tasd_series_load_buffer(NULL, cp, n, &l), TASD_ERR_NONFINITE);
    /* Index past the end of the row: slot 2 (group 1, cols 4..5), index 3 -> col 7. */
    memcpy(cp, buf, n);
    rec[ioff] = (unsigned char)((rec[ioff] & ~(3u << 4)) | (3u << 4));
    refresh_term_crc(rec, 0);
    CHECK_STATUS(tasd_series_load_buffer(NULL, cp, n, &l), TASD_ERR_FORMAT);
    /* Two nonzero slots of a group at one position: slot 1 takes slot 0's
     * index. The same with slot 1's value 0 (nothing kept there) loads. */
    memcpy(cp, buf, n);
    CHECK(ld32(rec + voff) << 1 != 0 && ld32(rec + voff + 4) << 1 != 0);
    rec[ioff] = (unsigned char)((rec[ioff] & ~(3u << 2)) | (rec[ioff] & 3u) << 2);
    refresh_term_crc(rec, 0);
    CHECK_STATUS(tasd_series_load_buffer(NULL, cp, n, &l), TASD_ERR_FORMAT);
    CHECK(l == NULL);
    st32(rec + voff + 4, 0);
    refresh_term_crc(rec, 0);
    CHECK_OK(tasd_series_load_buffer(NULL, cp, n, &l));
    tasd_series_destroy(l);
    l = NULL;
    /* Shapes that overflow, or disagree with the record size. */
    memcpy(cp, buf, n);
    st64(rec + 16, (uint64_t)1 << 62);
    refresh_record(rec);
    CHECK_STATUS(tasd_series_load_buffer(NULL, cp, n, &l), TASD_ERR_FORMAT);
    memcpy(cp, buf, n);
    st64(rec + 16, 1u << 20);
    st64(rec + 24, 1u << 20);
    refresh_record(rec);
    tasd_status st = tasd_series_load_buffer(NULL, cp, n, &l);
    CHECK(st == TASD_ERR_FORMAT || st == TASD_ERR_OVERFLOW);
    memcpy(cp, buf, n);
    st64(rec + 24, 9); /* 3 groups per row: the record is too small */
    refresh_record(rec);
    CHECK_STATUS(tasd_series_load_buffer(NULL, cp, n, &l), TASD_ERR_FORMAT);
    /* Invalid N:M, unknown method, bad stats */
    memcpy(cp, buf, n);
    st32(rec + 64 + 4, 3);
    refresh_record(rec);
    CHECK_STATUS(tasd_series_load_buffer(NULL, cp, n, &l), TASD_ERR_FORMAT);
    memcpy(cp, buf, n);
    st32(rec + 8, 9);
    refresh_record(rec);
    CHECK_STATUS(tasd_series_load_buffer(NULL, cp, n, &l), TASD_ERR_FORMAT);
    memcpy(cp, buf, n);
    st64(rec + 32, 0xfff0000000000000ull); /* -inf energy */
    refresh_record(rec);
    CHECK_STATUS(tasd_series_load_buffer(NULL, cp, n, &l), TASD_ERR_FORMAT);
    CHECK(l == NULL);
    /* A directory entry longer than its record, the extra bytes junk: they
     * would be covered by neither a CRC nor the zero rule. */
    uint64_t rsize = ld64(rec0 + 56), doff = 64 + rsize;
    const bool one_unnamed_record = ld64(buf + n - 40 + 8) == doff && n == doff + 20 + 40;
    CHECK(one_unnamed_record);
    size_t gn = n + 64;
    unsigned char *g = one_unnamed_record ? malloc(gn) : NULL;
    if (g) { /* the copies below assume that layout */
        memcpy(g, buf, doff);
        memset(g + doff, 0xab, 64);
        memcpy(g + doff + 64, buf + doff, n - doff);
        unsigned char *dir = g + doff + 64, *tr = dir + 20;
        st64(dir + 8, rsize + 64);
        st64(tr + 8, doff + 64);
        st32(tr + 32, crc32_ref(dir, 20));
        st32(tr + 36, crc32_ref(tr, 36));
        CHECK_STATUS(tasd_series_load_buffer(NULL, g, gn, &l), TASD_ERR_FORMAT);
        CHECK(l == NULL);
        free(g);
    }
    /* The original still loads. */
    CHECK_OK(tasd_series_load_buffer(NULL, buf, n, &l));
    tasd_series_destroy(l);
    free(buf);
    free(cp);
    tasd_series_destroy(s);
}

/* ---- bad model files ---- */

static tasd_status open_bytes(const void *p, size_t n)
{
    tasd_tensorfile *m = NULL;
    tasd_status st = tasd_tensorfile_open_memory(NULL, p, n, TASD_FORMAT_UNKNOWN, &m);
    tasd_tensorfile_close(m);
    return st;
}

static size_t make_npy(unsigned char *out, int version, const char *header, size_t data_bytes)
{
    size_t pre = version == 1 ? 10 : 12, hl = strlen(header);
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)version;
    out[7] = 0;
    if (version == 1) {
        out[8] = (unsigned char)hl;
        out[9] = (unsigned char)(hl >> 8);
    } else {
        st32(out + 8, (uint32_t)hl);
    }
    memcpy(out + pre, header, hl);
    memset(out + pre + hl, 0, data_bytes);
    return pre + hl + data_bytes;
}

static void test_bad_npy(void)
{
    unsigned char b[1024];
    const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n";
    size_t n = make_npy(b, 1, ok, 24);
    CHECK_OK(open_bytes(b, n));
    for (size_t len = 0; len < n; len++)
        CHECKF(open_bytes(b, len) != TASD_OK, "truncated to %zu accepted", len);
    CHECK_STATUS(open_bytes(b, n + 0), TASD_OK);
    n = make_npy(b, 1, ok, 28);
    CHECK_STATUS(open_bytes(b, n), TASD_ERR_FORMAT); /* trailing data */
    n = make_npy(b, 1, ok, 24);
    b[1] = 'X';
    CHECK_STATUS(open_bytes(b, n), TASD_ERR_FORMAT); /* magic */
    n = make_npy(b, 4, ok, 24);
    CHECK_STATUS(open_bytes(b, n), TASD_ERR_UNSUPPORTED); /* version */
    n = make_npy(b, 2, ok, 24);
    CHECK_OK(open_bytes(b, n));
    static const struct { const char *h; tasd_status want; } cases[] = {
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }\n", TASD_ERR_UNSUPPORTED},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n", TASD_ERR_UNSUPPORTED},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }\n", TASD_ERR_DTYPE},
        {"{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }\n", TASD_ERR_DTYPE},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (24,), }\n", TASD_ERR_DTYPE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }\n", TASD_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }\n", TASD_ERR_OVERFLOW},
        /* empty, but the strides of its view would overflow */
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4611686018427387904, 4611686018427387904), }\n", TASD_ERR_OVERFLOW},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 0, 2), }\n", TASD_ERR_OVERFLOW},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 1), }\n", TASD_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", TASD_ERR_FORMAT},
        {"{'descr': '<f4', 'shape': (2, 3), }\n", TASD_ERR_FORMAT},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", TASD_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}\n", TASD_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6), }\n", TASD_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }\n", TASD_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } junk\n", TASD_ERR_FORMAT},
        {"[1, 2]\n", TASD_ERR_FORMAT},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        n = make_npy(b, 1, cases[k].h, 24);
        tasd_status st = open_bytes(b, n);
        CHECKF(st == cases[k].want, "case %zu: got %d (%s), want %d", k, (int)st,
               tasd_last_error_message(), (int)cases[k].want);
    }
    /* An empty tensor opens, and its view has the strides its shape implies
       (header padded so the data starts 128 bytes in, as numpy writes it). */
    _Alignas(64) unsigned char eb[128];
    char eh[119];
    snprintf(eh, sizeof eh, "%-117s\n", "{'descr': '<f4', 'fortran_order': False, 'shape': (1048576, 0, 3), }");
    n = make_npy(eb, 1, eh, 0);
    CHECK(n == 128);
    tasd_tensorfile *e = NULL;
    CHECK_OK(tasd_tensorfile_open_memory(NULL, eb, n, TASD_FORMAT_NPY, &e));
    if (e) {
        tasd_view v;
        CHECK_OK(tasd_tensorfile_view(e, 0, &v));
        CHECK(v.ndim == 3 && v.shape[0] == 1048576 && v.shape[1] == 0 && v.shape[2] == 3);
        CHECK(v.strides[0] == 3 && v.strides[1] == 3 && v.strides[2] == 1);
        tasd_tensorfile_close(e);
    }
    /* Messages name the file. */
    write_all(tmp_path("bad.npy"), b, 5);
    tasd_tensorfile *m = NULL;
    CHECK_STATUS(tasd_tensorfile_open(NULL, tmp_path("bad.npy"), &m), TASD_ERR_FORMAT);
    CHECK(strstr(tasd_last_error_message(), "bad.npy") != NULL);
    CHECK_STATUS(tasd_tensorfile_open(NULL, tmp_path("missing.npy"), &m), TASD_ERR_IO);
    CHECK(m == NULL);
    clean_tmp();
}

static size_t make_st(unsigned char *out, const char *json, size_t data_bytes)
{
    size_t hl = strlen(json);
    st64(out, hl);
    memcpy(out + 8, json, hl);
    memset(out + 8 + hl, 0, data_bytes);
    return 8 + hl + data_bytes;
}

static void test_bad_safetensors(void)
{
    unsigned char b[2048];
    const char *ok = "{\"__metadata__\":{\"a\":\"b\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],"
                     "\"data_offsets\":[0,24]},\"v\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[24,28]}}";
    size_t n = make_st(b, ok, 28);
    CHECK_OK(open_bytes(b, n));
    int accepted = 0;
    for (size_t len = 0; len < n; len++)
        accepted += open_bytes(b, len) == TASD_OK;
    CHECKF(accepted == 0, "%d truncations accepted", accepted);
    static const struct { const char *j; size_t data; tasd_status want; } cases[] = {
        /* offsets past the end */
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 20, TASD_ERR_FORMAT},
        /* shape/size mismatch */
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,24]}}", 24, TASD_ERR_FORMAT},
        /* overlap */
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, TASD_ERR_FORMAT},
        /* duplicate names */
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, TASD_ERR_FORMAT},
        /* duplicate names spelled differently (escape) */
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"\\u0061\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, TASD_ERR_FORMAT},
        /* unknown dtype */
        {"{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, TASD_ERR_DTYPE},
        /* non-UTF-8 name (raw byte 0xff) */
        {"{\"w\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, TASD_ERR_FORMAT},
        /* overlong UTF-8 */
        {"{\"\xc0\xaf\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, TASD_ERR_FORMAT},
        /* lone surrogate, \u0000 */
        {"{\"\\ud800\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, TASD_ERR_FORMAT},
        {"{\"a\\u0000\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, TASD_ERR_FORMAT},
        /* integer overflow in shapes */
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, TASD_ERR_OVERFLOW},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],\"data_offsets\":[0,4]}}", 4, TASD_ERR_OVERFLOW},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[9223372036854775808],\"data_offsets\":[0,4]}}", 4, TASD_ERR_OVERFLOW},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[0,4294967296,4294967296],\"data_offsets\":[0,0]}}", 0, TASD_ERR_OVERFLOW},
        /* numbers that are not plain non-negative integers */
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, TASD_ERR_FORMAT},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, TASD_ERR_FORMAT},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4, TASD_ERR_FORMAT},
        /* missing, extra and repeated keys */
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, TASD_ERR_FORMAT},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, TASD_ERR_FORMAT},
        {"{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, TASD_ERR_FORMAT},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4, TASD_ERR_FORMAT},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, TASD_ERR_FORMAT},
        /* metadata must map strings to strings, once */
        {"{\"__metadata__\":{\"a\":1}}", 0, TASD_ERR_FORMAT},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, TASD_ERR_FORMAT},
        /* syntax */
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", 4, TASD_ERR_FORMAT},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} x", 4, TASD_ERR_FORMAT},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1,],\"data_offsets\":[0,4]}}", 4, TASD_ERR_FORMAT},
        {"{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, TASD_ERR_FORMAT},
        {"{\"w\t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, TASD_ERR_FORMAT},
        {"{\"w\\q\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, TASD_ERR_FORMAT},
        /* fine: empty header object, escapes, surrogate pairs, rank 0 */
        {"{}", 0, TASD_OK},
        {"{\"\\ud83d\\ude00 \\\"q\\\"\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, TASD_OK},
        {"{\"w\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[0,3]},\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[3,3]}}", 3, TASD_OK},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        n = make_st(b, cases[k].j, cases[k].data);
        tasd_status st = open_bytes(b, n);
        CHECKF(st == cases[k].want, "case %zu: got %d (%s), want %d", k, (int)st,
               tasd_last_error_message(), (int)cases[k].want);
    }
    /* header length past the end, absurd, or zero */
    n = make_st(b, ok, 28);
    st64(b, n);
    CHECK_STATUS(open_bytes(b, n), TASD_ERR_FORMAT);
    st64(b, UINT64_MAX);
    CHECK_STATUS(open_bytes(b, n), TASD_ERR_FORMAT);
    st64(b, 0);
    CHECK(open_bytes(b, n) != TASD_OK);
    /* Names with escapes come back decoded. */
    n = make_st(b, "{\"a\\\"b\\u00e9\\n\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2);
    tasd_tensorfile *m = NULL;
    CHECK_OK(tasd_tensorfile_open_memory(NULL, b, n, TASD_FORMAT_SAFETENSORS, &m));
    if (m) {
        tasd_tensor_info info = {.size = sizeof info};
        tasd_tensorfile_info(m, 0, &info);
        CHECK(!strcmp(info.name, "a\"b\xc3\xa9\n"));
        tasd_tensorfile_close(m);
    }
    /* Misaligned data: no view, but read_f32 works. */
    n = make_st(b, "{\"a\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1,5]}}     ", 5);
    float one = 1.5f;
    memcpy(b + n - 4, &one, 4);
    unsigned char *mb = b;
    if ((uintptr_t)(b + n - 4) % 4 == 0) { /* force the F32 tensor off alignment */
        memmove(b + 1, b, n);
        mb = b + 1;
    }
    CHECK_OK(tasd_tensorfile_open_memory(NULL, mb, n, TASD_FORMAT_SAFETENSORS, &m));
    if (m) {
        tasd_view v;
        float x = 0;
        CHECK_STATUS(tasd_tensorfile_view(m, 1, &v), TASD_ERR_UNSUPPORTED);
        CHECK_OK(tasd_tensorfile_read_f32(m, 1, &x, 1));
        CHECK(x == 1.5f);
        tasd_tensorfile_close(m);
    }
    /* A .tasd file is not a model; garbage is not anything. */
    CHECK_STATUS(tasd_tensorfile_open_memory(NULL, "TASDSER\0xxxxxxxx", 16, TASD_FORMAT_UNKNOWN, &m),
                 TASD_ERR_UNSUPPORTED);
    CHECK_STATUS(open_bytes("hello world", 11), TASD_ERR_FORMAT);
    CHECK(tasd_file_format_sniff("\x93NUMPY\x01\x00", 8) == TASD_FORMAT_NPY);
    CHECK(tasd_file_format_sniff("TASDSER", 8) == TASD_FORMAT_TASD);
    CHECK(tasd_file_format_sniff("\x02\0\0\0\0\0\0\0{}", 10) == TASD_FORMAT_SAFETENSORS);
    CHECK(tasd_file_format_sniff(NULL, 10) == TASD_FORMAT_UNKNOWN);
}

static void test_null_args(void)
{
    tasd_tensorfile *m = NULL;
    CHECK_STATUS(tasd_tensorfile_open(NULL, NULL, &m), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_tensorfile_open(NULL, "x", NULL), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_tensorfile_info(NULL, 0, NULL), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_series_save(NULL, "x"), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_series_load(NULL, "x", NULL), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_series_load_buffer(NULL, NULL, 0, NULL), TASD_ERR_NULL_POINTER);
    tasd_series *s = NULL;
    CHECK_STATUS(tasd_series_load_buffer(NULL, NULL, 0, &s), TASD_ERR_FORMAT);
    CHECK_STATUS(tasd_series_load(NULL, "/nonexistent/file.tasd", &s), TASD_ERR_IO);
    CHECK(s == NULL);
    CHECK_STATUS(tasd_writer_finish(NULL), TASD_ERR_NULL_POINTER);
    tasd_writer_abort(NULL);
    tasd_archive_writer_abort(NULL);
    tasd_archive_close(NULL);
    tasd_tensorfile_close(NULL);
    CHECK(tasd_tensorfile_count(NULL) == 0 && tasd_archive_count(NULL) == 0);
    CHECK(!strcmp(tasd_file_format_name(TASD_FORMAT_SAFETENSORS), "safetensors"));
}

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tasd_test_files.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        exit(1);
    }
}

static void teardown(void)
{
    clean_tmp();
    rmdir(tmpdir);
}

TEST_MAIN(setup(); RUN(test_golden_npy); RUN(test_golden_safetensors);
          RUN(test_decompose_half_views); RUN(test_golden_tasd); RUN(test_npy_roundtrip);
          RUN(test_safetensors_roundtrip); RUN(test_tasd_roundtrip); RUN(test_archive);
          RUN(test_tasd_corruption); RUN(test_tasd_forged); RUN(test_bad_npy);
          RUN(test_bad_safetensors); RUN(test_null_args); teardown();)
