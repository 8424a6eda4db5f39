/* The transpose (kernels/kernels.h) in 4x4 tiles of q registers: 4 loads, 8
 * permutes and 4 stores per 16 floats. As on x86 (kernels/x86/transpose.h)
 * a block's last tiles overlap the ones before them, and blocks under 4 x 4
 * go to the plain loop. */
#include "../kernels.h"

#include <arm_neon.h>

void tasdi_neon_transpose(const float *src, int64_t lds, int64_t rows, int64_t cols,
                          float *dst, int64_t ldd)
{
    if (rows < 4 || cols < 4) {
        tasdi_scalar_transpose(src, lds, rows, cols, dst, ldd);
        return;
    }
    for (int64_t r0 = 0; r0 < rows; r0 += 4) {
        const int64_t r = r0 + 4 <= rows ? r0 : rows - 4;
        for (int64_t c0 = 0; c0 < cols; c0 += 4) {
            const int64_t c = c0 + 4 <= cols ? c0 : cols - 4;
            float32x4_t v[4];
            for (int i = 0; i < 4; i++)
                v[i] = vld1q_f32(src + (r + i) * lds + c);
            /* pairs of rows interleaved, then their 64-bit halves */
            float64x2_t t0 = vreinterpretq_f64_f32(vtrn1q_f32(v[0], v[1]));
            float64x2_t t1 = vreinterpretq_f64_f32(vtrn2q_f32(v[0], v[1]));
            float64x2_t t2 = vreinterpretq_f64_f32(vtrn1q_f32(v[2], v[3]));
            float64x2_t t3 = vreinterpretq_f64_f32(vtrn2q_f32(v[2], v[3]));
            vst1q_f32(dst + c * ldd + r, vreinterpretq_f32_f64(vtrn1q_f64(t0, t2)));
            vst1q_f32(dst + (c + 1) * ldd + r, vreinterpretq_f32_f64(vtrn1q_f64(t1, t3)));
            vst1q_f32(dst + (c + 2) * ldd + r, vreinterpretq_f32_f64(vtrn2q_f64(t0, t2)));
            vst1q_f32(dst + (c + 3) * ldd + r, vreinterpretq_f32_f64(vtrn2q_f64(t1, t3)));
        }
    }
}
