/*
 * tinyedge: int8 2-D max pooling (TFLite MAX_POOL_2D).
 *
 * Layouts (row-major):
 *   input  [batches, input_height, input_width, depth]
 *   output [batches, output_height, output_width, depth]
 *
 * Input and output share one scale and zero point (TFLite-Micro refuses anything else).
 * Per output element:
 *   out = clamp(max of the inputs under the window that lie inside the input,
 *               activation_min, activation_max)
 * Padding never wins the maximum: it is skipped, not read as zero.
 */
#ifndef TE_MAX_POOL2D_S8_H
#define TE_MAX_POOL2D_S8_H

#include <stdint.h>

#include "te_nn_math.h"

typedef struct {
    int32_t batches;
    int32_t input_height;
    int32_t input_width;
    int32_t depth;
    int32_t output_height;
    int32_t output_width;
    int32_t filter_height;   /* >= 1 */
    int32_t filter_width;    /* >= 1 */
    int32_t stride_height;   /* >= 1 */
    int32_t stride_width;    /* >= 1 */
    int32_t pad_height;      /* rows of padding above the input, >= 0 */
    int32_t pad_width;       /* columns of padding left of the input, >= 0 */
    int32_t activation_min;  /* clamp bounds, */
    int32_t activation_max;  /* -128 <= min <= max <= 127 */
} te_max_pool2d_params;

void te_max_pool2d_s8(const te_max_pool2d_params *params, const int8_t *input, int8_t *output);

#endif /* TE_MAX_POOL2D_S8_H */
