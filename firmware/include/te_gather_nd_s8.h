/*
 * tinyedge: int8 gather of slices by multi-dimensional positions (TFLite GATHER_ND).
 *
 * input     input_size bytes (row-major)
 * positions [num_slices, index_depth]  int32
 * output    [num_slices, slice_size]
 * Slice i starts at sum over j of positions[i * index_depth + j] * strides[j] (strides[j]: the
 * input's elements per step of dimension j) and slice_size bytes are copied unchanged, as
 * TFLite-Micro's reference GatherNd does. A slice reaching outside the input, which
 * TFLite-Micro fails the inference on, is written as zeros instead of read out of bounds.
 */
#ifndef TE_GATHER_ND_S8_H
#define TE_GATHER_ND_S8_H

#include <stdint.h>

typedef struct {
    int32_t num_slices;      /* product of the positions' dimensions but the last, >= 0 */
    int32_t index_depth;     /* [1, 5], at most the input's rank */
    int32_t slice_size;      /* product of the input's dimensions from index_depth on, >= 1 */
    int32_t input_size;      /* elements of the input, >= 1 */
    const int32_t *strides;  /* [index_depth] */
} te_gather_nd_params;

void te_gather_nd_s8(const te_gather_nd_params *params, const int8_t *input, const int32_t *positions,
                     int8_t *output);

#endif /* TE_GATHER_ND_S8_H */
