/*
 * tinyedge: int8 fully connected layer (TFLite FULLY_CONNECTED).
 *
 * Layouts (row-major):
 *   input  [rows, accum_depth] (any rank in the model: every dimension but the last are rows)
 *   filter [output_depth, accum_depth]
 *   bias   [output_depth] int32, or NULL when the model has none
 *   output [rows, output_depth]
 *
 * Per output element:
 *   acc = bias[c] + sum over d of (filter[c, d] + filter_offset) * (input[r, d] + input_offset)
 *   out = clamp(requantize(acc, output_multiplier[q], output_shift[q]) + output_offset,
 *               activation_min, activation_max)
 * with q = c for per-channel weights (as TensorFlow 2.x converters write them) and q = 0
 * for per-tensor weights (older converters). TFLite-Micro applies the filter zero point
 * only on the per-tensor path; per-channel weights are symmetric and filter_offset is 0.
 */
#ifndef TE_FULLY_CONNECTED_S8_H
#define TE_FULLY_CONNECTED_S8_H

#include <stdint.h>

#include "te_nn_math.h"

typedef struct {
    int32_t rows;                /* input vectors (batches) */
    int32_t accum_depth;         /* length of one input vector */
    int32_t output_depth;        /* outputs per row */
    int32_t input_offset;        /* -input zero point, [-127, 128] */
    int32_t filter_offset;       /* -filter zero point; 0 for per-channel weights */
    int32_t output_offset;       /* output zero point, [-128, 127] */
    int32_t activation_min;      /* clamp bounds in the output domain, */
    int32_t activation_max;      /* -128 <= min <= max <= 127 */
    int32_t per_channel;         /* 1: one multiplier per output channel; 0: a single one */
    const int32_t *output_multiplier;  /* [output_depth] or [1] Q31 significands, [2^30, 2^31) or 0 */
    const int32_t *output_shift;       /* [output_depth] or [1] power-of-two exponents, [-31, 30] */
} te_fully_connected_params;

void te_fully_connected_s8(const te_fully_connected_params *params, const int8_t *input,
                           const int8_t *filter, const int32_t *bias, int8_t *output);

#endif /* TE_FULLY_CONNECTED_S8_H */
