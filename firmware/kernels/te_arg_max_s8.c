/*
 * tinyedge: int8 ARG_MAX, as TFLite-Micro's reference ArgMinMax (a later equal value never wins).
 */
#include "te_arg_max_s8.h"

void te_arg_max_s8(const te_arg_max_params *params, const int8_t *input, int32_t *output)
{
    const int32_t axis_size = params->axis_size;
    const int32_t inner_size = params->inner_size;

    for (int32_t o = 0; o < params->outer_size; ++o) {
        const int8_t *slab = input + o * axis_size * inner_size;
        for (int32_t i = 0; i < inner_size; ++i) {
            int8_t best = slab[i];
            int32_t position = 0;
            for (int32_t a = 1; a < axis_size; ++a) {
                const int8_t value = slab[a * inner_size + i];
                if (value > best) {
                    best = value;
                    position = a;
                }
            }
            *output++ = position;
        }
    }
}
