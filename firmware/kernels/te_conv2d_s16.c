/*
 * tinyedge: 16x8 CONV_2D, the arithmetic of TFLite-Micro's reference per-channel kernel for int16 input.
 */
#include "te_conv2d_s16.h"

#include <stddef.h>

void te_conv2d_s16(const te_conv2d_s16_params *params, const int16_t *input, const int8_t *filter,
                   const int64_t *bias, int16_t *output)
{
    /* Locals, not params->...: an int16_t store may alias *params, which would force reloads. */
    const int32_t batches = params->batches;
    const int32_t input_height = params->input_height;
    const int32_t input_width = params->input_width;
    const int32_t input_depth = params->input_depth;
    const int32_t filter_height = params->filter_height;
    const int32_t filter_width = params->filter_width;
    const int32_t filter_input_depth = params->filter_input_depth;
    const int32_t filters_per_group = params->filters_per_group;
    const int32_t output_height = params->output_height;
    const int32_t output_width = params->output_width;
    const int32_t output_depth = params->output_depth;
    const int32_t stride_height = params->stride_height;
    const int32_t stride_width = params->stride_width;
    const int32_t dilation_height = params->dilation_height;
    const int32_t dilation_width = params->dilation_width;
    const int32_t pad_height = params->pad_height;
    const int32_t pad_width = params->pad_width;
    const int32_t activation_min = params->activation_min;
    const int32_t activation_max = params->activation_max;
    const int32_t accumulator_bits = params->accumulator_bits;
    const int32_t *output_multiplier = params->output_multiplier;
    const int32_t *output_shift = params->output_shift;

    const int32_t input_row_size = input_width * input_depth;
    const int32_t filter_size = filter_height * filter_width * filter_input_depth;

    for (int32_t batch = 0; batch < batches; ++batch) {
        const int16_t *input_image = input + batch * input_height * input_row_size;
        for (int32_t out_y = 0; out_y < output_height; ++out_y) {
            const int32_t in_y_origin = out_y * stride_height - pad_height;
            for (int32_t out_x = 0; out_x < output_width; ++out_x) {
                const int32_t in_x_origin = out_x * stride_width - pad_width;
                for (int32_t out_c = 0; out_c < output_depth; ++out_c) {
                    const int32_t group = out_c / filters_per_group;
                    const int8_t *filter_c = filter + out_c * filter_size;
                    int64_t acc = 0;
                    for (int32_t filter_y = 0; filter_y < filter_height; ++filter_y) {
                        const int32_t in_y = in_y_origin + dilation_height * filter_y;
                        if (in_y < 0 || in_y >= input_height) {
                            continue; /* zero padding: the tap contributes nothing */
                        }
                        for (int32_t filter_x = 0; filter_x < filter_width; ++filter_x) {
                            const int32_t in_x = in_x_origin + dilation_width * filter_x;
                            if (in_x < 0 || in_x >= input_width) {
                                continue;
                            }
                            const int16_t *in = input_image + in_y * input_row_size + in_x * input_depth
                                                + group * filter_input_depth;
                            const int8_t *f = filter_c + (filter_y * filter_width + filter_x) * filter_input_depth;
                            for (int32_t in_c = 0; in_c < filter_input_depth; ++in_c) {
                                acc += (int32_t)f[in_c] * (int32_t)in[in_c];
                            }
                        }
                    }
                    if (bias != NULL) {
                        acc += bias[out_c];
                    }
                    const int32_t scaled = te_nn_requantize_s16(acc, output_multiplier[out_c], output_shift[out_c],
                                                                accumulator_bits);
                    *output++ = (int16_t)te_nn_clamp_i32(scaled, activation_min, activation_max);
                }
            }
        }
    }
}
