/* Dense register tiles (kernels/kernels.h, "dense kernel") for one x86 ISA.
 * The including file defines VL, vf, PFX, the V* macros and DENSE_MR (rows
 * per tile), DENSE_NV (most vectors per row), DENSE_NVMAX(mr) (vectors per
 * row of an mr-row tile), DENSE_NR_TILE (columns of the full tile), DENSE_KC,
 * DENSE_MC. A tile keeps
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

DENSE_INLINE void dense_tile(const int mr, const int nv, int64_t kc, const float *xp,
                             const float *wp, int64_t wps, int nc, float *c,
                             int64_t ldc, int accumulate)
{
    vf acc[DENSE_MR][DENSE_NV];
    const float *w[DENSE_NV];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        w[v] = wp + (v * VL / TASDI_DENSE_PANEL) * wps + (v * VL) % TASDI_DENSE_PANEL;
    const int tail = nc - (nv - 1) * VL; /* lanes of the last vector, 1..VL */
    if (accumulate) {
#pragma GCC unroll 16
        for (int r = 0; r < mr; r++) {
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) {
                const float *p = c + r * ldc + v * VL;
                acc[r][v] = v == nv - 1 && tail < VL ? VLOAD_N(p, tail) : VLOAD(p);
            }
        }
    } else {
#pragma GCC unroll 16
        for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                acc[r][v] = VZERO();
    }
    for (int64_t k = 0; k < kc; k++) {
        vf b[DENSE_NV];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            b[v] = VLOAD(w[v] + k * TASDI_DENSE_PANEL);
#pragma GCC unroll 16
        for (int r = 0; r < mr; r++) {
            vf a = VBCAST(xp + k * mr + r);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                acc[r][v] = VFMA(a, b[v], acc[r][v]);
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++) {
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            float *p = c + r * ldc + v * VL;
            if (v == nv - 1 && tail < VL)
                VSTORE_N(p, acc[r][v], tail);
            else
                VSTORE(p, acc[r][v]);
        }
    }
}

/* One sub-tile of mr rows and nv vectors; nv <= DENSE_NVMAX(mr). */
#define DENSE_NV_CASE(M, K)                                                        \
    if (K <= DENSE_NVMAX(M) && nv == K) {                                          \
        dense_tile(M, K, kc, xp, wp, wps, nc, c, ldc, accumulate);                 \
        return;                                                                    \
    }
#define DENSE_CASE(M)                                                              \
    case M:                                                                        \
        DENSE_NV_CASE(M, 1)                                                        \
        DENSE_NV_CASE(M, 2)                                                        \
        DENSE_NV_CASE(M, 3)                                                        \
        DENSE_NV_CASE(M, 4)                                                        \
        DENSE_NV_CASE(M, 5)                                                        \
        DENSE_NV_CASE(M, 6)                                                        \
        DENSE_NV_CASE(M, 7)                                                        \
        DENSE_NV_CASE(M, 8)                                                        \
        return;

static void dense_sub(int64_t kc, const float *xp, int mr, int nv, const float *wp,
                      int64_t wps, int nc, float *c, int64_t ldc, int accumulate)
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
static void PFX(dense_fn)(int64_t kc, const float *xp, int mr, const float *wp,
                          int64_t wps, int nc, float *c, int64_t ldc, int accumulate)
{
    const int nvall = (nc + VL - 1) / VL, step = DENSE_NVMAX(mr);
    for (int v0 = 0; v0 < nvall; v0 += step) {
        int nv = nvall - v0 < step ? nvall - v0 : step;
        int ncs = nc - v0 * VL < nv * VL ? nc - v0 * VL : nv * VL;
        dense_sub(kc, xp, mr, nv,
                  wp + (v0 * VL / TASDI_DENSE_PANEL) * wps + (v0 * VL) % TASDI_DENSE_PANEL,
                  wps, ncs, c + v0 * VL, ldc, accumulate);
    }
}

const tasdi_dense_kernel PFX(dense) = {PFX(dense_fn), DENSE_MR, DENSE_NR_TILE, 64,
                                       DENSE_KC, DENSE_MC};
