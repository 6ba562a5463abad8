/*
 * tinyedge: 16x8 TRANSPOSE_CONV, the exact 64-bit sums of TFLite-Micro's reference kernel for int16
 * input, gathered per output pixel.
 */
#include "te_transpose_conv_s16.h"

#include <stddef.h>

void te_transpose_conv_s16(const te_transpose_conv_s16_params *params, const int16_t *input,
                           const int8_t *filter, const int64_t *bias, int16_t *output)
{
    /* Locals, not params->...: an int16_t store may alias *params, which would force reloads. */
    const int32_t batches = params->batches;
    const int32_t input_height = params->input_height;
    const int32_t input_width = params->input_width;
    const int32_t input_depth = params->input_depth;
    const int32_t filter_height = params->filter_height;
    const int32_t filter_width = params->filter_width;
    const int32_t output_height = params->output_height;
    const int32_t output_width = params->output_width;
    const int32_t output_depth = params->output_depth;
    const int32_t stride_height = params->stride_height;
    const int32_t stride_width = params->stride_width;
    const int32_t pad_height = params->pad_height;
    const int32_t pad_width = params->pad_width;
    const int32_t activation_min = params->activation_min;
    const int32_t activation_max = params->activation_max;
    const int32_t *output_multiplier = params->output_multiplier;
    const int32_t *output_shift = params->output_shift;

    for (int32_t batch = 0; batch < batches; ++batch) {
        const int16_t *input_image = input + batch * input_height * input_width * input_depth;
        for (int32_t out_y = 0; out_y < output_height; ++out_y) {
            for (int32_t out_x = 0; out_x < output_width; ++out_x) {
                for (int32_t out_c = 0; out_c < output_depth; ++out_c) {
                    int64_t acc = 0;
                    for (int32_t filter_y = 0; filter_y < filter_height; ++filter_y) {
                        /* The input row whose tap filter_y lands on out_y, if any. */
                        const int32_t t_y = out_y + pad_height - filter_y;
                        if (t_y < 0 || t_y % stride_height != 0 || t_y / stride_height >= input_height) {
                            continue;
                        }
                        const int32_t in_y = t_y / stride_height;
                        for (int32_t filter_x = 0; filter_x < filter_width; ++filter_x) {
                            const int32_t t_x = out_x + pad_width - filter_x;
                            if (t_x < 0 || t_x % stride_width != 0 || t_x / stride_width >= input_width) {
                                continue;
                            }
                            const int32_t in_x = t_x / stride_width;
                            const int16_t *in = input_image + (in_y * input_width + in_x) * input_depth;
                            const int8_t *f = filter + ((out_c * filter_height + filter_y) * filter_width + filter_x)
                                                       * input_depth;
                            for (int32_t in_c = 0; in_c < input_depth; ++in_c) {
                                acc += (int32_t)in[in_c] * (int32_t)f[in_c];
                            }
                        }
                    }
                    if (bias != NULL) {
                        acc += bias[out_c];
                    }
                    const int32_t scaled = te_nn_requantize_i64(acc, output_multiplier[out_c], output_shift[out_c]);
                    *output++ = (int16_t)te_nn_clamp_i32(scaled, activation_min, activation_max);
                }
            }
        }
    }
}
