/*
 * tinyedge: int8 TRANSPOSE_CONV, the arithmetic of TFLite-Micro's reference per-channel kernel:
 * a scatter of every input value through the filter into int32 sums, then requantization.
 */
#include "te_transpose_conv_s8.h"

#include <stddef.h>

void te_transpose_conv_s8(const te_transpose_conv_params *params, const int8_t *input, const int8_t *filter,
                          const int32_t *bias, int32_t *scratch, int8_t *output)
{
    /* Locals, not params->...: an int8_t store may alias *params, which would force reloads. */
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
    const int32_t input_offset = params->input_offset;
    const int32_t output_offset = params->output_offset;
    const int32_t activation_min = params->activation_min;
    const int32_t activation_max = params->activation_max;
    const int32_t *output_multiplier = params->output_multiplier;
    const int32_t *output_shift = params->output_shift;

    const int32_t output_size = output_height * output_width * output_depth;
    const int32_t filter_size = filter_height * filter_width * input_depth;

    for (int32_t batch = 0; batch < batches; ++batch) {
        const int8_t *image = input + batch * input_height * input_width * input_depth;
        for (int32_t i = 0; i < output_size; ++i) {
            scratch[i] = 0;
        }
        for (int32_t in_y = 0; in_y < input_height; ++in_y) {
            const int32_t out_y_origin = in_y * stride_height - pad_height;
            for (int32_t in_x = 0; in_x < input_width; ++in_x) {
                const int32_t out_x_origin = in_x * stride_width - pad_width;
                const int8_t *pixel = image + (in_y * input_width + in_x) * input_depth;
                for (int32_t in_c = 0; in_c < input_depth; ++in_c) {
                    const int32_t value = (int32_t)pixel[in_c] + input_offset;
                    for (int32_t filter_y = 0; filter_y < filter_height; ++filter_y) {
                        const int32_t out_y = out_y_origin + filter_y;
                        if (out_y < 0 || out_y >= output_height) {
                            continue; /* cropped: the tap lands outside the output */
                        }
                        for (int32_t filter_x = 0; filter_x < filter_width; ++filter_x) {
                            const int32_t out_x = out_x_origin + filter_x;
                            if (out_x < 0 || out_x >= output_width) {
                                continue;
                            }
                            int32_t *sums = scratch + (out_y * output_width + out_x) * output_depth;
                            const int8_t *f = filter + (filter_y * filter_width + filter_x) * input_depth + in_c;
                            for (int32_t out_c = 0; out_c < output_depth; ++out_c) {
                                sums[out_c] += (int32_t)f[out_c * filter_size] * value;
                            }
                        }
                    }
                }
            }
        }
        int8_t *out = output + batch * output_size;
        const int32_t *sums = scratch;
        for (int32_t pixel = 0; pixel < output_height * output_width; ++pixel) {
            for (int32_t out_c = 0; out_c < output_depth; ++out_c) {
                int32_t acc = *sums++;
                if (bias != NULL) {
                    acc += bias[out_c];
                }
                acc = te_nn_requantize(acc, output_multiplier[out_c], output_shift[out_c]);
                acc += output_offset;
                *out++ = (int8_t)te_nn_clamp_i32(acc, activation_min, activation_max);
            }
        }
    }
}
