/*
 * tinyedge: 16x8 FULLY_CONNECTED, fast: the same bytes as te_fully_connected_s16 for weights and
 * input without a zero point (what TensorFlow's 16x8 mode writes), four output channels at a time
 * with SMLAD on int16 activation pairs (te_nn_dot_s16.h).
 *
 * Layouts: input [rows, accum_depth] int16; filter: blocks of four rows of accum_depth int8 weights
 * (te_nn_dot_s16.h), output_depth rounded up to 4 with zero rows; bias [output_depth] int64 or
 * NULL; output [rows, output_depth] int16.
 */
#ifndef TE_FULLY_CONNECTED_PACKED_S16_H
#define TE_FULLY_CONNECTED_PACKED_S16_H

#include <stdint.h>

#include "te_nn_s16.h"

typedef struct {
    int32_t rows;                /* input vectors (batches) */
    int32_t accum_depth;         /* length of one input vector */
    int32_t output_depth;        /* outputs per row */
    int32_t output_offset;       /* output zero point */
    int32_t activation_min;      /* clamp bounds in the output domain, */
    int32_t activation_max;      /* -32768 <= min <= max <= 32767 */
    int32_t accumulator_bits;    /* 64, or 32 for an int32 bias (te_nn_s16.h) */
    const int32_t *requant;      /* [channels][6]: te_nn_requantize_s16_fast (te_nn_s16.h) */
} te_fully_connected_packed_s16_params;

void te_fully_connected_packed_s16(const te_fully_connected_packed_s16_params *params, const int16_t *input,
                                   const int8_t *filter, const int64_t *bias, int16_t *output);

#endif /* TE_FULLY_CONNECTED_PACKED_S16_H */
