/*
 * tinyedge: int8 element-wise 1 / sqrt(x) (TFLite RSQRT), as TFLite-Micro's RsqrtEvalQuantized.
 *
 * Per element, v = input - input_zero_point:
 *   v == 0: 127 (the largest output stands for 1/sqrt(0))
 *   v >  0: (m, s) = te_nn_inv_sqrt_multiplier(v); r = requantize(1, m, s + 20) (1/sqrt(v) in units of 2^-20);
 *           output = clamp(requantize(r, multiplier, shift - 20) + output_zero_point, -128, 127)
 * multiplier/shift: 1 / (sqrt(input_scale) * output_scale). v < 0 has no square root:
 * TFLite-Micro's Invoke fails on it; this kernel gives 127 for it, as for 0.
 * In place allowed.
 */
#ifndef TE_RSQRT_S8_H
#define TE_RSQRT_S8_H

#include <stdint.h>

typedef struct {
    int32_t size;               /* elements */
    int32_t input_zero_point;   /* [-128, 127] */
    int32_t output_zero_point;  /* [-128, 127] */
    int32_t multiplier;         /* Q31 significand of 1 / (sqrt(input_scale) * output_scale) */
    int32_t shift;              /* its power of two; shift - 20 in [-31, 30] */
} te_rsqrt_params;

void te_rsqrt_s8(const te_rsqrt_params *params, const int8_t *input, int8_t *output);

#endif /* TE_RSQRT_S8_H */
