/*
 * tinyedge: int16 TRANSPOSE (16x8 mode) of 5 axes that the byte view of te_transpose_s8 cannot take
 * (no axis of size 1, the last axis moved): the output in row-major order, each element read through the
 * permuted input strides.
 */
#include "te_transpose_s16.h"

void te_transpose_s16(const te_transpose_params *params, const int16_t *input, int16_t *output)
{
    const int32_t *shape = params->output_shape;
    const int32_t *step = params->input_steps;

    for (int32_t i0 = 0; i0 < shape[0]; ++i0) {
        for (int32_t i1 = 0; i1 < shape[1]; ++i1) {
            for (int32_t i2 = 0; i2 < shape[2]; ++i2) {
                for (int32_t i3 = 0; i3 < shape[3]; ++i3) {
                    const int16_t *in = input + i0 * step[0] + i1 * step[1] + i2 * step[2] + i3 * step[3];
                    for (int32_t i4 = 0; i4 < shape[4]; ++i4) {
                        *output++ = in[i4 * step[4]];
                    }
                }
            }
        }
    }
}
