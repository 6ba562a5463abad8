/*
 * tinyedge: 16x8 CONV_2D (any filter, not grouped), fast: the same bytes as te_conv2d_s16. The
 * windows of two output pixels are copied into scratch as columns (taps in the padding hold 0, as
 * 16x8 has no input offset), then two channels of two pixels at a time, SMLAD on int16 activation
 * pairs (te_nn_dot_s16.h).
 *
 * Layouts: input [batches, input_height, input_width, input_depth] int16; filter: blocks of two
 * rows of filter_height * filter_width * input_depth int8 weights (te_nn_dot_s16.h), output_depth
 * rounded up to 2 with a zero row; bias [output_depth] int64 or NULL; scratch
 * TE_CONV2D_IM2COL_S16_SCRATCH_BYTES; output [batches, output_height, output_width, output_depth] int16.
 */
#ifndef TE_CONV2D_IM2COL_S16_H
#define TE_CONV2D_IM2COL_S16_H

#include <stdint.h>

#include "te_nn_s16.h"

/* Two columns of k = filter_height * filter_width * input_depth int16 values. */
#define TE_CONV2D_IM2COL_S16_SCRATCH_BYTES(k) (4 * (k))

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
    int32_t pad_height;          /* >= 0 */
    int32_t pad_width;           /* >= 0 */
    int32_t activation_min;      /* clamp bounds in the output domain, */
    int32_t activation_max;      /* -32768 <= min <= max <= 32767 */
    int32_t accumulator_bits;    /* 64, or 32 for an int32 bias (te_nn_s16.h) */
    const int32_t *requant;      /* [channels][6]: te_nn_requantize_s16_fast (te_nn_s16.h) */
} te_conv2d_im2col_s16_params;

void te_conv2d_im2col_s16(const te_conv2d_im2col_s16_params *params, const int16_t *input, const int8_t *filter,
                          const int64_t *bias, int16_t *scratch, int16_t *output);

#endif /* TE_CONV2D_IM2COL_S16_H */
