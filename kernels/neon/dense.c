/* NEON dense tiles: 5 tokens x 16 outputs (20 q accumulators, 4 W loads + 5
 * X loads per 20 FMAs). Not 6 rows: gcc keeps each X value in a register of
 * its own for FMA-by-element, and 24 accumulators then spill one. */
#include "../kernels.h"

#include <arm_neon.h>

#define VL 4
#define PFX(name) tasdi_neon_##name
typedef float32x4_t vf;

/* the first n (1..3) lanes, zeros after */
static inline vf load_n(const float *p, int n)
{
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int i = 0; i < n; i++)
        t[i] = p[i];
    return vld1q_f32(t);
}

static inline void store_n(float *p, vf v, int n)
{
    float t[4];
    vst1q_f32(t, v);
    for (int i = 0; i < n; i++)
        p[i] = t[i];
}

#define VZERO() vdupq_n_f32(0.0f)
#define VLOAD(p) vld1q_f32(p)
#define VSTORE(p, v) vst1q_f32((p), (v))
#define VBCAST(p) vld1q_dup_f32(p)
#define VFMA(a, b, c) vfmaq_f32((c), (a), (b))
#define VLOAD_N(p, n) load_n((p), (n))
#define VSTORE_N(p, v, n) store_n((p), (v), (n))

#define DENSE_MR 5
#define DENSE_NV 8
/* 1-2 rows: 2 panels per sub-tile (two W streams); else 1 panel */
#define DENSE_NVMAX(mr) ((mr) <= 2 ? 8 : 4)
#define DENSE_NR_TILE 16
/* as on x86: a 16 KiB W block and a 5 KiB X strip in L1 */
#define DENSE_KC 256
#define DENSE_MC 144

/* X read in place: not measured on an aarch64 core, so not offered */
#define DENSE_ROWS 0
#include "../dense_tmpl.h"
