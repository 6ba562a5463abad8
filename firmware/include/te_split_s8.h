/*
 * tinyedge: int8 split along one axis (TFLite SPLIT, SPLIT_V, and UNPACK).
 *
 * The input is viewed as [outer_size, sum over outputs of their size along the axis, inner
 * size] (row-major): for each of the outer_size slices, output 0 takes the next
 * copy_sizes[0] bytes, output 1 the next copy_sizes[1], and so on (copy_sizes[i] is output i's
 * size along the axis times the inner size). The inverse of te_concatenation_s8. Bytes are
 * copied unchanged.
 */
#ifndef TE_SPLIT_S8_H
#define TE_SPLIT_S8_H

#include <stdint.h>

typedef struct {
    int32_t num_outputs;        /* >= 1 */
    int32_t outer_size;         /* product of the dimensions before the axis, >= 1 */
    const int32_t *copy_sizes;  /* [num_outputs] bytes per outer slice, >= 1 */
} te_split_params;

void te_split_s8(const te_split_params *params, const int8_t *input, int8_t *const *outputs);

#endif /* TE_SPLIT_S8_H */
