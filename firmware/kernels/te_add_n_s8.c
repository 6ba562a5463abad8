/*
 * tinyedge: int8 ADD_N, the arithmetic of TFLite-Micro's reference AddN, element by element.
 */
#include "te_add_n_s8.h"

#include "te_nn_math.h"

void te_add_n_s8(const te_add_n_params *params, const int8_t *const *inputs, int8_t *output)
{
    const int32_t num_inputs = params->num_inputs;
    const int32_t input_offset = params->input_offset;
    const int32_t left_shift = params->left_shift;
    const int32_t input_multiplier = params->input_multiplier;
    const int32_t input_shift = params->input_shift;
    /* The reference's accumulator starts at the rescaled offset, the same for every element. */
    const int32_t start = te_nn_requantize(input_offset * (1 << left_shift), input_multiplier, input_shift);

    for (int32_t i = 0; i < params->size; ++i) {
        int32_t acc = start;
        for (int32_t j = 0; j < num_inputs; ++j) {
            const int32_t shifted = (input_offset + (int32_t)inputs[j][i]) * (1 << left_shift);
            acc += te_nn_requantize(shifted, input_multiplier, input_shift);
        }
        const int32_t out = te_nn_requantize(acc, params->output_multiplier, params->output_shift) +
                            params->output_offset;
        output[i] = (int8_t)te_nn_clamp_i32(out, params->activation_min, params->activation_max);
    }
}
