/* The hot loops every backend provides. Kernel files include only this header
 * (plus their ISA's intrinsics): they never allocate, parse or log; all
 * checking happens in lib/ before a kernel runs.
 *
 * ------------------------------------------------------------------------
 * Kernel layout: the ONE resident form of a series (lib/core/pack.c)
 * ------------------------------------------------------------------------
 * A series stores its values once, fp32, and its indices once, bit-packed.
 * The canonical per-term view (values [rows][groups*N], index = position
 * inside the group; export, stats, reconstruct, save) is derived from it on
 * demand. K is cut into blocks of TASDI_KC = 64 columns (a multiple of every
 * M, so a block holds whole groups); term t holds cnt(kb) = spb = 64/M*N
 * slots of a row in every block but the last, which holds the rest.
 *
 *   val  float  [rows/RB][nkb][RB][term 0 cnt(kb) | term 1 cnt(kb) | ...]
 *   idx  uint32 [rows/RB][nkb][RB][term 0 words(kb) | term 1 words(kb) | ...]
 *
 * i.e. blocks of TASDI_RB = 64 rows (the last may be short), each K-block
 * major, all terms of a row interleaved block by block: a row's run of one K
 * block is contiguous, the rows of a row block follow each other, and a row
 * block's K blocks follow each other, so a kernel call over (part of) a row
 * block streams contiguous memory (wide: one run per K block; narrow, K
 * block after K block over its rows: the whole row block in order). A
 * term's run is cut into chunks of 16 slots (the last may be short); each
 * chunk's in-group indices are packed `bits` = log2(M) bits each,
 * `per_word` = min(16, 32/bits) per uint32, low bits first, never straddling
 * a word, zero filled, `words` words per chunk:
 *     M=2: 1 word/chunk  M=4: 1 (2 bits)  M=8: 2 (3 bits)  M=16: 2  M=32: 3
 * A short last chunk (a run of fewer than 16 slots, e.g. 1:8's 8) has only
 * the words its slots use; kernels may still load `words` words for it (the
 * layout ends with TASDI_IDX_SLACK readable bytes) and use only its slots'.
 * Slot s of a run (s-th of the term in this row and block) sits at
 *     k = kb*TASDI_KC + (s/N)*M + idx(s)       (tasdi_slot_k)
 * Bytes per weight, fp32: 2:4 2.125, 1:4 1.06, 1:8 0.5625, 2:4+1:8 2.69.
 * Value type (tasdi_packed.vtype): the values are fp32 (val), or bf16 / f16
 * (hval: uint16, same element offsets, so half the value bytes: 2:4 1.125,
 * 2:4+1:8 1.375, 1:8 0.31). Kernels widen half values in registers; there is no fp32 copy.
 * Padding slots (K not a multiple of M) and groups with fewer than N
 * nonzeros hold value 0, index 0 (always inside the row).
 *
 * Wide kernel (n above the backend's narrow crossover for the series,
 * tasdi_ops.narrow_max in lib/core/dispatch.h): lanes run along n. The
 * framework packs B per call (or once, tasdi_bpack in lib/core/dispatch.h)
 * into panels bpack[panel][k][TASDI_NR] (zero padded in K up to nkb*TASDI_KC
 * and in n up to TASDI_NR_READ columns: a kernel reads no further), so a call sees one TASDI_KC x TASDI_NR block (16 KiB) that
 * stays in L1 while it walks a block of rows. Per row the C strip stays in
 * registers across the K block and all terms; per slot one broadcast of the
 * value and NR/VL FMAs against bblk + k*TASDI_NR. The strip goes to a
 * contiguous tile (tile[r][TASDI_NR]); the framework applies alpha/beta and
 * any C strides at the end.
 *
 * Narrow kernel (n = 1..TASDI_NARROW_MAX; GEMV / decoding): lanes run along
 * the slots. When N is a power of two <= 16 the (up to) 16 slots of a chunk
 * cover exactly the x window [c*W, c*W + W), W = 16*M/N, from the start of
 * the block, and slot i sits at window position (i/N)*M + idx: SIMD kernels
 * decode the indices with a variable shift and take x from the window held
 * in registers with permutes, or gather (AVX2 runs a 1:8 term of full K
 * blocks eight rows at a time instead, lane = row: nf_t8_rows in
 * kernels/x86/tmpl.h). x is packed per call column-major,
 * x[j*ldx + k], zero from cols up to ldx >= round_up(cols, TASDI_KC) +
 * TASDI_XPAD, so a whole window may be loaded from any block.
 *
 * Non-finite B: a slot of value 0 (padding, nothing kept) must not touch B.
 * The SIMD kernels multiply such slots (0 * finite = 0), so the framework
 * runs them only on a B it found finite while packing it; otherwise it runs
 * the plain-C kernels, which skip value-0 slots. Results of different
 * backends differ only by rounding; one backend gives bit-identical results
 * for any thread count.
 */
#ifndef TASD_KERNELS_H
#define TASD_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#define TASDI_MAX_TERMS 8
#define TASDI_KC 64          /* K block of the wide kernel (multiple of 32)   */
#define TASDI_NR 64          /* columns per packed B panel                    */
#define TASDI_NR_READ 16     /* a wide kernel reads a panel's columns below
                                round_up(ncols, this) only (the widest vector) */
#define TASDI_NARROW_MAX 8   /* n <= this runs the narrow kernel              */
#define TASDI_XPAD 128       /* narrow x readable past round_up(cols, KC)   */
#define TASDI_RB 64          /* rows per layout block; kernel calls stay in one */
#define TASDI_IDX_SLACK 16   /* index bytes readable past the last word      */

/* Value types of the layout; the numbers are those of tasd_dtype. */
enum { TASDI_V_F32 = 0, TASDI_V_F16 = 1, TASDI_V_BF16 = 2 };

/* Bit 31 of the result is set where the float with bits u is Inf or NaN
 * (exponent all ones): integer ops only, which vectorise with the core's
 * baseline SSE2 (an OR over a row tells whether it is all finite). */
static inline uint32_t tasdi_nonfinite_bit(uint32_t u)
{
    return (u & 0x7f800000u) + 0x00800000u;
}

/* bf16 / f16 bits -> float, plain C (the scalar kernels' widening). */
static inline float tasdi_bits_f32(uint32_t u)
{
    union { uint32_t u; float f; } c = {u};
    return c.f;
}
static inline float tasdi_bf16_f32(uint16_t h)
{
    return tasdi_bits_f32((uint32_t)h << 16);
}
static inline float tasdi_f16_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0) { /* zero or subnormal: man * 2^-24 */
        float f = (float)man * (1.0f / 16777216.0f);
        return sign ? -f : f;
    }
    if (exp == 31)
        return tasdi_bits_f32(sign | 0x7f800000u | (man << 13));
    return tasdi_bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

typedef struct tasdi_pterm {
    int n, m;
    int bits;              /* log2(m), at least 1                       */
    int per_word;          /* indices per uint32                        */
    int words;             /* uint32 words per 16-slot chunk            */
    int pow2n;             /* n is a power of two <= 16                 */
    int64_t groups;        /* ceil(cols / m)                            */
    int64_t width;         /* groups * n slots per row                  */
    int64_t spb, last;     /* slots of a full K block / of the last one */
    int64_t wpb, wlast;    /* index words of the same                   */
    int64_t tspb, tlast;   /* spb and last summed over all terms        */
    int64_t pspb, plast;   /* the same over the terms before this one   */
    int64_t twpb, twlast;  /* wpb and wlast summed over all terms       */
    int64_t pwpb, pwlast;  /* the same over the terms before this one   */
    union {                /* series base (see above), by vtype:        */
        const float *val;      /* TASDI_V_F32                           */
        const uint16_t *hval;  /* TASDI_V_BF16, TASDI_V_F16 bits        */
    };
    const uint32_t *idx;   /* series base                               */
} tasdi_pterm;

typedef struct tasdi_packed {
    int64_t rows, cols;
    int64_t nkb;           /* ceil(cols / TASDI_KC)                     */
    int terms;
    tasdi_pterm term[TASDI_MAX_TERMS];
    int vtype;             /* TASDI_V_*: how val / hval hold the values */
} tasdi_packed;

/* Value `at` (an offset from tasdi_wide_at) of term pt, as float. */
static inline float tasdi_value(const tasdi_packed *p, const tasdi_pterm *pt, int64_t at)
{
    return p->vtype == TASDI_V_F32    ? pt->val[at]
           : p->vtype == TASDI_V_BF16 ? tasdi_bf16_f32(pt->hval[at])
                                      : tasdi_f16_f32(pt->hval[at]);
}

/* Slots of a row of term pt in K block kb. */
static inline int64_t tasdi_wide_cnt(const tasdi_pterm *pt, int64_t nkb, int64_t kb)
{
    return kb + 1 < nkb ? pt->spb : pt->last;
}
/* Where term pt's slots of row r in block kb start in val, and their index
 * words in idx: row blocks of TASDI_RB rows one after the other, inside one
 * K block after K block, inside one row after row (see above). */
static inline int64_t tasdi_layout_at(int64_t rows, int64_t nkb, int64_t kb, int64_t r,
                                      int64_t full, int64_t last, int64_t pfull,
                                      int64_t plast)
{
    int64_t rb0 = r / TASDI_RB * TASDI_RB, nb = rows - rb0 < TASDI_RB ? rows - rb0 : TASDI_RB;
    int64_t base = rb0 * ((nkb - 1) * full + last);
    return kb + 1 < nkb ? base + (kb * nb + r - rb0) * full + pfull
                        : base + kb * nb * full + (r - rb0) * last + plast;
}
static inline int64_t tasdi_wide_at(const tasdi_pterm *pt, int64_t rows, int64_t nkb,
                                    int64_t kb, int64_t r)
{
    return tasdi_layout_at(rows, nkb, kb, r, pt->tspb, pt->tlast, pt->pspb, pt->plast);
}
static inline int64_t tasdi_idx_at(const tasdi_pterm *pt, int64_t rows, int64_t nkb,
                                   int64_t kb, int64_t r)
{
    return tasdi_layout_at(rows, nkb, kb, r, pt->twpb, pt->twlast, pt->pwpb, pt->pwlast);
}
/* k inside the block of slot s of a run whose index words start at w. */
static inline int tasdi_slot_k(const tasdi_pterm *pt, const uint32_t *w, int64_t s)
{
    int i = (int)(s % 16);
    uint32_t word = w[(s / 16) * pt->words + i / pt->per_word];
    int idx = (int)(word >> (i % pt->per_word * pt->bits)) & ((1 << pt->bits) - 1);
    return (int)(s / pt->n) * pt->m + idx;
}

/* Select, in every group of m consecutive elements of residual[0..k), the n
 * of largest magnitude (ties: lower index), write them to values/index
 * (groups*n slots, ascending index within a group; a short last group pads
 * with value 0, index 0) and zero them in the residual. The residual is
 * finite: the callers reject NaN and Inf first, and a backend may order the
 * magnitudes by their bits. */
typedef void (*tasdi_select_fn)(float *residual, int64_t k, int n, int m,
                                float *values, uint8_t *index);

/* Row statistics for the decomposer: returns sum x^2 (in double, in a fixed
 * order), adds the number of nonzeros to *nnz and sets *finite to whether no
 * element is NaN or Inf; nnz and finite both NULL: the sum alone (the same
 * value, sooner). copy: NULL, or n floats that receive x in the same pass
 * (the decomposer's residual; saves a second read of the row). */
typedef double (*tasdi_stats_fn)(const float *x, int64_t n, int64_t *nnz, int *finite,
                                 float *copy);

/* Wide kernel, one K block kb and one or more B panels (at most the
 * backend's wide_panels):
 *   tile[q*tnext + (r-r0)*tld + j] (= or +=) sum over all terms and the
 *   slots of row r in block kb of value * bblk[q*bnext + k*TASDI_NR + j]
 * for r in [r0, r1) (inside one row block of TASDI_RB), column
 * c = q*TASDI_NR + j < ncols (1..wide_panels *
 * TASDI_NR; columns past ncols of the last strip may be written with
 * anything finite, so a tile that is C itself gets whole panels only).
 * accumulate == 0 means the tile is not read. bblk is the packed
 * (TASDI_KC x TASDI_NR) block of the first panel, the next panel's block
 * bnext floats further, 64-byte aligned; the tile (rows tld floats apart)
 * may have any alignment. */
typedef void (*tasdi_wide_fn)(const tasdi_packed *p, int64_t r0, int64_t r1,
                              int64_t kb, const float *bblk, int64_t bnext, int ncols,
                              float *tile, int64_t tnext, int64_t tld, int accumulate);

/* Narrow kernel: y[(r-r0)*ldy + j] = sum over all terms and slots of row r of
 * value * x[j*ldx + k(slot)], for r in [r0, r1) (inside one
 * row block of TASDI_RB), j < nx (1..TASDI_NARROW_MAX).
 * x is 64-byte aligned, ldx a multiple of 16 >= round_up(cols, TASDI_KC) +
 * TASDI_XPAD, zero past cols. */
typedef void (*tasdi_narrow_fn)(const tasdi_packed *p, int64_t r0, int64_t r1,
                                const float *x, int64_t ldx, int nx,
                                float *y, int64_t ldy);
/* The most columns for which the narrow kernel runs series p on a fast path
 * (its N:M known at compile time), 0 if none: such a path has its own
 * crossover with the wide kernel (tasdi_ops.narrow_fast_max). */
typedef int (*tasdi_narrow_fast_fn)(const tasdi_packed *p);
/* Whether the narrow kernel fetches a term of series p by gathers (0: no). */
typedef int (*tasdi_narrow_gathers_fn)(const tasdi_packed *p);

/* ---- transpose (the framework's packing of a transposed operand) ----
 * dst[c*ldd + r] = src[r*lds + c] for r < rows, c < cols (f32, bits kept);
 * nothing else of dst is written. The layers' X [tokens, in] is the
 * transpose of what both the wide kernel's B panels and the dense kernel's
 * X strips hold, and a layer's Y^T that of the kernels' row-major tiles:
 * element by element these copies took 45% of a 100x5000x200 2:4 layer
 * (AMD EPYC Zen 4, avx512). */
typedef void (*tasdi_transpose_fn)(const float *src, int64_t lds, int64_t rows,
                                   int64_t cols, float *dst, int64_t ldd);

/* ---- panel row (the framework's packing of a row-major operand) ----
 * dst[(j / TASDI_NR) * dnext + j % TASDI_NR] = src[j] for j < n (a multiple
 * of TASDI_NR_READ; bits kept): a row of B into consecutive panels, the last
 * one perhaps only in part, or a run of it into one. Returns whether all n floats are finite (the SIMD kernels
 * need a B without NaN/Inf). Compiled for the backend's vectors: as plain C
 * in lib/core (SSE2 only on x86) this copy was a quarter of a 64x147x12544
 * 2:4 call. */
typedef int (*tasdi_panel_row_fn)(const float *src, int64_t n, float *dst, int64_t dnext);

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
 * does not change a bit of the result. `rows` (optional) is the same tile
 * reading X where it lies, xp[k*mr + r] above replaced by x[r*ldx + k]:
 * the same products in the same order, so the same bits. */
#define TASDI_DENSE_PANEL 16
typedef void (*tasdi_dense_fn)(int64_t kc, const float *xp, int mr, const float *wp,
                               int64_t wps, int nc, float *c, int64_t ldc,
                               int accumulate);
typedef void (*tasdi_dense_rows_fn)(int64_t kc, const float *x, int64_t ldx, int mr,
                                    const float *wp, int64_t wps, int nc, float *c,
                                    int64_t ldc, int accumulate);
typedef struct tasdi_dense_kernel {
    tasdi_dense_fn fn;
    int mr;   /* most tokens per tile                          */
    int nr_tile; /* outputs of the full register tile (16k)     */
    int nr;   /* most outputs per call, a multiple of nr_tile  */
    int kc;   /* K block the framework packs X for (L1 sized)  */
    int mc;   /* tokens per packed X block (L2 sized)          */
    tasdi_dense_rows_fn rows; /* X read in place: x[r*ldx + k]; NULL: none */
} tasdi_dense_kernel;

/* scalar: the plain-C reference */
void tasdi_scalar_select(float *residual, int64_t k, int n, int m,
                         float *values, uint8_t *index);
double tasdi_scalar_stats(const float *x, int64_t n, int64_t *nnz, int *finite,
                          float *copy);
extern const tasdi_dense_kernel tasdi_scalar_dense;
void tasdi_scalar_transpose(const float *src, int64_t lds, int64_t rows, int64_t cols,
                            float *dst, int64_t ldd);
int tasdi_scalar_panel_row(const float *src, int64_t n, float *dst, int64_t dnext);
/* Plain-C kernels: the executable spec of the contract above and the scalar
 * backend. They skip value-0 slots (the framework also runs them for a B
 * that holds NaN or Inf). */
void tasdi_scalar_wide(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                       const float *bblk, int64_t bnext, int ncols, float *tile,
                       int64_t tnext, int64_t tld, int accumulate);
void tasdi_scalar_narrow(const tasdi_packed *p, int64_t r0, int64_t r1,
                         const float *x, int64_t ldx, int nx, float *y,
                         int64_t ldy);

#if defined(__x86_64__) || defined(_M_X64)
void tasdi_avx2_select(float *residual, int64_t k, int n, int m, float *values,
                       uint8_t *index);
double tasdi_avx2_stats(const float *x, int64_t n, int64_t *nnz, int *finite,
                        float *copy);
double tasdi_avx512_stats(const float *x, int64_t n, int64_t *nnz, int *finite,
                          float *copy);
extern const tasdi_dense_kernel tasdi_avx2_dense;
extern const tasdi_dense_kernel tasdi_avx512_dense;
void tasdi_avx2_transpose(const float *src, int64_t lds, int64_t rows, int64_t cols,
                          float *dst, int64_t ldd);
void tasdi_avx512_transpose(const float *src, int64_t lds, int64_t rows, int64_t cols,
                            float *dst, int64_t ldd);
int tasdi_avx2_panel_row(const float *src, int64_t n, float *dst, int64_t dnext);
int tasdi_avx512_panel_row(const float *src, int64_t n, float *dst, int64_t dnext);
void tasdi_avx2_wide(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                     const float *bblk, int64_t bnext, int ncols, float *tile,
                     int64_t tnext, int64_t tld, int accumulate);
void tasdi_avx2_narrow(const tasdi_packed *p, int64_t r0, int64_t r1,
                       const float *x, int64_t ldx, int nx, float *y, int64_t ldy);
int tasdi_avx2_narrow_fast(const tasdi_packed *p);
/* Half-value kernels (the same contract on a layout with vtype bf16 / f16);
 * the f16 ones need F16C. */
void tasdi_avx2_wide_bf16(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                          const float *bblk, int64_t bnext, int ncols, float *tile,
                          int64_t tnext, int64_t tld, int accumulate);
void tasdi_avx2_narrow_bf16(const tasdi_packed *p, int64_t r0, int64_t r1,
                            const float *x, int64_t ldx, int nx, float *y, int64_t ldy);
void tasdi_avx2_wide_f16(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                         const float *bblk, int64_t bnext, int ncols, float *tile,
                         int64_t tnext, int64_t tld, int accumulate);
void tasdi_avx2_narrow_f16(const tasdi_packed *p, int64_t r0, int64_t r1,
                           const float *x, int64_t ldx, int nx, float *y, int64_t ldy);
void tasdi_avx512_wide_bf16(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                            const float *bblk, int64_t bnext, int ncols, float *tile,
                            int64_t tnext, int64_t tld, int accumulate);
void tasdi_avx512_narrow_bf16(const tasdi_packed *p, int64_t r0, int64_t r1,
                              const float *x, int64_t ldx, int nx, float *y, int64_t ldy);
void tasdi_avx512_wide_f16(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                           const float *bblk, int64_t bnext, int ncols, float *tile,
                           int64_t tnext, int64_t tld, int accumulate);
/* the bf16 / f16 kernels with the values spread (AMD's) */
void tasdi_avx512_wide_spread_bf16(const tasdi_packed *p, int64_t r0, int64_t r1,
                                   int64_t kb, const float *bblk, int64_t bnext, int ncols,
                                   float *tile, int64_t tnext, int64_t tld, int accumulate);
void tasdi_avx512_wide_spread_f16(const tasdi_packed *p, int64_t r0, int64_t r1,
                                  int64_t kb, const float *bblk, int64_t bnext, int ncols,
                                  float *tile, int64_t tnext, int64_t tld, int accumulate);
void tasdi_avx512_narrow_f16(const tasdi_packed *p, int64_t r0, int64_t r1,
                             const float *x, int64_t ldx, int nx, float *y, int64_t ldy);
void tasdi_avx512_select(float *residual, int64_t k, int n, int m, float *values,
                         uint8_t *index);
void tasdi_avx512_wide(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                       const float *bblk, int64_t bnext, int ncols, float *tile,
                       int64_t tnext, int64_t tld, int accumulate);
/* tasdi_avx512_wide with the values loaded four at a time: the wide kernel
 * of AMD CPUs (lib/core/dispatch.c) */
void tasdi_avx512_wide_spread(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                              const float *bblk, int64_t bnext, int ncols, float *tile,
                              int64_t tnext, int64_t tld, int accumulate);
void tasdi_avx512_narrow(const tasdi_packed *p, int64_t r0, int64_t r1,
                         const float *x, int64_t ldx, int nx, float *y,
                         int64_t ldy);
int tasdi_avx512_narrow_fast(const tasdi_packed *p);
int tasdi_avx512_narrow_gathers(const tasdi_packed *p);
#endif

#if defined(__aarch64__)
/* kernels/neon: aarch64 Advanced SIMD (always present on aarch64). */
void tasdi_neon_select(float *residual, int64_t k, int n, int m, float *values,
                       uint8_t *index);
double tasdi_neon_stats(const float *x, int64_t n, int64_t *nnz, int *finite,
                        float *copy);
extern const tasdi_dense_kernel tasdi_neon_dense;
void tasdi_neon_transpose(const float *src, int64_t lds, int64_t rows, int64_t cols,
                          float *dst, int64_t ldd);
void tasdi_neon_wide(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                     const float *bblk, int64_t bnext, int ncols, float *tile,
                     int64_t tnext, int64_t tld, int accumulate);
void tasdi_neon_narrow(const tasdi_packed *p, int64_t r0, int64_t r1,
                       const float *x, int64_t ldx, int nx, float *y, int64_t ldy);
/* Half-value kernels (the same contract on a layout with vtype bf16 / f16). */
void tasdi_neon_wide_bf16(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                          const float *bblk, int64_t bnext, int ncols, float *tile,
                          int64_t tnext, int64_t tld, int accumulate);
void tasdi_neon_narrow_bf16(const tasdi_packed *p, int64_t r0, int64_t r1,
                            const float *x, int64_t ldx, int nx, float *y, int64_t ldy);
void tasdi_neon_wide_f16(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                         const float *bblk, int64_t bnext, int ncols, float *tile,
                         int64_t tnext, int64_t tld, int accumulate);
void tasdi_neon_narrow_f16(const tasdi_packed *p, int64_t r0, int64_t r1,
                           const float *x, int64_t ldx, int nx, float *y, int64_t ldy);
#endif

#endif /* TASD_KERNELS_H */
