/*
 * tinyedge: int8 depth to space (TFLite DEPTH_TO_SPACE).
 *
 * input  [batches, input_height, input_width, block_size * block_size * output_depth]  (NHWC)
 * output [batches, input_height * block_size, input_width * block_size, output_depth]
 * Output pixel (b, y * block_size + dy, x * block_size + dx) is channels
 * [(dy * block_size + dx) * output_depth, ... + output_depth) of input pixel (b, y, x).
 * Bytes are copied unchanged.
 */
#ifndef TE_DEPTH_TO_SPACE_S8_H
#define TE_DEPTH_TO_SPACE_S8_H

#include <stdint.h>

typedef struct {
    int32_t batches, input_height, input_width;  /* >= 1 */
    int32_t block_size;                          /* >= 1 */
    int32_t output_depth;                        /* >= 1 */
} te_depth_to_space_params;

void te_depth_to_space_s8(const te_depth_to_space_params *params, const int8_t *input, int8_t *output);

#endif /* TE_DEPTH_TO_SPACE_S8_H */
