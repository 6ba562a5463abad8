/*
 * tinyedge: 16x8 TRANSPOSE_CONV by phases: two output pixels of one phase gathered as columns, every
 * channel of both from the phase's weights; the same exact 64-bit sums as te_transpose_conv_s16.
 */
#include "te_transpose_conv_im2col_s16.h"

#include <string.h>

#include "te_nn_dot_s16.h"
#include "te_nn_mat_mult_s16.h"

/* The column of output pixel (out_y, out_x): the input pixel under each of its phase's taps, or 0. */
static void te_tconv_column_s16(const te_transpose_conv_im2col_s16_params *p, const int16_t *image, int32_t out_y,
                                int32_t out_x, int16_t *column)
{
    const int32_t depth = p->input_depth;
    const int32_t t_y = out_y + p->pad_height, t_x = out_x + p->pad_width;
    for (int32_t fy = t_y % p->stride_height; fy < p->filter_height; fy += p->stride_height) {
        const int32_t in_y = (t_y - fy) / p->stride_height; /* exact: fy = t_y mod stride */
        for (int32_t fx = t_x % p->stride_width; fx < p->filter_width; fx += p->stride_width) {
            const int32_t in_x = (t_x - fx) / p->stride_width;
            if (t_y - fy < 0 || in_y >= p->input_height || t_x - fx < 0 || in_x >= p->input_width) {
                memset(column, 0, (size_t)depth * sizeof *column);
            } else {
                memcpy(column, image + (in_y * p->input_width + in_x) * depth, (size_t)depth * sizeof *column);
            }
            column += depth;
        }
    }
}

void te_transpose_conv_im2col_s16(const te_transpose_conv_im2col_s16_params *params, const int16_t *input,
                                  const int8_t *filter, const int64_t *bias, int16_t *scratch, int16_t *output)
{
    const int32_t output_height = params->output_height;
    const int32_t output_width = params->output_width;
    const int32_t output_depth = params->output_depth;
    const int32_t stride_height = params->stride_height;
    const int32_t stride_width = params->stride_width;
    const te_nn_requant_s16 q = {output_depth, params->activation_min, params->activation_max, 64, params->requant};

    for (int32_t batch = 0; batch < params->batches; ++batch) {
        const int16_t *image = input + batch * params->input_height * params->input_width * params->input_depth;
        int16_t *out_image = output + batch * output_height * output_width * output_depth;
        for (int32_t out_y = 0; out_y < output_height; ++out_y) {
            const int32_t phase_y = (out_y + params->pad_height) % stride_height;
            for (int32_t first = 0; first < stride_width && first < output_width; ++first) {
                /* The pixels first, first + stride_width, ... share a phase: two at a time. */
                const int32_t phase = phase_y * stride_width + (first + params->pad_width) % stride_width;
                const int8_t *weights = filter + params->phases[2 * phase];
                const int32_t k = params->phases[2 * phase + 1];
                for (int32_t out_x = first; out_x < output_width; out_x += 2 * stride_width) {
                    const int32_t pair = out_x + stride_width < output_width;
                    te_tconv_column_s16(params, image, out_y, out_x, scratch);
                    if (pair) {
                        te_tconv_column_s16(params, image, out_y, out_x + stride_width, scratch + k);
                    }
                    int16_t *out = out_image + (out_y * output_width + out_x) * output_depth;
                    te_nn_mat_mult_s16(weights, bias, scratch, pair ? scratch + k : scratch, k, &q, out,
                                       pair ? out + stride_width * output_depth : NULL);
                }
            }
        }
    }
}
