/*
 * tinyedge: int8 transposed 2-D convolution (TFLite TRANSPOSE_CONV, Keras Conv2DTranspose),
 * per-output-channel requantization; the reference arithmetic of TFLite-Micro.
 *
 * Layouts (row-major):
 *   input   [batches, input_height, input_width, input_depth]
 *   filter  [output_depth, filter_height, filter_width, input_depth]
 *   bias    [output_depth] int32, or NULL when the model has none
 *   scratch TE_TRANSPOSE_CONV_SCRATCH_BYTES(output_height, output_width, output_depth) bytes,
 *           4-byte aligned: the int32 sums of one output image
 *   output  [batches, output_height, output_width, output_depth]
 *
 * Each input pixel (in_y, in_x) is scattered through the filter: tap (filter_y, filter_x)
 * adds filter * (input + input_offset) to output pixel
 *   (in_y * stride_height - pad_height + filter_y, in_x * stride_width - pad_width + filter_x)
 * when that pixel lies inside the output. Then per output element:
 *   acc = sum + bias[c]
 *   out = clamp(requantize(acc, output_multiplier[c], output_shift[c]) + output_offset,
 *               activation_min, activation_max)
 */
#ifndef TE_TRANSPOSE_CONV_S8_H
#define TE_TRANSPOSE_CONV_S8_H

#include <stdint.h>

#include "te_nn_math.h"

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
    int32_t pad_height;          /* output rows cropped at the top, >= 0 */
    int32_t pad_width;           /* output columns cropped at the left, >= 0 */
    int32_t input_offset;        /* -input zero point, [-127, 128] */
    int32_t output_offset;       /* output zero point, [-128, 127] */
    int32_t activation_min;      /* clamp bounds in the output domain, */
    int32_t activation_max;      /* -128 <= min <= max <= 127 */
    const int32_t *output_multiplier;  /* [output_depth] Q31 significands, [2^30, 2^31) or 0 */
    const int32_t *output_shift;       /* [output_depth] power-of-two exponents, [-31, 30] */
} te_transpose_conv_params;

/* The int32 sums of one output image. */
#define TE_TRANSPOSE_CONV_SCRATCH_BYTES(output_height, output_width, output_depth) \
    (4 * (output_height) * (output_width) * (output_depth))

void te_transpose_conv_s8(const te_transpose_conv_params *params, const int8_t *input, const int8_t *filter,
                          const int32_t *bias, int32_t *scratch, int8_t *output);

#endif /* TE_TRANSPOSE_CONV_S8_H */
