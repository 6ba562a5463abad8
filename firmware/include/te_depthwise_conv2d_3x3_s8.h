/*
 * tinyedge: int8 depthwise 2-D convolution with a 3x3 filter, depth multiplier 1, any number
 * of channels, stride 1 or 2 in each direction, no dilation, any padding (TFLite
 * DEPTHWISE_CONV_2D, per-output-channel requantization). The input rows a window needs are
 * widened once into a ring of 3 rows stored channel by channel (each channel's pixels
 * consecutive int16, padding holds the input zero point), so two horizontally neighbouring
 * taps of one channel are one 32-bit word: on the DSP path one SMLAD multiplies two taps,
 * and each channel's 3x3 weights, loaded once per block, serve 4 output pixels (stride 1)
 * or 2 (stride 2).
 *
 * Layouts:
 *   input  [batches, input_height, input_width, depth] int8
 *   packed per channel c, TE_DEPTHWISE_CONV2D_3X3_CHANNEL_WORDS int32 words (prepared by
 *          tinyedge/ops/conv.py):
 *          - the bias with the input offset folded in:
 *            model bias[c] + input_offset * sum over the 9 taps of filter[.., c]
 *          - per filter row r, the int16 lane pairs (filter[r][0], filter[r][1]) and
 *            (filter[r][1], filter[r][2]) of channel c, low lane first: 2 words
 *          - (multiplier, rounding, shift) of te_nn_requantize_rounding: a Q31 significand
 *            in [2^30, 2^31) or 0, 2^(shift - 1) + output_offset * 2^shift, a right shift in
 *            [1, 22]; for a general channel (te_nn_dsp.h) (multiplier, output_offset, TFLite's
 *            shift) of te_nn_requantize
 *          - 1 for a general channel, else 0
 *   scratch TE_DEPTHWISE_CONV2D_3X3_SCRATCH_BYTES(output_width, stride_width, depth,
 *          constants_words) bytes, 4-byte aligned: the ring of widened rows, then
 *          (constants_words > 0) a copy of packed made once per call, which every block of
 *          output pixels then reads from RAM instead of from flash (on a flash with a one-word
 *          read buffer each constant word re-read per block costs wait states)
 *          (cores with the DSP extension; the plain C path of the others reads packed in
 *          place, the scratch unused: rp2040's XIP cache serves its re-reads)
 *   output [batches, output_height, output_width, depth] int8
 *
 * Per output element, exactly the reference te_depthwise_conv2d_s8:
 *   acc = bias[c] + sum over the window of filter[.., c] * input[.., c]
 *         (padding taps: input = -input_offset, which cancels their share of the folded bias)
 *   out = clamp(requantize(acc) + output_offset, activation_min, activation_max)
 * where requantize is te_nn_requantize_rounding (te_nn_dsp.h), the output offset folded in
 * (te_nn_requantize for a general channel).
 */
#ifndef TE_DEPTHWISE_CONV2D_3X3_S8_H
#define TE_DEPTHWISE_CONV2D_3X3_S8_H

#include <stdint.h>

#include "te_nn_dsp.h"

typedef struct {
    int32_t batches;
    int32_t input_height;
    int32_t input_width;
    int32_t depth;               /* input and output channels, >= 1 */
    int32_t output_height;
    int32_t output_width;
    int32_t stride_height;       /* 1 or 2 */
    int32_t stride_width;        /* 1 or 2 */
    int32_t pad_height;          /* rows of implicit padding above the input, >= 0 */
    int32_t pad_width;           /* columns of implicit padding left of the input, >= 0 */
    int32_t input_offset;        /* -input zero point, [-127, 128] */
    int32_t activation_min;      /* clamp bounds in the output domain, */
    int32_t activation_max;      /* -128 <= min <= max <= 127 */
    int32_t constants_words;     /* depth * CHANNEL_WORDS: packed copied into scratch, or 0 */
} te_depthwise_conv2d_3x3_params;

/* Words of one channel's constants: bias, 6 tap-pair words, requantization triple, general flag. */
#define TE_DEPTHWISE_CONV2D_3X3_CHANNEL_WORDS 11

/* Widened pixels per channel row: the windows of whole blocks of 4 output pixels (an even count). */
#define TE_DEPTHWISE_CONV2D_3X3_ROW_PIXELS(output_width, stride_width) \
    ((stride_width) * (((output_width) + 3) / 4 * 4) + 2)

/* The ring of 3 widened input rows, each depth channel rows of ROW_PIXELS int16, then the
   copy of the constants. */
#define TE_DEPTHWISE_CONV2D_3X3_SCRATCH_BYTES(output_width, stride_width, depth, constants_words) \
    (2 * 3 * (depth) * TE_DEPTHWISE_CONV2D_3X3_ROW_PIXELS(output_width, stride_width) + 4 * (constants_words))

void te_depthwise_conv2d_3x3_s8(const te_depthwise_conv2d_3x3_params *params, const int8_t *input,
                                const int32_t *packed, int16_t *scratch, int8_t *output);

#endif /* TE_DEPTHWISE_CONV2D_3X3_S8_H */
