/*
 * tinyedge: int8 parametric ReLU with alpha broadcast (TFLite PRELU, Keras PReLU).
 *
 * Shapes and strides as in te_add_s8.h (output [output_shape[0..3]] row-major, stride 0 where
 * an input is broadcast; without broadcasting shape [1, 1, 1, size], strides [0, 0, 0, 1]).
 *
 * Per element, with x = input + input_offset and a = alpha + alpha_offset:
 *   x >= 0: out = requantize(x,     positive_multiplier, positive_shift)
 *   x <  0: out = requantize(x * a, negative_multiplier, negative_shift)
 *   output = clamp(out + output_offset, -128, 127)
 *
 * In place: the output may be the same buffer as input when input is not broadcast.
 */
#ifndef TE_PRELU_S8_H
#define TE_PRELU_S8_H

#include <stdint.h>

typedef struct {
    int32_t input_offset;          /* -input zero point, [-127, 128] */
    int32_t alpha_offset;          /* -alpha zero point, [-127, 128] */
    int32_t output_offset;         /* output zero point, [-128, 127] */
    int32_t positive_multiplier;   /* Q31 significand of input_scale / output_scale */
    int32_t positive_shift;        /* its power of two, [-31, 30] */
    int32_t negative_multiplier;   /* Q31 significand of input_scale * alpha_scale / output_scale */
    int32_t negative_shift;        /* its power of two, [-31, 30] */
    const int32_t *output_shape;   /* [4] */
    const int32_t *input1_strides; /* [4] elements of input; 0 where it is broadcast */
    const int32_t *input2_strides; /* [4] elements of alpha; 0 where it is broadcast */
} te_prelu_params;

void te_prelu_s8(const te_prelu_params *params, const int8_t *input, const int8_t *alpha, int8_t *output);

#endif /* TE_PRELU_S8_H */
