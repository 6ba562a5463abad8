/*
 * tinyedge: int8 element-wise division with broadcasting (TFLite DIV).
 *
 * Shapes and strides as in te_add_s8.h (output [output_shape[0..3]] row-major, stride 0 where
 * an input is broadcast; without broadcasting shape [1, 1, 1, size], strides [0, 0, 0, 1]).
 *
 * Per element, as TFLite-Micro's reference DivElementwise:
 *   a = input1 + input1_offset, b = input2 + input2_offset (b != 0), both negated when b < 0
 *   r, e     = reciprocal of b: 1 / b = r * 2^-e, r in Q0 (GetReciprocal)
 *   h        = leading sign bits of a
 *   quotient = rounding_doubling_high_mul(a << h, r)
 *   out      = clamp(rounding_divide_by_pot(rounding_doubling_high_mul(quotient, output_multiplier),
 *                                           h + e - output_shift) + output_offset,
 *                    activation_min, activation_max)
 * The last shift can pass 31 (a quotient far below one output step); it is then done as the
 * installed tflite_micro's host build does it (te_div_s8.c), which is not a rounding to 0.
 */
#ifndef TE_DIV_S8_H
#define TE_DIV_S8_H

#include <stdint.h>

typedef struct {
    int32_t input1_offset;      /* -input1 zero point, [-127, 128] */
    int32_t input2_offset;      /* -input2 zero point, [-127, 128] */
    int32_t output_multiplier;  /* Q31 significand, [2^30, 2^31) or 0 */
    int32_t output_shift;       /* power of two of input1_scale / (input2_scale * output_scale), [-24, 23] */
    int32_t output_offset;      /* output zero point, [-128, 127] */
    int32_t activation_min;     /* clamp bounds, */
    int32_t activation_max;     /* -128 <= min <= max <= 127 */
    const int32_t *output_shape;    /* [4] */
    const int32_t *input1_strides;  /* [4] elements; 0 where input1 is broadcast */
    const int32_t *input2_strides;  /* [4] elements; 0 where input2 is broadcast */
} te_div_params;

/* input2 must never equal its zero point (a division by zero). */
void te_div_s8(const te_div_params *params, const int8_t *input1, const int8_t *input2, int8_t *output);

#endif /* TE_DIV_S8_H */
