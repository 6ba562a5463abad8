/*
 * tinyedge: int8 running sums along one axis (TFLite CUMSUM).
 *
 * input, output [outer_size, axis_size, inner_size] (row-major), one shape. Along each line of
 * axis_size elements (in order, or from the end when `reverse`), as TFLite-Micro's reference:
 *   acc  = requantize(input_offset << left_shift, input_multiplier, input_shift)
 *   y    = requantize((input_offset + input) << left_shift, input_multiplier, input_shift)
 *   acc += y, then output = clamp(requantize(acc, output_multiplier, output_shift) + output_offset)
 *   (when `exclusive`, the output takes acc before y is added)
 * The running sum wraps modulo 2^32 past int32, as the reference's does on its host.
 */
#ifndef TE_CUMSUM_S8_H
#define TE_CUMSUM_S8_H

#include <stdint.h>

typedef struct {
    int32_t outer_size;         /* product of the dimensions before the axis, >= 1 */
    int32_t axis_size;          /* >= 0 */
    int32_t inner_size;         /* product of the dimensions after the axis, >= 1 */
    int32_t exclusive;          /* 0 or 1 */
    int32_t reverse;            /* 0 or 1 */
    int32_t input_offset;       /* minus the input's zero point, [-127, 128] */
    int32_t left_shift;         /* 20 */
    int32_t input_multiplier;   /* Q31 significand, [2^30, 2^31) */
    int32_t input_shift;        /* <= 0 */
    int32_t output_multiplier;  /* Q31 significand, [2^30, 2^31) */
    int32_t output_shift;       /* <= 0 */
    int32_t output_offset;      /* the output's zero point, [-128, 127] */
    int32_t activation_min;     /* [-128, 127] */
    int32_t activation_max;     /* [activation_min, 127] */
} te_cumsum_params;

void te_cumsum_s8(const te_cumsum_params *params, const int8_t *input, int8_t *output);

#endif /* TE_CUMSUM_S8_H */
