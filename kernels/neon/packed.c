/* NEON kernels on the packed layout (kernels/kernels.h), aarch64 Advanced SIMD.
 *
 * Wide: lanes run along n. For each row the C strip of the panel (up to
 * TASDI_NR = 64 columns = 16 q registers, trimmed to the columns in use)
 * stays in registers across the K block and across all terms; per kept value
 * one FMA by element per 4 columns against bblk + k * TASDI_NR (k decoded
 * from the packed indices), the (TASDI_KC x TASDI_NR) block sitting in L1
 * for the whole row block.
 *
 * Narrow (n = 1..8): lanes run along the slots. Four slots at a time: their
 * values are one vector load; for M = 4 (2:4, 1:4) their 2-bit packed
 * indices are decoded with a variable shift and the x they select are
 * taken from the window of their groups with a byte table lookup (vqtbl2q /
 * vqtbl4q), so the weights stream as 4 bytes + 2 bits per slot; other N:M
 * gather x with lane loads. Runs are walked K block by K block. x is padded with
 * zeros up to ldx, so whole windows may be loaded. Two 4-lane partial sums
 * per row, reduced at the end.
 *
 * Series values of each type (the layout's vtype) run the same code: f32 as
 * stored, bf16 widened in registers by a 16-bit shift (shll), f16 by
 * vcvt_f32_f16 (fcvtl); the value type is a constant after inlining
 * (val1 / val4 below), and the values are never copied to fp32 memory.
 *
 * Unlike the contract's minimum, a structural zero (value 0) never multiplies
 * B or x here (skipped, or its x replaced by 0), exactly as in the scalar
 * reference, so NaN/Inf in rows of B that no kept weight selects never reach
 * C. Results differ from the reference only by rounding (FMA, summation
 * order) and are the same for any thread count. */
#include "../kernels.h"

#include <arm_neon.h>

#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* The 16 accumulators are separate variables (not an array), so both GCC
 * and Clang keep them in registers; NQ is a constant after inlining and the
 * `NQ > i` tests fold away. */
#define FOR16(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) \
                 X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)

/* ---- series values by value type vt (TASDI_V_*, a constant after inlining) ---- */

/* Where term pt's values start at offset `at` (f32 or 16-bit elements). */
static ALWAYS_INLINE const void *val_at(const tasdi_pterm *pt, int64_t at, const int vt)
{
    return vt == TASDI_V_F32 ? (const void *)(pt->val + at) : (const void *)(pt->hval + at);
}

/* Four 16-bit values widened to f32 in registers. */
static ALWAYS_INLINE float32x4_t widen4(uint16x4_t h, const int vt)
{
    if (vt == TASDI_V_BF16) /* a bf16 is the top half of a f32 */
        return vreinterpretq_f32_u32(vshll_n_u16(h, 16));
    return vcvt_f32_f16(vreinterpret_f16_u16(h));
}

/* Values s..s+3 of the run at v. */
static ALWAYS_INLINE float32x4_t val4(const void *v, int64_t s, const int vt)
{
    if (vt == TASDI_V_F32)
        return vld1q_f32((const float *)v + s);
    return widen4(vld1_u16((const uint16_t *)v + s), vt);
}

/* Value s of the run at v. */
static ALWAYS_INLINE float val1(const void *v, int64_t s, const int vt)
{
    if (vt == TASDI_V_F32)
        return ((const float *)v)[s];
    return vgetq_lane_f32(widen4(vdup_n_u16(((const uint16_t *)v)[s]), vt), 0);
}

static ALWAYS_INLINE void wide_rows(const tasdi_packed *p, int64_t r0, int64_t r1,
                                    int64_t kb, const float *bblk, float *tile, int64_t tld,
                                    int accumulate, const int NQ, const int vt)
{
    const float32x4_t zero = vdupq_n_f32(0.0f);
    for (int64_t r = r0; r < r1; r++) {
        float *t = tile + (r - r0) * tld;
#define DECL(i) float32x4_t a##i = (NQ > i && accumulate) ? vld1q_f32(t + 4 * i) : zero;
        FOR16(DECL)
#undef DECL
        for (int i = 0; i < p->terms; i++) {
            const tasdi_pterm *pt = &p->term[i];
            int64_t cnt = tasdi_wide_cnt(pt, p->nkb, kb);
            int64_t at = tasdi_wide_at(pt, p->rows, p->nkb, kb, r);
            const void *v = val_at(pt, at, vt); /* the row's slots of block kb */
            const uint32_t *w = pt->idx + tasdi_idx_at(pt, p->rows, p->nkb, kb, r);
            int64_t s = 0;
            if (NQ <= 4) {
                /* 4 chains are too few to hide the FMA latency: odd slots
                 * go to a second set (a4..a7), added in at the end */
                for (; s + 2 <= cnt; s += 2) {
                    float x0 = val1(v, s, vt), x1 = val1(v, s + 1, vt);
                    const float *b0 = bblk + (size_t)tasdi_slot_k(pt, w, s) * TASDI_NR;
                    const float *b1 = bblk + (size_t)tasdi_slot_k(pt, w, s + 1) * TASDI_NR;
                    if (x0 != 0.0f) { /* structural zeros never multiply */
#define FMA(i) if (NQ > i) a##i = vfmaq_n_f32(a##i, vld1q_f32(b0 + 4 * i), x0);
                        FMA(0) FMA(1) FMA(2) FMA(3)
#undef FMA
                    }
                    if (x1 != 0.0f) {
#define FMA(i) if (NQ > i - 4) a##i = vfmaq_n_f32(a##i, vld1q_f32(b1 + 4 * (i - 4)), x1);
                        FMA(4) FMA(5) FMA(6) FMA(7)
#undef FMA
                    }
                }
            }
            for (; s < cnt; s++) {
                float x0 = val1(v, s, vt);
                if (x0 == 0.0f) /* structural zero: padding or nothing kept */
                    continue;
                const float *b = bblk + (size_t)tasdi_slot_k(pt, w, s) * TASDI_NR;
#define FMA(i) if (NQ > i) a##i = vfmaq_n_f32(a##i, vld1q_f32(b + 4 * i), x0);
                FOR16(FMA)
#undef FMA
            }
        }
        if (NQ <= 4) {
            a0 = vaddq_f32(a0, a4);
            a1 = vaddq_f32(a1, a5);
            a2 = vaddq_f32(a2, a6);
            a3 = vaddq_f32(a3, a7);
        }
#define STORE(i) if (NQ > i) vst1q_f32(t + 4 * i, a##i);
        FOR16(STORE)
#undef STORE
    }
}

static ALWAYS_INLINE void wide(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                                const float *bblk, int ncols, float *tile, int64_t tld,
                                int accumulate, const int vt)
{
    /* one panel per call (wide_panels = 1); columns past ncols in the panel
     * are zero in bblk: computing them is harmless, so round the strip up
     * to 16, 32, 48 or 64 columns */
    if (ncols <= 16)
        wide_rows(p, r0, r1, kb, bblk, tile, tld, accumulate, 4, vt);
    else if (ncols <= 32)
        wide_rows(p, r0, r1, kb, bblk, tile, tld, accumulate, 8, vt);
    else if (ncols <= 48)
        wide_rows(p, r0, r1, kb, bblk, tile, tld, accumulate, 12, vt);
    else
        wide_rows(p, r0, r1, kb, bblk, tile, tld, accumulate, 16, vt);
}

void tasdi_neon_wide(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                     const float *bblk, int64_t bnext, int ncols, float *tile,
                     int64_t tnext, int64_t tld, int accumulate)
{
    (void)bnext;
    (void)tnext;
    wide(p, r0, r1, kb, bblk, ncols, tile, tld, accumulate, TASDI_V_F32);
}

void tasdi_neon_wide_bf16(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                          const float *bblk, int64_t bnext, int ncols, float *tile,
                          int64_t tnext, int64_t tld, int accumulate)
{
    (void)bnext;
    (void)tnext;
    wide(p, r0, r1, kb, bblk, ncols, tile, tld, accumulate, TASDI_V_BF16);
}

void tasdi_neon_wide_f16(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                         const float *bblk, int64_t bnext, int ncols, float *tile,
                         int64_t tnext, int64_t tld, int accumulate)
{
    (void)bnext;
    (void)tnext;
    wide(p, r0, r1, kb, bblk, ncols, tile, tld, accumulate, TASDI_V_F16);
}

/* x of the four slots s..s+3 of a run (any N:M). */
static inline float32x4_t gather4(const float *x, const tasdi_pterm *pt, const uint32_t *w,
                                  int64_t s)
{
    float32x4_t r = vdupq_n_f32(0.0f);
    r = vld1q_lane_f32(x + tasdi_slot_k(pt, w, s + 0), r, 0);
    r = vld1q_lane_f32(x + tasdi_slot_k(pt, w, s + 1), r, 1);
    r = vld1q_lane_f32(x + tasdi_slot_k(pt, w, s + 2), r, 2);
    r = vld1q_lane_f32(x + tasdi_slot_k(pt, w, s + 3), r, 3);
    return r;
}

/* M = 4 with the 2-bit packed indices (nidx: one uint32 per chunk of 16
 * slots, slot i at bits 2i). Four slots at a time: decode their indices with
 * a variable shift, turn them into byte selectors and pick the x values out
 * of the window their groups cover with one table lookup:
 *   2:4  quad q of a chunk = groups 2q, 2q+1: 8 floats, vqtbl2q;
 *   1:4  quad q of a chunk = groups 4q..4q+3: 16 floats, vqtbl4q.
 * x is readable (zero padded) up to ldx, so whole windows may be loaded. */
static inline uint8x16_t m4_selectors(uint32_t word, int q, uint8x16_t lane_off)
{
    static const int32_t shifts[4][4] = {
        {0, -2, -4, -6}, {-8, -10, -12, -14}, {-16, -18, -20, -22}, {-24, -26, -28, -30}};
    uint32x4_t idx = vandq_u32(vshlq_u32(vdupq_n_u32(word), vld1q_s32(shifts[q])),
                               vdupq_n_u32(3));
    /* byte b of lane l: 4*idx + lane_off */
    return vaddq_u8(vreinterpretq_u8_u32(vmulq_n_u32(idx, 0x04040404u)), lane_off);
}

static ALWAYS_INLINE float dot_24(const void *v, const uint32_t *nidx, int64_t width,
                                   const float *x, int64_t *done, const int vt)
{
    static const uint8_t off[16] = {0, 1, 2, 3, 0, 1, 2, 3, 16, 17, 18, 19, 16, 17, 18, 19};
    const uint8x16_t lane_off = vld1q_u8(off);
    const float32x4_t zero = vdupq_n_f32(0.0f);
    float32x4_t s0 = zero, s1 = zero;
    int64_t s = 0;
    for (; s + 4 <= width; s += 4) {
        int64_t c = s / 16;
        int q = (int)((s % 16) / 4);
        const float *xg = x + c * 32 + q * 8;
        uint8x16x2_t tab = {{vreinterpretq_u8_f32(vld1q_f32(xg)),
                             vreinterpretq_u8_f32(vld1q_f32(xg + 4))}};
        float32x4_t xv = vreinterpretq_f32_u8(
            vqtbl2q_u8(tab, m4_selectors(nidx[c], q, lane_off)));
        float32x4_t vv = val4(v, s, vt);
        xv = vbslq_f32(vceqzq_f32(vv), zero, xv);
        if (q & 1)
            s1 = vfmaq_f32(s1, vv, xv);
        else
            s0 = vfmaq_f32(s0, vv, xv);
    }
    *done = s;
    return vaddvq_f32(vaddq_f32(s0, s1));
}

static ALWAYS_INLINE float dot_14(const void *v, const uint32_t *nidx, int64_t width,
                                   const float *x, int64_t *done, const int vt)
{
    static const uint8_t off[16] = {0, 1, 2, 3, 16, 17, 18, 19,
                                    32, 33, 34, 35, 48, 49, 50, 51};
    const uint8x16_t lane_off = vld1q_u8(off);
    const float32x4_t zero = vdupq_n_f32(0.0f);
    float32x4_t s0 = zero, s1 = zero;
    int64_t s = 0;
    for (; s + 4 <= width; s += 4) {
        int64_t c = s / 16;
        int q = (int)((s % 16) / 4);
        const float *xg = x + c * 64 + q * 16;
        uint8x16x4_t tab = {{vreinterpretq_u8_f32(vld1q_f32(xg)),
                             vreinterpretq_u8_f32(vld1q_f32(xg + 4)),
                             vreinterpretq_u8_f32(vld1q_f32(xg + 8)),
                             vreinterpretq_u8_f32(vld1q_f32(xg + 12))}};
        float32x4_t xv = vreinterpretq_f32_u8(
            vqtbl4q_u8(tab, m4_selectors(nidx[c], q, lane_off)));
        float32x4_t vv = val4(v, s, vt);
        xv = vbslq_f32(vceqzq_f32(vv), zero, xv);
        if (q & 1)
            s1 = vfmaq_f32(s1, vv, xv);
        else
            s0 = vfmaq_f32(s0, vv, xv);
    }
    *done = s;
    return vaddvq_f32(vaddq_f32(s0, s1));
}

/* sum over one run (cnt slots from v, index words w, x at the block start)
 * of v * x[k(slot)] */
static ALWAYS_INLINE float run_dot(const tasdi_pterm *pt, const void *v, const uint32_t *w,
                                   int64_t cnt, const float *x, const int vt)
{
    int64_t s = 0;
    float sum;
    if (pt->m == 4 && pt->n == 2) {
        sum = dot_24(v, w, cnt, x, &s, vt);
    } else if (pt->m == 4 && pt->n == 1) {
        sum = dot_14(v, w, cnt, x, &s, vt);
    } else {
        const float32x4_t zero = vdupq_n_f32(0.0f);
        float32x4_t s0 = zero, s1 = zero;
        for (; s + 8 <= cnt; s += 8) {
            float32x4_t v0 = val4(v, s, vt), v1 = val4(v, s + 4, vt);
            float32x4_t x0 = gather4(x, pt, w, s), x1 = gather4(x, pt, w, s + 4);
            s0 = vfmaq_f32(s0, v0, vbslq_f32(vceqzq_f32(v0), zero, x0));
            s1 = vfmaq_f32(s1, v1, vbslq_f32(vceqzq_f32(v1), zero, x1));
        }
        sum = vaddvq_f32(vaddq_f32(s0, s1));
    }
    for (; s < cnt; s++) {
        float vs = val1(v, s, vt);
        if (vs != 0.0f)
            sum += vs * x[tasdi_slot_k(pt, w, s)];
    }
    return sum;
}

static ALWAYS_INLINE void narrow(const tasdi_packed *p, int64_t r0, int64_t r1,
                                 const float *x, int64_t ldx, int nx, float *y, int64_t ldy,
                                 const int vt)
{
    for (int64_t r = r0; r < r1; r++) {
        for (int j = 0; j < nx; j++) {
            float acc = 0.0f;
            for (int i = 0; i < p->terms; i++) {
                const tasdi_pterm *pt = &p->term[i];
                for (int64_t kb = 0; kb < p->nkb; kb++)
                    acc += run_dot(pt, val_at(pt, tasdi_wide_at(pt, p->rows, p->nkb, kb, r), vt),
                                   pt->idx + tasdi_idx_at(pt, p->rows, p->nkb, kb, r),
                                   tasdi_wide_cnt(pt, p->nkb, kb), x + j * ldx + kb * TASDI_KC,
                                   vt);
            }
            y[(r - r0) * ldy + j] = acc;
        }
    }
}

void tasdi_neon_narrow(const tasdi_packed *p, int64_t r0, int64_t r1, const float *x,
                       int64_t ldx, int nx, float *y, int64_t ldy)
{
    narrow(p, r0, r1, x, ldx, nx, y, ldy, TASDI_V_F32);
}

void tasdi_neon_narrow_bf16(const tasdi_packed *p, int64_t r0, int64_t r1, const float *x,
                            int64_t ldx, int nx, float *y, int64_t ldy)
{
    narrow(p, r0, r1, x, ldx, nx, y, ldy, TASDI_V_BF16);
}

void tasdi_neon_narrow_f16(const tasdi_packed *p, int64_t r0, int64_t r1, const float *x,
                           int64_t ldx, int nx, float *y, int64_t ldy)
{
    narrow(p, r0, r1, x, ldx, nx, y, ldy, TASDI_V_F16);
}
