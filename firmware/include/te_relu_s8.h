/*
 * tinyedge: int8 RELU, RELU6 and LEAKY_RELU as TFLite-Micro runs them when they stand alone.
 *
 * With x = input - input_offset:
 *   output = clamp(output_offset + x * M * 2^S, act_min, act_max)
 * where (M, S) = (positive_multiplier, positive_shift) for x >= 0 and
 * (negative_multiplier, negative_shift) for x < 0.
 *
 * - RELU (TFLite-Micro's ReluQuantized): both pairs requantize input_scale / output_scale,
 *   clamped at the output's zero point.
 * - RELU6 (Relu6Quantized): no requantization: the input bytes are clamped to
 *   [zero point, quantized 6.0] in the input's own quantization. Its lowering passes the
 *   identity pair (2^30, 1) and zero offsets; the kernel recognizes it and only clamps.
 * - LEAKY_RELU (QuantizeLeakyRelu): input_scale / output_scale for x >= 0,
 *   alpha * input_scale / output_scale for x < 0, clamped to [-128, 127].
 */
#ifndef TE_RELU_S8_H
#define TE_RELU_S8_H

#include <stdint.h>

typedef struct {
    int32_t size;                /* number of elements */
    int32_t input_offset;        /* input zero point, [-128, 127] */
    int32_t output_offset;       /* output zero point, [-128, 127] */
    int32_t positive_multiplier; /* Q31 significand for x >= 0, [2^30, 2^31) or 0 */
    int32_t positive_shift;      /* its power-of-two exponent; > 0 shifts left, < 0 right */
    int32_t negative_multiplier; /* Q31 significand for x < 0, [2^30, 2^31) or 0 */
    int32_t negative_shift;
    int32_t act_min;             /* clamp bounds in the output domain, -128 <= act_min <= act_max <= 127 */
    int32_t act_max;
} te_relu_params;

void te_relu_s8(const te_relu_params *params, const int8_t *input, int8_t *output);

#endif /* TE_RELU_S8_H */
