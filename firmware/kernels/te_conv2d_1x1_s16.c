/*
 * tinyedge: 16x8 1x1 CONV_2D: two output pixels at a time, their columns read from the input where
 * they lie; the same bytes as te_conv2d_s16.
 */
#include "te_conv2d_1x1_s16.h"

#include "te_nn_dot_s16.h"
#include "te_nn_mat_mult_s16.h"

void te_conv2d_1x1_s16(const te_conv2d_1x1_s16_params *params, const int16_t *input, const int8_t *filter,
                       const int64_t *bias, int16_t *output)
{
    const int32_t input_height = params->input_height;
    const int32_t input_width = params->input_width;
    const int32_t input_depth = params->input_depth;
    const int32_t output_width = params->output_width;
    const int32_t output_depth = params->output_depth;
    const int32_t stride_height = params->stride_height;
    const int32_t stride_width = params->stride_width;
    const int32_t pixels = params->batches * params->output_height * output_width;
    const int32_t image_pixels = params->output_height * output_width;
    const te_nn_requant_s16 q = {output_depth, params->activation_min, params->activation_max,
                                 params->accumulator_bits, params->requant};

    const int16_t *column[2];
    for (int32_t p = 0; p < pixels; p += 2) {
        for (int32_t i = 0; i < 2; ++i) {
            const int32_t pixel = p + i < pixels ? p + i : p; /* a last odd pixel: read twice, stored once */
            const int32_t batch = pixel / image_pixels;
            const int32_t out_y = pixel % image_pixels / output_width;
            const int32_t out_x = pixel % output_width;
            column[i] = input + ((batch * input_height + out_y * stride_height) * input_width
                                 + out_x * stride_width) * input_depth;
        }
        int16_t *out = output + p * output_depth;
        te_nn_mat_mult_s16(filter, bias, column[0], column[1], input_depth, &q, out,
                           p + 1 < pixels ? out + output_depth : NULL);
    }
}
