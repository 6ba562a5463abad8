/*
 * tinyedge: 16x8 CONV_2D (int16 activations, int8 per-channel weights), TFLite-Micro's
 * reference ConvPerChannel for int16_t input.
 *
 * Layouts (row-major):
 *   input  [batches, input_height, input_width, input_depth] int16
 *   filter [output_depth, filter_height, filter_width, filter_input_depth] int8
 *   bias   [output_depth] int64 (an int32 or int16 bias widened), or NULL
 *   output [batches, output_height, output_width, output_depth] int16
 *
 * Per output element (no offsets: 16x8 zero points are 0, and the reference ignores them):
 *   acc = bias[c] + sum over the window of filter * input   (taps in the padding: nothing)
 *   out = clamp(requantize(acc, output_multiplier[c], output_shift[c]), activation_min, activation_max)
 * with the accumulator and requantization of te_nn_requantize_s16.
 */
#ifndef TE_CONV2D_S16_H
#define TE_CONV2D_S16_H

#include <stdint.h>

#include "te_nn_s16.h"

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
    int32_t activation_min;      /* clamp bounds in the output domain, */
    int32_t activation_max;      /* -32768 <= min <= max <= 32767 */
    int32_t accumulator_bits;    /* 64, or 32 for an int32 bias (te_nn_s16.h) */
    const int32_t *output_multiplier;  /* [output_depth] Q31 significands, [2^30, 2^31) or 0 */
    const int32_t *output_shift;       /* [output_depth] power-of-two exponents */
} te_conv2d_s16_params;

void te_conv2d_s16(const te_conv2d_s16_params *params, const int16_t *input, const int8_t *filter,
                   const int64_t *bias, int16_t *output);

#endif /* TE_CONV2D_S16_H */
