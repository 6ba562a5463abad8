/*
 * tinyedge: int8 CONCATENATION, the copy order of TFLite-Micro's reference kernel.
 */
#include "te_concatenation_s8.h"

#include <string.h>

void te_concatenation_s8(const te_concatenation_params *params, const int8_t *const *inputs, int8_t *output)
{
    for (int32_t outer = 0; outer < params->outer_size; ++outer) {
        for (int32_t i = 0; i < params->num_inputs; ++i) {
            const int32_t size = params->copy_sizes[i];
            memcpy(output, inputs[i] + outer * size, (size_t)size);
            output += size;
        }
    }
}
