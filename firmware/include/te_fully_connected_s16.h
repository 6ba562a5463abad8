/*
 * tinyedge: 16x8 FULLY_CONNECTED (int16 activations, int8 weights), TFLite-Micro's reference
 * FullyConnectedPerChannel / FullyConnected for int16_t input.
 *
 * Layouts: input [rows, accum_depth] int16, filter [output_depth, accum_depth] int8,
 * bias [output_depth] int64 (an int32 bias widened) or NULL, output [rows, output_depth] int16.
 *
 * Per output element:
 *   acc = bias[c] + sum over d of (filter + filter_offset) * (input + input_offset)
 *   out = clamp(requantize(acc, output_multiplier[c], output_shift[c]) + output_offset,
 *               activation_min, activation_max)
 * with te_nn_requantize_s16's accumulator. The offsets are 0 in a converter's file (symmetric
 * int16); TFLite-Micro applies them, so the kernel does too.
 */
#ifndef TE_FULLY_CONNECTED_S16_H
#define TE_FULLY_CONNECTED_S16_H

#include <stdint.h>

#include "te_nn_s16.h"

typedef struct {
    int32_t rows;                /* input vectors (batches) */
    int32_t accum_depth;         /* length of one input vector */
    int32_t output_depth;        /* outputs per row */
    int32_t input_offset;        /* -input zero point */
    int32_t filter_offset;       /* -filter zero point; 0 for per-channel weights */
    int32_t output_offset;       /* output zero point */
    int32_t activation_min;      /* clamp bounds in the output domain, */
    int32_t activation_max;      /* -32768 <= min <= max <= 32767 */
    int32_t accumulator_bits;    /* 64, or 32 for an int32 bias (te_nn_s16.h) */
    const int32_t *output_multiplier;  /* [output_depth] Q31 significands (a per-tensor one repeated) */
    const int32_t *output_shift;       /* [output_depth] power-of-two exponents */
} te_fully_connected_s16_params;

void te_fully_connected_s16(const te_fully_connected_s16_params *params, const int16_t *input,
                            const int8_t *filter, const int64_t *bias, int16_t *output);

#endif /* TE_FULLY_CONNECTED_S16_H */
