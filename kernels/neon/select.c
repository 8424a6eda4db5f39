/* NEON top-N-of-M selection (aarch64 Advanced SIMD).
 *
 * Same meaning as kernels/scalar/select.c: in every group of m elements keep
 * the n of largest magnitude, ties to the lower index, output in ascending
 * index order, kept elements zeroed in the residual.
 *
 * m == 4: four groups at a time, one group per lane (vld4q de-interleaves
 *         16 floats so that register p holds element p of four groups); the
 *         rank of each element is 3 compares, the output is assembled with
 *         selects and written back interleaved with vst1/vst2/vst3/vst4.
 * m == 8, n <= 4: four groups at a time (two vld4q + vuzp transpose to one
 *         group per lane), 28 pairwise compares give every rank.
 * m == 8 (n > 4), 16, 32: one group at a time, the group in m/4 registers; the rank
 *         of every element is counted against a broadcast of each other
 *         element (m compares per register).
 * m == 2:  1:2, four groups at a time (vld2q), one compare.
 * Anything else (n == m, the short last group of a row, the groups left over
 * by the 4-group loop) runs the scalar reference, so results are identical. */
#include "../kernels.h"

#include <arm_neon.h>

/* Compact the kept lanes of one group (rank < n) in index order. */
static inline void emit_group(float *x, const uint32_t *rank, int m, int n, float *v,
                              uint8_t *ix)
{
    int out = 0;
    for (int i = 0; i < m; i++) {
        if (rank[i] < (uint32_t)n && out < n) {
            v[out] = x[i];
            ix[out] = (uint8_t)i;
            out++;
            x[i] = 0.0f;
        }
    }
}

/* m in {8, 16, 32}, one full group. */
static void select_group_wide(float *x, int n, int m, float *v, uint8_t *ix)
{
    float32x4_t a[8];
    uint32x4_t rank[8], lane[8];
    float mag[32];
    const int q = m / 4;
    static const uint32_t base[4] = {0, 1, 2, 3};
    uint32x4_t b = vld1q_u32(base);
    for (int r = 0; r < q; r++) {
        a[r] = vabsq_f32(vld1q_f32(x + 4 * r));
        vst1q_f32(mag + 4 * r, a[r]);
        rank[r] = vdupq_n_u32(0);
        lane[r] = vaddq_u32(b, vdupq_n_u32((uint32_t)(4 * r)));
    }
    for (int j = 0; j < m; j++) {
        float32x4_t aj = vld1q_dup_f32(mag + j);
        uint32x4_t jj = vdupq_n_u32((uint32_t)j);
        for (int r = 0; r < q; r++) {
            /* x_j beats lane i when |x_j| > |x_i|, or equal and j < i */
            uint32x4_t gt = vcgtq_f32(aj, a[r]);
            uint32x4_t eq = vandq_u32(vceqq_f32(aj, a[r]), vcltq_u32(jj, lane[r]));
            rank[r] = vsubq_u32(rank[r], vorrq_u32(gt, eq)); /* mask is -1 */
        }
    }
    uint32_t rk[32];
    for (int r = 0; r < q; r++)
        vst1q_u32(rk + 4 * r, rank[r]);
    emit_group(x, rk, m, n, v, ix);
}

/* m == 4: groups g..g+3 starting at x. */
static void select4x4(float *x, int n, float *v, uint8_t *ix)
{
    float32x4x4_t e = vld4q_f32(x); /* e.val[p] = element p of each group */
    float32x4_t a0 = vabsq_f32(e.val[0]), a1 = vabsq_f32(e.val[1]);
    float32x4_t a2 = vabsq_f32(e.val[2]), a3 = vabsq_f32(e.val[3]);
    /* beats(j, i): j beats i. For j < i: |x_j| >= |x_i|; for j > i: |x_j| > |x_i|. */
    uint32x4_t b10 = vcgtq_f32(a1, a0), b20 = vcgtq_f32(a2, a0), b30 = vcgtq_f32(a3, a0);
    uint32x4_t b21 = vcgtq_f32(a2, a1), b31 = vcgtq_f32(a3, a1), b32 = vcgtq_f32(a3, a2);
    /* j < i beats i exactly when i does not beat j strictly: !(i > j) */
    uint32x4_t b01 = vmvnq_u32(b10), b02 = vmvnq_u32(b20), b03 = vmvnq_u32(b30);
    uint32x4_t b12 = vmvnq_u32(b21), b13 = vmvnq_u32(b31), b23 = vmvnq_u32(b32);
    uint32x4_t z = vdupq_n_u32(0);
    uint32x4_t r0 = vsubq_u32(vsubq_u32(vsubq_u32(z, b10), b20), b30);
    uint32x4_t r1 = vsubq_u32(vsubq_u32(vsubq_u32(z, b01), b21), b31);
    uint32x4_t r2 = vsubq_u32(vsubq_u32(vsubq_u32(z, b02), b12), b32);
    uint32x4_t r3 = vsubq_u32(vsubq_u32(vsubq_u32(z, b03), b13), b23);
    uint32x4_t nn = vdupq_n_u32((uint32_t)n);
    uint32x4_t k0 = vcltq_u32(r0, nn), k1 = vcltq_u32(r1, nn);
    uint32x4_t k2 = vcltq_u32(r2, nn), k3 = vcltq_u32(r3, nn);
    /* output slot of element i = number of kept elements before it */
    uint32x4_t p0 = z;
    uint32x4_t p1 = vsubq_u32(p0, k0);
    uint32x4_t p2 = vsubq_u32(p1, k1);
    uint32x4_t p3 = vsubq_u32(p2, k2);
    const uint32x4_t *kk[4] = {&k0, &k1, &k2, &k3};
    const uint32x4_t *pp[4] = {&p0, &p1, &p2, &p3};
    float32x4_t outv[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f),
                           vdupq_n_f32(0.0f)};
    uint32x4_t outi[4] = {z, z, z, z};
    for (int s = 0; s < n; s++) {
        uint32x4_t ss = vdupq_n_u32((uint32_t)s);
        float32x4_t val = vdupq_n_f32(0.0f);
        uint32x4_t idx = z;
        for (int i = 0; i < 4; i++) {
            uint32x4_t here = vandq_u32(*kk[i], vceqq_u32(*pp[i], ss));
            val = vbslq_f32(here, e.val[i], val);
            idx = vbslq_u32(here, vdupq_n_u32((uint32_t)i), idx);
        }
        outv[s] = val;
        outi[s] = idx;
    }
    switch (n) {
    case 1:
        vst1q_f32(v, outv[0]);
        break;
    case 2: {
        float32x4x2_t o = {{outv[0], outv[1]}};
        vst2q_f32(v, o);
        break;
    }
    case 3: {
        float32x4x3_t o = {{outv[0], outv[1], outv[2]}};
        vst3q_f32(v, o);
        break;
    }
    default: {
        float32x4x4_t o = {{outv[0], outv[1], outv[2], outv[3]}};
        vst4q_f32(v, o);
        break;
    }
    }
    uint32_t tmp[4][4];
    for (int s = 0; s < n; s++)
        vst1q_u32(tmp[s], outi[s]);
    for (int g = 0; g < 4; g++)
        for (int s = 0; s < n; s++)
            ix[g * n + s] = (uint8_t)tmp[s][g];
    /* zero the kept elements in the residual */
    float32x4_t zf = vdupq_n_f32(0.0f);
    e.val[0] = vbslq_f32(k0, zf, e.val[0]);
    e.val[1] = vbslq_f32(k1, zf, e.val[1]);
    e.val[2] = vbslq_f32(k2, zf, e.val[2]);
    e.val[3] = vbslq_f32(k3, zf, e.val[3]);
    vst4q_f32(x, e);
}

#if defined(__GNUC__)
#define UNROLL8 _Pragma("GCC unroll 8")
#else
#define UNROLL8
#endif

/* Store n (1..4) output vectors, lane g = group g, as v[g*n + s]. */
static inline void store_slots(float *v, const float32x4_t *o, int n)
{
    switch (n) {
    case 1:
        vst1q_f32(v, o[0]);
        break;
    case 2: {
        float32x4x2_t t = {{o[0], o[1]}};
        vst2q_f32(v, t);
        break;
    }
    case 3: {
        float32x4x3_t t = {{o[0], o[1], o[2]}};
        vst3q_f32(v, t);
        break;
    }
    default: {
        float32x4x4_t t = {{o[0], o[1], o[2], o[3]}};
        vst4q_f32(v, t);
        break;
    }
    }
}

/* N:8 with N <= 4: four groups at a time. Two vld4q + vuzp transpose the 32
 * floats so that register i holds element i of the four groups; the 28
 * pairwise compares give every rank (j beats i: |x_j| > |x_i| for j > i,
 * |x_j| >= |x_i| for j < i); outputs are assembled with selects. */
static void select8x4(float *x, int n, float *v, uint8_t *ix)
{
    float32x4x4_t lo = vld4q_f32(x), hi = vld4q_f32(x + 16);
    float32x4_t e[8], a[8];
    uint32x4_t rank[8], keep[8], pos[8];
    UNROLL8
    for (int p = 0; p < 4; p++) {
        e[p] = vuzp1q_f32(lo.val[p], hi.val[p]);
        e[p + 4] = vuzp2q_f32(lo.val[p], hi.val[p]);
    }
    UNROLL8
    for (int i = 0; i < 8; i++) {
        a[i] = vabsq_f32(e[i]);
        rank[i] = vdupq_n_u32(0);
    }
    UNROLL8
    for (int i = 0; i < 8; i++) {
        UNROLL8
        for (int j = i + 1; j < 8; j++) {
            uint32x4_t c = vcgtq_f32(a[j], a[i]);   /* j beats i */
            rank[i] = vsubq_u32(rank[i], c);
            rank[j] = vsubq_u32(rank[j], vmvnq_u32(c)); /* else i beats j */
        }
    }
    uint32x4_t nn = vdupq_n_u32((uint32_t)n), run = vdupq_n_u32(0);
    UNROLL8
    for (int i = 0; i < 8; i++) {
        keep[i] = vcltq_u32(rank[i], nn);
        pos[i] = run; /* output slot = kept elements before i */
        run = vsubq_u32(run, keep[i]);
    }
    float32x4_t outv[4];
    uint32_t outi[4][4];
    for (int sl = 0; sl < n; sl++) {
        uint32x4_t ss = vdupq_n_u32((uint32_t)sl);
        float32x4_t val = vdupq_n_f32(0.0f);
        uint32x4_t idx = vdupq_n_u32(0);
        UNROLL8
        for (int i = 0; i < 8; i++) {
            uint32x4_t here = vandq_u32(keep[i], vceqq_u32(pos[i], ss));
            val = vbslq_f32(here, e[i], val);
            idx = vbslq_u32(here, vdupq_n_u32((uint32_t)i), idx);
        }
        outv[sl] = val;
        vst1q_u32(outi[sl], idx);
    }
    store_slots(v, outv, n);
    for (int g = 0; g < 4; g++)
        for (int sl = 0; sl < n; sl++)
            ix[g * n + sl] = (uint8_t)outi[sl][g];
    float32x4_t zf = vdupq_n_f32(0.0f);
    UNROLL8
    for (int p = 0; p < 4; p++) {
        float32x4_t ep = vbslq_f32(keep[p], zf, e[p]);
        float32x4_t eq = vbslq_f32(keep[p + 4], zf, e[p + 4]);
        lo.val[p] = vzip1q_f32(ep, eq);
        hi.val[p] = vzip2q_f32(ep, eq);
    }
    vst4q_f32(x, lo);
    vst4q_f32(x + 16, hi);
}

/* 1:2: four groups at a time, element 0 wins ties. */
static void select1of2x4(float *x, float *v, uint8_t *ix)
{
    float32x4x2_t e = vld2q_f32(x);
    uint32x4_t k0 = vcgeq_f32(vabsq_f32(e.val[0]), vabsq_f32(e.val[1]));
    vst1q_f32(v, vbslq_f32(k0, e.val[0], e.val[1]));
    uint32_t idx[4];
    vst1q_u32(idx, vandq_u32(vmvnq_u32(k0), vdupq_n_u32(1)));
    for (int g = 0; g < 4; g++)
        ix[g] = (uint8_t)idx[g];
    float32x4_t zf = vdupq_n_f32(0.0f);
    e.val[0] = vbslq_f32(k0, zf, e.val[0]);
    e.val[1] = vbslq_f32(k0, e.val[1], zf);
    vst2q_f32(x, e);
}

void tasdi_neon_select(float *residual, int64_t k, int n, int m, float *values,
                       uint8_t *index)
{
    int64_t full = k / m; /* full groups */
    int64_t g = 0;
    if (m == 2 && n == 1) {
        for (; g + 4 <= full; g += 4)
            select1of2x4(residual + g * 2, values + g, index + g);
    } else if (m == 4 && n < 4) {
        for (; g + 4 <= full; g += 4)
            select4x4(residual + g * 4, n, values + g * n, index + g * n);
    } else if (m == 8 && n <= 4) {
        for (; g + 4 <= full; g += 4)
            select8x4(residual + g * 8, n, values + g * n, index + g * n);
    } else if (m >= 8 && m <= 32 && n < m) {
        for (; g < full; g++)
            select_group_wide(residual + g * m, n, m, values + g * n, index + g * n);
    }
    /* the rest (leftover groups, the short last group, m == 2, n == m) */
    if (g * m < k)
        tasdi_scalar_select(residual + g * m, k - g * m, n, m, values + g * n,
                            index + g * n);
}
