/* NEON series-term GEMM (aarch64 Advanced SIMD), canonical layout:
 * C[r, :] += alpha * sum_slots values[r][s] * B[k(r, s), :].
 *
 * Wide (B and C rows contiguous, ncols >= 4): lanes run along n. A strip of
 * 32, 16, 8 or 4 columns of one C row stays in registers for the whole row
 * (8 accumulators at most, leaving registers for the B loads); every kept
 * value is one FMA by element per 4 columns against the B row it selects.
 * Rows of a block reuse the same B strip from cache.
 *
 * Narrow (ncols == 1, the GEMV of decoding): lanes run along the slots.
 * Four slots at a time: their values are one vector load, the four x they
 * select are gathered (for 2:4 with a contiguous x, the two groups' eight x
 * values are two vector loads and a table lookup picks the four), products
 * accumulate in two 4-lane partial sums that are reduced at the end of the
 * row. ncols == 2..8 uses the wide path with a scalar column tail.
 *
 * A slot with value 0 contributes nothing, exactly as in the scalar
 * reference (it is skipped, or its x is replaced by 0 before the multiply),
 * so a NaN/Inf in a row of B that no kept weight selects does not leak into C.
 * Strided B or C (column stride != 1) runs the scalar reference: the
 * framework is expected to pack B panels contiguously before calling. */
#include "../kernels.h"

#include <arm_neon.h>

#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* One row, columns [0, 4*NQ) of the strip starting at b / c. */
static ALWAYS_INLINE void row_strip(const float *v, const uint8_t *ix, int64_t width, int n,
                                    int m, const float *b, int64_t b_rs, float alpha,
                                    float *c, const int NQ)
{
    float32x4_t acc[8];
    for (int q = 0; q < NQ; q++)
        acc[q] = vld1q_f32(c + 4 * q);
    int64_t groups = width / n;
    for (int64_t g = 0; g < groups; g++) {
        const float *bg = b + g * m * b_rs;
        for (int j = 0; j < n; j++) {
            float a = v[g * n + j];
            if (a == 0.0f)
                continue;
            a *= alpha;
            const float *brow = bg + (int64_t)ix[g * n + j] * b_rs;
            for (int q = 0; q < NQ; q++)
                acc[q] = vfmaq_n_f32(acc[q], vld1q_f32(brow + 4 * q), a);
        }
    }
    for (int q = 0; q < NQ; q++)
        vst1q_f32(c + 4 * q, acc[q]);
}

static void row_strip8(const float *v, const uint8_t *ix, int64_t width, int n, int m,
                       const float *b, int64_t b_rs, float alpha, float *c)
{
    row_strip(v, ix, width, n, m, b, b_rs, alpha, c, 8);
}
static void row_strip4(const float *v, const uint8_t *ix, int64_t width, int n, int m,
                       const float *b, int64_t b_rs, float alpha, float *c)
{
    row_strip(v, ix, width, n, m, b, b_rs, alpha, c, 4);
}
static void row_strip2(const float *v, const uint8_t *ix, int64_t width, int n, int m,
                       const float *b, int64_t b_rs, float alpha, float *c)
{
    row_strip(v, ix, width, n, m, b, b_rs, alpha, c, 2);
}
static void row_strip1(const float *v, const uint8_t *ix, int64_t width, int n, int m,
                       const float *b, int64_t b_rs, float alpha, float *c)
{
    row_strip(v, ix, width, n, m, b, b_rs, alpha, c, 1);
}

/* Columns [j0, ncols) (fewer than 4) of one row, one at a time. */
static void row_tail(const float *v, const uint8_t *ix, int64_t width, int n, int m,
                     const float *b, int64_t b_rs, int64_t j0, int64_t ncols, float alpha,
                     float *c)
{
    for (int64_t s = 0; s < width; s++) {
        if (v[s] == 0.0f)
            continue;
        float a = alpha * v[s];
        const float *brow = b + ((s / n) * m + ix[s]) * b_rs;
        for (int64_t j = j0; j < ncols; j++)
            c[j] += a * brow[j];
    }
}

static void wide(const float *values, const uint8_t *index, int64_t width, int n, int m,
                 int64_t r0, int64_t r1, const float *b, int64_t b_rs, int64_t ncols,
                 float alpha, float *c, int64_t c_rs)
{
    int64_t j = 0;
    for (; j + 32 <= ncols; j += 32)
        for (int64_t r = r0; r < r1; r++)
            row_strip8(values + r * width, index + r * width, width, n, m, b + j, b_rs,
                       alpha, c + r * c_rs + j);
    if (j + 16 <= ncols) {
        for (int64_t r = r0; r < r1; r++)
            row_strip4(values + r * width, index + r * width, width, n, m, b + j, b_rs,
                       alpha, c + r * c_rs + j);
        j += 16;
    }
    if (j + 8 <= ncols) {
        for (int64_t r = r0; r < r1; r++)
            row_strip2(values + r * width, index + r * width, width, n, m, b + j, b_rs,
                       alpha, c + r * c_rs + j);
        j += 8;
    }
    if (j + 4 <= ncols) {
        for (int64_t r = r0; r < r1; r++)
            row_strip1(values + r * width, index + r * width, width, n, m, b + j, b_rs,
                       alpha, c + r * c_rs + j);
        j += 4;
    }
    if (j < ncols)
        for (int64_t r = r0; r < r1; r++)
            row_tail(values + r * width, index + r * width, width, n, m, b, b_rs, j, ncols,
                     alpha, c + r * c_rs);
}

/* x for four consecutive slots starting at slot s (generic gather). */
static inline float32x4_t gather4(const float *x, int64_t x_s, const uint8_t *ix,
                                  int64_t s, int n, int m)
{
    float32x4_t r = vdupq_n_f32(0.0f);
    r = vld1q_lane_f32(x + (((s + 0) / n) * m + ix[s + 0]) * x_s, r, 0);
    r = vld1q_lane_f32(x + (((s + 1) / n) * m + ix[s + 1]) * x_s, r, 1);
    r = vld1q_lane_f32(x + (((s + 2) / n) * m + ix[s + 2]) * x_s, r, 2);
    r = vld1q_lane_f32(x + (((s + 3) / n) * m + ix[s + 3]) * x_s, r, 3);
    return r;
}

/* 2:4 with contiguous x: slots s..s+3 are two groups g, g+1 (8 x values,
 * two vector loads); a byte table lookup picks the four selected ones. */
static inline float32x4_t gather_24(const float *x, const uint8_t *ix, int64_t s)
{
    const float *xg = x + (s / 2) * 4;
    uint8x16x2_t tab = {{vreinterpretq_u8_f32(vld1q_f32(xg)),
                         vreinterpretq_u8_f32(vld1q_f32(xg + 4))}};
    /* lane l takes float ix[s+l] of group l/2: bytes 4*ix + 16*(l/2) + 0..3 */
    uint32_t word;
    __builtin_memcpy(&word, ix + s, 4);
    uint8x16_t sel = vreinterpretq_u8_u32(vmovl_u16(vget_low_u16(
        vmovl_u8(vcreate_u8((uint64_t)word)))));          /* ix in each u32 lane */
    sel = vreinterpretq_u8_u32(vmulq_n_u32(vreinterpretq_u32_u8(sel), 0x04040404u));
    static const uint8_t off[16] = {0, 1, 2, 3, 0, 1, 2, 3, 16, 17, 18, 19, 16, 17, 18, 19};
    sel = vaddq_u8(sel, vld1q_u8(off));
    return vreinterpretq_f32_u8(vqtbl2q_u8(tab, sel));
}

static void narrow1(const float *values, const uint8_t *index, int64_t width, int n, int m,
                    int64_t r0, int64_t r1, const float *x, int64_t x_s, float alpha,
                    float *c, int64_t c_rs)
{
    const float32x4_t zero = vdupq_n_f32(0.0f);
    const int fast24 = (n == 2 && m == 4 && x_s == 1);
    for (int64_t r = r0; r < r1; r++) {
        const float *v = values + r * width;
        const uint8_t *ix = index + r * width;
        float32x4_t s0 = zero, s1 = zero;
        int64_t s = 0;
        if (fast24) {
            /* never the last group: it may be short, and x ends with it */
            for (; s + 8 <= width - 2; s += 8) {
                float32x4_t v0 = vld1q_f32(v + s), v1 = vld1q_f32(v + s + 4);
                float32x4_t x0 = gather_24(x, ix, s), x1 = gather_24(x, ix, s + 4);
                x0 = vbslq_f32(vceqzq_f32(v0), zero, x0);
                x1 = vbslq_f32(vceqzq_f32(v1), zero, x1);
                s0 = vfmaq_f32(s0, v0, x0);
                s1 = vfmaq_f32(s1, v1, x1);
            }
        }
        for (; s + 4 <= width; s += 4) {
            float32x4_t v0 = vld1q_f32(v + s);
            float32x4_t x0 = gather4(x, x_s, ix, s, n, m);
            x0 = vbslq_f32(vceqzq_f32(v0), zero, x0);
            s0 = vfmaq_f32(s0, v0, x0);
        }
        float sum = vaddvq_f32(vaddq_f32(s0, s1));
        for (; s < width; s++)
            if (v[s] != 0.0f)
                sum += v[s] * x[((s / n) * m + ix[s]) * x_s];
        c[r * c_rs] += alpha * sum;
    }
}

void tasdi_neon_term_gemm(const float *values, const uint8_t *index, int64_t width, int n,
                          int m, int64_t r0, int64_t r1, const float *b, int64_t b_rs,
                          int64_t b_cs, int64_t ncols, float alpha, float *c, int64_t c_rs,
                          int64_t c_cs)
{
    if (ncols == 1) {
        narrow1(values, index, width, n, m, r0, r1, b, b_rs, alpha, c, c_rs);
        return;
    }
    if (b_cs != 1 || c_cs != 1) {
        tasdi_scalar_term_gemm(values, index, width, n, m, r0, r1, b, b_rs, b_cs, ncols,
                               alpha, c, c_rs, c_cs);
        return;
    }
    wide(values, index, width, n, m, r0, r1, b, b_rs, ncols, alpha, c, c_rs);
}
