/*
 * tinyedge: int8 element-wise multiplication with broadcasting (TFLite MUL).
 *
 * Shapes as in te_add_s8.h: the output is [output_shape[0..3]] row-major, and output element
 * (i0, i1, i2, i3) reads inputN[i0 * inputN_strides[0] + ... + i3 * inputN_strides[3]], a
 * broadcast dimension having stride 0 (without broadcasting: shape [1, 1, 1, size], strides
 * [0, 0, 0, 1]).
 *
 * Per element (TFLite's quantized mul): the product of the two offset inputs, requantized once:
 *   out = clamp(requantize((input1 + input1_offset) * (input2 + input2_offset),
 *                          output_multiplier, output_shift) + output_offset,
 *               activation_min, activation_max)
 * |product| <= 255 * 255 = 65025, so an output_shift up to 15 (a left shift) stays in int32.
 *
 * In place: the output may be the same buffer as input1 when input1 is not broadcast.
 */
#ifndef TE_MUL_S8_H
#define TE_MUL_S8_H

#include <stdint.h>

#include "te_nn_math.h"

typedef struct {
    int32_t input1_offset;      /* -input1 zero point, [-127, 128] */
    int32_t input2_offset;      /* -input2 zero point, [-127, 128] */
    int32_t output_multiplier;  /* Q31 significand of input1 scale * input2 scale / output scale */
    int32_t output_shift;       /* its power of two, < 0 rounds right, > 0 shifts left */
    int32_t output_offset;      /* output zero point, [-128, 127] */
    int32_t activation_min;     /* clamp bounds, */
    int32_t activation_max;     /* -128 <= min <= max <= 127 */
    const int32_t *output_shape;    /* [4] */
    const int32_t *input1_strides;  /* [4] elements; 0 where input1 is broadcast */
    const int32_t *input2_strides;  /* [4] elements; 0 where input2 is broadcast */
} te_mul_params;

void te_mul_s8(const te_mul_params *params, const int8_t *input1, const int8_t *input2, int8_t *output);

/*
 * The same bytes, faster: one rounding multiply-high and one shift per element, the output
 * offset folded into the rounding term (te_nn_rescale, te_nn_dsp.h; SMMLAR on cores with the
 * DSP extension), in the form the lowering chose for the output shift: a right shift of 1 to 22
 * or a left shift up to 14 (the product of two offset int8 values, |p| <= 255 * 255, shifted
 * stays below 2^30), the reference arithmetic otherwise.
 */
typedef struct {
    int32_t input1_offset;      /* -input1 zero point, [-127, 128] */
    int32_t input2_offset;      /* -input2 zero point, [-127, 128] */
    int32_t output_multiplier;  /* as in te_mul_params */
    int32_t output_rounding;    /* ROUNDING form: 2^(shift - 1) + output zero point * 2^shift, */
                                /* else the output zero point */
    int32_t shift;              /* ROUNDING: a right shift in [1, 22]; LEFT: a left shift; GENERAL: */
                                /* TFLite's output_shift */
    int32_t form;               /* TE_NN_RESCALE_ROUNDING, _LEFT or _GENERAL (te_nn_rescale, te_nn_dsp.h) */
    int32_t activation_min;     /* clamp bounds, */
    int32_t activation_max;     /* -128 <= min <= max <= 127 */
    const int32_t *output_shape;    /* [4] */
    const int32_t *input1_strides;  /* [4] elements; 0 where input1 is broadcast */
    const int32_t *input2_strides;  /* [4] elements; 0 where input2 is broadcast */
} te_mul_rounding_params;

void te_mul_rounding_s8(const te_mul_rounding_params *params, const int8_t *input1, const int8_t *input2,
                        int8_t *output);

#endif /* TE_MUL_S8_H */
