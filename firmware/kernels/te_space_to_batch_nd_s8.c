/*
 * tinyedge: int8 SPACE_TO_BATCH_ND, the output in row-major order as TFLite's reference
 * kernel writes it, one pixel (depth bytes) at a time.
 */
#include "te_space_to_batch_nd_s8.h"

#include <string.h>

void te_space_to_batch_nd_s8(const te_space_to_batch_nd_params *params, const int8_t *input, int8_t *output)
{
    const int32_t depth = params->depth;
    const int32_t input_height = params->output_height * params->block_height;
    const int32_t input_width = params->output_width * params->block_width;

    for (int32_t ob = 0; ob < params->output_batches; ++ob) {
        const int32_t batch = ob % params->input_batches;
        const int32_t shift = ob / params->input_batches;
        const int32_t shift_h = shift / params->block_width;
        const int32_t shift_w = shift % params->block_width;
        for (int32_t y = 0; y < params->output_height; ++y) {
            const int32_t in_y = y * params->block_height + shift_h;
            for (int32_t x = 0; x < params->output_width; ++x) {
                const int32_t in_x = x * params->block_width + shift_w;
                memcpy(output, input + ((batch * input_height + in_y) * input_width + in_x) * depth, (size_t)depth);
                output += depth;
            }
        }
    }
}
