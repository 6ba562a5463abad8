/*
 * tinyedge: int8 FULLY_CONNECTED, the arithmetic of TFLite-Micro's reference kernels
 * (per-channel and per-tensor weights).
 */
#include "te_fully_connected_s8.h"

#include <stddef.h>

void te_fully_connected_s8(const te_fully_connected_params *params, const int8_t *input,
                           const int8_t *filter, const int32_t *bias, int8_t *output)
{
    /* Locals, not params->...: an int8_t store may alias *params, which would force reloads. */
    const int32_t rows = params->rows;
    const int32_t accum_depth = params->accum_depth;
    const int32_t output_depth = params->output_depth;
    const int32_t input_offset = params->input_offset;
    const int32_t filter_offset = params->filter_offset;
    const int32_t output_offset = params->output_offset;
    const int32_t activation_min = params->activation_min;
    const int32_t activation_max = params->activation_max;
    const int32_t per_channel = params->per_channel;
    const int32_t *output_multiplier = params->output_multiplier;
    const int32_t *output_shift = params->output_shift;

    for (int32_t row = 0; row < rows; ++row) {
        const int8_t *in = input + row * accum_depth;
        for (int32_t out_c = 0; out_c < output_depth; ++out_c) {
            const int8_t *f = filter + out_c * accum_depth;
            int32_t acc = 0;
            for (int32_t d = 0; d < accum_depth; ++d) {
                acc += ((int32_t)f[d] + filter_offset) * ((int32_t)in[d] + input_offset);
            }
            if (bias != NULL) {
                acc += bias[out_c];
            }
            const int32_t q = per_channel ? out_c : 0;
            acc = te_nn_requantize(acc, output_multiplier[q], output_shift[q]);
            acc += output_offset;
            acc = te_nn_clamp_i32(acc, activation_min, activation_max);
            *output++ = (int8_t)acc;
        }
    }
}
