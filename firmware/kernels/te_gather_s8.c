/*
 * tinyedge: int8 GATHER, the copy order of TFLite-Micro's reference kernel. Positions are
 * trusted as TFLite-Micro trusts them (constant ones were checked when the model was compiled).
 */
#include "te_gather_s8.h"

#include <string.h>

void te_gather_s8(const te_gather_params *params, const int8_t *input, const int32_t *positions, int8_t *output)
{
    const int32_t inner = params->inner_size;

    for (int32_t b = 0; b < params->batch_size; ++b) {
        const int32_t *batch_positions = positions + b * params->coord_size;
        for (int32_t o = 0; o < params->outer_size; ++o) {
            const int8_t *slab = input + (b * params->outer_size + o) * params->axis_size * inner;
            for (int32_t c = 0; c < params->coord_size; ++c) {
                memcpy(output, slab + batch_positions[c] * inner, (size_t)inner);
                output += inner;
            }
        }
    }
}
