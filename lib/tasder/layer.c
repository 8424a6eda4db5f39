/* Layers (Y = X*W^T + b) in three modes: dense, TASD-W and TASD-A. */
#include "tasder.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- layers ---- */

struct tasd_layer {
    tasd_allocator allocator;
    int64_t out, in;
    tasd_layer_mode mode;
    tasd_layer_config *config; /* NULL for a dense layer made without one */
    tasd_series *series;       /* TASD-W */
    tasdi_dense dense;         /* dense */
    tasdi_bpack *wt;           /* TASD-A: W^T [in, out], prepacked once */
    float *bias;               /* [out] or NULL */
};

void tasd_layer_destroy(tasd_layer *l)
{
    if (!l)
        return;
    tasd_allocator a = l->allocator;
    tasd_layer_config_destroy(l->config);
    tasd_series_destroy(l->series);
    tasdi_dense_free(&a, &l->dense);
    tasdi_bpack_destroy(l->wt);
    tasdi_free(&a, l->bias, (size_t)(l->out ? l->out : 1) * sizeof(float));
    tasdi_free(&a, l, sizeof *l);
}

tasd_status tasd_layer_create(tasd_context *ctx, const tasd_view *weights,
                              const tasd_view *bias, const tasd_layer_config *config,
                              tasd_layer **out)
{
    if (!weights || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER,
                          "tasd_layer_create: weights and out must not be NULL");
    tasdi_matrix w;
    tasd_status st = tasdi_matrix_from_view(weights, "tasd_layer_create: weights", &w);
    if (st)
        return st;
    if (w.rows < 1 || w.cols < 1)
        return tasdi_fail(TASD_ERR_SHAPE, "tasd_layer_create: weights are %lld x %lld, want >= 1 x 1",
                          (long long)w.rows, (long long)w.cols);
    if (config && config->w && config->a)
        return tasdi_fail(TASD_ERR_UNSUPPORTED,
                          "tasd_layer_create: layer \"%.64s\" has both a weight-side and an "
                          "activation-side series; a layer runs at most one",
                          config->name);
    if (config && config->method != TASD_GREEDY && config->method != TASD_OPTIMAL)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "tasd_layer_create: unknown method");
    const float *bp = NULL;
    int64_t bs = 0;
    if (bias) {
        if (bias->ndim != 1 || bias->shape[0] != w.rows)
            return tasdi_fail(TASD_ERR_SHAPE,
                              "tasd_layer_create: bias must be rank 1 of %lld elements",
                              (long long)w.rows);
        if (bias->dtype != TASD_F32)
            return tasdi_fail(TASD_ERR_DTYPE, "tasd_layer_create: bias must be f32, is %s",
                              tasd_dtype_name((tasd_dtype)bias->dtype));
        if (!bias->data)
            return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_layer_create: bias data is NULL");
        if (!tasdi_stride_ok(bias->strides[0])) /* so o * bs cannot overflow */
            return tasdi_fail(TASD_ERR_OVERFLOW, "tasd_layer_create: bias stride %lld is too large",
                              (long long)bias->strides[0]);
        bp = bias->data;
        bs = bias->strides[0];
        for (int64_t o = 0; o < w.rows; o++)
            if (!isfinite(bp[o * bs]))
                return tasdi_fail(TASD_ERR_NONFINITE, "tasd_layer_create: bias[%lld] is NaN or Inf",
                                  (long long)o);
    }
    const tasd_allocator *a = tasdi_allocator(ctx);
    tasd_layer *l = tasdi_calloc(a, 1, sizeof *l);
    if (!l)
        return TASD_ERR_OUT_OF_MEMORY;
    l->allocator = *a;
    l->out = w.rows;
    l->in = w.cols;
    l->mode = TASD_LAYER_DENSE;
    if (config) {
        st = tasdi_layer_config_copy(a, config, &l->config);
        if (st)
            goto fail;
        if (config->w)
            l->mode = TASD_LAYER_WEIGHTS;
        else if (config->a)
            l->mode = TASD_LAYER_ACTIVATIONS;
    }
    if (bp) {
        l->bias = tasdi_alloc(a, (size_t)w.rows * sizeof(float));
        if (!l->bias) {
            st = TASD_ERR_OUT_OF_MEMORY;
            goto fail;
        }
        for (int64_t o = 0; o < w.rows; o++)
            l->bias[o] = bp[o * bs];
    }
    switch (l->mode) {
    case TASD_LAYER_WEIGHTS:
        st = tasdi_decompose_typed(ctx, &w, config->w, config->method, config->values,
                                   &l->series);
        if (st == TASD_ERR_NONFINITE)
            st = tasdi_fail(st, "tasd_layer_create: weights hold NaN or Inf");
        break;
    case TASD_LAYER_ACTIVATIONS: {
        int64_t bad = tasdi_matrix_nonfinite_row(&w);
        if (bad >= 0) {
            st = tasdi_fail(TASD_ERR_NONFINITE,
                            "tasd_layer_create: weights row %lld holds NaN or Inf",
                            (long long)bad);
            break;
        }
        /* W^T is W with its strides swapped; other dtypes go through an
         * f32 copy first */
        float *w32 = NULL;
        size_t w32_bytes = 0;
        tasdi_matrix wf = w;
        if (w.dtype != TASD_F32) {
            size_t n;
            if (!tasdi_mul_size((size_t)w.rows, (size_t)w.cols, &n) ||
                !tasdi_mul_size(n, sizeof(float), &w32_bytes)) {
                st = tasdi_fail(TASD_ERR_OVERFLOW, "tasd_layer_create: weights too large");
                break;
            }
            w32 = tasdi_alloc(a, w32_bytes);
            if (!w32) {
                st = TASD_ERR_OUT_OF_MEMORY;
                break;
            }
            for (int64_t o = 0; o < w.rows; o++)
                tasdi_matrix_load_row(&w, o, w32 + o * w.cols);
            tasdi_matrix m32 = {(const char *)w32, TASD_F32, w.rows, w.cols, w.cols, 1};
            wf = m32;
        }
        tasdi_matrix wt = tasdi_matrix_transposed(&wf);
        st = tasdi_bpack_create(ctx, &wt, &l->wt);
        tasdi_free(a, w32, w32_bytes);
        break;
    }
    case TASD_LAYER_DENSE:
        st = tasdi_dense_pack(a, &w, true, &l->dense);
        if (st == TASD_ERR_NONFINITE) {
            char msg[256]; /* the message buffer cannot be its own source */
            snprintf(msg, sizeof msg, "%s", tasd_last_error_message());
            st = tasdi_fail(st, "tasd_layer_create: %s", msg);
        }
        break;
    }
    if (st)
        goto fail;
    *out = l;
    return TASD_OK;
fail:
    tasd_layer_destroy(l);
    return st;
}

tasd_status tasd_layer_shape(const tasd_layer *l, int64_t *out_features, int64_t *in_features)
{
    if (!l)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_layer_shape: layer is NULL");
    if (out_features)
        *out_features = l->out;
    if (in_features)
        *in_features = l->in;
    return TASD_OK;
}

tasd_layer_mode tasd_layer_get_mode(const tasd_layer *l)
{
    return l ? l->mode : TASD_LAYER_DENSE;
}

/* The workspace bytes of one forward call on `tokens` rows (ctx's backend
 * and threads). */
static tasd_status layer_need(const tasd_context *ctx, const tasd_layer *l, int64_t tokens,
                              size_t *bytes)
{
    if (tokens == 0) {
        *bytes = 0;
        return tasdi_context_ops(ctx) ? TASD_OK : TASD_ERR_UNSUPPORTED;
    }
    switch (l->mode) {
    case TASD_LAYER_DENSE:
        return tasdi_dense_need(ctx, &l->dense, tokens, bytes);
    case TASD_LAYER_WEIGHTS:
        return tasdi_gemm_need(ctx, l->series, l->out, l->in, tokens, false, bytes);
    case TASD_LAYER_ACTIVATIONS:
        return tasdi_gemm_act_need(ctx, l->config->a, tokens, l->in, l->out, true, bytes);
    }
    return tasdi_fail(TASD_ERR_INTERNAL, "tasd_layer_forward: bad mode");
}

static tasd_status layer_forward_checked(tasd_context *ctx, const tasd_layer *l,
                                         const tasd_view *xv, const tasd_view *yv,
                                         const tasdi_ws *ws)
{
    if (!l || !xv || !yv)
        return tasdi_fail(TASD_ERR_NULL_POINTER,
                          "tasd_layer_forward: layer, x and y must not be NULL");
    tasdi_matrix x, y;
    tasd_status st = tasdi_matrix_from_view(xv, "tasd_layer_forward: x", &x);
    if (!st)
        st = tasdi_matrix_from_view(yv, "tasd_layer_forward: y", &y);
    if (st)
        return st;
    if (xv->ndim != 2 || yv->ndim != 2)
        return tasdi_fail(TASD_ERR_SHAPE, "tasd_layer_forward: x and y must be rank 2 (are %d, %d)",
                          (int)xv->ndim, (int)yv->ndim);
    /* x: f32, bf16 or f16 (tasdi_matrix_from_view knows no other) */
    if (y.dtype == TASD_F16)
        return tasdi_fail(TASD_ERR_DTYPE, "tasd_layer_forward: y must be f32 or bf16 (is f16)");
    if (x.cols != l->in || y.cols != l->out || y.rows != x.rows)
        return tasdi_fail(TASD_ERR_SHAPE,
                          "tasd_layer_forward: layer [%lld out, %lld in] with x %lld x %lld "
                          "and y %lld x %lld (want x [tokens, %lld], y [tokens, %lld])",
                          (long long)l->out, (long long)l->in, (long long)x.rows,
                          (long long)x.cols, (long long)y.rows, (long long)y.cols,
                          (long long)l->in, (long long)l->out);
    if (!tasdi_matrix_writable_layout(&y))
        return tasdi_fail(TASD_ERR_ALIAS, "tasd_layer_forward: y has overlapping elements");
    if (tasdi_matrix_overlap(&x, &y))
        return tasdi_fail(TASD_ERR_ALIAS, "tasd_layer_forward: y overlaps x");
    if (!tasdi_context_ops(ctx))
        return TASD_ERR_UNSUPPORTED;
    if (x.rows == 0)
        return TASD_OK;
    if (ws) {
        /* refuse a small workspace before the bias is written into Y */
        size_t need;
        st = layer_need(ctx, l, x.rows, &need);
        if (st)
            return st;
        if (ws->bytes < need)
            return tasdi_fail(TASD_ERR_BUFFER_TOO_SMALL,
                              "tasd_layer_forward: the workspace has %zu bytes, the call needs %zu",
                              ws->bytes, need);
    }
    if (l->mode == TASD_LAYER_DENSE)
        return tasdi_dense_run_ws(ctx, &l->dense, &x, l->bias, 1, &y, ws, "tasd_layer_forward");
    if (l->mode == TASD_LAYER_ACTIVATIONS) {
        int64_t bad = tasdi_matrix_nonfinite_row(&x);
        if (bad >= 0)
            return tasdi_fail(TASD_ERR_NONFINITE, "tasd_layer_forward: x row %lld holds NaN or Inf",
                              (long long)bad);
    }
    /* The bias is added to each output in f32 before its one rounding to
     * y's dtype, as the output is stored: Y is written only by the product
     * (whose scratch is taken first), so an error leaves it untouched. */
    if (l->mode == TASD_LAYER_WEIGHTS) {
        /* Y^T [out, tokens] = S [out, in] * X^T [in, tokens]: transposed
         * views are the same memory with swapped strides. */
        tasdi_matrix xt = tasdi_matrix_transposed(&x);
        tasdi_matrix yt = tasdi_matrix_transposed(&y);
        tasdi_bias bias = {l->bias, 1, true}; /* per row of Y^T: per output */
        return tasdi_gemm_run_ws(ctx, 1.0f, l->series, &xt, 0.0f, &yt, &bias, ws,
                                 "tasd_layer_forward");
    }
    tasdi_bias bias = {l->bias, 1, false}; /* per column of Y */
    return tasdi_gemm_act_run(ctx, 1.0f, &x, l->config->a, l->config->method, l->wt, NULL,
                              0.0f, &y, &bias, ws, "tasd_layer_forward");
}

tasd_status tasd_layer_forward(tasd_context *ctx, const tasd_layer *l,
                               const tasd_view *x, const tasd_view *y)
{
    return layer_forward_checked(ctx, l, x, y, NULL);
}

tasd_status tasd_layer_forward_ws(tasd_context *ctx, const tasd_layer *l,
                                  const tasd_view *x, const tasd_view *y,
                                  void *workspace, size_t workspace_bytes)
{
    tasdi_ws ws;
    tasd_status st = tasdi_ws_from("tasd_layer_forward_ws", workspace, workspace_bytes, &ws);
    return st ? st : layer_forward_checked(ctx, l, x, y, &ws);
}

tasd_status tasd_layer_forward_workspace_size(const tasd_context *ctx, const tasd_layer *l,
                                              int64_t tokens, size_t *bytes)
{
    if (!l || !bytes)
        return tasdi_fail(TASD_ERR_NULL_POINTER,
                          "tasd_layer_forward_workspace_size: layer and bytes must not be NULL");
    if (tokens < 0)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "tasd_layer_forward_workspace_size: tokens = %lld", (long long)tokens);
    if (!tasdi_elements_ok(tokens, l->in) || !tasdi_elements_ok(tokens, l->out))
        return tasdi_fail(TASD_ERR_OVERFLOW, "tasd_layer_forward_workspace_size: tokens = %lld "
                          "is past what the x and y views can hold", (long long)tokens);
    size_t need;
    tasd_status st = layer_need(ctx, l, tokens, &need);
    if (!st)
        *bytes = need;
    return st;
}
