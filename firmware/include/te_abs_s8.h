/*
 * tinyedge: int8 element-wise absolute value (TFLite ABS), as TFLite-Micro's AbsEvalQuantized.
 *
 *   output = clamp(requantize(|input - input_zero_point|, multiplier, shift) + output_zero_point, -128, 127)
 *
 * With equal input and output scales TFLite-Micro skips the requantization; the lowering then
 * passes the identity multiplier (2^30, shift 1), which gives the same bytes.
 * In place allowed.
 */
#ifndef TE_ABS_S8_H
#define TE_ABS_S8_H

#include <stdint.h>

typedef struct {
    int32_t size;               /* elements */
    int32_t input_zero_point;   /* [-128, 127] */
    int32_t output_zero_point;  /* [-128, 127] */
    int32_t multiplier;         /* Q31 significand of input_scale / output_scale */
    int32_t shift;              /* its power of two, [-31, 30] */
} te_abs_params;

void te_abs_s8(const te_abs_params *params, const int8_t *input, int8_t *output);

#endif /* TE_ABS_S8_H */
