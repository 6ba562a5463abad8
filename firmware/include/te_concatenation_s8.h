/*
 * tinyedge: int8 concatenation along one axis (TFLite CONCATENATION).
 *
 * Every tensor is viewed as [outer_size, size along the axis, inner size] (row-major),
 * the outer and inner sizes being shared by all inputs and the output. The output is,
 * for each of the outer_size slices, input 0's slice, then input 1's, and so on:
 * copy_sizes[i] bytes from input i each time (its size along the axis * inner size).
 *
 * The bytes are copied unchanged, as TFLite-Micro does for int8 whatever the inputs'
 * quantization; the converter gives every input the output's scale and zero point.
 */
#ifndef TE_CONCATENATION_S8_H
#define TE_CONCATENATION_S8_H

#include <stdint.h>

typedef struct {
    int32_t num_inputs;           /* [1, 10] */
    int32_t outer_size;           /* product of the dimensions before the axis, >= 1 */
    const int32_t *copy_sizes;    /* [num_inputs] bytes per outer slice, >= 0 */
} te_concatenation_params;

void te_concatenation_s8(const te_concatenation_params *params, const int8_t *const *inputs, int8_t *output);

#endif /* TE_CONCATENATION_S8_H */
