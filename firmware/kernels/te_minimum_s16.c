/*
 * tinyedge: int16 MINIMUM, as TFLite-Micro's reference kernel (maximum_minimum.cc) computes it.
 */
#include "te_minimum_s16.h"

void te_minimum_s16(const te_minimum_params *params, const int16_t *input1, const int16_t *input2, int16_t *output)
{
    const int32_t shape[4] = {params->output_shape[0], params->output_shape[1], params->output_shape[2],
                              params->output_shape[3]};
    const int32_t s1[4] = {params->input1_strides[0], params->input1_strides[1], params->input1_strides[2],
                           params->input1_strides[3]};
    const int32_t s2[4] = {params->input2_strides[0], params->input2_strides[1], params->input2_strides[2],
                           params->input2_strides[3]};

    for (int32_t i0 = 0; i0 < shape[0]; ++i0) {
        for (int32_t i1 = 0; i1 < shape[1]; ++i1) {
            for (int32_t i2 = 0; i2 < shape[2]; ++i2) {
                const int16_t *in1 = input1 + i0 * s1[0] + i1 * s1[1] + i2 * s1[2];
                const int16_t *in2 = input2 + i0 * s2[0] + i1 * s2[1] + i2 * s2[2];
                for (int32_t i3 = 0; i3 < shape[3]; ++i3) {
                    *output++ = *in1 < *in2 ? *in1 : *in2;
                    in1 += s1[3];
                    in2 += s2[3];
                }
            }
        }
    }
}
