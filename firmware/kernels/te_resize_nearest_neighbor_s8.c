/*
 * tinyedge: int8 RESIZE_NEAREST_NEIGHBOR, the output order of TFLite's reference kernel:
 * one pixel (depth bytes) copied per output position.
 */
#include "te_resize_nearest_neighbor_s8.h"

#include <string.h>

void te_resize_nearest_neighbor_s8(const te_resize_nearest_neighbor_params *params, const int8_t *input,
                                   int8_t *output)
{
    const int32_t depth = params->depth;
    const int32_t row_bytes = params->input_width * depth;
    const int32_t image_bytes = params->input_height * row_bytes;

    for (int32_t b = 0; b < params->batches; ++b) {
        const int8_t *image = input + b * image_bytes;
        for (int32_t y = 0; y < params->output_height; ++y) {
            const int8_t *row = image + params->source_rows[y] * row_bytes;
            for (int32_t x = 0; x < params->output_width; ++x) {
                memcpy(output, row + params->source_columns[x] * depth, (size_t)depth);
                output += depth;
            }
        }
    }
}
