/*
 * tinyedge: 16x8 CONV_2D with a 1x1 filter and no padding, fast: the same bytes as te_conv2d_s16.
 * Each output pixel's column is its input pixel, read where it lies (int16 needs no widening);
 * two channels of two pixels at a time, SMLAD on int16 activation pairs (te_nn_dot_s16.h).
 *
 * Layouts: input [batches, input_height, input_width, input_depth] int16; filter: blocks of two
 * rows of input_depth int8 weights (te_nn_dot_s16.h), output_depth rounded up to 2 with a zero row;
 * bias [output_depth] int64 or NULL; output [batches, output_height, output_width, output_depth] int16.
 */
#ifndef TE_CONV2D_1X1_S16_H
#define TE_CONV2D_1X1_S16_H

#include <stdint.h>

#include "te_nn_s16.h"

typedef struct {
    int32_t batches;
    int32_t input_height;
    int32_t input_width;
    int32_t input_depth;
    int32_t output_height;
    int32_t output_width;
    int32_t output_depth;
    int32_t stride_height;       /* >= 1 */
    int32_t stride_width;        /* >= 1 */
    int32_t activation_min;      /* clamp bounds in the output domain, */
    int32_t activation_max;      /* -32768 <= min <= max <= 32767 */
    int32_t accumulator_bits;    /* 64, or 32 for an int32 bias (te_nn_s16.h) */
    const int32_t *requant;      /* [channels][6]: te_nn_requantize_s16_fast (te_nn_s16.h) */
} te_conv2d_1x1_s16_params;

void te_conv2d_1x1_s16(const te_conv2d_1x1_s16_params *params, const int16_t *input, const int8_t *filter,
                       const int64_t *bias, int16_t *output);

#endif /* TE_CONV2D_1X1_S16_H */
