/*
 * tinyedge: 16x8 TRANSPOSE_CONV, fast: the same bytes as te_transpose_conv_s16. Output pixels fall
 * into stride_height x stride_width phases ((out + pad) mod stride), each of which sees a fixed
 * subset of the filter taps (those congruent to its phase). Per pair of output pixels of one phase
 * (out_x and out_x + stride_width), the input values under those taps are copied as two int16
 * columns (0 where a tap falls outside the input), then multiplied by the phase's packed weights two
 * channels at a time, SMLAD on int16 activation pairs (te_nn_dot_s16.h, te_nn_mat_mult_s16.h).
 *
 * Layouts: input [batches, input_height, input_width, input_depth] int16; filter: per phase (row
 * phases outer), blocks of two rows of k = taps_y * taps_x * input_depth int8 weights (te_nn_dot_s16.h;
 * taps in (tap row, tap column) order, output_depth rounded up to 2 with a zero row); phases: per
 * phase (byte offset of its weights in filter, k); bias [output_depth] int64 or NULL; scratch
 * TE_TRANSPOSE_CONV_IM2COL_S16_SCRATCH_BYTES(largest k); output [batches, output_height, output_width,
 * output_depth] int16.
 */
#ifndef TE_TRANSPOSE_CONV_IM2COL_S16_H
#define TE_TRANSPOSE_CONV_IM2COL_S16_H

#include <stdint.h>

#include "te_nn_s16.h"

/* Two columns of k int16 values. */
#define TE_TRANSPOSE_CONV_IM2COL_S16_SCRATCH_BYTES(k) (4 * (k))

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
    int32_t pad_height;          /* output rows cut above, >= 0 */
    int32_t pad_width;           /* output columns cut on the left, >= 0 */
    int32_t activation_min;      /* clamp bounds in the output domain, */
    int32_t activation_max;      /* -32768 <= min <= max <= 32767 */
    const int32_t *requant;      /* [output_depth][6]: te_nn_requantize_s16_fast (te_nn_s16.h), 64-bit sums */
    const int32_t *phases;       /* [stride_height * stride_width][2]: (filter byte offset, k) */
} te_transpose_conv_im2col_s16_params;

void te_transpose_conv_im2col_s16(const te_transpose_conv_im2col_s16_params *params, const int16_t *input,
                                  const int8_t *filter, const int64_t *bias, int16_t *scratch, int16_t *output);

#endif /* TE_TRANSPOSE_CONV_IM2COL_S16_H */
