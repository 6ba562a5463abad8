/*
 * tinyedge: int8 2-D convolution (TFLite CONV_2D), per-output-channel requantization.
 *
 * Layouts (row-major):
 *   input  [batches, input_height, input_width, input_depth]
 *   filter [output_depth, filter_height, filter_width, filter_input_depth]
 *   bias   [output_depth] int32, or NULL when the model has none
 *   output [batches, output_height, output_width, output_depth]
 *
 * A grouped convolution has filter_input_depth < input_depth: output channel c reads the
 * input channels of group c / filters_per_group. An ordinary convolution has
 * filter_input_depth == input_depth and filters_per_group == output_depth.
 *
 * Per output element:
 *   acc = bias[c] + sum over the window of filter * (input + input_offset)
 *   out = clamp(requantize(acc, output_multiplier[c], output_shift[c]) + output_offset,
 *               activation_min, activation_max)
 * Window taps outside the input (padding) contribute nothing.
 */
#ifndef TE_CONV2D_S8_H
#define TE_CONV2D_S8_H

#include <stdint.h>

#include "te_nn_math.h"

typedef struct {
    int32_t batches;
    int32_t input_height;
    int32_t input_width;
    int32_t input_depth;
    int32_t filter_height;
    int32_t filter_width;
    int32_t filter_input_depth;  /* input channels one filter sees; divides input_depth */
    int32_t filters_per_group;   /* output_depth / (input_depth / filter_input_depth) */
    int32_t output_height;
    int32_t output_width;
    int32_t output_depth;
    int32_t stride_height;       /* >= 1 */
    int32_t stride_width;        /* >= 1 */
    int32_t dilation_height;     /* >= 1 */
    int32_t dilation_width;      /* >= 1 */
    int32_t pad_height;          /* rows of implicit zero padding above the input, >= 0 */
    int32_t pad_width;           /* columns of implicit zero padding left of the input, >= 0 */
    int32_t input_offset;        /* -input zero point, [-127, 128] */
    int32_t output_offset;       /* output zero point, [-128, 127] */
    int32_t activation_min;      /* clamp bounds in the output domain, */
    int32_t activation_max;      /* -128 <= min <= max <= 127 */
    const int32_t *output_multiplier;  /* [output_depth] Q31 significands, [2^30, 2^31) or 0 */
    const int32_t *output_shift;       /* [output_depth] power-of-two exponents, [-31, 30] */
} te_conv2d_params;

void te_conv2d_s8(const te_conv2d_params *params, const int8_t *input, const int8_t *filter,
                  const int32_t *bias, int8_t *output);

#endif /* TE_CONV2D_S8_H */
