/*
 * tinyedge: int8 fully connected layer (TFLite FULLY_CONNECTED) with weights packed four
 * output channels at a time: the input row is widened once for all rows, and the kernel
 * needs a scratch row of twice the input's length. Per-channel or per-tensor weights
 * without a zero point.
 *
 * Split weights. Most quads of rows hold their weights split, so that each weight word takes one
 * SXTB16 instead of two (the raw word feeds one SMLAD, its SXTB16 the other): each pair of
 * weights (b0, b1) of a row (depth d, d + 1, d even) is stored as the int16 h = 256 b1 + b0
 * (its low byte is b0's: SXTB16 gives b0 back), and the input row is widened once per call
 * into int16 lanes xa = x1 - 127 and xb = 256 x0 - xa (te_fc_widen_split). Then
 * h xa + b0 xb = 256 (b0 x0 + b1 x1 - 127 b1): two SMLADs, (h, h') . (xa, xa') on the raw
 * weight word and (b0, b2) . (xb, xb') on its SXTB16, add 256 times four products less 127
 * times the odd weights, which the lowering adds back to the bias; an arithmetic shift by 8
 * ends the sum. Exact modulo 2^32 when every row's 128 * sum |even weights| + 255 * sum |odd
 * weights| is below 2^23 and no pair has b1 = -128 with b0 < 0 (h would leave int16); a quad
 * where a row breaks either stays plain: raw weights against the input, each word extended
 * twice (the general list's companion, the plain list, names those quads).
 *
 * Layouts:
 *   input  [rows, accum_depth] int8 (any rank in the model: every dimension but the last are rows)
 *   filter packed by the lowering from [output_depth, accum_depth], rows zero-padded to
 *          whole words of 4 values: four rows c..c+3 at a time interleaved word by word
 *          (row c word 0, row c + 1 word 0, row c + 2 word 0, row c + 3 word 0, row c word 1,
 *          ...), split (above) unless the quad is plain, then the output_depth % 4 last rows
 *          one after the other, raw; 4-byte aligned
 *   quant  [output_depth][4] int32 per output channel: the bias with the input offset folded
 *          in, bias[c] = model bias[c] + input_offset * sum over d of filter[c, d] (in a split
 *          quad, + 127 * sum over odd d of filter[c, d]), then (multiplier, rounding, shift)
 *          of te_nn_requantize_rounding: a Q31 significand in [2^30, 2^31) or 0,
 *          2^(shift - 1) + output_offset * 2^shift, a right shift in [1, 22]
 *          (a general channel: (multiplier, output_offset, shift) of te_nn_requantize, see
 *          te_nn_dsp.h), then the general list: the first channels of the general quads and
 *          of the general last output_depth % 4 channels, ascending, then output_depth; then
 *          the plain list: the first channels of the plain quads, ascending, then output_depth
 *   scratch TE_FULLY_CONNECTED_PACKED_SCRATCH_BYTES(accum_depth) bytes, 4-byte aligned: the
 *          split input row
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

/* The split input row: two int16 words per group of 4 values. */
#define TE_FULLY_CONNECTED_PACKED_SCRATCH_BYTES(accum_depth) (2 * (((accum_depth) + 3) / 4 * 4))

void te_fully_connected_packed_s8(const te_fully_connected_packed_params *params, const int8_t *input,
                                  const int8_t *filter, const int32_t *quant, int16_t *scratch, int8_t *output);

#endif /* TE_FULLY_CONNECTED_PACKED_S8_H */
