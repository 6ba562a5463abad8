/*
 * tinyedge: 16x8 DEPTHWISE_CONV_2D (int16 activations, int8 per-channel weights), TFLite-Micro's
 * reference DepthwiseConvPerChannel for int16_t input.
 *
 * Layouts (row-major):
 *   input  [batches, input_height, input_width, input_depth] int16
 *   filter [1, filter_height, filter_width, output_depth] int8
 *   bias   [output_depth] int64, or NULL
 *   output [batches, output_height, output_width, output_depth] int16,
 *          output channel c = in_c * depth_multiplier + m
 *
 * Per output element, in a 64-bit sum (no offsets: the reference ignores the zero points):
 *   acc = bias[c] + sum over the window of filter[.., c] * input[.., in_c]
 *   out = clamp(requantize_i64(acc, output_multiplier[c], output_shift[c]), activation_min, activation_max)
 */
#ifndef TE_DEPTHWISE_CONV2D_S16_H
#define TE_DEPTHWISE_CONV2D_S16_H

#include <stdint.h>

#include "te_nn_s16.h"

typedef struct {
    int32_t batches;
    int32_t input_height;
    int32_t input_width;
    int32_t input_depth;
    int32_t depth_multiplier;    /* >= 1 */
    int32_t filter_height;
    int32_t filter_width;
    int32_t output_height;
    int32_t output_width;
    int32_t output_depth;        /* input_depth * depth_multiplier */
    int32_t stride_height;       /* >= 1 */
    int32_t stride_width;        /* >= 1 */
    int32_t dilation_height;     /* >= 1 */
    int32_t dilation_width;      /* >= 1 */
    int32_t pad_height;          /* rows of implicit zero padding above the input, >= 0 */
    int32_t pad_width;           /* columns of implicit zero padding left of the input, >= 0 */
    int32_t activation_min;      /* clamp bounds in the output domain, */
    int32_t activation_max;      /* -32768 <= min <= max <= 32767 */
    const int32_t *output_multiplier;  /* [output_depth] Q31 significands, [2^30, 2^31) or 0 */
    const int32_t *output_shift;       /* [output_depth] power-of-two exponents, [-31, 14] */
} te_depthwise_conv2d_s16_params;

void te_depthwise_conv2d_s16(const te_depthwise_conv2d_s16_params *params, const int16_t *input,
                             const int8_t *filter, const int64_t *bias, int16_t *output);

#endif /* TE_DEPTHWISE_CONV2D_S16_H */
