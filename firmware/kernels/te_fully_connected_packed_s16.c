/*
 * tinyedge: 16x8 FULLY_CONNECTED, four channels at a time from blocks of int8 rows (te_nn_dot_s16.h);
 * the same bytes as te_fully_connected_s16 (no input or weight zero point).
 */
#include "te_fully_connected_packed_s16.h"

#include <stddef.h>

#include "te_nn_dot_s16.h"

void te_fully_connected_packed_s16(const te_fully_connected_packed_s16_params *params, const int16_t *input,
                                   const int8_t *filter, const int64_t *bias, int16_t *output)
{
    /* Locals, not params->...: an int16_t store may alias *params, which would force reloads. */
    const int32_t rows = params->rows;
    const int32_t accum_depth = params->accum_depth;
    const int32_t output_depth = params->output_depth;
    const int32_t output_offset = params->output_offset;
    const int32_t activation_min = params->activation_min;
    const int32_t activation_max = params->activation_max;
    const int32_t accumulator_bits = params->accumulator_bits;
    const int32_t *requant = params->requant;

    for (int32_t row = 0; row < rows; ++row) {
        const int16_t *x = input + row * accum_depth;
        int16_t *out = output + row * output_depth;
        for (int32_t c = 0; c < output_depth; c += 4) {
            int64_t acc[4] = {0, 0, 0, 0};
            te_nn_dot_s16_4x1(filter + c * accum_depth, x, accum_depth, acc);
            const int32_t lanes = output_depth - c < 4 ? output_depth - c : 4; /* the rest: zero rows */
            for (int32_t lane = 0; lane < lanes; ++lane) {
                const int32_t channel = c + lane;
                const int64_t sum = acc[lane] + (bias != NULL ? bias[channel] : 0);
                const int32_t scaled = te_nn_requantize_s16_fast(sum, requant + TE_NN_REQUANT_S16_WORDS * channel,
                                                                 accumulator_bits);
                out[channel] = (int16_t)te_nn_clamp_i32(scaled + output_offset, activation_min, activation_max);
            }
        }
    }
}
