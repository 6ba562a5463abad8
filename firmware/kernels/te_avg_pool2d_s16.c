/*
 * tinyedge: int16 AVERAGE_POOL_2D (16x8 mode), the arithmetic of TFLite-Micro's reference kernel for int16_t.
 */
#include "te_avg_pool2d_s16.h"

void te_avg_pool2d_s16(const te_avg_pool2d_params *params, const int16_t *input, int16_t *output)
{
    const int32_t depth = params->depth;
    const int32_t input_row_size = params->input_width * depth;
    const int32_t input_image_size = params->input_height * input_row_size;

    for (int32_t batch = 0; batch < params->batches; ++batch) {
        const int16_t *input_image = input + batch * input_image_size;
        for (int32_t out_y = 0; out_y < params->output_height; ++out_y) {
            const int32_t in_y_origin = out_y * params->stride_height - params->pad_height;
            /* The window clipped to the input: rows [y_start, y_end). */
            const int32_t y_start = te_nn_max_i32(0, in_y_origin);
            const int32_t y_end = te_nn_min_i32(in_y_origin + params->filter_height, params->input_height);
            for (int32_t out_x = 0; out_x < params->output_width; ++out_x) {
                const int32_t in_x_origin = out_x * params->stride_width - params->pad_width;
                const int32_t x_start = te_nn_max_i32(0, in_x_origin);
                const int32_t x_end = te_nn_min_i32(in_x_origin + params->filter_width, params->input_width);
                const int32_t count = (y_end - y_start) * (x_end - x_start);
                for (int32_t channel = 0; channel < depth; ++channel) {
                    int32_t sum = 0;
                    for (int32_t in_y = y_start; in_y < y_end; ++in_y) {
                        const int16_t *in = input_image + in_y * input_row_size + channel;
                        for (int32_t in_x = x_start; in_x < x_end; ++in_x) {
                            sum += in[in_x * depth];
                        }
                    }
                    /* Round to nearest with halves away from zero; C division truncates. */
                    const int32_t average = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
                    *output++ = (int16_t)te_nn_clamp_i32(average, params->activation_min, params->activation_max);
                }
            }
        }
    }
}
