/*
 * tinyedge: int16 ABS (16x8 mode), the arithmetic of TFLite-Micro's reference AbsEvalQuantized
 * for int16_t.
 */
#include "te_abs_s16.h"

#include "te_nn_math.h"

void te_abs_s16(const te_abs_params *params, const int16_t *input, int16_t *output)
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
        output[i] = (int16_t)te_nn_clamp_i32(out, TE_INT16_MIN, TE_INT16_MAX);
    }
}
