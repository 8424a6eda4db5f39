/* Series objects: storage, stats, reconstruction, canonical export/import. */
#include "dispatch.h"

#include <math.h>
#include <string.h>

/* The shape part of a series of rows x cols for config: every field but
 * the config copy and the layout. */
static tasd_status series_init(tasd_series *s, const tasd_allocator *a, int64_t rows,
                               int64_t cols, const tasd_config *config, tasd_method method,
                               tasd_dtype values)
{
    memset(s, 0, sizeof *s);
    s->allocator = *a;
    s->rows = rows;
    s->cap_rows = rows;
    s->cols = cols;
    s->method = method;
    s->values = values;
    s->terms = config->terms;
    for (int i = 0; i < s->terms; i++) {
        tasdi_term *t = &s->term[i];
        t->n = config->n[i];
        t->m = config->m[i];
        t->groups = cols / t->m + (cols % t->m != 0); /* cols + m - 1 may overflow */
        t->width = t->groups * t->n;
        int64_t slots;
        if (!tasdi_mul_i64(rows, t->width, &slots) || slots > ((int64_t)1 << 46))
            return tasdi_fail(TASD_ERR_OVERFLOW, "series of %lld x %lld is too large",
                              (long long)rows, (long long)cols);
    }
    return TASD_OK;
}

tasd_status tasdi_series_alloc(const tasd_allocator *a, int64_t rows,
                               int64_t cols, const tasd_config *config,
                               tasd_method method, tasd_series **out)
{
    return tasdi_series_alloc_typed(a, rows, cols, config, method, TASD_F32, out);
}

tasd_status tasdi_series_alloc_typed(const tasd_allocator *a, int64_t rows,
                                     int64_t cols, const tasd_config *config,
                                     tasd_method method, tasd_dtype values,
                                     tasd_series **out)
{
    tasd_series *s = tasdi_alloc(a, sizeof *s);
    if (!s)
        return TASD_ERR_OUT_OF_MEMORY;
    tasd_status st = series_init(s, a, rows, cols, config, method, values);
    if (!st)
        st = tasdi_config_copy(a, config, &s->config);
    /* Not zeroed: every producer (decomposer, import, loader) writes every
     * row, and zeroing first doubled the memory traffic. */
    if (!st)
        st = tasdi_layout_alloc(s);
    if (st) {
        tasd_series_destroy(s);
        return st;
    }
    *out = s;
    return TASD_OK;
}

void tasdi_series_carve(tasdi_arena *ar, const tasd_allocator *a, int64_t rows, int64_t cols,
                        const tasd_config *config, tasd_method method, tasd_series **out)
{
    tasd_series tmp;
    *out = NULL;
    if (series_init(&tmp, a, rows, cols, config, method, TASD_F32)) { /* TASD-A shells: f32 */
        ar->failed = true;
        return;
    }
    tasd_series *s = tasdi_arena_take(ar, sizeof *s);
    tasd_config *cfg = tasdi_arena_take(ar, sizeof *cfg);
    tasdi_layout_carve(&tmp, ar);
    if (!s || !cfg || !tmp.packed)
        return; /* counting, or failed */
    *cfg = *config;
    cfg->allocator = *a;
    tmp.config = cfg;
    *s = tmp;
    *out = s;
}

void tasdi_series_set_rows(tasd_series *s, int64_t rows)
{
    s->rows = rows;
    if (s->packed)
        ((tasdi_packed *)s->packed)->rows = rows;
}

void tasd_series_destroy(tasd_series *s)
{
    if (!s)
        return;
    tasd_allocator a = s->allocator;
    tasdi_series_free_layout(s);
    tasd_config_destroy(s->config);
    tasdi_free(&a, s, sizeof *s);
}

size_t tasd_series_bytes(const tasd_series *s)
{
    if (!s)
        return 0;
    return sizeof *s + sizeof *s->config + s->packed_size;
}

tasd_status tasd_series_shape(const tasd_series *s, int64_t *rows, int64_t *cols)
{
    if (!s)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_series_shape: series is NULL");
    if (rows)
        *rows = s->rows;
    if (cols)
        *cols = s->cols;
    return TASD_OK;
}

const tasd_config *tasd_series_config(const tasd_series *s)
{
    return s ? s->config : NULL;
}

tasd_method tasd_series_method(const tasd_series *s)
{
    return s ? s->method : TASD_GREEDY;
}

tasd_dtype tasd_series_value_type(const tasd_series *s)
{
    return s ? s->values : TASD_F32;
}

tasd_status tasd_series_stats(const tasd_series *s, tasd_stats *out)
{
    if (!s || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_series_stats: NULL argument");
    tasd_status status = TASDI_CHECK_SIZE("tasd_series_stats", tasd_stats, out);
    if (status)
        return status;
    tasd_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    const tasdi_packed *p = s->packed;
    for (int64_t kb = 0; kb < p->nkb; kb++) /* straight from the layout */
        for (int i = 0; i < s->terms; i++) {
            const tasdi_pterm *pt = &p->term[i];
            int64_t cnt = tasdi_wide_cnt(pt, p->nkb, kb), nnz = 0;
            for (int64_t r = 0; r < s->rows; r++) {
                int64_t at = tasdi_wide_at(pt, p->rows, p->nkb, kb, r);
                for (int64_t q = 0; q < cnt; q++)
                    nnz += tasdi_value(p, pt, at + q) != 0.0f;
            }
            st.term_nonzeros[i] += nnz;
            st.kept_nonzeros += nnz;
        }
    for (int i = 0; i < s->terms; i++)
        st.slots += s->rows * s->term[i].width;
    st.input_nonzeros = s->input_nonzeros;
    if (s->input_energy > 0.0) {
        double err = s->error_energy / s->input_energy;
        st.rel_error = sqrt(err);
        st.retained_energy = 1.0 - err;
    } else {
        st.rel_error = 0.0;
        st.retained_energy = 1.0;
    }
    double elems = (double)s->rows * (double)s->cols;
    st.density = elems > 0 ? (double)st.kept_nonzeros / elems : 0.0;
    st.coverage = s->input_nonzeros > 0
                      ? (double)st.kept_nonzeros / (double)s->input_nonzeros
                      : 1.0;
    *out = st;
    return TASD_OK;
}

tasd_status tasd_series_reconstruct(const tasd_series *s, const tasd_view *out)
{
    if (!s || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_series_reconstruct: NULL argument");
    tasdi_matrix m;
    tasd_status st = tasdi_matrix_from_view(out, "tasd_series_reconstruct: out", &m);
    if (st)
        return st;
    if (m.dtype != TASD_F32)
        return tasdi_fail(TASD_ERR_DTYPE, "tasd_series_reconstruct: out must be f32, is %s",
                          tasd_dtype_name(m.dtype));
    if (m.rows != s->rows || m.cols != s->cols)
        return tasdi_fail(TASD_ERR_SHAPE,
                          "tasd_series_reconstruct: out is %lld x %lld, series is %lld x %lld",
                          (long long)m.rows, (long long)m.cols, (long long)s->rows,
                          (long long)s->cols);
    if (!tasdi_matrix_writable_layout(&m))
        return tasdi_fail(TASD_ERR_ALIAS,
                          "tasd_series_reconstruct: out has overlapping elements");
    float *base = (float *)(uintptr_t)m.data;
    const tasdi_packed *p = s->packed;
    for (int64_t r = 0; r < m.rows; r++) {
        float *row = base + r * m.rs;
        for (int64_t j = 0; j < m.cols; j++)
            row[j * m.cs] = 0.0f;
        for (int i = 0; i < s->terms; i++) /* term order, as the sum is defined */
            for (int64_t kb = 0; kb < p->nkb; kb++) {
                const tasdi_pterm *pt = &p->term[i];
                int64_t at = tasdi_wide_at(pt, p->rows, p->nkb, kb, r);
                const uint32_t *w = pt->idx + tasdi_idx_at(pt, p->rows, p->nkb, kb, r);
                for (int64_t q = 0; q < tasdi_wide_cnt(pt, p->nkb, kb); q++) {
                    float v = tasdi_value(p, pt, at + q);
                    if (v != 0.0f)
                        row[(kb * TASDI_KC + tasdi_slot_k(pt, w, q)) * m.cs] += v;
                }
            }
    }
    return TASD_OK;
}

tasd_status tasd_series_term_layout(const tasd_series *s, int i, int *n, int *m,
                                    int64_t *groups_per_row)
{
    if (!s)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_series_term_layout: series is NULL");
    if (i < 0 || i >= s->terms)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "tasd_series_term_layout: term %d of %d", i, s->terms);
    if (n)
        *n = s->term[i].n;
    if (m)
        *m = s->term[i].m;
    if (groups_per_row)
        *groups_per_row = s->term[i].groups;
    return TASD_OK;
}

tasd_status tasd_series_export_term(const tasd_series *s, int i, float *values,
                                    uint8_t *indices, int64_t capacity)
{
    if (!s || !values || !indices)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_series_export_term: NULL argument");
    if (i < 0 || i >= s->terms)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "tasd_series_export_term: term %d of %d", i, s->terms);
    const tasdi_term *t = &s->term[i];
    int64_t slots = s->rows * t->width;
    if (capacity < slots)
        return tasdi_fail(TASD_ERR_BUFFER_TOO_SMALL,
                          "tasd_series_export_term: need %lld slots, have %lld",
                          (long long)slots, (long long)capacity);
    for (int64_t r = 0; r < s->rows; r++)
        tasdi_series_get_row(s, i, r, values + r * t->width, indices + r * t->width);
    return TASD_OK;
}

int64_t tasdi_row_bad_slot(const tasdi_term *t, int64_t cols, const float *values,
                           const uint8_t *index, const char **why)
{
    uint32_t taken = 0; /* nonzero slots' positions in the group (M <= 32) */
    for (int64_t k = 0; k < t->width; k++) {
        if (k % t->n == 0)
            taken = 0;
        if (index[k] >= t->m || (k / t->n) * t->m + index[k] >= cols) {
            *why = "is outside its group or the row";
            return k;
        }
        if (values[k] != 0.0f) {
            if (taken >> index[k] & 1u) {
                *why = "is held by another nonzero slot of its group";
                return k;
            }
            taken |= 1u << index[k];
        }
    }
    return -1;
}

tasd_status tasd_series_import(tasd_context *ctx, int64_t rows, int64_t cols,
                               const tasd_config *config, tasd_method method,
                               const float *const *values,
                               const uint8_t *const *indices, tasd_series **out)
{
    if (!config || !values || !indices || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_series_import: NULL argument");
    if (rows < 0 || cols < 0)
        return tasdi_fail(TASD_ERR_SHAPE, "tasd_series_import: negative shape");
    if (method != TASD_GREEDY && method != TASD_OPTIMAL)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "tasd_series_import: unknown method %d",
                          (int)method);
    for (int i = 0; i < config->terms; i++)
        if (!values[i] || !indices[i])
            return tasdi_fail(TASD_ERR_NULL_POINTER,
                              "tasd_series_import: term %d arrays are NULL", i);
    /* Validate everything before allocating. */
    for (int i = 0; i < config->terms; i++) {
        const tasdi_term t = {.n = config->n[i], .m = config->m[i],
                              .width = (cols + config->m[i] - 1) / config->m[i] * config->n[i]};
        for (int64_t r = 0; r < rows; r++) {
            const float *v = values[i] + r * t.width;
            const uint8_t *ix = indices[i] + r * t.width;
            for (int64_t k = 0; k < t.width; k++)
                if (!isfinite(v[k]))
                    return tasdi_fail(TASD_ERR_NONFINITE,
                                      "tasd_series_import: term %d row %lld holds NaN or Inf",
                                      i, (long long)r);
            const char *why;
            int64_t k = tasdi_row_bad_slot(&t, cols, v, ix, &why);
            if (k >= 0)
                return tasdi_fail(TASD_ERR_FORMAT,
                                  "tasd_series_import: term %d row %lld slot %lld: index %d %s",
                                  i, (long long)r, (long long)k, ix[k], why);
        }
    }
    tasd_series *s;
    tasd_status st = tasdi_series_alloc(tasdi_allocator(ctx), rows, cols, config, method, &s);
    if (st)
        return st;
    for (int i = 0; i < s->terms; i++)
        for (int64_t r = 0; r < rows; r++)
            tasdi_series_put_row(s, i, r, values[i] + r * s->term[i].width,
                                 indices[i] + r * s->term[i].width);
    /* Without W, the stats are relative to the approximation itself: ||Wa||^2
     * summed row by row over the dense reconstruction (terms may overlap). */
    float *row = tasdi_calloc(&s->allocator, (size_t)cols + 1, sizeof(float));
    if (!row) {
        tasd_series_destroy(s);
        return TASD_ERR_OUT_OF_MEMORY;
    }
    for (int64_t r = 0; r < rows; r++) {
        memset(row, 0, (size_t)cols * sizeof *row);
        for (int i = 0; i < s->terms; i++) {
            const tasdi_term *t = &s->term[i];
            const float *v = values[i] + r * t->width;
            const uint8_t *ix = indices[i] + r * t->width;
            for (int64_t k = 0; k < t->width; k++)
                row[(k / t->n) * t->m + ix[k]] += v[k];
        }
        for (int64_t j = 0; j < cols; j++) {
            s->input_energy += (double)row[j] * row[j];
            s->input_nonzeros += row[j] != 0.0f;
        }
    }
    tasdi_free(&s->allocator, row, ((size_t)cols + 1) * sizeof(float));
    *out = s;
    return TASD_OK;
}
