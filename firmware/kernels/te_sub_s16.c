/*
 * tinyedge: int16 SUB, the arithmetic of TFLite-Micro's reference kernel (SubElementwise and
 * BroadcastQuantSubSlow for int16_t).
 */
#include "te_sub_s16.h"

void te_sub_s16(const te_sub_params *params, const int16_t *input1, const int16_t *input2, int16_t *output)
{
    /* Parameters copied into locals: every store to the output may, for the compiler, change *params. */
    const int32_t input1_offset = params->input1_offset;
    const int32_t input2_offset = params->input2_offset;
    const int32_t left_shift = params->left_shift;
    const int32_t input1_multiplier = params->input1_multiplier;
    const int32_t input1_shift = params->input1_shift;
    const int32_t input2_multiplier = params->input2_multiplier;
    const int32_t input2_shift = params->input2_shift;
    const int32_t output_multiplier = params->output_multiplier;
    const int32_t output_shift = params->output_shift;
    const int32_t output_offset = params->output_offset;
    const int32_t activation_min = params->activation_min;
    const int32_t activation_max = params->activation_max;
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
                    const int32_t shifted1 = ((int32_t)*in1 + input1_offset) * (1 << left_shift);
                    const int32_t shifted2 = ((int32_t)*in2 + input2_offset) * (1 << left_shift);
                    const int32_t scaled1 = te_nn_requantize(shifted1, input1_multiplier, input1_shift);
                    const int32_t scaled2 = te_nn_requantize(shifted2, input2_multiplier, input2_shift);
                    int32_t out = te_nn_requantize(scaled1 - scaled2, output_multiplier, output_shift);
                    out += output_offset;
                    *output++ = (int16_t)te_nn_clamp_i32(out, activation_min, activation_max);
                    in1 += s1[3];
                    in2 += s2[3];
                }
            }
        }
    }
}
