/*
 * tinyedge: int8 fully connected layer (TFLite FULLY_CONNECTED) with weights packed four
 * output channels at a time: each input word is sign-extended once for four rows, and the
 * kernel needs no scratch memory. Per-channel or per-tensor weights without a zero point.
 *
 * Layouts:
 *   input  [rows, accum_depth] int8 (any rank in the model: every dimension but the last are rows)
 *   filter packed by the lowering from [output_depth, accum_depth], rows zero-padded to
 *          whole words of 4 values: four rows c..c+3 at a time interleaved word by word
 *          (row c word 0, row c + 1 word 0, row c + 2 word 0, row c + 3 word 0, row c word 1,
 *          ...), then the output_depth % 4 last rows one after the other; 4-byte aligned
 *   quant  [output_depth][4] int32 per output channel: the bias with the input offset folded
 *          in, bias[c] = model bias[c] + input_offset * sum over d of filter[c, d], then
 *          (multiplier, rounding, shift) of te_nn_requantize_rounding: a Q31 significand in
 *          [2^30, 2^31) or 0, 2^(shift - 1) + output_offset * 2^shift, a right shift in [1, 22]
 *          (a general channel: (multiplier, output_offset, shift) of te_nn_requantize, see
 *          te_nn_dsp.h), then the general list: the first channels of the general quads and
 *          of the general last output_depth % 4 channels, ascending, then output_depth
 *   output [rows, output_depth] int8
 *
 * Per output element, exactly the reference te_fully_connected_s8:
 *   acc = bias[c] + sum over d of filter[c, d] * input[r, d]
 *   out = clamp(requantize(acc) + output_offset, activation_min, activation_max)
 * where requantize is te_nn_requantize_rounding (te_nn_dsp.h), the output offset folded in
 * (te_nn_requantize for a general channel).
 */
#ifndef TE_FULLY_CONNECTED_PACKED_S8_H
#define TE_FULLY_CONNECTED_PACKED_S8_H

#include <stdint.h>

#include "te_nn_dsp.h"

typedef struct {
    int32_t rows;                /* input vectors (batches) */
    int32_t accum_depth;         /* length of one input vector */
    int32_t output_depth;        /* outputs per row */
    int32_t activation_min;      /* clamp bounds in the output domain, */
    int32_t activation_max;      /* -128 <= min <= max <= 127 */
} te_fully_connected_packed_params;

void te_fully_connected_packed_s8(const te_fully_connected_packed_params *params, const int8_t *input,
                                  const int8_t *filter, const int32_t *quant, int8_t *output);

#endif /* TE_FULLY_CONNECTED_PACKED_S8_H */
