/*
 * tinyedge: int8 ABS, the arithmetic of TFLite-Micro's reference AbsEvalQuantized.
 */
#include "te_abs_s8.h"

#include "te_nn_math.h"

void te_abs_s8(const te_abs_params *params, const int8_t *input, int8_t *output)
{
    const int32_t size = params->size;
    const int32_t input_zero_point = params->input_zero_point;
    const int32_t output_zero_point = params->output_zero_point;
    const int32_t multiplier = params->multiplier;
    const int32_t shift = params->shift;

    for (int32_t i = 0; i < size; ++i) {
        const int32_t v = input[i] - input_zero_point;
        const int32_t magnitude = v < 0 ? -v : v;
        const int32_t out = te_nn_requantize(magnitude, multiplier, shift) + output_zero_point;
        output[i] = (int8_t)te_nn_clamp_i32(out, TE_INT8_MIN, TE_INT8_MAX);
    }
}
