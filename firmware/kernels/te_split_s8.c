/*
 * tinyedge: int8 SPLIT / SPLIT_V / UNPACK, the copy order of TFLite-Micro's reference kernels.
 */
#include "te_split_s8.h"

#include <string.h>

void te_split_s8(const te_split_params *params, const int8_t *input, int8_t *const *outputs)
{
    for (int32_t outer = 0; outer < params->outer_size; ++outer) {
        for (int32_t i = 0; i < params->num_outputs; ++i) {
            const int32_t size = params->copy_sizes[i];
            memcpy(outputs[i] + outer * size, input, (size_t)size);
            input += size;
        }
    }
}
