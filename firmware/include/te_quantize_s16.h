/*
 * tinyedge: QUANTIZE between integer types beyond int8 -> int8 (16x8 mode and its int32 edges),
 * TFLite-Micro's reference_ops::Requantize<input_type, output_type>:
 *   output = clamp(output_zero_point + (input - input_zero_point) * multiplier * 2^shift)
 * clamped to the output type's range. input_bytes and output_bytes (1, 2 or 4) say the element
 * types (int8_t, int16_t, int32_t): int16 -> int16, int16 -> int8, int8 -> int16, int16 -> int32,
 * int32 -> int16, int8 -> int32 and int32 -> int8, as TFLite-Micro takes them. With an int32 on
 * either side the subtraction and addition of the zero points wrap as the reference's int32
 * arithmetic does on its host.
 *
 * input and output are untyped because the element types are parameters.
 */
#ifndef TE_QUANTIZE_S16_H
#define TE_QUANTIZE_S16_H

#include <stdint.h>

typedef struct {
    int32_t size;              /* number of elements */
    int32_t input_bytes;       /* 1, 2 or 4: int8_t, int16_t or int32_t input */
    int32_t output_bytes;      /* 1, 2 or 4: int8_t, int16_t or int32_t output */
    int32_t input_zero_point;  /* in the input type's range */
    int32_t output_zero_point; /* in the output type's range */
    int32_t multiplier;        /* Q31 significand of input_scale / output_scale, [2^30, 2^31) or 0 */
    int32_t shift;             /* its power-of-two exponent; > 0 shifts left, < 0 right */
} te_quantize_s16_params;

void te_quantize_s16(const te_quantize_s16_params *params, const void *input, void *output);

#endif /* TE_QUANTIZE_S16_H */
