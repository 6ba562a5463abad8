/*
 * tinyedge: int8 transposed 2-D convolution (TFLite TRANSPOSE_CONV) as a gather: the output
 * pixels fall into stride_height x stride_width phases ((out_y + pad_height) mod stride_height,
 * (out_x + pad_width) mod stride_width), and every pixel of one phase sees the same filter
 * taps: rows phase_y, phase_y + stride_height, ... and columns likewise. Each output pixel's
 * input taps are widened into a column (taps outside the input hold the input zero point) and
 * multiplied by its phase's packed weights, two output channels by two pixels of the phase
 * (stride_width apart) at a time. No int32 image of sums, unlike te_transpose_conv_s8.
 *
 * Layouts:
 *   input  [batches, input_height, input_width, input_depth] int8
 *   filter per phase (phase_y outer, phase_x inner), packed by the lowering (te_nn_dsp.h) from
 *          the phase's weights [output_depth, taps_y, taps_x, input_depth], the taps across in
 *          reverse (t_x = taps_x - 1 first, matching input pixels left to right): output channel
 *          pairs interleaved word by word, each row zero-padded to a multiple of 4 values
 *   quant  per phase, [output_depth][4] int32 per output channel: the bias with the input
 *          offset folded in, bias[c] = model bias[c] + input_offset * sum of the phase's weights
 *          of channel c, then (multiplier, rounding, shift) of te_nn_requantize_rounding
 *          (a general channel: te_nn_requantize's, see te_nn_dsp.h), then its general list
 *   phases per phase, [2] int32: the offsets of its weights in filter (bytes) and of its
 *          constants in quant (int32 values)
 *   scratch TE_TRANSPOSE_CONV_IM2COL_SCRATCH_BYTES(depth, output_depth) bytes, 4-byte aligned,
 *          depth the deepest phase's taps_y * taps_x * input_depth (phase 0): two widened
 *          columns, an int8 gather column, and two output pixels on their way to the output
 *   output [batches, output_height, output_width, output_depth] int8
 *
 * Per output element, exactly the reference te_transpose_conv_s8:
 *   acc = bias[c] + sum over the phase's taps of filter * input   (outside taps: input = -input_offset)
 *   out = clamp(requantize(acc) + output_offset, activation_min, activation_max)
 * where tap (t_y, t_x) of output pixel (out_y, out_x) reads input pixel
 *   ((out_y + pad_height) / stride_height - t_y, (out_x + pad_width) / stride_width - t_x)
 * and requantize is te_nn_requantize_rounding (te_nn_dsp.h), the output offset folded in
 * (te_nn_requantize for a general channel).
 */
#ifndef TE_TRANSPOSE_CONV_IM2COL_S8_H
#define TE_TRANSPOSE_CONV_IM2COL_S8_H

#include <stdint.h>

#include "te_nn_dsp.h"

typedef struct {
    int32_t batches;
    int32_t input_height;
    int32_t input_width;
    int32_t input_depth;
    int32_t filter_height;
    int32_t filter_width;
    int32_t output_height;
    int32_t output_width;
    int32_t output_depth;
    int32_t stride_height;       /* >= 1 */
    int32_t stride_width;        /* >= 1 */
    int32_t pad_height;          /* output rows cropped at the top, >= 0 */
    int32_t pad_width;           /* output columns cropped at the left, >= 0 */
    int32_t input_offset;        /* -input zero point, [-127, 128] */
    int32_t activation_min;      /* clamp bounds in the output domain, */
    int32_t activation_max;      /* -128 <= min <= max <= 127 */
} te_transpose_conv_im2col_params;

/* Two widened columns, one int8 column to gather taps whose depth is not a multiple of 4, and
 * two output pixels. */
#define TE_TRANSPOSE_CONV_IM2COL_SCRATCH_BYTES(depth, output_depth) (5 * (((depth) + 3) / 4 * 4) + 2 * (output_depth))

void te_transpose_conv_im2col_s8(const te_transpose_conv_im2col_params *params, const int8_t *input,
                                 const int8_t *filter, const int32_t *quant, const int32_t *phases, int16_t *scratch,
                                 int8_t *output);

#endif /* TE_TRANSPOSE_CONV_IM2COL_S8_H */
