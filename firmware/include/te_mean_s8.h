/*
 * tinyedge: int8 mean over some axes (TFLite MEAN, e.g. Keras GlobalAveragePooling2D).
 *
 * The input, up to 5-D, is extended on the left with 1s to exactly 5-D and read in
 * row-major order; input element (i0, ..., i4) adds into
 *   sums[i0 * output_strides[0] + ... + i4 * output_strides[4]]
 * where a reduced axis has stride 0. `sums` is int32 scratch of num_outputs elements.
 * The output is the sums array's order, so keep_dims does not matter here.
 *
 * Then every output is requantized, whatever the input and output quantization (current
 * TFLite-Micro has no separate path for equal quantization; older releases truncated
 * sum / count there):
 *   out = clamp(requantize(sum + sum_offset, multiplier, shift) + output_offset, -128, 127)
 * with count the number of inputs averaged into one output, sum_offset = -input zero
 * point * count, and multiplier/shift the input/output scale ratio already divided by count.
 */
#ifndef TE_MEAN_S8_H
#define TE_MEAN_S8_H

#include <stdint.h>

#include "te_nn_math.h"

typedef struct {
    const int32_t *input_shape;     /* [5] */
    const int32_t *output_strides;  /* [5] elements of `sums`; 0 on reduced axes */
    int32_t num_outputs;            /* elements of the output and of `sums` */
    int32_t sum_offset;             /* -input zero point * elements averaged per output */
    int32_t multiplier;             /* Q31 significand divided by count, [0, 2^31) */
    int32_t shift;                  /* [-31, 30] */
    int32_t output_offset;          /* output zero point, [-128, 127] */
} te_mean_params;

void te_mean_s8(const te_mean_params *params, const int8_t *input, int32_t *sums, int8_t *output);

#endif /* TE_MEAN_S8_H */
