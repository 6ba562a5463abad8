/*
 * tinyedge: int8 (input1 - input2)^2 element-wise with broadcasting (TFLite SQUARED_DIFFERENCE).
 *
 * Shapes and strides as in te_add_s8.h (output [output_shape[0..3]] row-major, stride 0 where
 * an input is broadcast; without broadcasting shape [1, 1, 1, size], strides [0, 0, 0, 1]).
 *
 * Per element, both inputs are brought to a common scale with 7 bits of headroom, their
 * difference is squared and requantized to the output (|a|, |b| <= 255 * 2^6, so the square
 * is at most 32640^2 < 2^30):
 *   a    = requantize((input1 + input1_offset) << left_shift, input1_multiplier, input1_shift)
 *   b    = requantize((input2 + input2_offset) << left_shift, input2_multiplier, input2_shift)
 *   out  = clamp(requantize((a - b) * (a - b), output_multiplier, output_shift) + output_offset,
 *                -128, 127)
 * The op has no fused activation.
 *
 * In place: the output may be the same buffer as input1 when input1 is not broadcast.
 */
#ifndef TE_SQUARED_DIFFERENCE_S8_H
#define TE_SQUARED_DIFFERENCE_S8_H

#include <stdint.h>

#include "te_nn_math.h"

typedef struct {
    int32_t input1_offset;      /* -input1 zero point, [-127, 128] */
    int32_t input2_offset;      /* -input2 zero point, [-127, 128] */
    int32_t left_shift;         /* 7 for int8 */
    int32_t input1_multiplier;  /* Q31 significand, [2^30, 2^31) or 0 */
    int32_t input1_shift;       /* <= 0 */
    int32_t input2_multiplier;  /* Q31 significand, [2^30, 2^31) or 0 */
    int32_t input2_shift;       /* <= 0 */
    int32_t output_multiplier;  /* Q31 significand of (2 max input scale)^2 / (2^14 output scale) */
    int32_t output_shift;       /* its power of two, < 0 rounds right, > 0 shifts left */
    int32_t output_offset;      /* output zero point, [-128, 127] */
    const int32_t *output_shape;    /* [4] */
    const int32_t *input1_strides;  /* [4] elements; 0 where input1 is broadcast */
    const int32_t *input2_strides;  /* [4] elements; 0 where input2 is broadcast */
} te_squared_difference_params;

void te_squared_difference_s8(const te_squared_difference_params *params, const int8_t *input1,
                              const int8_t *input2, int8_t *output);

/*
 * The same bytes, faster on large tensors: each input's rescaling is looked up in a table of
 * its 256 values, filled per call in `tables` (scratch for 512 int32), and the squared difference is
 * requantized with one rounding multiply-high and shift, the output offset folded into the
 * rounding term (te_nn_rescale, te_nn_dsp.h: the form the lowering chose for the output shift).
 */
typedef struct {
    int32_t input1_offset;      /* as in te_squared_difference_params */
    int32_t input2_offset;
    int32_t left_shift;
    int32_t input1_multiplier;
    int32_t input1_shift;
    int32_t input2_multiplier;
    int32_t input2_shift;
    int32_t output_multiplier;
    int32_t output_rounding;    /* ROUNDING form: 2^(shift - 1) + output zero point * 2^shift, */
                                /* else the output zero point */
    int32_t shift;              /* ROUNDING: a right shift in [1, 22]; LEFT: a left shift; GENERAL: */
                                /* TFLite's output_shift */
    int32_t form;               /* TE_NN_RESCALE_ROUNDING, _LEFT or _GENERAL (te_nn_rescale, te_nn_dsp.h) */
    const int32_t *output_shape;    /* [4] */
    const int32_t *input1_strides;  /* [4] elements; 0 where input1 is broadcast */
    const int32_t *input2_strides;  /* [4] elements; 0 where input2 is broadcast */
} te_squared_difference_table_params;

void te_squared_difference_table_s8(const te_squared_difference_table_params *params, const int8_t *input1, const int8_t *input2,
                                    int8_t *output, int32_t *tables);

#endif /* TE_SQUARED_DIFFERENCE_S8_H */
