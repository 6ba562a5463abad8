/*
 * tinyedge: 16x8 DEPTHWISE_CONV_2D with depth multiplier 1, fast: the same bytes as
 * te_depthwise_conv2d_s16. Four channels at a time: one 32-bit load holds two channels' int16
 * activations, multiplied by SMLABB / SMLATT with their weights widened in pairs by SXTB16;
 * sums of at most TE_DEPTHWISE_CONV2D_CH4_S16_MAX_TAPS taps of |x * w| <= 2^22 stay inside 32 bits.
 *
 * Layouts: input [batches, input_height, input_width, depth] int16; filter: per tap (row-major
 * over filter_height x filter_width) the depth weights, each group of four channels stored
 * [w0, w2, w1, w3], the last depth % 4 as they are; bias [depth] int64 or NULL;
 * output [batches, output_height, output_width, depth] int16.
 */
#ifndef TE_DEPTHWISE_CONV2D_CH4_S16_H
#define TE_DEPTHWISE_CONV2D_CH4_S16_H

#include <stdint.h>

#include "te_nn_s16.h"

#define TE_DEPTHWISE_CONV2D_CH4_S16_MAX_TAPS 511

typedef struct {
    int32_t batches;
    int32_t input_height;
    int32_t input_width;
    int32_t depth;               /* input and output channels */
    int32_t filter_height;
    int32_t filter_width;        /* filter_height * filter_width <= TE_DEPTHWISE_CONV2D_CH4_S16_MAX_TAPS */
    int32_t output_height;
    int32_t output_width;
    int32_t stride_height;       /* >= 1 */
    int32_t stride_width;        /* >= 1 */
    int32_t dilation_height;     /* >= 1 */
    int32_t dilation_width;      /* >= 1 */
    int32_t pad_height;          /* >= 0 */
    int32_t pad_width;           /* >= 0 */
    int32_t activation_min;      /* clamp bounds in the output domain, */
    int32_t activation_max;      /* -32768 <= min <= max <= 32767 */
    const int32_t *requant;      /* [channels][6]: te_nn_requantize_s16_fast (te_nn_s16.h) */
} te_depthwise_conv2d_ch4_s16_params;

void te_depthwise_conv2d_ch4_s16(const te_depthwise_conv2d_ch4_s16_params *params, const int16_t *input,
                                 const int8_t *filter, const int64_t *bias, int16_t *output);

#endif /* TE_DEPTHWISE_CONV2D_CH4_S16_H */
