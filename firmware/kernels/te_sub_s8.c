/*
 * tinyedge: int8 SUB, the arithmetic of TFLite-Micro's reference kernel (SubElementwise).
 */
#include "te_sub_s8.h"

static int8_t sub_one(const te_sub_params *params, int8_t x1, int8_t x2)
{
    const int32_t shifted1 = ((int32_t)x1 + params->input1_offset) * (1 << params->left_shift);
    const int32_t shifted2 = ((int32_t)x2 + params->input2_offset) * (1 << params->left_shift);
    const int32_t scaled1 = te_nn_requantize(shifted1, params->input1_multiplier, params->input1_shift);
    const int32_t scaled2 = te_nn_requantize(shifted2, params->input2_multiplier, params->input2_shift);
    int32_t out = te_nn_requantize(scaled1 - scaled2, params->output_multiplier, params->output_shift);
    out += params->output_offset;
    return (int8_t)te_nn_clamp_i32(out, params->activation_min, params->activation_max);
}

void te_sub_s8(const te_sub_params *params, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    const int32_t *shape = params->output_shape;
    const int32_t *s1 = params->input1_strides;
    const int32_t *s2 = params->input2_strides;

    for (int32_t i0 = 0; i0 < shape[0]; ++i0) {
        for (int32_t i1 = 0; i1 < shape[1]; ++i1) {
            for (int32_t i2 = 0; i2 < shape[2]; ++i2) {
                const int8_t *in1 = input1 + i0 * s1[0] + i1 * s1[1] + i2 * s1[2];
                const int8_t *in2 = input2 + i0 * s2[0] + i1 * s2[1] + i2 * s2[2];
                for (int32_t i3 = 0; i3 < shape[3]; ++i3) {
                    *output++ = sub_one(params, in1[i3 * s1[3]], in2[i3 * s2[3]]);
                }
            }
        }
    }
}
