/*
 * tinyedge: int8 space to batch without padding (TFLite SPACE_TO_BATCH_ND with zero paddings),
 * NHWC (a 3-D NHC tensor as NH1C).
 *
 * input  [input_batches, output_height * block_height, output_width * block_width, depth]
 * output [input_batches * block_height * block_width, output_height, output_width, depth]
 * Output batch ob takes input batch ob % input_batches at block offset
 * (shift_h, shift_w) = ((ob / input_batches) / block_width, (ob / input_batches) % block_width):
 * output pixel (ob, y, x) is input pixel (y * block_height + shift_h, x * block_width + shift_w).
 * Bytes are copied unchanged. (Padding is refused before this: TFLite-Micro pads with an
 * uninitialized value.)
 */
#ifndef TE_SPACE_TO_BATCH_ND_S8_H
#define TE_SPACE_TO_BATCH_ND_S8_H

#include <stdint.h>

typedef struct {
    int32_t input_batches, depth;                         /* >= 1 */
    int32_t output_batches, output_height, output_width;  /* >= 1 */
    int32_t block_height, block_width;                    /* >= 1 */
} te_space_to_batch_nd_params;

void te_space_to_batch_nd_s8(const te_space_to_batch_nd_params *params, const int8_t *input, int8_t *output);

#endif /* TE_SPACE_TO_BATCH_ND_S8_H */
