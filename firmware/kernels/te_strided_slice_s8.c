/*
 * tinyedge: int8 STRIDED_SLICE / SLICE, the output in row-major order as TFLite's reference
 * kernels write it; an innermost step of 1 copies whole rows.
 */
#include "te_strided_slice_s8.h"

#include <string.h>

void te_strided_slice_s8(const te_strided_slice_params *params, const int8_t *input, int8_t *output)
{
    const int32_t *shape = params->output_shape;
    const int32_t *step = params->input_steps;
    const int8_t *first = input + params->start;

    for (int32_t i0 = 0; i0 < shape[0]; ++i0) {
        for (int32_t i1 = 0; i1 < shape[1]; ++i1) {
            for (int32_t i2 = 0; i2 < shape[2]; ++i2) {
                for (int32_t i3 = 0; i3 < shape[3]; ++i3) {
                    const int8_t *in = first + i0 * step[0] + i1 * step[1] + i2 * step[2] + i3 * step[3];
                    if (step[4] == 1) {
                        memcpy(output, in, (size_t)shape[4]);
                        output += shape[4];
                    } else {
                        for (int32_t i4 = 0; i4 < shape[4]; ++i4) {
                            *output++ = in[i4 * step[4]];
                        }
                    }
                }
            }
        }
    }
}
