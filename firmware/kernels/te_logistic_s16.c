/*
 * tinyedge: int16 logistic, bit-exact to TFLite-Micro's reference_integer_ops::Logistic (int16).
 */
#include "te_logistic_s16.h"

void te_logistic_s16(const te_logistic_s16_params *params, const int16_t *input, int16_t *output) {
    const uint16_t *table = params->sigmoid_table;
    const uint32_t multiplier = (uint32_t)params->input_multiplier;
    const int32_t left_shift = params->input_left_shift;
    const uint32_t round = left_shift > 0 ? (uint32_t)1 << (left_shift - 1) : 0u;
    int32_t i;

    for (i = 0; i < params->size; ++i) {
        /* The reference's int32 product and sum, wrapping as they do on its host where they overflow
         * (only for an input scale of 1.33 or more). */
        const int32_t x = (int32_t)((uint32_t)(int32_t)input[i] * multiplier + round) >> left_shift;
        const uint32_t abs_x = x < 0 ? 0u - (uint32_t)x : (uint32_t)x;
        const uint32_t index = abs_x >> 9;
        uint32_t result;

        if (index >= 255) {
            result = (uint32_t)0x7FFF << 10; /* saturated */
        } else {
            const uint32_t a = table[index];
            const uint32_t b = table[index + 1];
            result = (a << 9) + (abs_x & 0x1FF) * (b - a); /* 9 fractional bits of interpolation */
        }
        /* sigmoid(-x) = 1 - sigmoid(x); then from 0.25 fixed point (0.16 << 9) to Q15, rounding. */
        result = x >= 0 ? result + (1u << 9) : ((uint32_t)1 << (16 + 9)) - result + (1u << 9) - 1u;
        output[i] = (int16_t)(result >> 10);
    }
}
