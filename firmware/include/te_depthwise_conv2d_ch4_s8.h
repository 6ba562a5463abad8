/*
 * tinyedge: int8 depthwise 2-D convolution, depth multiplier 1, channels a multiple of 4,
 * no dilation, filters up to TE_DEPTHWISE_CONV2D_CH4_MAX_FILTER_HEIGHT rows, any stride and
 * padding (TFLite DEPTHWISE_CONV_2D, per-output-channel requantization). The input rows a
 * window needs are widened once into a ring of filter_height rows (padding holds the input
 * zero point); each output pixel then accumulates four channels per step with 16-bit
 * multiply-accumulates. 3x3 filters without a clamp narrower than int8 take one
 * hand-scheduled block per group of four channels on the DSP path: at stride 1 or 2 for two
 * output pixels at once (each tap word serves both), an odd width's last pixel alone.
 *
 * Layouts:
 *   input  [batches, input_height, input_width, depth] int8
 *   packed the constants of each group of 4 channels c..c+3, one after the other, as
 *          int32 words (prepared by tinyedge/ops/conv.py):
 *          - 4 biases with the input offset folded in:
 *            model bias[c] + input_offset * sum over the taps of filter[.., c]
 *          - per tap (row-major), the int16 lane pairs (filter[c], filter[c + 2]) and
 *            (filter[c + 1], filter[c + 3]): 2 words
 *          - per channel, (multiplier, rounding, shift) of te_nn_requantize_rounding:
 *            a Q31 significand in [2^30, 2^31) or 0, 2^(shift - 1) + output_offset * 2^shift,
 *            a right shift in [1, 22]
 *            (a general group: (multiplier, output_offset, shift) of te_nn_requantize per
 *            channel, see te_nn_dsp.h)
 *          then the general list: the first channels of the general groups, ascending, then depth
 *   scratch TE_DEPTHWISE_CONV2D_CH4_SCRATCH_BYTES(filter_height, span_width, depth,
 *          constants_words) bytes, 8-byte aligned, span_width = (output_width - 1) *
 *          stride_width + filter_width: the ring of widened rows, then (constants_words > 0)
 *          a copy of packed made once per call, which every output pixel then reads from RAM
 *          instead of from flash (on a flash with a one-word read buffer each constant word
 *          re-read per pixel costs wait states)
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
#ifndef TE_DEPTHWISE_CONV2D_CH4_S8_H
#define TE_DEPTHWISE_CONV2D_CH4_S8_H

#include <stdint.h>

#include "te_nn_dsp.h"

typedef struct {
    int32_t batches;
    int32_t input_height;
    int32_t input_width;
    int32_t depth;               /* input and output channels, a multiple of 4 */
    int32_t filter_height;       /* [1, TE_DEPTHWISE_CONV2D_CH4_MAX_FILTER_HEIGHT] */
    int32_t filter_width;
    int32_t output_height;
    int32_t output_width;
    int32_t stride_height;       /* >= 1 */
    int32_t stride_width;        /* >= 1 */
    int32_t pad_height;          /* rows of implicit padding above the input, >= 0 */
    int32_t pad_width;           /* columns of implicit padding left of the input, >= 0 */
    int32_t input_offset;        /* -input zero point, [-127, 128] */
    int32_t activation_min;      /* clamp bounds in the output domain, */
    int32_t activation_max;      /* -128 <= min <= max <= 127 */
    int32_t constants_words;     /* words of packed (all of it) copied into scratch, or 0 */
} te_depthwise_conv2d_ch4_params;

/* Filters up to this tall; the kernel keeps a pointer per filter row. */
#define TE_DEPTHWISE_CONV2D_CH4_MAX_FILTER_HEIGHT 8

/* The ring of widened input rows, then the copy of the constants. */
#define TE_DEPTHWISE_CONV2D_CH4_SCRATCH_BYTES(filter_height, span_width, depth, constants_words) \
    (2 * (filter_height) * (span_width) * (depth) + 4 * (constants_words))

void te_depthwise_conv2d_ch4_s8(const te_depthwise_conv2d_ch4_params *params, const int8_t *input,
                                const int32_t *packed, int16_t *scratch, int8_t *output);

#endif /* TE_DEPTHWISE_CONV2D_CH4_S8_H */
