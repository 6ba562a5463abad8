/*
 * tinyedge: int8 constant padding (TFLite PAD and PADV2).
 *
 * Shapes are up to 5-D, extended on the left with 1s to exactly 5-D (row-major):
 *   input  [output_shape[d] - left_padding[d] - right_padding[d] for d in 0..4]
 *   output [output_shape[0], ..., output_shape[4]]
 * Output elements inside the padding get pad_value; the others take the input elements
 * in order. Quantization is unchanged: for PAD pad_value is the output zero point (a real
 * zero), for PADV2 it is the constant value tensor's int8 content.
 */
#ifndef TE_PAD_S8_H
#define TE_PAD_S8_H

#include <stdint.h>

typedef struct {
    const int32_t *output_shape;   /* [5] */
    const int32_t *left_padding;   /* [5] elements before the input along each axis, >= 0 */
    const int32_t *right_padding;  /* [5] elements after the input along each axis, >= 0 */
    int32_t pad_value;             /* [-128, 127] */
} te_pad_params;

void te_pad_s8(const te_pad_params *params, const int8_t *input, int8_t *output);

#endif /* TE_PAD_S8_H */
