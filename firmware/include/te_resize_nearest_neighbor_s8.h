/*
 * tinyedge: int8 nearest-neighbour resize (TFLite RESIZE_NEAREST_NEIGHBOR).
 *
 * input  [batches, input_height, input_width, depth]   (NHWC)
 * output [batches, output_height, output_width, depth]
 * Output pixel (b, y, x) is a copy of input pixel (b, source_rows[y], source_columns[x]):
 * the tables hold TFLite's GetNearestNeighbor for every output row and column (align_corners
 * and half_pixel_centers already applied), each in [0, input size - 1]. Bytes are copied
 * unchanged: the output has the input's quantization.
 */
#ifndef TE_RESIZE_NEAREST_NEIGHBOR_S8_H
#define TE_RESIZE_NEAREST_NEIGHBOR_S8_H

#include <stdint.h>

typedef struct {
    int32_t batches, input_height, input_width, depth;  /* >= 1 */
    int32_t output_height, output_width;                /* >= 0 */
    const int32_t *source_rows;                         /* [output_height] */
    const int32_t *source_columns;                      /* [output_width] */
} te_resize_nearest_neighbor_params;

void te_resize_nearest_neighbor_s8(const te_resize_nearest_neighbor_params *params, const int8_t *input,
                                   int8_t *output);

#endif /* TE_RESIZE_NEAREST_NEIGHBOR_S8_H */
