/*
 * tinyedge: int8 L2 normalization over the last axis (TFLite L2_NORMALIZATION,
 * tf.math.l2_normalize), TFLite-Micro's reference_integer_ops::L2Normalization.
 *
 * Per row of `depth` values, x = input - input_zero_point:
 *   (m, s) = te_nn_inv_sqrt_multiplier(sum of x^2)
 *   output = clamp(requantize(x, m, s + 7), -128, 127)
 * i.e. x / |x| in units of 1/128 with no output offset, whatever the output tensor's
 * quantization says (TFLite-Micro does not read it). depth <= 33025 keeps the sum in int32.
 * In place allowed.
 */
#ifndef TE_L2_NORMALIZATION_S8_H
#define TE_L2_NORMALIZATION_S8_H

#include <stdint.h>

typedef struct {
    int32_t outer_size;        /* rows */
    int32_t depth;             /* elements per row (the last dimension) */
    int32_t input_zero_point;  /* [-128, 127] */
} te_l2_normalization_params;

void te_l2_normalization_s8(const te_l2_normalization_params *params, const int8_t *input, int8_t *output);

#endif /* TE_L2_NORMALIZATION_S8_H */
