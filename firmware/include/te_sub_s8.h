/*
 * tinyedge: int8 element-wise subtraction with broadcasting (TFLite SUB).
 *
 * Shapes and strides as in te_add_s8.h (output [output_shape[0..3]] row-major, stride 0 where
 * an input is broadcast; without broadcasting shape [1, 1, 1, size], strides [0, 0, 0, 1]).
 *
 * Per element, both inputs are brought to a common scale with 20 bits of headroom,
 * subtracted and requantized to the output (TFLite's quantized sub):
 *   a   = requantize((input1 + input1_offset) << left_shift, input1_multiplier, input1_shift)
 *   b   = requantize((input2 + input2_offset) << left_shift, input2_multiplier, input2_shift)
 *   out = clamp(requantize(a - b, output_multiplier, output_shift) + output_offset,
 *               activation_min, activation_max)
 *
 * In place: the output may be the same buffer as input1 when input1 is not broadcast.
 */
#ifndef TE_SUB_S8_H
#define TE_SUB_S8_H

#include <stdint.h>

#include "te_nn_math.h"

typedef struct {
    int32_t input1_offset;      /* -input1 zero point, [-127, 128] */
    int32_t input2_offset;      /* -input2 zero point, [-127, 128] */
    int32_t left_shift;         /* 20 for int8 */
    int32_t input1_multiplier;  /* Q31 significand, [2^30, 2^31) or 0 */
    int32_t input1_shift;       /* <= 0 */
    int32_t input2_multiplier;  /* Q31 significand, [2^30, 2^31) or 0 */
    int32_t input2_shift;       /* <= 0 */
    int32_t output_multiplier;  /* Q31 significand, [2^30, 2^31) or 0 */
    int32_t output_shift;       /* <= 0 */
    int32_t output_offset;      /* output zero point, [-128, 127] */
    int32_t activation_min;     /* clamp bounds, */
    int32_t activation_max;     /* -128 <= min <= max <= 127 */
    const int32_t *output_shape;    /* [4] */
    const int32_t *input1_strides;  /* [4] elements; 0 where input1 is broadcast */
    const int32_t *input2_strides;  /* [4] elements; 0 where input2 is broadcast */
} te_sub_params;

void te_sub_s8(const te_sub_params *params, const int8_t *input1, const int8_t *input2, int8_t *output);

/*
 * The same bytes, faster on large tensors: each input's rescaling is looked up in a table of
 * its 256 values, filled per call in `tables` (scratch for 512 int32), and the difference is
 * requantized with one rounding multiply-high and shift, the output offset folded into the
 * rounding term (te_nn_rescale, te_nn_dsp.h: the form the lowering chose for the output shift).
 */
typedef struct {
    int32_t input1_offset;      /* as in te_sub_params */
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
    int32_t activation_min;     /* clamp bounds, */
    int32_t activation_max;     /* -128 <= min <= max <= 127 */
    const int32_t *output_shape;    /* [4] */
    const int32_t *input1_strides;  /* [4] elements; 0 where input1 is broadcast */
    const int32_t *input2_strides;  /* [4] elements; 0 where input2 is broadcast */
} te_sub_table_params;

void te_sub_table_s8(const te_sub_table_params *params, const int8_t *input1, const int8_t *input2,
                     int8_t *output, int32_t *tables);

#endif /* TE_SUB_S8_H */
