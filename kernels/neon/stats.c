/* NEON row statistics for the decomposer: sum of squares in double, the
 * nonzero count and a finiteness check, in one pass.
 *
 * The sum uses the same eight double accumulators (lane i takes elements
 * i, i+8, i+16, ...), the same tail and the same final combination as
 * tasdi_scalar_stats; a float squared in double is exact, so the result is
 * bit-identical to the reference and series stats do not depend on the
 * backend. */
#include "../kernels.h"

#include <arm_neon.h>
#include <float.h>
#include <math.h>

double tasdi_neon_stats(const float *x, int64_t n, int64_t *nnz, int *finite, float *copy)
{
    float64x2_t a01 = vdupq_n_f64(0.0), a23 = a01, a45 = a01, a67 = a01;
    uint32x4_t nz = vdupq_n_u32(0);  /* counts, as 0/-1 masks subtracted */
    uint32x4_t bad = vdupq_n_u32(0);
    const float32x4_t big = vdupq_n_f32(FLT_MAX);
    int64_t j = 0;
    int64_t counted = 0;
    for (; j + 8 <= n; j += 8) {
        float32x4_t lo = vld1q_f32(x + j), hi = vld1q_f32(x + j + 4);
        if (copy) {
            vst1q_f32(copy + j, lo);
            vst1q_f32(copy + j + 4, hi);
        }
        float64x2_t l0 = vcvt_f64_f32(vget_low_f32(lo)), l1 = vcvt_high_f64_f32(lo);
        float64x2_t h0 = vcvt_f64_f32(vget_low_f32(hi)), h1 = vcvt_high_f64_f32(hi);
        a01 = vaddq_f64(a01, vmulq_f64(l0, l0));
        a23 = vaddq_f64(a23, vmulq_f64(l1, l1));
        a45 = vaddq_f64(a45, vmulq_f64(h0, h0));
        a67 = vaddq_f64(a67, vmulq_f64(h1, h1));
        nz = vsubq_u32(nz, vmvnq_u32(vceqzq_f32(lo)));
        nz = vsubq_u32(nz, vmvnq_u32(vceqzq_f32(hi)));
        /* NaN fails every compare, Inf is > FLT_MAX: both leave !(|v| <= max) */
        bad = vorrq_u32(bad, vmvnq_u32(vcleq_f32(vabsq_f32(lo), big)));
        bad = vorrq_u32(bad, vmvnq_u32(vcleq_f32(vabsq_f32(hi), big)));
        if (((j / 8) & 0x3fffffff) == 0x3fffffff) { /* flush the u32 lanes long before they wrap */
            counted += vaddlvq_u32(nz);
            nz = vdupq_n_u32(0);
        }
    }
    double acc[8];
    vst1q_f64(acc + 0, a01);
    vst1q_f64(acc + 2, a23);
    vst1q_f64(acc + 4, a45);
    vst1q_f64(acc + 6, a67);
    counted += vaddlvq_u32(nz);
    int isbad = vmaxvq_u32(bad) != 0;
    for (int i = 0; j < n; j++, i++) {
        float v = x[j];
        if (copy)
            copy[j] = v;
        acc[i] += (double)v * v;
        counted += v != 0.0f;
        isbad |= !(fabsf(v) <= FLT_MAX);
    }
    if (nnz && finite) {
        *nnz += counted;
        *finite = !isbad;
    }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}
