/* Dense register tiles (kernels/kernels.h, "dense kernel") for one SIMD ISA.
 * The including file defines VL, vf, PFX, the V* macros and DENSE_MR (rows
 * per tile), DENSE_NV (most vectors per row), DENSE_NVMAX(mr) (vectors per
 * row of an mr-row tile, a multiple of the vectors per panel: a sub-tile
 * starts at a panel), DENSE_NR_TILE (columns of the full tile), DENSE_KC,
 * DENSE_MC, and DENSE_ROWS (1: also the tile that reads X in place, `rows`;
 * the same code with X's two strides as arguments). A tile keeps
 * DENSE_MR x DENSE_NV accumulators in registers over the whole K block: per k
 * it loads DENSE_NV vectors of W and broadcasts DENSE_MR values of X, so the
 * inner loop does DENSE_MR * DENSE_NV FMAs for DENSE_MR + DENSE_NV loads.
 * Every (rows, vectors) pair is its own unrolled instance so that short token
 * counts and the last output columns do not pay for padding. */

#if defined(__GNUC__)
#define DENSE_INLINE static inline __attribute__((always_inline))
#else
#define DENSE_INLINE static inline
#endif

/* The tile is written out statement by statement, each guarded by a
 * constant condition, instead of loops over rows and vectors: every access to
 * the accumulator array then has a constant index, so gcc and clang alike keep
 * it in registers without depending on their loop unrollers. */
#define DENSE_FOR_V(M, r) M(r, 0) M(r, 1) M(r, 2) M(r, 3) M(r, 4) M(r, 5) M(r, 6) M(r, 7)
#define DENSE_FOR_R(M)                                                             \
    M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13)
#if DENSE_MR > 14 || DENSE_NV > 8
#error "dense tile larger than the unrolled statements"
#endif

/* address of row r, vector v of the C tile */
#define DENSE_C(r, v) (c + (r) * ldc + (v) * VL)
#define DENSE_IS_TAIL(v) ((v) == nv - 1 && tail < VL)

#define DENSE_LOAD_RV(r, v)                                                        \
    if ((r) < mr && (v) < nv)                                                      \
        acc[r][v] = DENSE_IS_TAIL(v) ? VLOAD_N(DENSE_C(r, v), tail) : VLOAD(DENSE_C(r, v));
#define DENSE_LOAD_R(r) DENSE_FOR_V(DENSE_LOAD_RV, r)
#define DENSE_ZERO_RV(r, v)                                                        \
    if ((r) < mr && (v) < nv)                                                      \
        acc[r][v] = VZERO();
#define DENSE_ZERO_R(r) DENSE_FOR_V(DENSE_ZERO_RV, r)
#define DENSE_FMA_RV(r, v)                                                         \
    if ((v) < nv)                                                                  \
        acc[r][v] = VFMA(a, b[v], acc[r][v]);
#define DENSE_FMA_R(r)                                                             \
    if ((r) < mr) {                                                                \
        vf a = VBCAST(xp + (r) * xr);                                              \
        DENSE_FOR_V(DENSE_FMA_RV, r)                                               \
    }
#define DENSE_STORE_RV(r, v)                                                       \
    if ((r) < mr && (v) < nv) {                                                    \
        if (DENSE_IS_TAIL(v))                                                      \
            VSTORE_N(DENSE_C(r, v), acc[r][v], tail);                              \
        else                                                                       \
            VSTORE(DENSE_C(r, v), acc[r][v]);                                      \
    }
#define DENSE_STORE_R(r) DENSE_FOR_V(DENSE_STORE_RV, r)
#define DENSE_WLOAD_V(r, v)                                                        \
    if ((v) < nv)                                                                  \
        b[v] = VLOAD(w + (v * VL / TASDI_DENSE_PANEL) * wps + (v * VL) % TASDI_DENSE_PANEL);

DENSE_INLINE void dense_tile(const int mr, const int nv, int64_t kc, const float *xp,
                             const int64_t xk, const int64_t xr, const float *w,
                             int64_t wps, int nc, float *c, int64_t ldc, int accumulate)
{
    vf acc[14][8];
    const int tail = nc - (nv - 1) * VL; /* lanes of the last vector, 1..VL */
    if (accumulate) {
        DENSE_FOR_R(DENSE_LOAD_R)
    } else {
        DENSE_FOR_R(DENSE_ZERO_R)
    }
    for (int64_t k = 0; k < kc; k++) {
        vf b[8];
        DENSE_FOR_V(DENSE_WLOAD_V, 0)
        DENSE_FOR_R(DENSE_FMA_R)
        xp += xk;
        w += TASDI_DENSE_PANEL;
    }
    DENSE_FOR_R(DENSE_STORE_R)
}

/* One sub-tile of mr rows and nv vectors; nv <= DENSE_NVMAX(mr). */
#define DENSE_NV_CASE(M, K)                                                        \
    if (K <= DENSE_NVMAX(M) && nv == K) {                                          \
        if (ldx)                                                                   \
            dense_tile(M, K, kc, xp, 1, ldx, wp, wps, nc, c, ldc, accumulate);     \
        else                                                                       \
            dense_tile(M, K, kc, xp, M, 1, wp, wps, nc, c, ldc, accumulate);       \
        return;                                                                    \
    }
#define DENSE_CASE(M)                                                              \
    case M:                                                                        \
        if (M > DENSE_MR)                                                          \
            return;                                                                \
        DENSE_NV_CASE(M, 1)                                                        \
        DENSE_NV_CASE(M, 2)                                                        \
        DENSE_NV_CASE(M, 3)                                                        \
        DENSE_NV_CASE(M, 4)                                                        \
        DENSE_NV_CASE(M, 5)                                                        \
        DENSE_NV_CASE(M, 6)                                                        \
        DENSE_NV_CASE(M, 7)                                                        \
        DENSE_NV_CASE(M, 8)                                                        \
        return;

/* ldx 0: xp packed as [k][mr]; else X's rows, ldx floats apart */
static void dense_sub(int64_t kc, const float *xp, int64_t ldx, int mr, int nv,
                      const float *wp, int64_t wps, int nc, float *c, int64_t ldc,
                      int accumulate)
{
    switch (mr) {
    DENSE_CASE(1)
    DENSE_CASE(2)
    DENSE_CASE(3)
    DENSE_CASE(4)
    DENSE_CASE(5)
    DENSE_CASE(6)
#if DENSE_MR > 6
    DENSE_CASE(7)
    DENSE_CASE(8)
    DENSE_CASE(9)
    DENSE_CASE(10)
    DENSE_CASE(11)
    DENSE_CASE(12)
    DENSE_CASE(13)
    DENSE_CASE(14)
#endif
    default: return;
    }
}

/* Few rows (GEMV, decoding) take several panels per sub-tile: more
 * accumulators to hide the FMA latency and several W streams in flight,
 * which a single core needs to approach its memory bandwidth. */
static void dense_any(int64_t kc, const float *xp, int64_t ldx, int mr, const float *wp,
                      int64_t wps, int nc, float *c, int64_t ldc, int accumulate)
{
    const int nvall = (nc + VL - 1) / VL, step = DENSE_NVMAX(mr);
    for (int v0 = 0; v0 < nvall; v0 += step) {
        int nv = nvall - v0 < step ? nvall - v0 : step;
        int ncs = nc - v0 * VL < nv * VL ? nc - v0 * VL : nv * VL;
        dense_sub(kc, xp, ldx, mr, nv,
                  wp + (v0 * VL / TASDI_DENSE_PANEL) * wps + (v0 * VL) % TASDI_DENSE_PANEL,
                  wps, ncs, c + v0 * VL, ldc, accumulate);
    }
}

static void PFX(dense_fn)(int64_t kc, const float *xp, int mr, const float *wp,
                          int64_t wps, int nc, float *c, int64_t ldc, int accumulate)
{
    dense_any(kc, xp, 0, mr, wp, wps, nc, c, ldc, accumulate);
}

#if DENSE_ROWS
static void PFX(dense_rows_fn)(int64_t kc, const float *x, int64_t ldx, int mr,
                               const float *wp, int64_t wps, int nc, float *c, int64_t ldc,
                               int accumulate)
{
    dense_any(kc, x, ldx, mr, wp, wps, nc, c, ldc, accumulate);
}
#define DENSE_ROWS_FN PFX(dense_rows_fn)
#else
#define DENSE_ROWS_FN NULL
#endif

const tasdi_dense_kernel PFX(dense) = {PFX(dense_fn), DENSE_MR, DENSE_NR_TILE, 64,
                                       DENSE_KC, DENSE_MC, DENSE_ROWS_FN};
