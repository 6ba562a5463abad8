/*
 * tinyedge: int8 GATHER_ND, the copy order and bounds check of TFLite-Micro's reference kernel.
 */
#include "te_gather_nd_s8.h"

#include <string.h>

void te_gather_nd_s8(const te_gather_nd_params *params, const int8_t *input, const int32_t *positions,
                     int8_t *output)
{
    const int32_t depth = params->index_depth;
    const int32_t slice = params->slice_size;

    for (int32_t i = 0; i < params->num_slices; ++i) {
        int32_t start = 0;
        for (int32_t j = 0; j < depth; ++j) {
            start += positions[i * depth + j] * params->strides[j];
        }
        if (start < 0 || start > params->input_size - slice) {
            memset(output, 0, (size_t)slice);  /* TFLite-Micro fails here; never read outside */
        } else {
            memcpy(output, input + start, (size_t)slice);
        }
        output += slice;
    }
}
