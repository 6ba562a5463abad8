/*
 * tinyedge: int8 space to depth (TFLite SPACE_TO_DEPTH).
 *
 * input  [batches, output_height * block_size, output_width * block_size, input_depth]  (NHWC)
 * output [batches, output_height, output_width, block_size * block_size * input_depth]
 * Channels [(dy * block_size + dx) * input_depth, ... + input_depth) of output pixel (b, y, x)
 * are input pixel (b, y * block_size + dy, x * block_size + dx). Bytes are copied unchanged.
 */
#ifndef TE_SPACE_TO_DEPTH_S8_H
#define TE_SPACE_TO_DEPTH_S8_H

#include <stdint.h>

typedef struct {
    int32_t batches, output_height, output_width;  /* >= 1 */
    int32_t block_size;                            /* >= 1 */
    int32_t input_depth;                           /* >= 1 */
} te_space_to_depth_params;

void te_space_to_depth_s8(const te_space_to_depth_params *params, const int8_t *input, int8_t *output);

#endif /* TE_SPACE_TO_DEPTH_S8_H */
