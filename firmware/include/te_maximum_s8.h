/*
 * tinyedge: int8 element-wise maximum with broadcasting (TFLite MAXIMUM).
 *
 * Shapes and strides as in te_add_s8.h (output [output_shape[0..3]] row-major, stride 0 where
 * an input is broadcast; without broadcasting shape [1, 1, 1, size], strides [0, 0, 0, 1]).
 *
 * Per element: the larger of the two raw int8 values. Like TFLite-Micro, nothing is
 * requantized: the converter gives both inputs and the output one scale and zero point.
 *
 * In place: the output may be the same buffer as input1 when input1 is not broadcast.
 */
#ifndef TE_MAXIMUM_S8_H
#define TE_MAXIMUM_S8_H

#include <stdint.h>

typedef struct {
    const int32_t *output_shape;    /* [4] */
    const int32_t *input1_strides;  /* [4] elements; 0 where input1 is broadcast */
    const int32_t *input2_strides;  /* [4] elements; 0 where input2 is broadcast */
} te_maximum_params;

void te_maximum_s8(const te_maximum_params *params, const int8_t *input1, const int8_t *input2, int8_t *output);

#endif /* TE_MAXIMUM_S8_H */
