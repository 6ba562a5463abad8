/*
 * tinyedge: int8 CUMSUM, the arithmetic of TFLite-Micro's reference CumSum, one line of the
 * axis at a time.
 */
#include "te_cumsum_s8.h"

#include "te_nn_math.h"

void te_cumsum_s8(const te_cumsum_params *params, const int8_t *input, int8_t *output)
{
    const int32_t axis_size = params->axis_size;
    const int32_t inner = params->inner_size;
    const int32_t input_offset = params->input_offset;
    const int32_t left_shift = params->left_shift;
    /* Every line starts from the rescaled offset, as the reference's accumulator does. */
    const int32_t start =
        te_nn_requantize(input_offset * (1 << left_shift), params->input_multiplier, params->input_shift);

    for (int32_t o = 0; o < params->outer_size; ++o) {
        for (int32_t i = 0; i < inner; ++i) {
            const int32_t base = o * axis_size * inner + i;
            uint32_t acc = (uint32_t)start;  /* wraps as the reference's int32 sum does */
            for (int32_t step = 0; step < axis_size; ++step) {
                const int32_t d = params->reverse ? axis_size - 1 - step : step;
                const int32_t index = base + d * inner;
                const int32_t shifted = (input_offset + (int32_t)input[index]) * (1 << left_shift);
                const int32_t y = te_nn_requantize(shifted, params->input_multiplier, params->input_shift);
                int32_t sum;
                if (params->exclusive) {
                    sum = (int32_t)acc;
                    acc += (uint32_t)y;
                } else {
                    acc += (uint32_t)y;
                    sum = (int32_t)acc;
                }
                const int32_t out = te_nn_requantize(sum, params->output_multiplier, params->output_shift) +
                                    params->output_offset;
                output[index] = (int8_t)te_nn_clamp_i32(out, params->activation_min, params->activation_max);
            }
        }
    }
}
