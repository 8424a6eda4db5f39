/* Wide and narrow kernels for x86 SIMD, written once over a small set of
 * vector macros. This file contains no intrinsics itself: it is included by
 * kernels/avx2/kernels.c and kernels/avx512/kernels.c, which define the
 * macros with their own intrinsics and are compiled with their own ISA flags.
 * Sharing the code means the AVX-512 instantiation runs exactly the logic the
 * AVX2 one is tested with; only the macros differ.
 *
 * The including file defines:
 *   VL                 lanes (8 or 16);  vf / vi: float / int32 vector types
 *   PFX(name)          the function-name prefix (tasdi_avx2_##name ...)
 *   VZERO() VLOAD(p) VSTORE(p, v) VBCAST(p) VFMA(a, b, c) = a*b + c, VADD
 *   VLOAD_N(p, n)      load n < VL floats, zero the rest, never read past p[n-1]
 *   VI_SET1(x) VI_LOADU(p) VI_ADD(a, b) VI_AND(a, b) VI_SRLV(a, counts)
 *   VI_LOAD_WORDS(w, n) load n (1..3) uint32, other lanes zero
 *   VI_PERM(a, lanes)  a[lanes[i]] for each lane (lanes < VL)
 *   WIN1(x, pos)       x[pos[i]] for a window of VL floats at x (pos < VL)
 *   WIN2(x, pos)       same for a window of 2*VL floats (two registers)
 *   GATHER_N(x, pos, n) x[pos[i]] for lanes i < n, 0 for the others
 *   VHSUM(v)           horizontal sum (fixed order)
 *   PREFETCH(p)        prefetch a cache line
 */

#define WIDE_NV (TASDI_NR / VL)

/* ---- wide kernel ---- */

static inline __attribute__((always_inline)) void
wide_rows(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb, const float *bblk,
          float *tile, int accumulate, const int nv)
{
    /* With few vectors per strip (AVX-512's 4 zmm, a narrow panel, small n)
     * one accumulator per vector would wait on the FMA latency; slots are
     * then dealt round-robin to `sets` accumulator sets (<= 8 registers in
     * all), added together at the end of the block in a fixed order. */
    enum { MAXSETS = 4 };
    const int sets = nv == 1 ? 4 : nv <= 4 ? 2 : 1;
    for (int64_t r = r0; r < r1; r++) {
        float *t = tile + (r - r0) * TASDI_NR;
        vf acc[MAXSETS][WIDE_NV];
#pragma GCC unroll 4
        for (int e = 0; e < MAXSETS; e++)
#pragma GCC unroll 16
            for (int q = 0; q < WIDE_NV; q++)
                if (e < sets && q < nv)
                    acc[e][q] = accumulate && e == 0 ? VLOAD(t + q * VL) : VZERO();
        {
            /* all terms' slots of this row and K block: one contiguous run */
            const tasdi_pterm *pt = &p->term[0];
            int64_t cnt = tasdi_wide_run(pt, p->nkb, kb);
            int64_t at = tasdi_wide_at(pt, p->rows, p->nkb, kb, r);
            const float *v = pt->wval + at;
            const uint8_t *ko = pt->koff + at;
            int64_t s = 0;
            for (; s + 4 <= cnt; s += 4) {
#pragma GCC unroll 4
                for (int u = 0; u < 4; u++) {
                    vf b0 = VBCAST(v + s + u);
                    const float *p0 = bblk + (size_t)ko[s + u] * TASDI_NR;
                    const int e = u % sets;
#pragma GCC unroll 16
                    for (int q = 0; q < WIDE_NV; q++)
                        if (q < nv)
                            acc[e][q] = VFMA(b0, VLOAD(p0 + q * VL), acc[e][q]);
                }
            }
            for (; s < cnt; s++) {
                vf b0 = VBCAST(v + s);
                const float *p0 = bblk + (size_t)ko[s] * TASDI_NR;
#pragma GCC unroll 16
                for (int q = 0; q < WIDE_NV; q++)
                    if (q < nv)
                        acc[0][q] = VFMA(b0, VLOAD(p0 + q * VL), acc[0][q]);
            }
        }
#pragma GCC unroll 16
        for (int q = 0; q < WIDE_NV; q++)
            if (q < nv) {
                vf sum = acc[0][q];
                if (sets == 4)
                    sum = VADD(VADD(acc[0][q], acc[1][q]), VADD(acc[2][q], acc[3][q]));
                else if (sets == 2)
                    sum = VADD(acc[0][q], acc[1][q]);
                VSTORE(t + q * VL, sum);
            }
    }
}

void PFX(wide)(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
               const float *bblk, int ncols, float *tile, int accumulate)
{
    int nv = (ncols + VL - 1) / VL;
    switch (nv) {
#if WIDE_NV > 4
    case 1: wide_rows(p, r0, r1, kb, bblk, tile, accumulate, 1); break;
    case 2: wide_rows(p, r0, r1, kb, bblk, tile, accumulate, 2); break;
    case 3: wide_rows(p, r0, r1, kb, bblk, tile, accumulate, 3); break;
    case 4: wide_rows(p, r0, r1, kb, bblk, tile, accumulate, 4); break;
    case 5: wide_rows(p, r0, r1, kb, bblk, tile, accumulate, 5); break;
    case 6: wide_rows(p, r0, r1, kb, bblk, tile, accumulate, 6); break;
    case 7: wide_rows(p, r0, r1, kb, bblk, tile, accumulate, 7); break;
    default: wide_rows(p, r0, r1, kb, bblk, tile, accumulate, 8); break;
#else
    case 1: wide_rows(p, r0, r1, kb, bblk, tile, accumulate, 1); break;
    case 2: wide_rows(p, r0, r1, kb, bblk, tile, accumulate, 2); break;
    case 3: wide_rows(p, r0, r1, kb, bblk, tile, accumulate, 3); break;
    default: wide_rows(p, r0, r1, kb, bblk, tile, accumulate, 4); break;
#endif
    }
}

/* ---- narrow kernel ---- */

/* How a term is fetched: by permutes from a window in registers (ratio =
 * M/N = window vectors per slot vector: 1 or 2, 4 or 8 with WIN2s and a
 * blend tree), by a masked gather (M/N >= 16), or by plain scalar code (N not
 * a power of two dividing VL). */
enum { FETCH_SCALAR, FETCH_PERM, FETCH_GATHER };

static int narrow_mode(const tasdi_pterm *pt)
{
    if (!pt->pow2n || pt->n > VL)
        return FETCH_SCALAR;
    int ratio = pt->m / pt->n;
    return ratio <= 8 ? FETCH_PERM : FETCH_GATHER;
}

static inline vf fetch_perm(const float *xw, vi pos, const int ratio)
{
    if (ratio == 1)
        return WIN1(xw, pos);
    if (ratio == 2)
        return WIN2(xw, pos);
    /* ratio 4: two 2-register windows, pick by bit log2(2*VL) of pos */
    vf lo = WIN2(xw, pos), hi = WIN2(xw + 2 * VL, pos);
    vf r4 = VBLEND_BIT(lo, hi, pos, 2 * VL);
    if (ratio == 4)
        return r4;
    /* ratio 8: two 4-register windows, pick by bit log2(4*VL) */
    vf lo2 = WIN2(xw + 4 * VL, pos), hi2 = WIN2(xw + 6 * VL, pos);
    return VBLEND_BIT(r4, VBLEND_BIT(lo2, hi2, pos, 2 * VL), pos, 4 * VL);
}

static void narrow_term_scalar(const tasdi_pterm *pt, int64_t r, const float *x,
                               int64_t ldx, int nx, float *acc_s)
{
    const float *v = pt->values + r * pt->width;
    const uint8_t *ix = pt->index + r * pt->width;
    int64_t s = 0;
    for (int64_t g = 0; g < pt->groups; g++)
        for (int t = 0; t < pt->n; t++, s++) {
            if (v[s] == 0.0f)
                continue;
            int64_t k = g * pt->m + ix[s];
            for (int j = 0; j < nx; j++)
                acc_s[j] += v[s] * x[j * ldx + k];
        }
}

#define HALVES (16 / VL) /* slot vectors per 16-slot chunk */
#define NARROW_SPLIT (VL == 8 ? 3 : 8)
#define NARROW_PASS (VL == 8 ? 4 : 8) /* columns per pass over a row */

/* One 16-slot chunk: decode its packed indices (one variable shift per
 * vector), fetch x for every column and accumulate. ratio = M/N is 1, 2 or 4
 * (permutes from a window in registers) or 0 (masked gather). full == 0 for
 * the short last chunk of a row. */
static inline __attribute__((always_inline)) void
narrow_chunk(const tasdi_pterm *pt, const float *vals, const uint32_t *cw, const float *xc,
             int64_t ldx, const int nx, vf *acc, const vi *lanes_word, const vi *shift,
             vi base, vi mask, int64_t wv, const int ratio, int left)
{
    /* one word (M <= 4): broadcast it, every lane already holds its word */
    const int one = pt->words == 1;
    vi words = one ? VI_SET1((int)cw[0]) : VI_LOAD_WORDS(cw, pt->words);
#pragma GCC unroll 2
    for (int h = 0; h < HALVES; h++) {
        int lh = left - h * VL;
        if (lh <= 0)
            break;
        vf val = lh >= VL ? VLOAD(vals + h * VL) : VLOAD_N(vals + h * VL, lh);
        vi wl = one ? words : VI_PERM(words, lanes_word[h]);
        vi pos = VI_ADD(VI_AND(VI_SRLV(wl, shift[h]), mask), base);
        const float *xw = xc + h * wv;
#pragma GCC unroll 8
        for (int j = 0; j < TASDI_NARROW_MAX; j++) {
            if (j >= nx)
                break;
            vf xv = ratio ? fetch_perm(xw + j * ldx, pos, ratio)
                          : GATHER_N(xw + j * ldx, pos, lh >= VL ? VL : lh);
            acc[j] = VFMA(val, xv, acc[j]);
        }
    }
}

static inline __attribute__((always_inline)) void
narrow_term_vec(const tasdi_pterm *pt, int64_t r, const float *x, int64_t ldx,
                const int nx, vf *acc, const int ratio)
{
    const int n = pt->n, m = pt->m;
    const int64_t wv = (int64_t)VL * m / n; /* window floats per slot vector */
    int32_t lw[VL], ls[VL], lb[VL];
    vi lanes_word[HALVES], shift[HALVES];
    for (int h = 0; h < HALVES; h++) {
        for (int i = 0; i < VL; i++) {
            int slot = h * VL + i; /* position inside the 16-slot chunk */
            lw[i] = slot / pt->per_word;
            ls[i] = (slot % pt->per_word) * pt->bits;
            lb[i] = (i / n) * m;
        }
        lanes_word[h] = VI_LOADU(lw);
        shift[h] = VI_LOADU(ls);
    }
    const vi base = VI_LOADU(lb), mask = VI_SET1((1 << pt->bits) - 1);
    const float *vals = pt->values + r * pt->width;
    const uint32_t *w = pt->nidx + r * pt->chunks * pt->words;
    const int64_t full = pt->width / 16;
    /* two sets of local accumulators (even / odd chunks) keep the FMA chains
     * short and in registers */
    vf a0[TASDI_NARROW_MAX], a1[TASDI_NARROW_MAX];
#pragma GCC unroll 8
    for (int j = 0; j < TASDI_NARROW_MAX; j++)
        if (j < nx)
            a0[j] = a1[j] = VZERO();
    int64_t c = 0;
    for (; c + 2 <= full; c += 2) {
        /* stream the weights in ahead of use (they come from DRAM) */
        PREFETCH((const char *)(vals + c * 16) + 4096);
        PREFETCH((const char *)(vals + c * 16) + 4160);
        narrow_chunk(pt, vals + c * 16, w + c * pt->words, x + c * HALVES * wv, ldx, nx, a0,
                     lanes_word, shift, base, mask, wv, ratio, 16);
        /* odd chunks into a second set only while both sets fit in the
         * register file (16 ymm / 32 zmm) */
        narrow_chunk(pt, vals + (c + 1) * 16, w + (c + 1) * pt->words,
                     x + (c + 1) * HALVES * wv, ldx, nx, nx <= NARROW_SPLIT ? a1 : a0,
                     lanes_word, shift, base, mask, wv, ratio, 16);
    }
    for (; c < pt->chunks; c++) {
        int left = pt->width - c * 16 < 16 ? (int)(pt->width - c * 16) : 16;
        narrow_chunk(pt, vals + c * 16, w + c * pt->words, x + c * HALVES * wv, ldx, nx, a0,
                     lanes_word, shift, base, mask, wv, ratio, left);
    }
#pragma GCC unroll 8
    for (int j = 0; j < TASDI_NARROW_MAX; j++)
        if (j < nx)
            acc[j] = VADD(acc[j], VADD(a0[j], a1[j]));
}

static inline __attribute__((always_inline)) void
narrow_rows(const tasdi_packed *p, int64_t r0, int64_t r1, const float *x, int64_t ldx,
            const int nx, float *y, int64_t ldy)
{
    int modes[TASDI_MAX_TERMS];
    for (int i = 0; i < p->terms; i++)
        modes[i] = narrow_mode(&p->term[i]);
    for (int64_t r = r0; r < r1; r++) {
        vf acc[TASDI_NARROW_MAX];
        float acc_s[TASDI_NARROW_MAX];
        for (int j = 0; j < TASDI_NARROW_MAX; j++) {
            acc[j] = VZERO();
            acc_s[j] = 0.0f;
        }
        for (int i = 0; i < p->terms; i++) {
            const tasdi_pterm *pt = &p->term[i];
            if (modes[i] == FETCH_SCALAR)
                narrow_term_scalar(pt, r, x, ldx, nx, acc_s);
            else /* columns in passes that fit the register file */
#pragma GCC unroll 2
                for (int j0 = 0; j0 < nx; j0 += NARROW_PASS) {
                    const int ns = nx - j0 < NARROW_PASS ? nx - j0 : NARROW_PASS;
                    const float *xj = x + j0 * ldx;
                    if (modes[i] == FETCH_GATHER)
                        narrow_term_vec(pt, r, xj, ldx, ns, acc + j0, 0);
                    else if (pt->m == 2 * pt->n)
                        narrow_term_vec(pt, r, xj, ldx, ns, acc + j0, 2);
                    else if (pt->m == pt->n)
                        narrow_term_vec(pt, r, xj, ldx, ns, acc + j0, 1);
                    else if (pt->m == 4 * pt->n)
                        narrow_term_vec(pt, r, xj, ldx, ns, acc + j0, 4);
                    else
                        narrow_term_vec(pt, r, xj, ldx, ns, acc + j0, 8);
                }
        }
        for (int j = 0; j < nx; j++)
            y[(r - r0) * ldy + j] = VHSUM(acc[j]) + acc_s[j];
    }
}

void PFX(narrow)(const tasdi_packed *p, int64_t r0, int64_t r1, const float *x,
                 int64_t ldx, int nx, float *y, int64_t ldy)
{
    switch (nx) {
    case 1: narrow_rows(p, r0, r1, x, ldx, 1, y, ldy); break;
    case 2: narrow_rows(p, r0, r1, x, ldx, 2, y, ldy); break;
    case 3: narrow_rows(p, r0, r1, x, ldx, 3, y, ldy); break;
    case 4: narrow_rows(p, r0, r1, x, ldx, 4, y, ldy); break;
    case 5: narrow_rows(p, r0, r1, x, ldx, 5, y, ldy); break;
    case 6: narrow_rows(p, r0, r1, x, ldx, 6, y, ldy); break;
    case 7: narrow_rows(p, r0, r1, x, ldx, 7, y, ldy); break;
    default: narrow_rows(p, r0, r1, x, ldx, 8, y, ldy); break;
    }
}
