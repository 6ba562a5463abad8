/*
 * tinyedge: int8 L2_NORMALIZATION, the arithmetic of TFLite-Micro's reference_integer_ops::L2Normalization.
 */
#include "te_l2_normalization_s8.h"

#include "te_nn_inv_sqrt.h"
#include "te_nn_math.h"

#define TE_L2_NORMALIZATION_OUTPUT_SHIFT 7 /* the output in units of 1/128 */

void te_l2_normalization_s8(const te_l2_normalization_params *params, const int8_t *input, int8_t *output)
{
    const int32_t depth = params->depth;
    const int32_t input_zero_point = params->input_zero_point;

    for (int32_t row = 0; row < params->outer_size; ++row) {
        const int8_t *in = input + row * depth;
        int8_t *out = output + row * depth;
        int32_t sum_of_squares = 0;
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t x = in[c] - input_zero_point;
            sum_of_squares += x * x;
        }
        int32_t multiplier;
        int32_t shift;
        te_nn_inv_sqrt_multiplier(sum_of_squares, &multiplier, &shift);
        /* Every input of the row was read above; each output is written after its own input is read. */
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t x = in[c] - input_zero_point;
            const int32_t value = te_nn_requantize(x, multiplier, shift + TE_L2_NORMALIZATION_OUTPUT_SHIFT);
            out[c] = (int8_t)te_nn_clamp_i32(value, TE_INT8_MIN, TE_INT8_MAX);
        }
    }
}
