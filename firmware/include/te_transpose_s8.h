/*
 * tinyedge: int8 axis permutation (TFLite TRANSPOSE).
 *
 * The output, up to 5-D and extended on the left with 1s to exactly 5-D, is written in
 * row-major order; output element (i0, ..., i4) is input element
 * i0 * input_steps[0] + ... + i4 * input_steps[4], input_steps[d] being the input's
 * row-major stride along the axis that output axis d takes (0 or any value for the added
 * axes of size 1). Bytes are copied unchanged.
 */
#ifndef TE_TRANSPOSE_S8_H
#define TE_TRANSPOSE_S8_H

#include <stdint.h>

typedef struct {
    const int32_t *output_shape;  /* [5], >= 0 */
    const int32_t *input_steps;   /* [5] elements, >= 0 */
} te_transpose_params;

void te_transpose_s8(const te_transpose_params *params, const int8_t *input, int8_t *output);

#endif /* TE_TRANSPOSE_S8_H */
