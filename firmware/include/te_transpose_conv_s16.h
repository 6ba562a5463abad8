/*
 * tinyedge: 16x8 TRANSPOSE_CONV (int16 activations, int8 per-channel weights), TFLite-Micro's
 * reference TransposeConv for int16_t input.
 *
 * Layouts (row-major):
 *   input  [batches, input_height, input_width, input_depth] int16
 *   filter [output_depth, filter_height, filter_width, input_depth] int8
 *   bias   [output_depth] int64 (an int16 bias widened, as TFLite-Micro widens it), or NULL
 *   output [batches, output_height, output_width, output_depth] int16
 *
 * Input pixel (y, x) tap (fy, fx) lands on output pixel (y * stride - pad + fy, ...). The
 * reference scatters every product into an int64 image; here each output pixel gathers the
 * products that land on it, which is the same exact 64-bit sum, with no scratch:
 *   acc = bias[c] + sum of filter[c, fy, fx, :] * input[y, x, :] over the taps landing on it
 *   out = clamp(requantize_i64(acc, output_multiplier[c], output_shift[c]), activation_min, activation_max)
 */
#ifndef TE_TRANSPOSE_CONV_S16_H
#define TE_TRANSPOSE_CONV_S16_H

#include <stdint.h>

#include "te_nn_s16.h"

typedef struct {
    int32_t batches;
    int32_t input_height;
    int32_t input_width;
    int32_t input_depth;
    int32_t filter_height;
    int32_t filter_width;
    int32_t output_height;
    int32_t output_width;
    int32_t output_depth;
    int32_t stride_height;       /* >= 1 */
    int32_t stride_width;        /* >= 1 */
    int32_t pad_height;          /* output rows cut above, >= 0 */
    int32_t pad_width;           /* output columns cut on the left, >= 0 */
    int32_t activation_min;      /* clamp bounds in the output domain, */
    int32_t activation_max;      /* -32768 <= min <= max <= 32767 */
    const int32_t *output_multiplier;  /* [output_depth] Q31 significands, [2^30, 2^31) or 0 */
    const int32_t *output_shift;       /* [output_depth] power-of-two exponents, [-31, 14] */
} te_transpose_conv_s16_params;

void te_transpose_conv_s16(const te_transpose_conv_s16_params *params, const int16_t *input,
                           const int8_t *filter, const int64_t *bias, int16_t *output);

#endif /* TE_TRANSPOSE_CONV_S16_H */
