/* Tensor views: helpers, validation, and f16/bf16 conversion. */
#include "core.h"
#include "../../kernels/kernels.h" /* the widening the kernels use */

#include <string.h>

size_t tasd_dtype_size(tasd_dtype dtype)
{
    switch (dtype) {
    case TASD_F32: return 4;
    case TASD_F16: return 2;
    case TASD_BF16: return 2;
    }
    return 0;
}

const char *tasd_dtype_name(tasd_dtype dtype)
{
    switch (dtype) {
    case TASD_F32: return "f32";
    case TASD_F16: return "f16";
    case TASD_BF16: return "bf16";
    }
    return "?";
}

tasd_view tasd_view_2d_strided(const void *data, tasd_dtype dtype, int64_t rows,
                               int64_t cols, int64_t row_stride,
                               int64_t col_stride)
{
    tasd_view v;
    memset(&v, 0, sizeof v);
    v.data = (void *)(uintptr_t)data; /* views are non-owning; inputs stay unwritten */
    v.dtype = dtype;
    v.ndim = 2;
    v.shape[0] = rows;
    v.shape[1] = cols;
    v.strides[0] = row_stride;
    v.strides[1] = col_stride;
    return v;
}

tasd_view tasd_view_2d(const void *data, tasd_dtype dtype, int64_t rows,
                       int64_t cols, int64_t row_stride)
{
    return tasd_view_2d_strided(data, dtype, rows, cols, row_stride, 1);
}

tasd_view tasd_view_transpose(tasd_view v)
{
    if (v.ndim == 2) {
        int64_t t = v.shape[0];
        v.shape[0] = v.shape[1];
        v.shape[1] = t;
        t = v.strides[0];
        v.strides[0] = v.strides[1];
        v.strides[1] = t;
    }
    return v;
}

static int64_t iabs64(int64_t x) { return x < 0 ? -x : x; }

tasd_status tasdi_matrix_from_view(const tasd_view *v, const char *what,
                                   tasdi_matrix *out)
{
    if (!v)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "%s: view is NULL", what);
    if (tasd_dtype_size((tasd_dtype)v->dtype) == 0)
        return tasdi_fail(TASD_ERR_DTYPE, "%s: unknown dtype %d", what, (int)v->dtype);
    if (v->ndim < 2 || v->ndim > TASD_MAX_DIMS)
        return tasdi_fail(TASD_ERR_SHAPE, "%s: rank %d, want 2..%d", what,
                          (int)v->ndim, TASD_MAX_DIMS);
    for (int d = 0; d < v->ndim; d++) {
        if (v->shape[d] < 0)
            return tasdi_fail(TASD_ERR_SHAPE, "%s: shape[%d] = %lld is negative",
                              what, d, (long long)v->shape[d]);
        if (!tasdi_stride_ok(v->strides[d]))
            return tasdi_fail(TASD_ERR_OVERFLOW, "%s: stride[%d] = %lld is too large",
                              what, d, (long long)v->strides[d]);
    }
    int64_t cols = 1, total;
    for (int d = 1; d < v->ndim; d++)
        if (!tasdi_mul_i64(cols, v->shape[d], &cols))
            return tasdi_fail(TASD_ERR_OVERFLOW, "%s: shape overflows", what);
    if (!tasdi_mul_i64(cols, v->shape[0], &total) || total > ((int64_t)1 << 48))
        return tasdi_fail(TASD_ERR_OVERFLOW, "%s: %lld x %lld elements is too many",
                          what, (long long)v->shape[0], (long long)cols);
    /* Trailing axes must collapse into one: for each axis with more than one
     * element, stride == the stride times the size of the next such axis; an
     * axis of size 1 addresses one place whatever its stride (a channels-last
     * [out, in, 1, 1] conv weight is a plain [out, in]). The column stride is
     * the innermost such axis's. An empty view addresses nothing (and its
     * other dimensions may be as large as int64 allows, so the product could
     * overflow): not checked. */
    int64_t cs = v->strides[v->ndim - 1];
    for (int d = v->ndim - 1, inner = 0; d >= 1 && total > 0; d--) {
        if (v->shape[d] <= 1)
            continue;
        int64_t expect = 0;
        if (!inner)
            cs = v->strides[d];
        else if (!tasdi_mul_i64(v->strides[inner], v->shape[inner], &expect) ||
                 v->strides[d] != expect)
            return tasdi_fail(TASD_ERR_SHAPE,
                              "%s: axes 1..%d of a rank-%d view must be collapsible "
                              "(stride[%d] = %lld, want %lld)",
                              what, v->ndim - 1, v->ndim, d,
                              (long long)v->strides[d], (long long)expect);
        inner = d;
    }
    if (total > 0 && !v->data)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "%s: data is NULL", what);
    out->data = (const char *)v->data;
    out->dtype = (tasd_dtype)v->dtype;
    out->rows = v->shape[0];
    out->cols = cols;
    out->rs = v->strides[0];
    out->cs = cs;
    return TASD_OK;
}

void tasdi_matrix_load_row(const tasdi_matrix *m, int64_t r, float *dst)
{
    int64_t n = m->cols, cs = m->cs;
    switch (m->dtype) {
    case TASD_F32: {
        const float *p = (const float *)m->data + r * m->rs;
        if (cs == 1)
            memcpy(dst, p, (size_t)n * sizeof *dst);
        else
            for (int64_t j = 0; j < n; j++)
                dst[j] = p[j * cs];
        break;
    }
    case TASD_F16:
    case TASD_BF16:
        tasdi_widen_run(m->dtype, (const uint16_t *)m->data + r * m->rs, cs, n, dst, 1);
        break;
    }
}

void tasdi_widen_run(tasd_dtype dtype, const uint16_t *src, int64_t src_stride, int64_t n,
                     float *dst, int64_t dst_stride)
{
    if (dtype == TASD_BF16)
        for (int64_t i = 0; i < n; i++)
            dst[i * dst_stride] = tasdi_bf16_f32(src[i * src_stride]);
    else
        for (int64_t i = 0; i < n; i++)
            dst[i * dst_stride] = tasdi_f16_f32(src[i * src_stride]);
}

void tasdi_matrix_span(const tasdi_matrix *m, uintptr_t *lo, uintptr_t *hi)
{
    size_t es = tasd_dtype_size(m->dtype);
    if (m->rows == 0 || m->cols == 0) {
        *lo = *hi = (uintptr_t)m->data;
        return;
    }
    int64_t a = 0, b = 0; /* min and max element offsets */
    int64_t dr = (m->rows - 1) * m->rs, dc = (m->cols - 1) * m->cs;
    if (dr < 0) a += dr; else b += dr;
    if (dc < 0) a += dc; else b += dc;
    *lo = (uintptr_t)(m->data + a * (int64_t)es);
    *hi = (uintptr_t)(m->data + (b + 1) * (int64_t)es);
}

bool tasdi_matrix_overlap(const tasdi_matrix *a, const tasdi_matrix *b)
{
    uintptr_t alo, ahi, blo, bhi;
    tasdi_matrix_span(a, &alo, &ahi);
    tasdi_matrix_span(b, &blo, &bhi);
    return alo < bhi && blo < ahi; /* an empty matrix spans nothing */
}

bool tasdi_matrix_writable_layout(const tasdi_matrix *m)
{
    /* An empty matrix has no elements to collide, whatever its strides
     * (numpy gives zero-size arrays strides of 0). */
    if (m->rows == 0 || m->cols == 0 || (m->rows == 1 && m->cols == 1))
        return true;
    if (m->rows <= 1)
        return m->cs != 0;
    if (m->cols <= 1)
        return m->rs != 0;
    int64_t rs = iabs64(m->rs), cs = iabs64(m->cs);
    if (rs == 0 || cs == 0)
        return false;
    /* (r, c) and (r + dr, c + dc) meet where dr * rs = dc * cs (up to the
     * strides' signs), i.e. at multiples of (cs / g, rs / g), g = gcd: the
     * elements are distinct exactly when that step leaves the matrix. Rows
     * may interleave (2 x 4 at strides 2, 3: elements 0 3 6 9, 2 5 8 11). */
    int64_t a = rs, g = cs;
    while (a) {
        int64_t t = g % a;
        g = a;
        a = t;
    }
    return cs / g >= m->rows || rs / g >= m->cols;
}

/* ---- f16 / bf16 ---- */

static uint32_t bits_from_f32(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

float tasdi_bf16_to_f32(uint16_t h) { return tasdi_bf16_f32(h); }

float tasdi_f16_to_f32(uint16_t h) { return tasdi_f16_f32(h); }

uint16_t tasdi_f32_to_f16(float f)
{
    uint32_t u = bits_from_f32(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u)
        return sign | 0x7e00u; /* NaN */
    if (a >= 0x477ff000u)      /* rounds to >= 65520: overflow to Inf */
        return sign | 0x7c00u;
    if (a < 0x38800000u) {     /* below the smallest normal 2^-14 */
        /* subnormal: value / 2^-24, rounded to nearest even */
        float v = tasdi_bits_f32(a) * 16777216.0f;
        uint32_t q = (uint32_t)v;
        float rem = v - (float)q;
        if (rem > 0.5f || (rem == 0.5f && (q & 1u)))
            q++;
        return sign | (uint16_t)q;
    }
    /* normal: rebias the exponent, round the mantissa to 10 bits */
    uint32_t r = a - (112u << 23);
    r += 0xfffu + ((r >> 13) & 1u);
    return sign | (uint16_t)(r >> 13);
}
