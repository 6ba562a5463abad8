/*
 * tinyedge: int8 SPACE_TO_DEPTH, the output in row-major order as TFLite's reference kernel
 * writes it: for each output pixel, block_size rows of block_size input pixels.
 */
#include "te_space_to_depth_s8.h"

#include <string.h>

void te_space_to_depth_s8(const te_space_to_depth_params *params, const int8_t *input, int8_t *output)
{
    const int32_t block = params->block_size;
    const int32_t depth = params->input_depth;
    const int32_t input_width = params->output_width * block;
    const int32_t input_height = params->output_height * block;

    for (int32_t b = 0; b < params->batches; ++b) {
        for (int32_t y = 0; y < params->output_height; ++y) {
            for (int32_t x = 0; x < params->output_width; ++x) {
                for (int32_t dy = 0; dy < block; ++dy) {
                    const int8_t *pixels = input + ((b * input_height + y * block + dy) * input_width + x * block) * depth;
                    memcpy(output, pixels, (size_t)(block * depth)); /* dx = 0 .. block - 1, in order */
                    output += block * depth;
                }
            }
        }
    }
}
