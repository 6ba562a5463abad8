/*
 * tinyedge: int8 BATCH_TO_SPACE_ND, the input read in row-major order as TFLite's reference
 * kernel reads it, each pixel (depth bytes) stored where it lands.
 */
#include "te_batch_to_space_nd_s8.h"

#include <string.h>

void te_batch_to_space_nd_s8(const te_batch_to_space_nd_params *params, const int8_t *input, int8_t *output)
{
    const int32_t depth = params->depth;
    const int32_t height = params->output_height;
    const int32_t width = params->output_width;

    for (int32_t ib = 0; ib < params->input_batches; ++ib) {
        const int32_t batch = ib % params->output_batches;
        const int32_t shift = ib / params->output_batches;
        const int32_t shift_h = shift / params->block_width;
        const int32_t shift_w = shift % params->block_width;
        for (int32_t y = 0; y < params->input_height; ++y) {
            const int32_t out_y = y * params->block_height + shift_h - params->crop_top;
            const int8_t *row = input + (ib * params->input_height + y) * params->input_width * depth;
            if (out_y < 0 || out_y >= height) {
                continue;
            }
            for (int32_t x = 0; x < params->input_width; ++x) {
                const int32_t out_x = x * params->block_width + shift_w - params->crop_left;
                if (out_x >= 0 && out_x < width) {
                    memcpy(output + ((batch * height + out_y) * width + out_x) * depth, row + x * depth,
                           (size_t)depth);
                }
            }
        }
    }
}
