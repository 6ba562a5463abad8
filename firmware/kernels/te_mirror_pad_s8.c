/*
 * tinyedge: int8 MIRROR_PAD, each output element read through five per-axis offset tables.
 */
#include "te_mirror_pad_s8.h"

void te_mirror_pad_s8(const te_mirror_pad_params *params, const int8_t *input, int8_t *output)
{
    const int32_t *shape = params->output_shape;
    const int32_t *t0 = params->input_offsets;
    const int32_t *t1 = t0 + shape[0];
    const int32_t *t2 = t1 + shape[1];
    const int32_t *t3 = t2 + shape[2];
    const int32_t *t4 = t3 + shape[3];

    for (int32_t i0 = 0; i0 < shape[0]; ++i0) {
        for (int32_t i1 = 0; i1 < shape[1]; ++i1) {
            for (int32_t i2 = 0; i2 < shape[2]; ++i2) {
                for (int32_t i3 = 0; i3 < shape[3]; ++i3) {
                    const int8_t *in = input + t0[i0] + t1[i1] + t2[i2] + t3[i3];
                    for (int32_t i4 = 0; i4 < shape[4]; ++i4) {
                        *output++ = in[t4[i4]];
                    }
                }
            }
        }
    }
}
