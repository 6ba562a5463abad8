/*
 * tinyedge: QUANTIZE to int8, TFLite-Micro's reference Requantize / AffineQuantize.
 *
 * From int8 (input_type TE_QUANTIZE_FROM_INT8), a change of scale and zero point:
 *   output = clamp(output_zero_point + (input - input_zero_point) * multiplier * 2^shift)
 * From float32 (TE_QUANTIZE_FROM_FLOAT32), at a model's float input:
 *   output = clamp(output_zero_point + round(input / output_scale))
 * with the division done in float and halves rounded away from zero, as the reference
 * does (a quotient beyond the int32 range converts as on the x86 reference build: to
 * INT32_MIN). Outputs are clamped to [-128, 127].
 *
 * input points at int8_t or float data as input_type says; it is untyped because a
 * model's input buffer is handed over as bytes.
 */
#ifndef TE_QUANTIZE_S8_H
#define TE_QUANTIZE_S8_H

#include <stdint.h>

enum {
    TE_QUANTIZE_FROM_INT8 = 0,
    TE_QUANTIZE_FROM_FLOAT32 = 1
};

typedef struct {
    int32_t size;              /* number of elements */
    int32_t input_type;        /* TE_QUANTIZE_FROM_INT8 or TE_QUANTIZE_FROM_FLOAT32 */
    int32_t input_zero_point;  /* int8 input only, [-128, 127] */
    int32_t output_zero_point; /* [-128, 127] */
    int32_t multiplier;        /* int8 input: Q31 significand of input_scale / output_scale, [2^30, 2^31) or 0 */
    int32_t shift;             /* int8 input: its power-of-two exponent; > 0 shifts left, < 0 right */
    float output_scale;        /* float input only: the output tensor's scale, > 0 */
} te_quantize_params;

void te_quantize_s8(const te_quantize_params *params, const void *input, int8_t *output);

#endif /* TE_QUANTIZE_S8_H */
