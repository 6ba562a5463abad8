/*
 * tinyedge: position of the largest int8 value along one axis (TFLite ARG_MAX), int32 positions.
 *
 * The input is read as [outer_size, axis_size, inner_size] (row-major, the axis in the
 * middle); output[o * inner_size + i] is the first a in [0, axis_size) whose value
 * input[(o * axis_size + a) * inner_size + i] is the largest (raw bytes: the quantization keeps
 * the order). Output and input must not overlap.
 */
#ifndef TE_ARG_MAX_S8_H
#define TE_ARG_MAX_S8_H

#include <stdint.h>

typedef struct {
    int32_t outer_size;  /* product of the dimensions before the axis */
    int32_t axis_size;   /* >= 1 */
    int32_t inner_size;  /* product of the dimensions after the axis */
} te_arg_max_params;

void te_arg_max_s8(const te_arg_max_params *params, const int8_t *input, int32_t *output);

#endif /* TE_ARG_MAX_S8_H */
