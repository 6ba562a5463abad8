/*
 * tinyedge: int8 strided slice (TFLite STRIDED_SLICE, and SLICE with every step 1).
 *
 * The output, extended on the left with 1s to exactly 5-D, is written in row-major order;
 * output element (i0, ..., i4) is input element
 * start + i0 * input_steps[0] + ... + i4 * input_steps[4]: start is the first element read,
 * input_steps[d] the slice's stride along axis d times the input's row-major stride there
 * (negative for a slice that walks an axis backwards). Bytes are copied unchanged.
 */
#ifndef TE_STRIDED_SLICE_S8_H
#define TE_STRIDED_SLICE_S8_H

#include <stdint.h>

typedef struct {
    int32_t start;                /* element offset of output element 0 in the input, >= 0 */
    const int32_t *output_shape;  /* [5], >= 0 */
    const int32_t *input_steps;   /* [5] elements, any sign */
} te_strided_slice_params;

void te_strided_slice_s8(const te_strided_slice_params *params, const int8_t *input, int8_t *output);

#endif /* TE_STRIDED_SLICE_S8_H */
