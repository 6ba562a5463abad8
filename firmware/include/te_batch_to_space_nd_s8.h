/*
 * tinyedge: int8 batch to space (TFLite BATCH_TO_SPACE_ND), NHWC (a 3-D NHC tensor as NH1C).
 *
 * input  [input_batches, input_height, input_width, depth]
 * output [input_batches / (block_height * block_width), output_height, output_width, depth]
 * Input batch ib goes to output batch ib % output_batches at block offset
 * (shift_h, shift_w) = ((ib / output_batches) / block_width, (ib / output_batches) % block_width):
 * input pixel (ib, y, x) lands on output pixel (y * block_height + shift_h - crop_top,
 * x * block_width + shift_w - crop_left) unless that is cropped away. Output shapes that
 * follow from the block and crops get every byte written. Bytes are copied unchanged.
 */
#ifndef TE_BATCH_TO_SPACE_ND_S8_H
#define TE_BATCH_TO_SPACE_ND_S8_H

#include <stdint.h>

typedef struct {
    int32_t input_batches, input_height, input_width, depth;  /* >= 1 */
    int32_t output_batches, output_height, output_width;      /* >= 1 */
    int32_t block_height, block_width;                        /* >= 1 */
    int32_t crop_top, crop_left;                              /* >= 0 */
} te_batch_to_space_nd_params;

void te_batch_to_space_nd_s8(const te_batch_to_space_nd_params *params, const int8_t *input, int8_t *output);

#endif /* TE_BATCH_TO_SPACE_ND_S8_H */
