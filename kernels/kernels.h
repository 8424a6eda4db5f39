/* The hot loops every backend provides. Kernel files include only this header
 * (plus their ISA's intrinsics): they never allocate, parse or log; all
 * checking happens in lib/ before a kernel runs.
 *
 * ------------------------------------------------------------------------
 * Kernel layout (the packed-series contract; built once by lib/core/pack.c)
 * ------------------------------------------------------------------------
 * A series keeps its canonical per-term layout (values [rows][width] floats,
 * index [rows][width] bytes = position inside the group; width = groups*N;
 * padding slots hold value 0, index 0). tasdi_series_pack() adds, per term,
 * two derived arrays that reuse the canonical values:
 *
 *  Wide kernel (n > TASDI_NARROW_MAX): lanes run along n.
 *    The slots are re-streamed K-block major, values and k offsets apart,
 *    all terms of a row interleaved block by block (one stream per series;
 *    every term's wval/koff pointer is the same base):
 *      wval  float  [nkb][rows][term 0 cnt(kb) | term 1 cnt(kb) | ...]
 *      koff  uint8  [nkb][rows][same]
 *    cnt(kb) = spb = TASDI_KC / M * N for every K block but the last, which
 *    holds the rest of the row's slots (TASDI_KC is a multiple of every M,
 *    so a K block holds whole groups). koff is the slot's k relative to the
 *    block start, k - kb*TASDI_KC. Term t's slots of row r in block kb start
 *    at tasdi_wide_at(pt, rows, nkb, kb, r); the run of ALL terms starts at
 *    term 0's position and holds tasdi_wide_run(pt, nkb, kb) slots (term 0's
 *    first, then term 1's, ...), and the rows of a row block follow each
 *    other, so a kernel call streams one contiguous run whatever the number
 *    of terms.
 *          The framework packs B per call (or once, for a fixed B: tasdi_bpack
 *          in lib/core/dispatch.h) into panels of TASDI_NR columns:
 *              bpack[panel][k][TASDI_NR]   (zero padded in n and in k up to
 *                                            nkb*TASDI_KC)
 *          so a kernel call sees one (K block x TASDI_NR) block, 32 KiB, which
 *          stays in L1 while it walks a block of rows. For each row the
 *          kernel keeps the NR-wide C strip in registers across the K block,
 *          and per slot does one broadcast of the value and NR/VL FMAs
 *          against bblk + koff*TASDI_NR. The K block is 64 so that the
 *          B block (16 KiB) leaves room in a 32 KiB L1 for the slot stream
 *          and the tile, and koff fits a byte. All terms of the row accumulate into
 *          the same registers (the C strip is walked once per K block).
 *          The strip goes to a contiguous tile (tile[r][TASDI_NR]); the
 *          framework applies alpha/beta and any C strides at the end.
 *
 *  Narrow kernel (n = 1..TASDI_NARROW_MAX; GEMV / decoding): memory-bound on
 *    the weights, so indices are packed tightly.
 *    nidx  uint32 [rows][chunks*words]: the canonical indices of each run of
 *          16 slots (a "chunk"; chunks = ceil(width/16)) packed `bits` =
 *          log2(M) bits each, `per_word` = min(16, 32/bits) indices per
 *          32-bit word, low bits first, never straddling a word, zero filled:
 *              M=2: 1 word/chunk   M=4: 1 (2 bits each)   M=8: 2 (3 bits)
 *              M=16: 2 (4 bits)    M=32: 3 (5 bits)
 *          When N is a power of two <= 16, the 16 slots of chunk c cover
 *          exactly 16/N groups, i.e. the window x[c*W, c*W + W) with
 *          W = 16*M/N, and slot i sits at window position (i/N)*M + idx.
 *          SIMD kernels decode the indices with a variable shift and gather
 *          x from the window held in registers with in-register permutes
 *          (AVX-512: vpermt2ps over 2 zmm for W = 32; AVX2: vpermps over
 *          ymm pairs); wider windows or other N may use gathers or scalar
 *          code. x is packed per call column-major, x[j*ldx + k], with
 *          ldx >= round_up(cols, TASDI_XPAD) and zeros past cols, so a whole
 *          window may be loaded without reading past the end.
 *
 * Structural zeros (padding, or nothing kept) are multiplied like any value
 * by the SIMD kernels (0 * finite B = 0); the scalar reference skips them.
 * Results of different backends differ only by rounding (order of the adds);
 * one backend gives bit-identical results for any thread count.
 */
#ifndef TASD_KERNELS_H
#define TASD_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#define TASDI_MAX_TERMS 8
#define TASDI_KC 64          /* K block of the wide kernel (multiple of 32)   */
#define TASDI_NR 64          /* columns per packed B panel                    */
#define TASDI_NARROW_MAX 8   /* n <= this runs the narrow kernel              */
#define TASDI_XPAD 128       /* narrow x is readable up to round_up(cols, 128) */

typedef struct tasdi_pterm {
    int n, m;
    int bits;              /* log2(m)                                   */
    int per_word;          /* indices per uint32 in nidx                */
    int words;             /* uint32 words per 16-slot chunk            */
    int pow2n;             /* n is a power of two <= 16                 */
    int64_t groups;        /* ceil(cols / m)                            */
    int64_t width;         /* groups * n slots per row                  */
    int64_t spb;           /* slots per full K block: TASDI_KC / m * n  */
    int64_t chunks;        /* ceil(width / 16)                          */
    int64_t last;          /* slots of the last K block                 */
    int64_t tspb, tlast;   /* spb and last summed over all terms        */
    int64_t pspb, plast;   /* the same over the terms before this one   */
    const float *values;   /* canonical [rows][width]                   */
    const uint8_t *index;  /* canonical [rows][width]                   */
    const float *wval;     /* series stream base (see above)            */
    const uint8_t *koff;   /* series stream base  (TASDI_KC <= 256)     */
    const uint32_t *nidx;  /* [rows][chunks * words]                    */
} tasdi_pterm;

typedef struct tasdi_packed {
    int64_t rows, cols;
    int64_t nkb;           /* ceil(cols / TASDI_KC)                     */
    int terms;
    tasdi_pterm term[TASDI_MAX_TERMS];
} tasdi_packed;

/* Slots of row r in K block kb, and where they start in wval/koff. */
static inline int64_t tasdi_wide_cnt(const tasdi_pterm *pt, int64_t nkb, int64_t kb)
{
    return kb + 1 < nkb ? pt->spb : pt->last;
}
/* Slots of row r in K block kb over all terms (same for every term's pt). */
static inline int64_t tasdi_wide_run(const tasdi_pterm *pt, int64_t nkb, int64_t kb)
{
    return kb + 1 < nkb ? pt->tspb : pt->tlast;
}
static inline int64_t tasdi_wide_at(const tasdi_pterm *pt, int64_t rows, int64_t nkb,
                                    int64_t kb, int64_t r)
{
    return kb * rows * pt->tspb + r * tasdi_wide_run(pt, nkb, kb) +
           (kb + 1 < nkb ? pt->pspb : pt->plast);
}

/* Select, in every group of m consecutive elements of residual[0..k), the n
 * of largest magnitude (ties: lower index), write them to values/index
 * (groups*n slots, ascending index within a group; a short last group pads
 * with value 0, index 0) and zero them in the residual. */
typedef void (*tasdi_select_fn)(float *residual, int64_t k, int n, int m,
                                float *values, uint8_t *index);

/* Row statistics for the decomposer: returns sum x^2 (in double, in a fixed
 * order), adds the number of nonzeros to *nnz and sets *finite to whether no
 * element is NaN or Inf. */
typedef double (*tasdi_stats_fn)(const float *x, int64_t n, int64_t *nnz, int *finite);

/* C[r, :] += alpha * sum_slots values[r][s] * B[k(r, s), :] for rows
 * [r0, r1) of one term in the canonical layout. */
typedef void (*tasdi_term_gemm_fn)(const float *values, const uint8_t *index,
                                   int64_t width, int n, int m,
                                   int64_t r0, int64_t r1,
                                   const float *b, int64_t b_rs, int64_t b_cs,
                                   int64_t ncols, float alpha,
                                   float *c, int64_t c_rs, int64_t c_cs);

/* Wide kernel, one K block kb and one B panel:
 *   tile[(r-r0)*TASDI_NR + j] (= or +=) sum over all terms and the slots of
 *   row r in block kb of value * bblk[koff*TASDI_NR + j]
 * for r in [r0, r1) and j < ncols (1..TASDI_NR; columns past ncols of the
 * tile may be written with anything finite). accumulate == 0 means the tile
 * is not read. bblk is the packed (TASDI_KC x TASDI_NR) block, 64-byte
 * aligned; tile is 64-byte aligned. */
typedef void (*tasdi_wide_fn)(const tasdi_packed *p, int64_t r0, int64_t r1,
                              int64_t kb, const float *bblk, int ncols,
                              float *tile, int accumulate);

/* Narrow kernel: y[(r-r0)*ldy + j] = sum over all terms and slots of row r of
 * value * x[j*ldx + k(slot)], for r in [r0, r1), j < nx (1..TASDI_NARROW_MAX).
 * x is 64-byte aligned, ldx a multiple of 16 >= round_up(cols, TASDI_XPAD),
 * zero past cols. */
typedef void (*tasdi_narrow_fn)(const tasdi_packed *p, int64_t r0, int64_t r1,
                                const float *x, int64_t ldx, int nx,
                                float *y, int64_t ldy);

/* ---- dense kernel (lib/core/dense.c: Y = X * W^T, the dense layer) ----
 * W [out, in] is packed once, at layer creation, into panels of
 * TASDI_DENSE_PANEL outputs, k-contiguous and zero past `out`:
 *     w[panel][k][TASDI_DENSE_PANEL]
 * Per call the framework packs a block of at most `mr` tokens by `kc` inputs
 * of X as xp[k][mr] and calls the kernel once per register tile:
 *     c[r*ldc + j] = (accumulate ? c[r*ldc + j] : 0)
 *                    + sum over k < kc, ascending, of xp[k*mr + r] * w_j[k*16]
 * for r < mr (1..kernel mr) and j < nc (1..kernel nr; the framework asks
 * for at most nr_tile when the tile's X strip is followed by others that
 * reuse the same W block from L1), where
 * w_j = wp + (j / 16) * wps + j % 16 (wps: floats between two panels; panels
 * past the one holding column nc-1 are not read). Columns >= nc of c are
 * neither read nor written. Each element is one multiply-add chain in
 * ascending k, so blocking K, or splitting tokens or outputs among threads,
 * does not change a bit of the result. */
#define TASDI_DENSE_PANEL 16
typedef void (*tasdi_dense_fn)(int64_t kc, const float *xp, int mr, const float *wp,
                               int64_t wps, int nc, float *c, int64_t ldc,
                               int accumulate);
typedef struct tasdi_dense_kernel {
    tasdi_dense_fn fn;
    int mr;   /* most tokens per tile                          */
    int nr_tile; /* outputs of the full register tile (16k)     */
    int nr;   /* most outputs per call, a multiple of nr_tile  */
    int kc;   /* K block the framework packs X for (L1 sized)  */
    int mc;   /* tokens per packed X block (L2 sized)          */
} tasdi_dense_kernel;

/* scalar: the plain-C reference */
void tasdi_scalar_select(float *residual, int64_t k, int n, int m,
                         float *values, uint8_t *index);
void tasdi_scalar_term_gemm(const float *values, const uint8_t *index,
                            int64_t width, int n, int m, int64_t r0, int64_t r1,
                            const float *b, int64_t b_rs, int64_t b_cs,
                            int64_t ncols, float alpha, float *c, int64_t c_rs,
                            int64_t c_cs);
double tasdi_scalar_stats(const float *x, int64_t n, int64_t *nnz, int *finite);
extern const tasdi_dense_kernel tasdi_scalar_dense;
/* Plain-C kernels on the packed layout: the executable spec of the contract
 * above (tested against the reference; a template for SIMD backends). */
void tasdi_scalar_wide(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                       const float *bblk, int ncols, float *tile, int accumulate);
void tasdi_scalar_narrow(const tasdi_packed *p, int64_t r0, int64_t r1,
                         const float *x, int64_t ldx, int nx, float *y,
                         int64_t ldy);

#if defined(__x86_64__) || defined(_M_X64)
void tasdi_avx2_select(float *residual, int64_t k, int n, int m, float *values,
                       uint8_t *index);
double tasdi_avx2_stats(const float *x, int64_t n, int64_t *nnz, int *finite);
double tasdi_avx512_stats(const float *x, int64_t n, int64_t *nnz, int *finite);
extern const tasdi_dense_kernel tasdi_avx2_dense;
extern const tasdi_dense_kernel tasdi_avx512_dense;
void tasdi_avx2_wide(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                     const float *bblk, int ncols, float *tile, int accumulate);
void tasdi_avx2_narrow(const tasdi_packed *p, int64_t r0, int64_t r1,
                       const float *x, int64_t ldx, int nx, float *y, int64_t ldy);
void tasdi_avx512_select(float *residual, int64_t k, int n, int m, float *values,
                         uint8_t *index);
void tasdi_avx512_wide(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                       const float *bblk, int ncols, float *tile, int accumulate);
void tasdi_avx512_narrow(const tasdi_packed *p, int64_t r0, int64_t r1,
                         const float *x, int64_t ldx, int nx, float *y,
                         int64_t ldy);
#endif

#if defined(__aarch64__)
/* kernels/neon: aarch64 Advanced SIMD (always present on aarch64). */
void tasdi_neon_select(float *residual, int64_t k, int n, int m, float *values,
                       uint8_t *index);
double tasdi_neon_stats(const float *x, int64_t n, int64_t *nnz, int *finite);
extern const tasdi_dense_kernel tasdi_neon_dense;
void tasdi_neon_wide(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                     const float *bblk, int ncols, float *tile, int accumulate);
void tasdi_neon_narrow(const tasdi_packed *p, int64_t r0, int64_t r1,
                       const float *x, int64_t ldx, int nx, float *y, int64_t ldy);
#endif

#endif /* TASD_KERNELS_H */
