/* The hot loops every backend provides. Kernel files include only this header
 * (plus their ISA's intrinsics): they never allocate, parse or log; all
 * checking happens in lib/ before a kernel runs. */
#ifndef TASD_KERNELS_H
#define TASD_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Select, in every group of m consecutive elements of residual[0..k), the n
 * of largest magnitude (ties: lower index), write them to values/index
 * (groups*n slots, ascending index within a group; a short last group pads
 * with value 0, index 0) and zero them in the residual. */
typedef void (*tasdi_select_fn)(float *residual, int64_t k, int n, int m,
                                float *values, uint8_t *index);

/* C[r, :] += alpha * sum_slots values[r][s] * B[k(r, s), :] for rows
 * [r0, r1) of one term in the canonical layout. */
typedef void (*tasdi_term_gemm_fn)(const float *values, const uint8_t *index,
                                   int64_t width, int n, int m,
                                   int64_t r0, int64_t r1,
                                   const float *b, int64_t b_rs, int64_t b_cs,
                                   int64_t ncols, float alpha,
                                   float *c, int64_t c_rs, int64_t c_cs);

void tasdi_scalar_select(float *residual, int64_t k, int n, int m,
                         float *values, uint8_t *index);
void tasdi_scalar_term_gemm(const float *values, const uint8_t *index,
                            int64_t width, int n, int m, int64_t r0, int64_t r1,
                            const float *b, int64_t b_rs, int64_t b_cs,
                            int64_t ncols, float alpha, float *c, int64_t c_rs,
                            int64_t c_cs);

#if defined(__aarch64__)
/* kernels/neon: aarch64 Advanced SIMD (always present on aarch64). */
void tasdi_neon_select(float *residual, int64_t k, int n, int m, float *values,
                       uint8_t *index);
void tasdi_neon_term_gemm(const float *values, const uint8_t *index, int64_t width,
                          int n, int m, int64_t r0, int64_t r1, const float *b,
                          int64_t b_rs, int64_t b_cs, int64_t ncols, float alpha,
                          float *c, int64_t c_rs, int64_t c_cs);
#endif

#endif /* TASD_KERNELS_H */
