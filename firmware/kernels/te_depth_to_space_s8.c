/*
 * tinyedge: int8 DEPTH_TO_SPACE, the output in row-major order as TFLite's reference kernel
 * writes it, output_depth bytes at a time.
 */
#include "te_depth_to_space_s8.h"

#include <string.h>

void te_depth_to_space_s8(const te_depth_to_space_params *params, const int8_t *input, int8_t *output)
{
    const int32_t block = params->block_size;
    const int32_t depth = params->output_depth;
    const int32_t input_pixel = block * block * depth;
    const int32_t input_row = params->input_width * input_pixel;

    for (int32_t b = 0; b < params->batches; ++b) {
        for (int32_t y = 0; y < params->input_height; ++y) {
            const int8_t *row = input + (b * params->input_height + y) * input_row;
            for (int32_t dy = 0; dy < block; ++dy) {
                for (int32_t x = 0; x < params->input_width; ++x) {
                    const int8_t *pixel = row + x * input_pixel + dy * block * depth;
                    memcpy(output, pixel, (size_t)(block * depth)); /* dx = 0 .. block - 1, in order */
                    output += block * depth;
                }
            }
        }
    }
}
