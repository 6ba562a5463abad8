/*
 * tinyedge: int8 logistic (sigmoid), TFLite-Micro's reference_integer_ops::Logistic.
 *
 * input - input_zero_point is scaled into Q4.27 by (input_multiplier, input_left_shift),
 * 1 / (1 + exp(-x)) is evaluated in gemmlowp fixed point, and the result is written in
 * units of 1/256 with zero point -128 (the output quantization TFLite requires).
 * Inputs at or beyond +-input_range_radius saturate to 127 / -128 directly.
 */
#ifndef TE_LOGISTIC_S8_H
#define TE_LOGISTIC_S8_H

#include <stdint.h>

typedef struct {
    int32_t size;               /* number of elements */
    int32_t input_zero_point;   /* [-128, 127] */
    int32_t input_range_radius; /* > 0: |input - zero point| below this is computed */
    int32_t input_multiplier;   /* Q31 significand of input_scale * 2^27, [2^30, 2^31) */
    int32_t input_left_shift;   /* its power-of-two exponent; > 0 shifts left, < 0 right */
} te_logistic_params;

void te_logistic_s8(const te_logistic_params *params, const int8_t *input, int8_t *output);

#endif /* TE_LOGISTIC_S8_H */
