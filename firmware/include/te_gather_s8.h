/*
 * tinyedge: int8 gather along one axis (TFLite GATHER).
 *
 * input     [batch_size, outer_size, axis_size, inner_size]  (row-major)
 * positions [batch_size, coord_size]                         int32, each in [0, axis_size - 1]
 * output    [batch_size, outer_size, coord_size, inner_size]
 * Output row (b, o, c) is input row (b, o, positions[b * coord_size + c]), inner_size bytes
 * copied unchanged.
 */
#ifndef TE_GATHER_S8_H
#define TE_GATHER_S8_H

#include <stdint.h>

typedef struct {
    int32_t batch_size;  /* product of the first batch_dims input dimensions, >= 1 */
    int32_t outer_size;  /* product of the dimensions between batch_dims and the axis, >= 1 */
    int32_t axis_size;   /* input size along the axis, >= 1 */
    int32_t coord_size;  /* positions per batch, >= 1 */
    int32_t inner_size;  /* product of the dimensions after the axis, >= 1 */
} te_gather_params;

void te_gather_s8(const te_gather_params *params, const int8_t *input, const int32_t *positions, int8_t *output);

#endif /* TE_GATHER_S8_H */
