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
 *   VI_SET1(x) VI_LOADU(p) VI_ADD(a, b) VI_AND(a, b) VI_SRLV(a, counts) VI_SLLV
 *   VI_LOAD_WORDS(w, n) load n (1..VL) uint32, other lanes zero
 *   VI_PERM(a, lanes)  a[lanes[i]] for each lane (lanes < VL)
 *   WIN1(x, pos)       x[pos[i]] for a window of VL floats at x (pos < VL)
 *   WIN2(x, pos)       same for a window of 2*VL floats (two registers)
 *   GATHER_N(x, pos, n) x[pos[i]] for lanes i < n, 0 for the others
 *   VHSUM(v)           horizontal sum (fixed order)
 *   PREFETCH(p)        prefetch a cache line;  PREFETCH_L2(p): into L2
 *   WIDE_PASS          B panels per wide call (1, or 2 where 32 registers
 *                      hold 2 x TASDI_NR / VL accumulators)
 * and, for a layout of bf16 / f16 values (widened in registers, never
 * copied), the value macros (defaults: f32 values):
 *   VT                 the stored value type;  VAL_BASE(pt) its base pointer
 *   VBCAST_V(p) VLOAD_V(p) VLOAD_V_N(p, n)   as VBCAST / VLOAD / VLOAD_N
 *   VAL_F(x)           one stored value as float
 * and, optionally:
 *   VLOAD4(p)          four values as f32 in each 128-bit lane, spread by
 *                      VPERMIL_IMM(q, imm) (an in-lane permute): the wide
 *                      kernel then loads a slot's value once per four slots
 *   WIDE_SPREAD_OWN    with VLOAD4, defined as 1: PFX(wide) loads each value
 *                      by itself and PFX(wide_spread), a second entry,
 *                      spreads them (the CPUs where the permute issues
 *                      beside the FMAs take it)
 *   NF_TRANSPOSE8(r)   r[i] lane l becomes r[l] lane i in each group of 8
 *                      lanes (8 vectors), with VI_STRIDED(p, s) (lane l:
 *                      uint32 p[l*s]), VI_SRL3(a) (lanes >> 3), WIN8(x, pos)
 *                      (x[pos[i] % 8] of 8 floats at x) and, with 16 lanes,
 *                      VLOAD8_V(p) (8 values as a 256-bit vector) and
 *                      NF_ROWS2(lo, hi) (two of them as one vector): the
 *                      narrow fast path then runs 1:8 VL rows at a time,
 *                      one row per lane, not by a gather
 */
#include <string.h> /* memcpy: x rearranged per K block */

#ifndef VT
#define TMPL_F32_VALUES 1 /* the f32 instantiation: also the shared entries */
#define VT float
#define VAL_BASE(pt) ((pt)->val)
#define VBCAST_V(p) VBCAST(p)
#define VLOAD_V(p) VLOAD(p)
#define VLOAD_V_N(p, n) VLOAD_N((p), (n))
#define VAL_F(x) (x)
#endif

#ifdef VLOAD4
#define WIDE_SPREAD 1
/* value i of the four in every 128-bit lane: one immediate form per i (where
 * the slot loop is not unrolled, at -O1 in the sanitizer build, i is not a
 * constant) */
static inline vf spread4(vf q, int i)
{
    switch (i & 3) {
    case 0: return VPERMIL_IMM(q, 0x00);
    case 1: return VPERMIL_IMM(q, 0x55);
    case 2: return VPERMIL_IMM(q, 0xAA);
    default: return VPERMIL_IMM(q, 0xFF);
    }
}
#define VSPREAD4(q, i) spread4((q), (i))
#ifndef WIDE_SPREAD_OWN
#define WIDE_SPREAD_OWN 0 /* PFX(wide) spreads */
#endif
#else
#define WIDE_SPREAD 0
#undef WIDE_SPREAD_OWN
#define WIDE_SPREAD_OWN 0
#define VLOAD4(p) VZERO()
#define VSPREAD4(q, i) (q)
#endif

#define WIDE_NV (TASDI_NR / VL)       /* vectors per panel strip */
#define WIDE_MAXV (WIDE_PASS * WIDE_NV) /* vectors per row and call */
enum { MAXSETS = 4 };
/* The wide call's B (its panels over all of K) above which the next K
 * block is prefetched into L2. AMD cores have 512 KiB (Zen 3) or 1 MiB (Zen
 * 5) of L2 beside the weights' stream: at a 1 MiB threshold Zen 3 ran
 * K = 3072..4096 1.03-1.1x slower, and Zen 5 (avx512) 4096x4096x64 (B of
 * exactly 1 MiB) 1.06x slower. Where B stays in L2 anyway the prefetches
 * cost nothing measurable (threshold 0 on Zen 5: even), so Intel's 2 MiB
 * L2 does not need a threshold of its own. */
#define WIDE_PF_BYTES (1 << 19)
/* How far ahead the wide kernel prefetches the series (bytes of values).
 * Same-process A/B on an AMD EPYC Zen 5 (against none; 2:4 unless named):
 * 4096x4096x64 0.86-0.88 of the time, 4096x4096x16 0.72-0.76 (2:4+1:8
 * 0.84, 1:4 0.71, avx2 0.81), 11008x4096x32 0.79, 1024x4096x256 0.96-0.98,
 * two threads 0.83-0.97; series that stay in cache 0.96-1.02 (1:8 at
 * 4096x4096x64 1.02). 1 KiB ahead gained less at 4096x4096x16, 4 KiB less
 * at 4096x4096x64; into L1 (T0) about the same as into L2 at n = 64, less
 * at n = 16. */
#define WIDE_SERIES_PF 2048

static inline __attribute__((always_inline)) int ilog2(int m)
{
    return m >= 32 ? 5 : m >= 16 ? 4 : m >= 8 ? 3 : m >= 4 ? 2 : 1;
}

/* A compile-time N:M run's index words: fields per 32-bit word (at most
 * 16), words per chunk, and slots per chunk (16, or a whole K block's) */
#define WIDE_PER_WORD(m) (32 / ilog2(m) > 16 ? 16 : 32 / ilog2(m))
#define WIDE_WORDS(m) ((16 + WIDE_PER_WORD(m) - 1) / WIDE_PER_WORD(m))
#define WIDE_CS(n, m) (TASDI_KC / (m) * (n) < 16 ? TASDI_KC / (m) * (n) : 16)
#define WIDE_CHUNKS (TASDI_KC / 16) /* chunks of a full K block's run, at most */

/* acc[e][q] += v * B[k] for q < nv, the slot dealt to set e, B row at byte
 * offset `off` of the first panel's block b0 or, past its strip, of the next
 * panel's block b1 */
#define WIDE_SLOT(e, v, b0, b1, off) WIDE_SLOT_V(e, VBCAST_V(v), b0, b1, off)
#define WIDE_SLOT_V(e, val, b0, b1, off)                                               \
    do {                                                                               \
        vf b0_ = (val);                                                                \
        const size_t o_ = (off);                                                       \
        _Pragma("GCC unroll 16") for (int q = 0; q < WIDE_MAXV; q++) if (q < nv)       \
            acc[e][q] = VFMA(b0_, VLOAD((const float *)(const void *)((const char *)(q < WIDE_NV ? (b0) : (b1)) + o_) + q % WIDE_NV * VL), \
                             acc[e][q]);                                               \
    } while (0)
#define ROW_BYTES (TASDI_NR * sizeof(float)) /* of a B panel: 256 */

/* Slot i of a chunk (index words in wd) into accumulator set e; with the
 * values spread, *quad holds the chunk's four values around slot i */
static inline __attribute__((always_inline)) void
wide_chunk_slot(vf acc[MAXSETS][WIDE_MAXV], const VT *v, const uint32_t wd[3],
                const float *bblk, const float *b1, const int nv, const int e, const int i,
                const int n, const int m, const int spread, vf *quad)
{
    const int bits = ilog2(m), per_word = WIDE_PER_WORD(m);
    const uint32_t mask = (1u << bits) - 1;
    /* The B offset in bytes is idx << 8 (ROW_BYTES). One shift of the index
     * word serves a pair of slots: it puts the even slot's field at bit
     * 8 - s, which the address scales by 2^s (s = 2 or 3), and the odd
     * slot's, `bits` higher, at bit 8; each slot then needs just a mask, and
     * the group's constant part goes to the FMAs' displacement. Shifts share
     * port 0 with the FMAs on Intel cores, so each one saved counts. */
    const int lo = 8 - bits, at = (i & ~1) % per_word * bits;
    const uint32_t x = at >= lo ? wd[i / per_word] >> (at - lo) : wd[i / per_word] << (lo - at);
    const size_t off = i & 1 ? (size_t)(x & mask << 8) : (size_t)(x & mask << lo) << (8 - lo);
    if (WIDE_SPREAD && spread && i % 4 == 0)
        *quad = VLOAD4(v + i);
    WIDE_SLOT_V(e, WIDE_SPREAD && spread ? VSPREAD4(*quad, i % 4) : VBCAST_V(v + i), bblk, b1,
                off + (i / n) * m * ROW_BYTES);
}

/* One whole chunk (cs slots) of the runs of R rows side by side (R = 1 or
 * 2): slot i of row 0 (its sets acc0, values v, index words wd0), then slot i
 * of row 1 (acc1, v + vrun, wd1), each into its row's set i % sets */
static inline __attribute__((always_inline)) void
wide_chunk(vf acc0[MAXSETS][WIDE_MAXV], vf acc1[MAXSETS][WIDE_MAXV], const int R,
           const VT *v, int64_t vrun, const uint32_t wd0[3], const uint32_t wd1[3],
           const float *bblk, const float *b1, const int nv, const int sets, const int n,
           const int m, const int spread)
{
    vf quad0 = VZERO(), quad1 = VZERO();
#pragma GCC unroll 16
    for (int i = 0; i < WIDE_CS(n, m); i++) {
        wide_chunk_slot(acc0, v, wd0, bblk, b1, nv, i % sets, i, n, m, spread, &quad0);
        if (R == 2)
            wide_chunk_slot(acc1, v + vrun, wd1, bblk, b1, nv, i % sets, i, n, m, spread,
                            &quad1);
    }
}

/* The index words of one whole chunk of a term n:m at w (unused ones 0) */
static inline __attribute__((always_inline)) void
wide_words(const uint32_t *w, const int m, uint32_t wd[3])
{
    const int words = WIDE_WORDS(m);
    wd[0] = w[0];
    wd[1] = words > 1 ? w[1] : 0;
    wd[2] = words > 2 ? w[2] : 0;
}

/* The index words of a run's first chunk (cnt slots, N:M = n:m), read only
 * where the run has a whole chunk, as wide_run reads them; else zeros. */
static inline __attribute__((always_inline)) void
wide_first_words(const uint32_t *w, int64_t cnt, const int n, const int m, uint32_t out[2])
{
    out[0] = out[1] = 0;
    if (cnt >= WIDE_CS(n, m)) {
        out[0] = w[0];
        out[1] = WIDE_WORDS(m) > 1 ? w[1] : 0;
    }
}

/* One term's run (cnt slots of a row in this K block) with N and M known at
 * compile time: a chunk of up to 16 slots is unrolled, so each slot's B row is
 * a shift and a mask of an index word held in a register plus a constant
 * offset: per slot one broadcast and nv FMAs with a memory operand, the
 * index word loads shared by 16 slots (loads per FMA: (nv + 1) / nv; with
 * VLOAD4 the values take a load per 4 slots and a permute per slot:
 * (nv + 1/4) / nv).
 *
 * A chunk's FMAs wait on its index words (a load, then the shifts); loaded
 * at the chunk's start they came too late where the previous chunk's FMAs
 * filled the queues. So where the caller loaded the first chunk's words
 * ahead (pre: the second term of a series, its words taken before the first
 * term's run) or the run has several chunks (2:4), each chunk's words are
 * loaded a chunk ahead (whole runs at up to WIDE_BLOCK_NV vectors a row
 * take every word first instead: wide_row). AMD EPYC Zen 5, same-process A/B
 * against loads at each chunk's start: 2:4+1:8 0.94-0.98 of the time on
 * issue 8's four GEMM shapes (n = 40-200: 0.92-0.98; two threads 0.97; bf16
 * values 0.97; avx2 0.95-0.98), 2:4 0.97-1.01 (avx2 0.98-0.99). A run of one
 * chunk (1:8, 1:4 alone) loads its words as before: taken ahead there too,
 * they ran 1.04-1.07x slower. */
static inline __attribute__((always_inline)) void
wide_run(vf acc[MAXSETS][WIDE_MAXV], const VT *v, const uint32_t *w, int64_t cnt,
         const float *bblk, int64_t bnext, const int nv, const int sets, const int n,
         const int m, const int spread, const uint32_t *pre)
{
    const int bits = ilog2(m), per_word = WIDE_PER_WORD(m), words = WIDE_WORDS(m);
    const int cs = WIDE_CS(n, m);
    const uint32_t mask = (1u << bits) - 1;
    const float *b1 = bblk + bnext;
    int64_t s = 0;
#define NEXT_CHUNK s += cs, v += cs, w += words, bblk += cs / n * m * TASDI_NR, b1 += cs / n * m * TASDI_NR
    if (pre || TASDI_KC / m * n > cs) {
        uint32_t ahead[2];
        if (pre) {
            ahead[0] = pre[0];
            ahead[1] = pre[1];
        } else {
            wide_first_words(w, cnt, n, m, ahead);
        }
        for (; s + cs <= cnt; NEXT_CHUNK) {
            const uint32_t wd[3] = {ahead[0], ahead[1], words > 2 ? w[2] : 0};
            wide_first_words(w + words, cnt - s - cs, n, m, ahead); /* the next chunk's */
            wide_chunk(acc, acc, 1, v, 0, wd, wd, bblk, b1, nv, sets, n, m, spread);
        }
    } else {
        for (; s + cs <= cnt; NEXT_CHUNK) {
            uint32_t wd[3];
            wide_words(w, m, wd);
            wide_chunk(acc, acc, 1, v, 0, wd, wd, bblk, b1, nv, sets, n, m, spread);
        }
    }
#undef NEXT_CHUNK
    for (int i = 0; s < cnt; s++, i++) { /* short last block: < cs slots left */
        uint32_t idx = (w[i / per_word] >> (i % per_word * bits)) & mask;
        WIDE_SLOT(0, v + i, bblk, b1, ((i / n) * m + idx) * ROW_BYTES);
    }
}

/* The index words of a full K block's run of a term n:m, chunk by chunk */
static inline __attribute__((always_inline)) void
wide_run_words(const uint32_t *w, const int n, const int m, uint32_t wd[WIDE_CHUNKS][3])
{
    const int words = WIDE_WORDS(m), chunks = TASDI_KC / m * n / WIDE_CS(n, m);
#pragma GCC unroll 4
    for (int c = 0; c < chunks; c++, w += words)
        wide_words(w, m, wd[c]);
}

/* A full K block's runs of one term in R rows side by side (wide_chunk),
 * row j's index words in wd[j] */
static inline __attribute__((always_inline)) void
wide_run_rows(vf acc[2][MAXSETS][WIDE_MAXV], const int R, const VT *v, int64_t vrun,
              uint32_t wd[2][WIDE_CHUNKS][3], const float *bblk, int64_t bnext, const int nv,
              const int sets, const int n, const int m, const int spread)
{
    const int cs = WIDE_CS(n, m), chunks = TASDI_KC / m * n / cs;
    const int64_t step = cs / n * m * TASDI_NR; /* B floats a chunk spans */
#pragma GCC unroll 4
    for (int c = 0; c < chunks; c++)
        wide_chunk(acc[0], acc[1], R, v + c * cs, vrun, wd[0][c], wd[1][c], bblk + c * step,
                   bblk + bnext + c * step, nv, sets, n, m, spread);
}

/* Any other N:M: the slots' k decoded at run time, with counters (slot of
 * the chunk, of the word, of the group) instead of tasdi_slot_k's divisions,
 * which made 1:16, 1:2 or a third term 5-8x slower per slot than a
 * compile-time N:M. Slots go round-robin to the accumulator sets. */
static inline __attribute__((always_inline)) void
wide_run_any(vf acc[MAXSETS][WIDE_MAXV], const tasdi_pterm *pt, const VT *v,
             const uint32_t *w, int64_t cnt, const float *bblk, int64_t bnext, const int nv,
             const int sets)
{
    const int n = pt->n, m = pt->m, bits = pt->bits, per_word = pt->per_word;
    const uint32_t mask = (1u << bits) - 1;
    const uint32_t *wp = w;
    uint32_t word = cnt > 0 ? *wp : 0;
    int in_chunk = 0, in_word = 0, in_group = 0, e = 0;
    size_t group_k = 0;
    for (int64_t s = 0; s < cnt; s++) {
        const size_t k = group_k + (word & mask);
        word >>= bits;
        switch (e) { /* a constant set index keeps acc in registers */
        case 0: WIDE_SLOT(0, v + s, bblk, bblk + bnext, k * ROW_BYTES); break;
        case 1: WIDE_SLOT(1, v + s, bblk, bblk + bnext, k * ROW_BYTES); break;
        case 2: WIDE_SLOT(2, v + s, bblk, bblk + bnext, k * ROW_BYTES); break;
        default: WIDE_SLOT(3, v + s, bblk, bblk + bnext, k * ROW_BYTES); break;
        }
        e = e + 1 == sets ? 0 : e + 1;
        if (++in_group == n) {
            in_group = 0;
            group_k += (size_t)m;
        }
        if (s + 1 == cnt)
            break;
        if (++in_chunk == 16) { /* the next chunk's words */
            in_chunk = in_word = 0;
            w += pt->words;
            wp = w;
            word = *wp;
        } else if (++in_word == per_word) {
            in_word = 0;
            word = *++wp;
        }
    }
}

/* One term's run, N:M picked at compile time when `code` (N * 64 + M) is a
 * constant: one of the configs below, or -1 for any other (decoded at run
 * time). */
#define WIDE_CODE(n, m) ((n) * 64 + (m))
/* slots of a row in a full K block of WIDE_CODE c (0: no term), and of a
 * two-term series' row (the wide rule for sets, the narrow fast path) */
#define CODE_SLOTS(c) ((c) ? TASDI_KC / ((c) % 64) * ((c) / 64) : 0)
#define CODE_RUN(c0, c1) (CODE_SLOTS(c0) + CODE_SLOTS(c1))
static inline __attribute__((always_inline)) void
wide_term(vf acc[MAXSETS][WIDE_MAXV], const tasdi_pterm *pt, const VT *v,
          const uint32_t *w, int64_t cnt, const float *bblk, int64_t bnext, const int nv,
          const int sets, const int code, const int spread, const uint32_t *pre)
{
    if (code > 0)
        wide_run(acc, v, w, cnt, bblk, bnext, nv, sets, code / 64, code % 64, spread, pre);
    else
        wide_run_any(acc, pt, v, w, cnt, bblk, bnext, nv, sets);
}

/* vector q of a row's strip in the tile (panels tnext floats apart) */
#define TILE_AT(t, q) ((t) + (q) / WIDE_NV * tnext + (q) % WIDE_NV * VL)

/* A row's accumulator sets at the start of a K block: the first from its
 * strip of the tile at t (the sums of the earlier K blocks; no add at the
 * end, and the loads issue early enough not to hold up the FMA chains), the
 * others zero */
static inline __attribute__((always_inline)) void
wide_acc_start(vf acc[MAXSETS][WIDE_MAXV], const float *t, int64_t tnext, int accumulate,
               const int nv, const int sets)
{
#pragma GCC unroll 4
    for (int e = 0; e < MAXSETS; e++)
#pragma GCC unroll 16
        for (int q = 0; q < WIDE_MAXV; q++)
            if (e < sets && q < nv)
                acc[e][q] = e == 0 && accumulate ? VLOAD(TILE_AT(t, q)) : VZERO();
}

/* The sets added in a fixed order, into the row's strip at t */
static inline __attribute__((always_inline)) void
wide_acc_store(vf acc[MAXSETS][WIDE_MAXV], float *t, int64_t tnext, const int nv,
               const int sets)
{
#pragma GCC unroll 16
    for (int q = 0; q < WIDE_MAXV; q++)
        if (q < nv) {
            vf sum = acc[0][q];
            if (sets == 4)
                sum = VADD(VADD(acc[0][q], acc[1][q]), VADD(acc[2][q], acc[3][q]));
            else if (sets == 2)
                sum = VADD(acc[0][q], acc[1][q]);
            VSTORE(TILE_AT(t, q), sum);
        }
}

/* What the rows of one wide_rows call share */
typedef struct {
    const tasdi_packed *p;
    const float *bblk;
    int64_t bnext, tnext, tld;
    int64_t vrun, wrun;     /* a row's values and index words in this K block */
    int64_t cnt0, w0, cnt1; /* term 0's slots and index words, term 1's slots */
    int64_t ahead;          /* rows of the series' stream prefetched ahead */
    int last, full, pf, accumulate; /* full: whole runs (all but a short last block) */
} wide_call;

/* Row i of the call (its runs at v, w): the series' stream `ahead` rows on
 * and, with pf, a quarter of B's next K block into L2 (see wide_rows) */
static inline __attribute__((always_inline)) void
wide_row_prefetch(const wide_call *c, const VT *v, const uint32_t *w, int64_t i, const int nv)
{
    for (int64_t at = 0; at < c->vrun * (int64_t)sizeof(VT); at += 64)
        PREFETCH_L2((const char *)(v + c->ahead * c->vrun) + at);
    PREFETCH_L2(w + c->ahead * c->wrun);
    if (c->pf) {
        const float *next = c->bblk + TASDI_KC * TASDI_NR + i * 64;
        for (int l = 0; l < 4; l++) {
            PREFETCH_L2(next + 16 * l);
            if (nv > WIDE_NV)
                PREFETCH_L2(next + c->bnext + 16 * l);
        }
    }
}

/* R rows (1 or 2) from row i of the call: their runs at v, w (one run
 * apart), their strips at t (tld apart), each row with `sets` accumulator
 * sets; all terms of a row accumulate into the same registers. Whole runs
 * of a series known at compile time (c0, c1 as in wide_rows) at up to
 * WIDE_BLOCK_NV vectors a row take every index word of their rows first, so
 * that no address waits on a word, then run the rows slot by slot side by
 * side, the K block unrolled; other rows (R = 1) go term by term, chunk by
 * chunk: a short last block, more vectors a row, a series dispatched at run
 * time. Single rows of whole blocks unrolled, in-process A/B against chunk
 * by chunk (AMD EPYC Zen 5, avx512): n = 48, 64 0.95-0.98 of the time for
 * 2:4, 2:4+1:8 and 1:4; at n = 128 the compiler held every chunk's B
 * offsets in registers and spilled (a 2:4+1:8 row: 13.6 instructions a
 * slot, 15 of them stack accesses, against 12 and none), 1.01-1.05x. */
#define WIDE_BLOCK_NV 4
/* The run-time dispatch of term pt, for one row and for pairs: CALL(code)
 * with its N:M at compile time for TASDER's cpu target's patterns (and
 * 8:8), CALL(-1) decoded at run time for the others */
#define WIDE_TERM_ARM(code, CALL) case code: CALL(code); break;
#define WIDE_TERM_SWITCH(pt, CALL)                                                               \
    switch (WIDE_CODE((pt)->n, (pt)->m)) {                                                       \
        WIDE_TERM_ARM(WIDE_CODE(2, 4), CALL) WIDE_TERM_ARM(WIDE_CODE(1, 8), CALL)                \
        WIDE_TERM_ARM(WIDE_CODE(1, 4), CALL) WIDE_TERM_ARM(WIDE_CODE(2, 8), CALL)                \
        WIDE_TERM_ARM(WIDE_CODE(4, 8), CALL) WIDE_TERM_ARM(WIDE_CODE(8, 8), CALL)                \
        WIDE_TERM_ARM(WIDE_CODE(1, 16), CALL) WIDE_TERM_ARM(WIDE_CODE(2, 16), CALL)              \
    default: CALL(-1); break;                                                                    \
    }
static inline __attribute__((always_inline)) void
wide_row(const wide_call *c, const VT *v, const uint32_t *w, float *t, int64_t i, const int R,
         const int nv, const int sets, const int c0, const int c1, const int spread)
{
    vf acc[2][MAXSETS][WIDE_MAXV];
#pragma GCC unroll 2
    for (int j = 0; j < R; j++)
        wide_row_prefetch(c, v + j * c->vrun, w + j * c->wrun, i + j, nv);
#pragma GCC unroll 2
    for (int j = 0; j < R; j++)
        wide_acc_start(acc[j], t + j * c->tld, c->tnext, c->accumulate, nv, sets);
    if (R == 2 || (c0 && c->full && nv <= WIDE_BLOCK_NV)) {
        uint32_t wd0[2][WIDE_CHUNKS][3], wd1[2][WIDE_CHUNKS][3]; /* terms 0, 1 by row */
#pragma GCC unroll 2
        for (int j = 0; j < R; j++)
            wide_run_words(w + j * c->wrun, c0 / 64, c0 % 64, wd0[j]);
#pragma GCC unroll 2
        for (int j = 0; j < R && c1; j++)
            wide_run_words(w + j * c->wrun + c->w0, c1 / 64, c1 % 64, wd1[j]);
        wide_run_rows(acc, R, v, c->vrun, wd0, c->bblk, c->bnext, nv, sets, c0 / 64, c0 % 64,
                      spread);
        if (c1)
            wide_run_rows(acc, R, v + c->cnt0, c->vrun, wd1, c->bblk, c->bnext, nv, sets,
                          c1 / 64, c1 % 64, spread);
    } else if (c0) {
        /* the second run's first index words before the first run's FMAs */
        uint32_t pre1[2];
        if (c1)
            wide_first_words(w + c->w0, c->cnt1, c1 / 64, c1 % 64, pre1);
        wide_term(acc[0], &c->p->term[0], v, w, c->cnt0, c->bblk, c->bnext, nv, sets, c0, spread,
                  NULL);
        if (c1)
            wide_term(acc[0], &c->p->term[1], v + c->cnt0, w + c->w0, c->cnt1, c->bblk, c->bnext,
                      nv, sets, c1, spread, pre1);
    } else {
        /* A series dispatched at run time, term by term; TASDER's cpu
         * target's patterns (and 8:8) at compile time: decoded at run time,
         * 1:16 and 2:16 took 1.7-2x as long (AMD EPYC Zen 5, avx512, n = 16) */
        for (int k = 0; k < c->p->terms; k++) {
            const tasdi_pterm *pt = &c->p->term[k];
            const int64_t dv = c->last ? pt->plast : pt->pspb,
                          dw = c->last ? pt->pwlast : pt->pwpb, cnt = c->last ? pt->last : pt->spb;
#define TERM(code)                                                                               \
    wide_term(acc[0], pt, v + dv, w + dw, cnt, c->bblk, c->bnext, nv, sets, code, spread, NULL)
            WIDE_TERM_SWITCH(pt, TERM);
#undef TERM
        }
    }
#pragma GCC unroll 2
    for (int j = 0; j < R; j++)
        wide_acc_store(acc[j], t + j * c->tld, c->tnext, nv, sets);
}

/* One term of two rows of a series dispatched at run time (whole runs):
 * both rows' runs side by side (code: its N:M at compile time, -1 decoded
 * at run time), in accumulators of this term only, added into the rows'
 * strips of the tile */
static inline __attribute__((always_inline)) void
wide_pair_term(const wide_call *c, const tasdi_pterm *pt, const VT *v, const uint32_t *w,
               float *t, int accumulate, const int nv, const int sets, const int code,
               const int spread)
{
    vf acc[2][MAXSETS][WIDE_MAXV];
#pragma GCC unroll 2
    for (int j = 0; j < 2; j++)
        wide_acc_start(acc[j], t + j * c->tld, c->tnext, accumulate, nv, sets);
    v += pt->pspb, w += pt->pwpb;
    if (code > 0) {
        uint32_t wd[2][WIDE_CHUNKS][3];
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++)
            wide_run_words(w + j * c->wrun, code / 64, code % 64, wd[j]);
        wide_run_rows(acc, 2, v, c->vrun, wd, c->bblk, c->bnext, nv, sets, code / 64, code % 64,
                      spread);
    } else {
        for (int j = 0; j < 2; j++)
            wide_run_any(acc[j], pt, v + j * c->vrun, w + j * c->wrun, pt->spb, c->bblk,
                         c->bnext, nv, sets);
    }
#pragma GCC unroll 2
    for (int j = 0; j < 2; j++)
        wide_acc_store(acc[j], t + j * c->tld, c->tnext, nv, sets);
}

/* Two rows (whole runs) of a series dispatched at run time, term by term,
 * each term a pass of its own over the rows' strips: one switch arm per
 * compile-time N:M keeps its accumulators in registers (with the terms'
 * sums in shared registers the arms kept them in memory: 1.14-1.35x the
 * time of the rows one at a time, AMD EPYC Zen 5, avx512, n = 16..32) */
static inline __attribute__((always_inline)) void
wide_pair_any(const wide_call *c, const VT *v, const uint32_t *w, float *t, int64_t i,
              const int nv, const int sets, const int spread)
{
#pragma GCC unroll 2
    for (int j = 0; j < 2; j++)
        wide_row_prefetch(c, v + j * c->vrun, w + j * c->wrun, i + j, nv);
    for (int k = 0; k < c->p->terms; k++) {
        const tasdi_pterm *pt = &c->p->term[k];
        const int accumulate = k > 0 || c->accumulate;
#define PAIR(code) wide_pair_term(c, pt, v, w, t, accumulate, nv, sets, code, spread)
        WIDE_TERM_SWITCH(pt, PAIR);
#undef PAIR
    }
}

/* Rows [r0, r1) of one K block. c0, c1: the codes of a one- or two-term
 * series known at compile time (c1 = 0: one term), or c0 = 0: any series,
 * each term dispatched at run time. The rows' runs follow each other, so the
 * stream pointers just advance by one run per row. */
static inline __attribute__((always_inline)) void
wide_rows(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb, const float *bblk,
          int64_t bnext, float *tile, int64_t tnext, int64_t tld, int accumulate, const int nv,
          const int c0, const int c1, const int spread)
{
    /* With few vectors per strip (AVX-512's 4 zmm, a narrow panel, small n)
     * one accumulator per vector would wait on the FMA latency; slots are
     * then dealt round-robin to `sets` accumulator sets (<= 8 registers in
     * all), added together at the end of the block in a fixed order. At two
     * vectors (AVX2 n = 9..16) two sets are 4 FMA chains, one FMA a cycle at
     * a latency of 4; four sets pay where a row has 32 slots or more per K
     * block (2:4, 2:4+1:8: 0.92-0.98 of the time, in-process A/B on an AMD
     * EPYC Zen 3, avx2, both load orders), while 1:8, 1:4 and 1:4+1:8 lost
     * 1-7% with them (the thirty-fifth session, the same AMD EPYC Zen 3).
     * AVX-512 (n = 17..32) keeps two: four measured 0.96-1.00 there (AMD
     * EPYC Zen 5), within the noise. */
    const int many = VL == 8 && CODE_RUN(c0, c1) >= 32;
    const int sets = nv == 1 || (nv == 2 && many) ? 4 : nv <= 4 ? 2 : 1;
    const tasdi_pterm *pt0 = &p->term[0];
    const int last = kb + 1 == p->nkb;
    const VT *v = VAL_BASE(pt0) + tasdi_wide_at(pt0, p->rows, p->nkb, kb, r0);
    const uint32_t *w = pt0->idx + tasdi_idx_at(pt0, p->rows, p->nkb, kb, r0);
    wide_call c = {.p = p, .bblk = bblk, .bnext = bnext, .tnext = tnext, .tld = tld,
                   .last = last, .full = !last || p->cols % TASDI_KC == 0,
                   .accumulate = accumulate};
    c.vrun = last ? pt0->tlast : pt0->tspb, c.wrun = last ? pt0->twlast : pt0->twpb;
    c.cnt0 = last ? pt0->last : pt0->spb, c.w0 = last ? pt0->wlast : pt0->wpb;
    c.cnt1 = p->terms > 1 ? (last ? p->term[1].last : p->term[1].spb) : 0;
    /* B beyond what L2 keeps across row blocks (the next K block comes
     * from L3): each row prefetches 4 lines of each panel's next block
     * into L2, so the call's rows bring in the whole 16 KiB per panel. */
    c.pf = !last && (size_t)bnext * sizeof(float) * (nv > WIDE_NV ? 2 : 1) > WIDE_PF_BYTES;
    /* The series' stream (values and index words; rows follow each other,
     * then the next K block's) prefetched into L2 WIDE_SERIES_PF bytes of
     * values ahead: beyond the cache the first load of each row's run
     * waited on memory (perf: 11-15% of the kernel's samples at
     * 1024x4096x256 and 4096x4096x64, 2:4) */
    const int64_t row_bytes = c.vrun * (int64_t)sizeof(VT); /* of values */
    c.ahead = (WIDE_SERIES_PF + row_bytes - 1) / row_bytes; /* rows */
    /* One or two vectors a row (AVX2 n <= 16, AVX-512 n <= 32), a
     * series known at compile time, whole runs: rows go two at a time
     * (wide_row, R = 2), each with its own sets (pair_sets), both rows' index
     * words loaded first, so that the FMA chains of two rows are in flight
     * together and no address waits on a word. In-process A/B, both load
     * orders, two sets a row: AMD EPYC Zen 3, avx2: 2:4 0.92-0.97 of the
     * time, 2:4+1:8 0.89-0.91, 1:4 0.97-0.99 at n = 5, 12, 15, 16 (without
     * the words first, 2:4 and 1:4 alone gained nothing, 0.98-1.02, and the
     * series half as much); AMD EPYC Zen 5, avx512 (its wide_spread kernel;
     * Intel not measured): 2:4 0.90-0.93, 1:4 0.87-0.93, 2:4+1:8 0.97-1.03
     * at n = 16, 24, 32. Three vectors (AVX-512 n = 33..48) gained only for
     * 1:4 (0.90; 2:4 and the series 0.98-1.02), four (n = 64) lost up to
     * 3%. A series dispatched at run time pairs its rows term by term
     * (wide_pair_any): 1:8+1:16, 1:4+1:16, 2:4+1:16 0.87-0.98 of the time
     * at n = 16..32 (AMD EPYC Zen 5, avx512), 0.83-0.90 with avx2 on that
     * Zen 5 at n = 8, 16. Calls start at whole row blocks (gemm.c), so
     * which rows pair up, and with it each row's order of sums, does not
     * depend on the thread count. */
    const int pairs = nv <= 2 && c.full;
    /* At one vector a row each row of a pair keeps four sets, eight FMA
     * chains in all: in-process A/B against two (AMD EPYC Zen 5, avx512,
     * n = 15, 16) 2:4+1:8 0.95-0.97 of the time, 2:4 and 1:4 0.97-0.99;
     * avx2 on the same Zen 5 (n = 5, 8) 0.98-1.01. Four at two vectors
     * (avx512 n = 24, 32) took 1.00-1.07x the time. */
    const int pair_sets = nv == 1 ? 4 : 2;
    for (int64_t r = r0; r < r1; r++, v += c.vrun, w += c.wrun) {
        float *t = tile + (r - r0) * tld;
        if (pairs && r + 1 < r1) {
            if (c0)
                wide_row(&c, v, w, t, r - r0, 2, nv, pair_sets, c0, c1, spread);
            else
                wide_pair_any(&c, v, w, t, r - r0, nv, pair_sets, spread);
            r++, v += c.vrun, w += c.wrun;
        } else {
            wide_row(&c, v, w, t, r - r0, 1, nv, sets, c0, c1, spread);
        }
    }
}

/* The series shapes with a straight-line row loop; others go term by term.
 * 1:16, 2:16, 2:8 and 4:8 alone have one up to WIDE_BLOCK_NV vectors a row
 * (n <= 64 with AVX-512): there the per-term path paid more per row than
 * their few slots cost; 3072x768x16 took 0.51-0.80x its time (AMD EPYC
 * Zen 5, avx512), where at n = 128 they gained at most 8% (4:8 nothing)
 * for 220 KB of code. */
static inline __attribute__((always_inline)) void
wide_cfg(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb, const float *bblk,
         int64_t bnext, float *tile, int64_t tnext, int64_t tld, int accumulate, const int nv,
         const int spread)
{
    const int a = WIDE_CODE(p->term[0].n, p->term[0].m);
    const int b = p->terms == 2 ? WIDE_CODE(p->term[1].n, p->term[1].m) : -1;
    const int one = p->terms == 1, few = nv <= WIDE_BLOCK_NV;
#define ROWS(c0, c1)                                                                   \
    wide_rows(p, r0, r1, kb, bblk, bnext, tile, tnext, tld, accumulate, nv, c0, c1, spread)
    if (one && a == WIDE_CODE(2, 4))
        ROWS(WIDE_CODE(2, 4), 0);
    else if (one && a == WIDE_CODE(1, 4))
        ROWS(WIDE_CODE(1, 4), 0);
    else if (one && a == WIDE_CODE(1, 8))
        ROWS(WIDE_CODE(1, 8), 0);
    else if (one && few && a == WIDE_CODE(1, 16))
        ROWS(WIDE_CODE(1, 16), 0);
    else if (one && few && a == WIDE_CODE(2, 16))
        ROWS(WIDE_CODE(2, 16), 0);
    else if (one && few && a == WIDE_CODE(2, 8))
        ROWS(WIDE_CODE(2, 8), 0);
    else if (one && few && a == WIDE_CODE(4, 8))
        ROWS(WIDE_CODE(4, 8), 0);
    else if (a == WIDE_CODE(2, 4) && b == WIDE_CODE(1, 8))
        ROWS(WIDE_CODE(2, 4), WIDE_CODE(1, 8));
    else if (a == WIDE_CODE(1, 4) && b == WIDE_CODE(1, 8))
        ROWS(WIDE_CODE(1, 4), WIDE_CODE(1, 8));
    else
        ROWS(0, 0);
#undef ROWS
}

/* nv = vectors per row strip over all panels of the call (up to WIDE_MAXV);
 * the strip is rounded up to whole vectors (B is zero there). */
static inline __attribute__((always_inline)) void
wide_nv(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb, const float *bblk,
        int64_t bnext, int ncols, float *tile, int64_t tnext, int64_t tld, int accumulate, const int spread)
{
#define NV(k) wide_cfg(p, r0, r1, kb, bblk, bnext, tile, tnext, tld, accumulate, k, spread)
    switch ((ncols + VL - 1) / VL) {
    case 1: NV(1); break;
    case 2: NV(2); break;
    case 3: NV(3); break;
    case 4: NV(4); break;
    case 5: NV(5); break;
    case 6: NV(6); break;
    case 7: NV(7); break;
    default: NV(8); break;
    }
#undef NV
}

void PFX(wide)(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
               const float *bblk, int64_t bnext, int ncols, float *tile, int64_t tnext,
               int64_t tld, int accumulate)
{
    wide_nv(p, r0, r1, kb, bblk, bnext, ncols, tile, tnext, tld, accumulate,
            WIDE_SPREAD && !WIDE_SPREAD_OWN);
}

#if WIDE_SPREAD && WIDE_SPREAD_OWN
/* PFX(wide) with the values loaded four at a time and spread */
void PFX(wide_spread)(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb,
                      const float *bblk, int64_t bnext, int ncols, float *tile,
                      int64_t tnext, int64_t tld, int accumulate)
{
    wide_nv(p, r0, r1, kb, bblk, bnext, ncols, tile, tnext, tld, accumulate, 1);
}
#endif

/* ---- narrow kernel ---- */

/* How a term is fetched: by permutes from a window in registers (ratio =
 * M/N = window vectors per slot vector: 1 or 2, 4 or 8 with WIN2s and a
 * blend tree), by a masked gather (M/N >= 16), or, for N not a power of two
 * dividing VL (3:8, 16:32 with 8 lanes), by permutes from a window placed
 * per slot vector of a whole full K block, the lanes' groups and index
 * fields laid out for that block (FETCH_BLOCK; short last blocks, and index
 * words beyond one vector, go to plain scalar code). */
enum { FETCH_SCALAR, FETCH_PERM, FETCH_GATHER, FETCH_BLOCK };
#define NB_MAXH (TASDI_KC / VL) /* slot vectors of a full block at most */

static int narrow_mode(const tasdi_pterm *pt)
{
    if (!pt->pow2n || pt->n > VL)
        return pt->wpb <= VL ? FETCH_BLOCK : FETCH_SCALAR; /* spb <= TASDI_KC */
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

/* N not a power of two dividing VL: one run with plain code, value-0 slots
 * skipped. */
static void narrow_run_scalar(const tasdi_pterm *pt, const VT *v, const uint32_t *w,
                              int64_t cnt, const float *xb, int64_t ldx, int nx,
                              float *acc_s)
{
    for (int64_t s = 0; s < cnt; s++) {
        const float vs = VAL_F(v[s]);
        if (vs == 0.0f)
            continue;
        int k = tasdi_slot_k(pt, w, s);
        for (int j = 0; j < nx; j++)
            acc_s[j] += vs * xb[j * ldx + k];
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
narrow_chunk(const tasdi_pterm *pt, const VT *vals, const uint32_t *cw, const float *xc,
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
        vf val = lh >= VL ? VLOAD_V(vals + h * VL) : VLOAD_V_N(vals + h * VL, lh);
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

/* Per-term constants of the narrow decode: which word, which shift and which
 * window base each lane of a slot vector uses; for FETCH_BLOCK the same for
 * each slot vector h of a full K block (word among the block's words, shift,
 * k of the lane's group). */
typedef struct narrow_consts {
    vi lanes_word[HALVES], shift[HALVES], base, mask;
    int64_t wv; /* window floats per slot vector */
    int mode;
    vi bword[NB_MAXH], bshift[NB_MAXH], bbase[NB_MAXH];
    int bwin[NB_MAXH]; /* first k of slot vector h's window */
    int bvecs, blast;  /* slot vectors of a full block, lanes of the last */
    int bratio;        /* window vectors: the widest span of a slot vector */
} narrow_consts;

static void narrow_setup(const tasdi_pterm *pt, narrow_consts *nc)
{
    const int n = pt->n, m = pt->m;
    int32_t lw[VL], ls[VL], lb[VL];
    for (int h = 0; h < HALVES; h++) {
        for (int i = 0; i < VL; i++) {
            int slot = h * VL + i; /* position inside the 16-slot chunk */
            lw[i] = slot / pt->per_word;
            ls[i] = (slot % pt->per_word) * pt->bits;
            lb[i] = (i / n) * m;
        }
        nc->lanes_word[h] = VI_LOADU(lw);
        nc->shift[h] = VI_LOADU(ls);
    }
    nc->base = VI_LOADU(lb);
    nc->mask = VI_SET1((1 << pt->bits) - 1);
    nc->wv = (int64_t)VL * m / n;
    nc->mode = narrow_mode(pt);
    nc->bvecs = nc->blast = 0;
    if (nc->mode != FETCH_BLOCK)
        return;
    /* a full block's slot s: chunk s / 16 (pt->words words each), field
     * s % 16 in it; group s / n */
    nc->bvecs = (int)((pt->spb + VL - 1) / VL);
    nc->blast = (int)(pt->spb - (nc->bvecs - 1) * VL);
    /* the window: VL * bratio floats covering the groups of every slot
     * vector (the widest sets bratio), placed inside the block */
    nc->bratio = 1;
    for (int h = 0; h < nc->bvecs; h++) {
        const int s0 = h * VL, s1 = h * VL + (h + 1 < nc->bvecs ? VL : nc->blast) - 1;
        while (nc->bratio * VL < TASDI_KC && nc->bratio * VL < (s1 / n - s0 / n + 1) * m)
            nc->bratio *= 2;
    }
    for (int h = 0; h < nc->bvecs; h++) {
        const int first = h * VL / n * m, last_win = TASDI_KC - nc->bratio * VL;
        const int win = first < last_win ? first : last_win;
        nc->bwin[h] = win;
        for (int i = 0; i < VL; i++) {
            const int slot = h * VL + i < pt->spb ? h * VL + i : h * VL, f = slot % 16;
            lw[i] = slot / 16 * pt->words + f / pt->per_word;
            ls[i] = f % pt->per_word * pt->bits;
            lb[i] = slot / n * m - win;
        }
        nc->bword[h] = VI_LOADU(lw);
        nc->bshift[h] = VI_LOADU(ls);
        nc->bbase[h] = VI_LOADU(lb);
    }
}

/* FETCH_BLOCK: one term's runs of a row in g consecutive full K blocks
 * (runs dv values and dw words apart), columns [0, nx): the block's index
 * words in one register, each slot vector's fields picked from it, x
 * fetched by permutes from the slot vector's window (a gather instead ran
 * 3:8 at x1 1.36x slower on the AMD EPYC, Zen 3). Every slot
 * is multiplied, value-0 padding included: x is finite here (non-finite x
 * runs the plain-C kernel). */
static inline __attribute__((always_inline)) void
narrow_run_block(const tasdi_pterm *pt, const narrow_consts *nc, const VT *v,
                 const uint32_t *w, int g, int64_t dv, int64_t dw, const float *xb,
                 int64_t ldx, const int nx, vf *acc, const int ratio)
{
    vf a[TASDI_NARROW_MAX];
#pragma GCC unroll 8
    for (int j = 0; j < TASDI_NARROW_MAX; j++)
        if (j < nx)
            a[j] = acc[j];
    for (int b = 0; b < g; b++, v += dv, w += dw, xb += TASDI_KC) {
        const vi words = VI_LOAD_WORDS(w, (int)pt->wpb);
        for (int h = 0; h < nc->bvecs; h++) {
            const int lanes = h + 1 < nc->bvecs ? VL : nc->blast;
            vi pos = VI_ADD(VI_AND(VI_SRLV(VI_PERM(words, nc->bword[h]), nc->bshift[h]),
                                   nc->mask),
                            nc->bbase[h]);
            vf val = lanes == VL ? VLOAD_V(v + h * VL) : VLOAD_V_N(v + h * VL, lanes);
#pragma GCC unroll 8
            for (int j = 0; j < TASDI_NARROW_MAX; j++)
                if (j < nx)
                    a[j] = VFMA(val,
                                /* a window of 8 registers (15 permutes and
                                 * blends) lost to one gather: 3:32 x2 0.84x */
                                ratio == 8 ? GATHER_N(xb + j * ldx + nc->bwin[h], pos, lanes)
                                           : fetch_perm(xb + j * ldx + nc->bwin[h], pos, ratio),
                                a[j]);
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < TASDI_NARROW_MAX; j++)
        if (j < nx)
            acc[j] = a[j];
}

/* One term's runs of a row in g consecutive K blocks (cnt slots each; the
 * block's runs dv values and dw words apart), columns [0, nx) of xb (x at
 * the first block's start): acc[j] += sum v * x. The accumulators stay in
 * registers over the g blocks. Even and odd chunks go to two accumulator
 * sets while both fit the register file. */
static inline __attribute__((always_inline)) void
narrow_run(const tasdi_pterm *pt, const narrow_consts *nc, const VT *v,
           const uint32_t *w, int64_t cnt, int g, int64_t dv, int64_t dw, const float *xb,
           int64_t ldx, const int nx, vf *acc, const int ratio)
{
    vf a0[TASDI_NARROW_MAX], a1[TASDI_NARROW_MAX];
#pragma GCC unroll 8
    for (int j = 0; j < TASDI_NARROW_MAX; j++)
        if (j < nx) {
            a0[j] = acc[j];
            a1[j] = VZERO();
        }
    for (int b = 0; b < g; b++, v += dv, w += dw, xb += TASDI_KC) {
        int64_t c = 0;
        for (; (c + 2) * 16 <= cnt; c += 2) {
            narrow_chunk(pt, v + c * 16, w + c * pt->words, xb + c * HALVES * nc->wv, ldx,
                         nx, a0, nc->lanes_word, nc->shift, nc->base, nc->mask, nc->wv,
                         ratio, 16);
            narrow_chunk(pt, v + (c + 1) * 16, w + (c + 1) * pt->words,
                         xb + (c + 1) * HALVES * nc->wv, ldx, nx,
                         nx <= NARROW_SPLIT ? a1 : a0, nc->lanes_word, nc->shift, nc->base,
                         nc->mask, nc->wv, ratio, 16);
        }
        for (; c * 16 < cnt; c++) {
            int left = cnt - c * 16 < 16 ? (int)(cnt - c * 16) : 16;
            narrow_chunk(pt, v + c * 16, w + c * pt->words, xb + c * HALVES * nc->wv, ldx,
                         nx, a0, nc->lanes_word, nc->shift, nc->base, nc->mask, nc->wv,
                         ratio, left);
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < TASDI_NARROW_MAX; j++)
        if (j < nx)
            acc[j] = VADD(a0[j], a1[j]);
}

#define NARROW_KBG 8 /* full K blocks per visit of a row */
#define NARROW_ROWS TASDI_RB /* rows per call at most: a whole row block */

/* 1:8 VL rows at a time, lane l of a vector being row l: group i of x (8
 * floats) is one register, a permute by the rows' 3-bit indices of group i
 * picks each row's x value, and an FMA adds it times the rows' values of
 * group i (their value vectors transposed in registers). Per VL rows and
 * column: 8 permutes and 8 FMAs, where a row at a time took a blend tree
 * (AVX2: 7 blends, 3 shifts per row and column, x transposed per K block)
 * or a gather (AVX-512: 4096x4096x1 1:8 ran at 3.9x the AVX2 backend's
 * time on an AMD EPYC Zen 5). 2:4+1:8 at 512x1024x1 (AVX2, cachegrind): 89
 * -> 79 instructions per row and K block (2:4: 55 -> 54), lone 1:8 37 -> 26. */
#define NF_T8R VL /* rows per nf_t8_rows call */
#ifdef NF_TRANSPOSE8
#define NF_T8 1

/* Row a's 8 values (VL 8), or rows a and b's in the two halves (VL 16). */
#if VL == 8
#define NF_LOAD_ROWS(v, vrun, a, b) VLOAD_V((v) + (a) * (vrun))
#else
#define NF_LOAD_ROWS(v, vrun, a, b)                                                    \
    NF_ROWS2(VLOAD8_V((v) + (a) * (vrun)), VLOAD8_V((v) + (b) * (vrun)))
#endif

/* Rows [0, nrow) (nrow <= NF_T8R) of a full K block, the 1:8 term's runs at
 * v and its index words at w (a row apart: vrun, wrun): acc[j] lane l +=
 * row l's products with column j < nx <= NARROW_PASS. Lanes from nrow up
 * repeat row nrow - 1. */
static inline __attribute__((always_inline)) void
nf_t8_rows(const VT *v, int64_t vrun, const uint32_t *w, int64_t wrun, const int nrow,
           const float *xb, int64_t ldx, const int nx, vf *acc)
{
    vf t[8];
    vi ctl;
    if (nrow == NF_T8R) {
#pragma GCC unroll 8
        for (int l = 0; l < 8; l++)
            t[l] = NF_LOAD_ROWS(v, vrun, l, l + 8);
        ctl = VI_STRIDED(w, wrun);
    } else {
        uint32_t wl[NF_T8R];
#pragma GCC unroll 16
        for (int l = 0; l < NF_T8R; l++)
            wl[l] = w[(l < nrow ? l : nrow - 1) * wrun];
#pragma GCC unroll 8
        for (int l = 0; l < 8; l++)
            t[l] = NF_LOAD_ROWS(v, vrun, l < nrow ? l : nrow - 1,
                                l + 8 < nrow ? l + 8 : nrow - 1);
        ctl = VI_LOADU(wl);
    }
    NF_TRANSPOSE8(t); /* t[i] lane l: row l's value of group i */
    /* two chains at n = 1, one per column beyond; the column loops unrolled
     * in full up to 8 (unrolled by 4, 6-8 columns kept the sums on the
     * stack, a store and a reload per FMA: 1:8 alone 1.5-1.6x slower) */
    vf a[2][NARROW_PASS];
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++) {
        a[0][j] = acc[j];
        a[1][j] = VZERO();
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++, ctl = VI_SRL3(ctl))
#pragma GCC unroll 8
        for (int j = 0; j < nx; j++)
            a[i & (nx == 1)][j] = VFMA(t[i], WIN8(xb + j * ldx + 8 * i, ctl), a[i & (nx == 1)][j]);
#pragma GCC unroll 8
    for (int j = 0; j < nx; j++)
        acc[j] = nx == 1 ? VADD(a[0][j], a[1][j]) : a[0][j];
}
#else
#define NF_T8 0
#endif

/* Row r's accumulator of column j at [r * nx + j]: a call zeroes only the
 * nr * nx it uses (all of 64 x 8 took ~6% of a 128x1024x1 call). A 1:8
 * term of 8 slots and 1 word per full K block (t8, NF_T8 only) sums NF_T8R
 * rows at a time into acc8: lane l of [g * nx + j] is row NF_T8R g + l. */
typedef struct narrow_state {
    narrow_consts nc[TASDI_MAX_TERMS];
    int ratio[TASDI_MAX_TERMS];
    int t8; /* the term run by nf_t8_rows in full K blocks, or -1 */
    int rowsums; /* whether anything summed into acc or acc_s */
    vf acc[NARROW_ROWS * TASDI_NARROW_MAX];
    float acc_s[NARROW_ROWS * TASDI_NARROW_MAX];
    vf acc8[NARROW_ROWS / NF_T8R * TASDI_NARROW_MAX];
} narrow_state;

static void narrow_init(const tasdi_packed *p, int64_t nr, const int nx, narrow_state *st)
{
    for (int i = 0; i < p->terms; i++) {
        const tasdi_pterm *pt = &p->term[i];
        narrow_setup(pt, &st->nc[i]);
        st->ratio[i] = st->nc[i].mode == FETCH_GATHER ? 0 : pt->m / pt->n;
    }
    for (int64_t e = 0; e < nr * nx; e++) {
        st->acc[e] = VZERO();
        st->acc_s[e] = 0.0f;
    }
    st->t8 = -1;
    st->rowsums = 0;
#if NF_T8
    for (int i = 0; i < p->terms; i++)
        if (p->term[i].n == 1 && p->term[i].m == 8 && p->term[i].spb == 8 &&
            p->term[i].wpb == 1)
            st->t8 = i;
    if (st->t8 >= 0)
        for (int64_t e = 0; e < (nr + NF_T8R - 1) / NF_T8R * nx; e++)
            st->acc8[e] = VZERO();
#endif
}

/* K blocks [kb, kb + g) over rows [r0, r1), any series: each term dispatched
 * at run time. g > 1 only for full blocks: a row's runs in them are a
 * constant stride apart, and its accumulators stay in registers over the g
 * blocks (one load and store of them per g blocks). */
static inline __attribute__((always_inline)) void
narrow_kb(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb, int g,
          const float *x, int64_t ldx, const int nx, narrow_state *st)
{
    const tasdi_pterm *pt0 = &p->term[0];
    const int last = kb + 1 == p->nkb;
    const float *xb = x + kb * TASDI_KC;
    const int64_t at = tasdi_wide_at(pt0, p->rows, p->nkb, kb, r0);
    const int64_t wat = tasdi_idx_at(pt0, p->rows, p->nkb, kb, r0);
    const VT *v = VAL_BASE(pt0) + at;
    const uint32_t *w = pt0->idx + wat;
    const int64_t vrun = last ? pt0->tlast : pt0->tspb, wrun = last ? pt0->twlast : pt0->twpb;
    const int64_t dv = g > 1 ? tasdi_wide_at(pt0, p->rows, p->nkb, kb + 1, r0) - at : 0;
    const int64_t dw = g > 1 ? tasdi_idx_at(pt0, p->rows, p->nkb, kb + 1, r0) - wat : 0;
    /* the 1:8 term NF_T8R rows at a time where its blocks are full */
    const int t8 = st->t8 >= 0 && (!last || p->term[st->t8].last == 8) ? st->t8 : -1;
    if (t8 < 0 || p->terms > 1)
        st->rowsums = 1;
    for (int64_t r = 0; r < r1 - r0; r++, v += vrun, w += wrun) {
        PREFETCH((const char *)v + 1024);
        for (int i = 0; i < p->terms; i++) {
            if (i == t8)
                continue;
            const tasdi_pterm *pt = &p->term[i];
            const int64_t cnt = last ? pt->last : pt->spb;
            const VT *tv = v + (last ? pt->plast : pt->pspb);
            const uint32_t *tw = w + (last ? pt->pwlast : pt->pwpb);
            const int mode = st->nc[i].mode;
            if (mode == FETCH_SCALAR || (mode == FETCH_BLOCK && cnt != pt->spb)) {
                for (int b = 0; b < g; b++)
                    narrow_run_scalar(pt, tv + b * dv, tw + b * dw, cnt, xb + b * TASDI_KC,
                                      ldx, nx, st->acc_s + r * nx);
                continue;
            }
            /* columns in passes that fit the register file */
#pragma GCC unroll 2
            for (int j0 = 0; j0 < nx; j0 += NARROW_PASS) {
                const int ns = nx - j0 < NARROW_PASS ? nx - j0 : NARROW_PASS;
                const float *xj = xb + j0 * ldx;
                vf *ar = st->acc + r * nx + j0;
                const narrow_consts *nc = &st->nc[i];
#define RUN(ratio) narrow_run(pt, nc, tv, tw, cnt, g, dv, dw, xj, ldx, ns, ar, ratio)
                if (mode == FETCH_BLOCK) {
#define RUNB(ratio) narrow_run_block(pt, nc, tv, tw, g, dv, dw, xj, ldx, ns, ar, ratio)
                    switch (nc->bratio) {
                    case 1: RUNB(1); break;
                    case 2: RUNB(2); break;
                    case 4: RUNB(4); break;
                    default: RUNB(TASDI_KC / VL); break;
                    }
#undef RUNB
                    continue;
                }
                switch (st->ratio[i]) {
                case 0: RUN(0); break;
                case 1: RUN(1); break;
                case 2: RUN(2); break;
                case 4: RUN(4); break;
                default: RUN(8); break;
                }
#undef RUN
            }
        }
#if NF_T8
        if (t8 >= 0 && (r % NF_T8R == NF_T8R - 1 || r + 1 == r1 - r0)) {
            const int64_t r8 = r / NF_T8R * NF_T8R;
            const int nrow = (int)(r + 1 - r8);
            const tasdi_pterm *pt = &p->term[t8];
            const VT *tv = v - (r - r8) * vrun + (last ? pt->plast : pt->pspb);
            const uint32_t *tw = w - (r - r8) * wrun + (last ? pt->pwlast : pt->pwpb);
            for (int b = 0; b < g; b++)
#pragma GCC unroll 2
                for (int j0 = 0; j0 < nx; j0 += NARROW_PASS)
                    nf_t8_rows(tv + b * dv, vrun, tw + b * dw, wrun, nrow,
                               xb + b * TASDI_KC + j0 * ldx, ldx,
                               nx - j0 < NARROW_PASS ? nx - j0 : NARROW_PASS,
                               st->acc8 + r8 / NF_T8R * nx + j0);
        }
#endif
    }
}

/* narrow_kb for any nx <= TASDI_NARROW_MAX, compiled once per nx: the
 * generic rows and the fast path's short last block share these copies
 * (inlined into every fast-path instance they made up most of the narrow
 * kernel's machine code and compile time). */
static __attribute__((noinline)) void
narrow_kb_any(const tasdi_packed *p, int64_t r0, int64_t r1, int64_t kb, int g,
              const float *x, int64_t ldx, int nx, narrow_state *st)
{
    switch (nx) {
    case 1: narrow_kb(p, r0, r1, kb, g, x, ldx, 1, st); break;
    case 2: narrow_kb(p, r0, r1, kb, g, x, ldx, 2, st); break;
    case 3: narrow_kb(p, r0, r1, kb, g, x, ldx, 3, st); break;
    case 4: narrow_kb(p, r0, r1, kb, g, x, ldx, 4, st); break;
    case 5: narrow_kb(p, r0, r1, kb, g, x, ldx, 5, st); break;
    case 6: narrow_kb(p, r0, r1, kb, g, x, ldx, 6, st); break;
    case 7: narrow_kb(p, r0, r1, kb, g, x, ldx, 7, st); break;
    default: narrow_kb(p, r0, r1, kb, g, x, ldx, 8, st); break;
    }
}

/* A lone 1:8 term of full K blocks left acc and acc_s zero: their
 * reductions took 13% of a 256x1024x8 1:8 call (AMD EPYC Zen 4, avx512). */
static void narrow_store(int64_t nr, const int nx, const narrow_state *st, float *y, int64_t ldy)
{
    for (int64_t r = 0; r < nr; r++)
        for (int j = 0; j < nx; j++)
            y[r * ldy + j] = st->rowsums ? VHSUM(st->acc[r * nx + j]) + st->acc_s[r * nx + j]
                                         : 0.0f;
    if (st->t8 >= 0) /* the rows' 1:8 sums */
        for (int64_t r8 = 0; r8 < nr; r8 += NF_T8R)
            for (int j = 0; j < nx; j++) {
                float lane[VL];
                VSTORE(lane, st->acc8[r8 / NF_T8R * nx + j]);
                for (int64_t l = 0; l < NF_T8R && r8 + l < nr; l++)
                    y[(r8 + l) * ldy + j] += lane[l];
            }
}

/* NARROW_KBG K blocks at a time over the rows: the call streams its row
 * block's memory once (NARROW_KBG streams side by side), and x of those
 * blocks (8 columns: 16 KiB) stays in L1. The rows' vector accumulators
 * wait in L1 between visits. */
static void narrow_rows(const tasdi_packed *p, int64_t r0, int64_t r1, const float *x,
                        int64_t ldx, int nx, float *y, int64_t ldy)
{
    narrow_state st;
    narrow_init(p, r1 - r0, nx, &st);
    for (int64_t kb = 0; kb < p->nkb;) {
        int g = kb + NARROW_KBG < p->nkb ? NARROW_KBG : 1;
        narrow_kb_any(p, r0, r1, kb, g, x, ldx, nx, &st);
        kb += g;
    }
    narrow_store(r1 - r0, nx, &st, y, ldy);
}

/* ---- narrow fast path: N:M known at compile time ----
 * Series (nf_code): 2:4, 1:4, 1:8, 1:16, 2:16, 2:8 and 4:8 (8 lanes only),
 * 2:4 or 1:4 followed by 1:8, and 2:4+1:4 (TASDER's two-term pick on the
 * vegeta target, as in the README's search).
 * For M/N = 2 (2:4) and 4 (1:4) with M = 4 a slot's group of 4 x values fits
 * one 128-bit lane, so x is rearranged once per K block (shared by all rows
 * of the call) so that every slot's group sits in the 128-bit lane of its
 * own output lane in one of M/N registers: a slot vector is then one
 * variable shift of the broadcast index word (vpermilps reads the low 2
 * bits), M/N in-lane permutes and M/N - 1 constant blends per column, no
 * window base, mask or variable blend. 1:8 runs VL rows at a time where
 * the backend has NF_TRANSPOSE8 (nf_t8_rows), else decodes like the
 * generic path and gathers, as do 1:16 and 2:16 (4 and 8 slots per row
 * and block, where the generic path paid its per-row dispatch for one
 * gather). Full K blocks only; a short last block goes
 * the generic way.
 * NF_X(p): the one place a value is loaded. */
#define NF_X(p) VLOAD_V(p)
#define NF_XR TASDI_KC /* rearranged x floats per column and term */
/* most columns of the fast path: 8 where 32 registers hold 8 columns'
 * sums (AVX-512; on an AMD EPYC Zen 5 it beat the wide kernel at every n from 5 to 8,
 * dispatch.c), 4 with 16 registers */
#define NF_MAXN (VL == 16 ? 8 : 4)
#define NF_PFD 2       /* prefetch distance, K blocks */
/* A one-term series of f32 values prefetches this many bytes of its row
 * block ahead instead (at least NF_PFD blocks; 0: NF_PFD blocks always).
 * AVX-512 sets 24 KiB: on an AMD EPYC Zen 5 at 4096x4096x1 with the
 * weights from memory that took 2:4 to 0.92-0.97 of its time (3 blocks),
 * 1:4 to 0.85-0.95 (6), 1:8 to 0.93-1.00 (12), where 16 KiB gained less and
 * 32-48 KiB nothing more; series of two terms ran 1.13-1.37x slower with
 * any distance over 2 blocks, bf16 values and the AVX2 kernel on the same
 * CPU gained nothing (0.98-1.04), so they keep NF_PFD. Unmeasured on Intel. */
#ifndef NF_PF_BYTES
#define NF_PF_BYTES 0
#endif
/* The fast path's prefetch distance in K blocks for rows of vrun values
 * (c1: a second term), from a full row block's bytes so that a short last
 * block does not reach far past the series. */
static inline int64_t nf_prefetch_blocks(int64_t vrun, int c1)
{
    const int64_t ahead = NF_PF_BYTES / (TASDI_RB * vrun * (int64_t)sizeof(VT));
    return NF_PF_BYTES > 0 && !c1 && sizeof(VT) == sizeof(float) && ahead > NF_PFD ? ahead
                                                                                   : NF_PFD;
}
#define NF_PARTS 4     /* partial sums per row and column at most */
/* index words of a row in a full K block (kernels.h: 2:4's 32 slots of 2
 * bits, 1:4's 16, 1:8's 8 of 3 bits, 2:8's 16 and 4:8's 32 in chunks of 2
 * words, 1:16's 4 and 2:16's 8 of 4 bits), checked against the layout by
 * nf_code: constant row strides let the compiler address rows by offsets */
#define NF_WPB(c)                                                                      \
    ((c) == WIDE_CODE(2, 4) || (c) == WIDE_CODE(2, 8) ? 2 : (c) == WIDE_CODE(4, 8) ? 4 : (c) ? 1 : 0)
#define NF_M4(c) ((c) == WIDE_CODE(2, 4) || (c) == WIDE_CODE(1, 4))
/* 2:8 and 4:8: each group of 8 is split into its low and high quad, each
 * quad placed in the 128-bit lane of its output lanes, so an index's low 2
 * bits pick by in-lane permutes and its bit 2 by a variable blend. One
 * lane-crossing vpermps per group instead ran 2:8 x4 at half the speed of
 * 1:4 x4 with fewer instructions (AVX2, Zen 3). */
#define NF_M8C(c) ((c) == WIDE_CODE(2, 8) || (c) == WIDE_CODE(4, 8))

/* x of K block xb, column j, rearranged for code (2:4, 1:4; 2:8, 4:8) into
 * xr[j*NF_XR]. */
static inline __attribute__((always_inline)) void
nf_build(const float *xb, int64_t ldx, const int nx, float *xr, const int code)
{
    if (NF_M8C(code)) {
        /* slot vector h covers groups gpv h .. gpv h + gpv - 1, gpl of them
         * in each 128-bit lane of output lanes; its 2 gpl registers: the low
         * quads of the groups, then the high quads; group q of the vector
         * in register q % gpl, 128-bit lane q / gpl */
        const int gpv = VL / (code / 64), gpl = 4 / (code / 64);
        for (int j = 0; j < nx; j++)
            for (int g = 0; g < TASDI_KC / 8; g++)
                for (int hi = 0; hi < 2; hi++) {
                    const int h = g / gpv, q = g % gpv;
                    memcpy(xr + j * NF_XR + (h * 2 * gpl + hi * gpl + q % gpl) * VL +
                               q / gpl * 4,
                           xb + j * ldx + g * 8 + hi * 4, 4 * sizeof(float));
                }
        return;
    }
    const int r = code == WIDE_CODE(2, 4) ? 2 : 4; /* registers per slot vector */
    for (int j = 0; j < nx; j++)
        for (int g = 0; g < TASDI_KC / 4; g++) {
            const int qpw = r * VL / 4; /* quads per window */
            const int wn = g / qpw, q = g % qpw;
            memcpy(xr + j * NF_XR + wn * r * VL + (q % r) * VL + (q / r) * 4,
                   xb + j * ldx + g * 4, 4 * sizeof(float));
        }
}

/* Slot vector h's index fields, each at the bottom of its lane (the next
 * slots' bits above it), for M = 8 and 16: 2 words per 16-slot chunk. */
static inline __attribute__((always_inline)) vi
nf_fields2(const uint32_t *w, int h, const vi *lanes_word, const vi *shift)
{
    vi words = VI_LOAD_WORDS(w + h / HALVES * 2, 2);
    return VI_SRLV(VI_PERM(words, lanes_word[h % HALVES]), shift[h % HALVES]);
}

/* One term's run of a full K block of one row: a[.][j] += v . x, slot
 * vector h into a[p0 + h % np]. */
static inline __attribute__((always_inline)) void
nf_term(const VT *v, const uint32_t *w, const float *xr, const float *xb, int64_t ldx,
        const int nx, vf (*a)[NF_MAXN], const int p0, const int np, const int code,
        const vi *shift, const vi *lanes_word, vi base)
{
    if (code == WIDE_CODE(2, 4) || code == WIDE_CODE(1, 4)) {
        const int r = code == WIDE_CODE(2, 4) ? 2 : 4;
        const int nv = TASDI_KC / 4 * (code == WIDE_CODE(2, 4) ? 2 : 1) / VL; /* slot vectors */
#pragma GCC unroll 8
        for (int h = 0; h < nv; h++) {
            vi ctl = VI_SRLV(VI_SET1((int)w[h * VL / 16]), shift[h % HALVES]);
            vf val = NF_X(v + h * VL);
#pragma GCC unroll 8
            for (int j = 0; j < nx; j++) {
                const float *xw = xr + j * NF_XR + h * r * VL;
                vf xv;
                if (r == 2) {
                    xv = VBLEND_CC(VPERMIL(VLOAD(xw), ctl), VPERMIL(VLOAD(xw + VL), ctl));
                } else {
                    vf q0 = VPERMIL(VLOAD(xw), ctl), q1 = VPERMIL(VLOAD(xw + VL), ctl);
                    vf q2 = VPERMIL(VLOAD(xw + 2 * VL), ctl),
                       q3 = VPERMIL(VLOAD(xw + 3 * VL), ctl);
                    xv = VBLEND_CC(VBLEND_AA(q0, q1), VBLEND_AA(q2, q3));
                }
                a[p0 + h % np][j] = VFMA(val, xv, a[p0 + h % np][j]);
            }
        }
    } else if (NF_M8C(code)) {
        const int n = code / 64, nv = CODE_SLOTS(code) / VL;
#pragma GCC unroll 4
        for (int h = 0; h < nv; h++) {
            vi ctl = nf_fields2(w, h, lanes_word, shift);
            vf val = NF_X(v + h * VL);
#pragma GCC unroll 8
            for (int j = 0; j < nx; j++) {
                const float *xw = xr + j * NF_XR + h * 8 / n * VL; /* nf_build */
                vf lo, hi;
                if (n == 2) {
                    lo = VBLEND_CC(VPERMIL(VLOAD(xw), ctl), VPERMIL(VLOAD(xw + VL), ctl));
                    hi = VBLEND_CC(VPERMIL(VLOAD(xw + 2 * VL), ctl),
                                   VPERMIL(VLOAD(xw + 3 * VL), ctl));
                } else {
                    lo = VPERMIL(VLOAD(xw), ctl);
                    hi = VPERMIL(VLOAD(xw + VL), ctl);
                }
                a[p0 + h % np][j] = VFMA(val, VBLEND_BIT(lo, hi, ctl, 4), a[p0 + h % np][j]);
            }
        }
    } else { /* 1:8, 1:16, 2:16: at most 8 slots, index words as in a 16-slot
              * chunk, gathered */
        const int n = code / 64, m = code % 64, spb = CODE_SLOTS(code);
        const vi mask = VI_SET1(m - 1);
        const int nv = spb < VL ? 1 : spb / VL;
        const int lanes = spb < VL ? spb : VL;
#pragma GCC unroll 2
        for (int h = 0; h < nv; h++) {
            vi pos = VI_ADD(VI_AND(nf_fields2(w, h, lanes_word, shift), mask), base);
            vf val = lanes < VL ? VLOAD_V_N(v + h * VL, lanes) : NF_X(v + h * VL);
#pragma GCC unroll 8
            for (int j = 0; j < nx; j++)
                a[p0 + h % np][j] =
                    VFMA(val, GATHER_N(xb + j * ldx + h * VL / n * m, pos, lanes),
                         a[p0 + h % np][j]);
        }
    }
}

/* Partial sums per row and column for term 0's slot vectors (at most
 * one per vector): 2; 4 for a lone term at n = 1 (2:4 x1 1.02-1.09x faster
 * than 2 with weights evicted, 1.16x in cache; a second term gained
 * nothing); 1 where the registers run out (1:4 at n >= 3 lost 6% with 2;
 * 2:4 at n = 8 ran 1.12x slower with 2, AMD EPYC Zen 5) or a second term at n >= 2
 * already gives the row enough independent chains. */
static inline __attribute__((always_inline)) int nf_parts0(const int c0, const int c1,
                                                           const int nx)
{
    const int vectors = CODE_SLOTS(c0) / VL > 1 ? CODE_SLOTS(c0) / VL : 1;
    const int want = (c1 && nx >= 2) || (c0 == WIDE_CODE(1, 4) && nx >= 3) || nx >= 5 ? 1
                     : nx == 1 && !c1                                          ? 4
                                                                               : 2;
    return want < vectors ? want : vectors;
}

/* Rows [r0, r1), nx <= NF_MAXN columns, a one- or two-term series of
 * codes c0, c1 (0: none). */
static inline __attribute__((always_inline)) void
nf_rows(const tasdi_packed *p, int64_t r0, int64_t r1, const float *x, int64_t ldx,
        const int nx, float *y, int64_t ldy, const int c0, const int c1)
{
    narrow_state st;
    narrow_init(p, r1 - r0, nx, &st);
    const int64_t nr = r1 - r0;
    const tasdi_pterm *pt0 = &p->term[0];
    const int short_last = pt0->last != pt0->spb || (c1 && p->term[1].last != p->term[1].spb);
    const int64_t nkf = p->nkb - short_last;
    /* the 1:8 term NF_T8R rows at a time (NF_T8), the others a row at a
     * time: rc0, rc1 (0: none) */
    const int t8 = NF_T8 && (c0 == WIDE_CODE(1, 8) || c1 == WIDE_CODE(1, 8));
    const int rc0 = t8 && c0 == WIDE_CODE(1, 8) ? 0 : c0, rc1 = t8 ? 0 : c1;
    if (rc0) /* the rows sum their own terms into st.acc */
        st.rowsums = 1;
    /* decode constants of each code (c0 and c1 differ) */
    const int i8 = c0 == WIDE_CODE(1, 8) ? 0 : 1;
    const vi *sh0 = st.nc[0].shift, *sh1 = c1 ? st.nc[1].shift : sh0;
    const vi *lw8 = st.nc[c1 ? i8 : 0].lanes_word;
    const vi base8 = st.nc[c1 ? i8 : 0].base;
    _Alignas(64) float xr0[NF_MAXN * NF_XR], xr1[NF_MAXN * NF_XR];
    /* at 5-8 columns the 1:8 term's x is copied per K block, column j at
     * x8[j * TASDI_KC]: its addresses are then constant offsets from one
     * register (with x's own stride a pointer per column, which left the
     * registers: each of the 8 x nx window loads waited on a reload from
     * the stack; at 1-4 columns the copy cost more than it saved; AVX2's
     * fast path stops at 4 columns, so it has no copy) */
    const int copy8 = NF_MAXN > 4 && t8 && nx > 4;
    _Alignas(64) float x8[(NF_MAXN > 4 ? NF_MAXN : 1) * TASDI_KC];
    const int64_t vrun = CODE_RUN(c0, c1), wrun = NF_WPB(c0) + NF_WPB(c1);
    const int64_t dv1 = c1 ? CODE_SLOTS(c0) : 0, dw1 = c1 ? NF_WPB(c0) : 0;
    const int64_t rb0 = r0 / TASDI_RB * TASDI_RB;
    const int64_t nb = p->rows - rb0 < TASDI_RB ? p->rows - rb0 : TASDI_RB;
    const int64_t pfd = nf_prefetch_blocks(vrun, c1);
    const int64_t pfv = pfd * nb * vrun, pfw = pfd * nb * wrun;
    /* A row's products go to `parts` independent partial sums per column
     * (term 0's np0, then term 1's own at n <= 2), added to the row's
     * accumulator at the end. With one chain of FMAs per column a row
     * waited on 4-5 FMA latencies per K block, and only 2-3 rows fit the
     * out-of-order window: 2:4+1:8 x1 was 1.24-1.36x slower, 2:4 x1
     * 1.09-1.25x. */
    const int np0 = rc0 ? nf_parts0(rc0, rc1, nx) : 0, parts = np0 + (rc1 && nx <= 2);
    for (int64_t kb = 0; kb < nkf; kb++) {
        const float *xb = x + kb * TASDI_KC;
        if (NF_M4(rc0) || NF_M8C(rc0))
            nf_build(xb, ldx, nx, xr0, rc0);
        if (NF_M4(rc1) || NF_M8C(rc1))
            nf_build(xb, ldx, nx, xr1, rc1);
        if (copy8)
            for (int j = 0; j < nx; j++)
                memcpy(x8 + j * TASDI_KC, xb + j * ldx, TASDI_KC * sizeof(float));
        const VT *v = VAL_BASE(pt0) + tasdi_wide_at(pt0, p->rows, p->nkb, kb, r0);
        const uint32_t *w = pt0->idx + tasdi_idx_at(pt0, p->rows, p->nkb, kb, r0);
        for (int64_t r8 = 0; r8 < nr; r8 += NF_T8R) {
            const int nrow = nr - r8 < NF_T8R ? (int)(nr - r8) : NF_T8R;
            for (int64_t r = r8; r < r8 + nrow; r++, v += vrun, w += wrun) {
                /* the same row NF_PFD K blocks ahead, every line of its run
                 * (a constant count, so no loop: in-cache calls paid ~8% for
                 * the loop) */
                for (int o = 0; o < CODE_RUN(c0, c1); o += 64 / (int)sizeof(VT))
                    PREFETCH(v + pfv + o);
                PREFETCH(w + pfw);
                if (!rc0)
                    continue;
                vf a[NF_PARTS][NF_MAXN];
#pragma GCC unroll 8
                for (int j = 0; j < NF_MAXN; j++)
                    if (j < nx)
#pragma GCC unroll 4
                        for (int q = 0; q < NF_PARTS; q++)
                            if (q < parts)
                                a[q][j] = parts == 1 ? st.acc[r * nx + j] : VZERO();
                nf_term(v, w, xr0, xb, ldx, nx, a, 0, np0, rc0, sh0, lw8, base8);
                if (rc1)
                    nf_term(v + dv1, w + dw1, xr1, xb, ldx, nx, a, parts - 1, 1, rc1, sh1, lw8,
                            base8);
#pragma GCC unroll 8
                for (int j = 0; j < NF_MAXN; j++)
                    if (j < nx) {
                        vf sum = a[0][j]; /* fixed order: (((a0 + a1) + a2) + a3) */
#pragma GCC unroll 4
                        for (int q = 1; q < NF_PARTS; q++)
                            if (q < parts)
                                sum = VADD(sum, a[q][j]);
                        st.acc[r * nx + j] = parts > 1 ? VADD(st.acc[r * nx + j], sum) : sum;
                    }
            }
#if NF_T8
            /* after the rows' own terms: run before them it reached up to 8
             * rows ahead in the stream, and 2:4+1:8 x1 with the weights
             * evicted ran 1.2-1.35x slower (Zen 3) */
            if (t8)
                nf_t8_rows(v - nrow * vrun + dv1, vrun, w - nrow * wrun + dw1, wrun, nrow,
                           copy8 ? x8 : xb, copy8 ? TASDI_KC : ldx, nx,
                           st.acc8 + r8 / NF_T8R * nx);
#endif
        }
    }
    if (nkf < p->nkb)
        narrow_kb_any(p, r0, r1, nkf, 1, x, ldx, nx, &st);
    narrow_store(r1 - r0, nx, &st, y, ldy);
}

/* The series with a fast narrow path for nx columns; 0 if none. */
static int nf_code(const tasdi_packed *p)
{
    const int a = WIDE_CODE(p->term[0].n, p->term[0].m);
    const int b = p->terms == 2 ? WIDE_CODE(p->term[1].n, p->term[1].m) : -1;
    int code = 0;
    if (p->terms == 1 && (a == WIDE_CODE(2, 4) || a == WIDE_CODE(1, 4) || a == WIDE_CODE(1, 8) ||
                          a == WIDE_CODE(1, 16) || a == WIDE_CODE(2, 16) ||
                          NF_M8C(a)))
        code = a;
    if (p->terms == 2 && (a == WIDE_CODE(2, 4) || a == WIDE_CODE(1, 4)) &&
        b == WIDE_CODE(1, 8))
        code = a * 4096 + b;
    if (p->terms == 2 && a == WIDE_CODE(2, 4) && b == WIDE_CODE(1, 4))
        code = a * 4096 + b;
    for (int i = 0; code && i < p->terms; i++) {
        const int c = i ? b : a;
        if (p->term[i].spb != CODE_SLOTS(c) || p->term[i].wpb != NF_WPB(c))
            return 0;
    }
    return code;
}

#ifdef TMPL_F32_VALUES
/* tasdi_narrow_fast_fn: the fast path's columns for series p (0: none); the
 * layout decides it, not the value type, so only the f32 file has it. */
int PFX(narrow_fast)(const tasdi_packed *p)
{
    const int code = nf_code(p);
    if (!code)
        return 0;
    /* With 16 lanes the wide kernel won past these columns (AMD EPYC Zen 5,
     * avx512, in-process A/B, wide time / narrow time at 3072x768 / at
     * 4096x4096, weights from memory as in decoding, which decided where
     * the two disagreed; a tie went by the first): 2:8 x7 0.78 / 0.85 (x6
     * 0.88-0.93 / 1.11); 1:4+1:8 x7 0.79 / 1.02; 1:4 x8 0.64 / 0.90 (x7
     * 0.85 / 1.15); 4:8 x8 0.91 / 1.00; 2:4+1:4 x8 0.94 / 0.85. 2:4, 1:8
     * and 2:4+1:8 keep all 8 (x8: 1.07 / 1.29, 1.14 / 2.36, 0.93 / 1.14). */
    if (VL == 16)
        switch (code) {
        case WIDE_CODE(2, 8):
        case WIDE_CODE(1, 4) * 4096 + WIDE_CODE(1, 8): return 6;
        case WIDE_CODE(1, 4):
        case WIDE_CODE(4, 8):
        case WIDE_CODE(2, 4) * 4096 + WIDE_CODE(1, 4): return 7;
        default: break;
        }
    return NF_MAXN;
}

#if VL == 16
/* tasdi_narrow_gathers_fn: the fast path gathers 1:16 and 2:16, the generic
 * one terms of M/N > 8; CPUs with slow gathers run them wide (tasdi_ops) */
int PFX(narrow_gathers)(const tasdi_packed *p)
{
    const int code = nf_code(p);
    if (code)
        return code == WIDE_CODE(1, 16) || code == WIDE_CODE(2, 16);
    for (int i = 0; i < p->terms; i++)
        if (narrow_mode(&p->term[i]) == FETCH_GATHER)
            return 1;
    return 0;
}
#endif
#endif

static inline __attribute__((always_inline)) void
nf_cfg(const tasdi_packed *p, int64_t r0, int64_t r1, const float *x, int64_t ldx,
       const int nx, float *y, int64_t ldy, int code)
{
    switch (code) {
    case WIDE_CODE(2, 4): nf_rows(p, r0, r1, x, ldx, nx, y, ldy, WIDE_CODE(2, 4), 0); break;
    case WIDE_CODE(1, 4): nf_rows(p, r0, r1, x, ldx, nx, y, ldy, WIDE_CODE(1, 4), 0); break;
    case WIDE_CODE(1, 8): nf_rows(p, r0, r1, x, ldx, nx, y, ldy, WIDE_CODE(1, 8), 0); break;
    case WIDE_CODE(1, 16): nf_rows(p, r0, r1, x, ldx, nx, y, ldy, WIDE_CODE(1, 16), 0); break;
    case WIDE_CODE(2, 16): nf_rows(p, r0, r1, x, ldx, nx, y, ldy, WIDE_CODE(2, 16), 0); break;
    case WIDE_CODE(2, 8): nf_rows(p, r0, r1, x, ldx, nx, y, ldy, WIDE_CODE(2, 8), 0); break;
    case WIDE_CODE(4, 8): nf_rows(p, r0, r1, x, ldx, nx, y, ldy, WIDE_CODE(4, 8), 0); break;
    case WIDE_CODE(2, 4) * 4096 + WIDE_CODE(1, 8):
        nf_rows(p, r0, r1, x, ldx, nx, y, ldy, WIDE_CODE(2, 4), WIDE_CODE(1, 8));
        break;
    case WIDE_CODE(2, 4) * 4096 + WIDE_CODE(1, 4):
        nf_rows(p, r0, r1, x, ldx, nx, y, ldy, WIDE_CODE(2, 4), WIDE_CODE(1, 4));
        break;
    default: /* WIDE_CODE(1, 4) * 4096 + WIDE_CODE(1, 8), nf_code's last */
        nf_rows(p, r0, r1, x, ldx, nx, y, ldy, WIDE_CODE(1, 4), WIDE_CODE(1, 8));
        break;
    }
}

void PFX(narrow)(const tasdi_packed *p, int64_t r0, int64_t r1, const float *x,
                 int64_t ldx, int nx, float *y, int64_t ldy)
{
    for (; r1 - r0 > NARROW_ROWS; r0 += NARROW_ROWS, y += NARROW_ROWS * ldy)
        PFX(narrow)(p, r0, r0 + NARROW_ROWS, x, ldx, nx, y, ldy);
    const int code = nx <= NF_MAXN ? nf_code(p) : 0;
    if (code) {
        switch (nx) {
        case 1: nf_cfg(p, r0, r1, x, ldx, 1, y, ldy, code); break;
        case 2: nf_cfg(p, r0, r1, x, ldx, 2, y, ldy, code); break;
        case 3: nf_cfg(p, r0, r1, x, ldx, 3, y, ldy, code); break;
        case 4: nf_cfg(p, r0, r1, x, ldx, 4, y, ldy, code); break;
#if NF_MAXN > 4
        case 5: nf_cfg(p, r0, r1, x, ldx, 5, y, ldy, code); break;
        case 6: nf_cfg(p, r0, r1, x, ldx, 6, y, ldy, code); break;
        case 7: nf_cfg(p, r0, r1, x, ldx, 7, y, ldy, code); break;
        default: nf_cfg(p, r0, r1, x, ldx, 8, y, ldy, code); break;
#endif
        }
        return;
    }
    narrow_rows(p, r0, r1, x, ldx, nx, y, ldy); /* per nx inside: narrow_kb_any */
}
