/*
 * tinyedge: int8 2-D convolution of any filter size, stride, dilation and padding (not
 * grouped), by im2col: each output pixel's window is widened into a column (padding taps
 * hold the input zero point) and multiplied by the packed weights, two output channels by
 * three pixels at a time (te_nn_mat_mult3_s8: the DSP extension, the whole int8 clamp, no general
 * channel) or two (TFLite CONV_2D, per-output-channel requantization).
 *
 * Layouts:
 *   input  [batches, input_height, input_width, input_depth] int8
 *   filter packed by the lowering (te_nn_dsp.h) from [output_depth, filter_height,
 *          filter_width, input_depth]: output channel pairs interleaved word by word,
 *          each row of filter_height * filter_width * input_depth values zero-padded to a
 *          multiple of 4
 *   quant  [output_depth][4] int32 per output channel: the bias with the input offset
 *          folded in, bias[c] = model bias[c] + input_offset * sum of filter[c, ...],
 *          then (multiplier, rounding, shift) of te_nn_requantize_rounding: a Q31
 *          significand in [2^30, 2^31) or 0, 2^(shift - 1) + output_offset * 2^shift, a right
 *          shift in [1, 22]
 *          (a general channel: (multiplier, output_offset, shift) of te_nn_requantize, see
 *          te_nn_dsp.h), then the general list: the first channels of the general channel
 *          pairs (or of the odd last channel), ascending, then output_depth
 *   scratch TE_CONV2D_IM2COL_SCRATCH_BYTES(depth) + constants_bytes bytes, 4-byte aligned, with
 *          depth = filter_height * filter_width * input_depth: the columns, then
 *          (constants_bytes > 0) a copy of filter and quant made once per call on a core with
 *          the DSP extension, which every block of pixels then reads from RAM
 *   output [batches, output_height, output_width, output_depth] int8
 *
 * Per output element, exactly the reference te_conv2d_s8:
 *   acc = bias[c] + sum over the window of filter * input   (padding taps: input = -input_offset)
 *   out = clamp(requantize(acc) + output_offset, activation_min, activation_max)
 * where requantize is te_nn_requantize_rounding (te_nn_dsp.h), the output offset folded in
 * (te_nn_requantize for a general channel).
 * A padding tap adds filter * (-input_offset), cancelling its share of the folded bias:
 * it contributes nothing, as in the reference.
 */
#ifndef TE_CONV2D_IM2COL_S8_H
#define TE_CONV2D_IM2COL_S8_H

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
    int32_t dilation_height;     /* >= 1 */
    int32_t dilation_width;      /* >= 1 */
    int32_t pad_height;          /* rows of implicit padding above the input, >= 0 */
    int32_t pad_width;           /* columns of implicit padding left of the input, >= 0 */
    int32_t input_offset;        /* -input zero point, [-127, 128] */
    int32_t activation_min;      /* clamp bounds in the output domain, */
    int32_t activation_max;      /* -128 <= min <= max <= 127 */
    int32_t constants_bytes;     /* bytes of filter and quant (all of both) copied into scratch, or 0 */
} te_conv2d_im2col_params;

/* Three widened columns, and one int8 column to gather windows whose depth is not a multiple of 4
   (then constants_bytes). */
#define TE_CONV2D_IM2COL_SCRATCH_BYTES(depth) (7 * (((depth) + 3) / 4 * 4))

void te_conv2d_im2col_s8(const te_conv2d_im2col_params *params, const int8_t *input, const int8_t *filter,
                         const int32_t *quant, int16_t *scratch, int8_t *output);

#endif /* TE_CONV2D_IM2COL_S8_H */
