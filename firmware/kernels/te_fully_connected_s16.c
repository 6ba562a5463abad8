/*
 * tinyedge: 16x8 FULLY_CONNECTED, the arithmetic of TFLite-Micro's reference kernels for int16 input.
 */
#include "te_fully_connected_s16.h"

#include <stddef.h>

void te_fully_connected_s16(const te_fully_connected_s16_params *params, const int16_t *input,
                            const int8_t *filter, const int64_t *bias, int16_t *output)
{
    /* Locals, not params->...: an int16_t store may alias *params, which would force reloads. */
    const int32_t rows = params->rows;
    const int32_t accum_depth = params->accum_depth;
    const int32_t output_depth = params->output_depth;
    const int32_t input_offset = params->input_offset;
    const int32_t filter_offset = params->filter_offset;
    const int32_t output_offset = params->output_offset;
    const int32_t activation_min = params->activation_min;
    const int32_t activation_max = params->activation_max;
    const int32_t accumulator_bits = params->accumulator_bits;
    const int32_t *output_multiplier = params->output_multiplier;
    const int32_t *output_shift = params->output_shift;

    for (int32_t row = 0; row < rows; ++row) {
        const int16_t *x = input + row * accum_depth;
        for (int32_t c = 0; c < output_depth; ++c) {
            const int8_t *w = filter + c * accum_depth;
            int64_t acc = 0;
            for (int32_t d = 0; d < accum_depth; ++d) {
                acc += ((int32_t)w[d] + filter_offset) * ((int32_t)x[d] + input_offset);
            }
            if (bias != NULL) {
                acc += bias[c];
            }
            int32_t scaled = te_nn_requantize_s16(acc, output_multiplier[c], output_shift[c], accumulator_bits);
            scaled += output_offset;
            *output++ = (int16_t)te_nn_clamp_i32(scaled, activation_min, activation_max);
        }
    }
}
