/*
 * tinyedge: int16 tanh, bit-exact to TFLite-Micro's reference_integer_ops::Tanh (int16).
 */
#include "te_tanh_s16.h"

void te_tanh_s16(const te_tanh_s16_params *params, const int16_t *input, int16_t *output) {
    const uint16_t *table = params->sigmoid_table;
    const uint32_t multiplier = (uint32_t)params->input_multiplier;
    const int32_t left_shift = params->input_left_shift;
    const uint32_t round = left_shift > 0 ? (uint32_t)1 << (left_shift - 1) : 0u;
    int32_t i;

    for (i = 0; i < params->size; ++i) {
        /* The reference's int32 product and sum, wrapping as they do on its host where they overflow. */
        const int32_t x = (int32_t)((uint32_t)(int32_t)input[i] * multiplier + round) >> left_shift;
        const uint32_t abs_x = x < 0 ? 0u - (uint32_t)x : (uint32_t)x;
        const uint32_t index = abs_x >> 8;
        int32_t result;

        if (index >= 255) {
            result = 0xFFFF << 8; /* saturated */
        } else {
            const uint32_t a = table[index];
            const uint32_t b = table[index + 1];
            result = (int32_t)((a << 8) + (abs_x & 0xFF) * (b - a)); /* sigmoid(2|x|), 8 fractional bits */
        }
        /* 2 * sigmoid - 1 (and its mirror for x < 0), with the reference's rounding terms, then to Q15. */
        result = x >= 0 ? result - (1 << (14 + 9)) + (1 << (9 - 2))
                        : -result + (1 << (14 + 9)) + (1 << (9 - 2)) - 1;
        output[i] = (int16_t)(result >> (9 - 1));
    }
}
