/*
 * tinyedge: 16x8 CONV_2D through im2col: two output pixels' windows copied as columns, then every
 * channel of both from them; the same bytes as te_conv2d_s16.
 */
#include "te_conv2d_im2col_s16.h"

#include <string.h>

#include "te_nn_dot_s16.h"
#include "te_nn_mat_mult_s16.h"

void te_conv2d_im2col_s16(const te_conv2d_im2col_s16_params *params, const int16_t *input, const int8_t *filter,
                          const int64_t *bias, int16_t *scratch, int16_t *output)
{
    const int32_t input_height = params->input_height;
    const int32_t input_width = params->input_width;
    const int32_t input_depth = params->input_depth;
    const int32_t filter_height = params->filter_height;
    const int32_t filter_width = params->filter_width;
    const int32_t output_width = params->output_width;
    const int32_t output_depth = params->output_depth;
    const int32_t stride_height = params->stride_height;
    const int32_t stride_width = params->stride_width;
    const int32_t dilation_height = params->dilation_height;
    const int32_t dilation_width = params->dilation_width;
    const int32_t pad_height = params->pad_height;
    const int32_t pad_width = params->pad_width;
    const int32_t pixels = params->batches * params->output_height * output_width;
    const int32_t image_pixels = params->output_height * output_width;
    const int32_t k = filter_height * filter_width * input_depth;
    const te_nn_requant_s16 q = {output_depth, params->activation_min, params->activation_max,
                                 params->accumulator_bits, params->requant};

    for (int32_t p = 0; p < pixels; p += 2) {
        for (int32_t i = 0; i < 2 && p + i < pixels; ++i) {
            const int32_t pixel = p + i;
            const int32_t batch = pixel / image_pixels;
            const int32_t in_y0 = pixel % image_pixels / output_width * stride_height - pad_height;
            const int32_t in_x0 = pixel % output_width * stride_width - pad_width;
            const int16_t *image = input + batch * input_height * input_width * input_depth;
            int16_t *column = scratch + i * k;
            for (int32_t fy = 0; fy < filter_height; ++fy) {
                const int32_t in_y = in_y0 + dilation_height * fy;
                for (int32_t fx = 0; fx < filter_width; ++fx) {
                    const int32_t in_x = in_x0 + dilation_width * fx;
                    if (in_y < 0 || in_y >= input_height || in_x < 0 || in_x >= input_width) {
                        memset(column, 0, (size_t)input_depth * sizeof *column); /* padding: 0 */
                    } else {
                        memcpy(column, image + (in_y * input_width + in_x) * input_depth,
                               (size_t)input_depth * sizeof *column);
                    }
                    column += input_depth;
                }
            }
        }
        int16_t *out = output + p * output_depth;
        const int32_t pair = p + 1 < pixels;
        te_nn_mat_mult_s16(filter, bias, scratch, pair ? scratch + k : scratch, k, &q, out,
                           pair ? out + output_depth : NULL);
    }
}
