/*
 * tinyedge: int16 MUL, the arithmetic of TFLite-Micro's reference kernel (MulElementwise for int16_t).
 */
#include "te_mul_s16.h"

void te_mul_s16(const te_mul_params *params, const int16_t *input1, const int16_t *input2, int16_t *output)
{
    /* Parameters copied into locals: as far as the compiler knows, every store to the output
     * may change *params, and it would load each field again for every element. */
    const int32_t input1_offset = params->input1_offset;
    const int32_t input2_offset = params->input2_offset;
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
                    const int32_t product = ((int32_t)*in1 + input1_offset) * ((int32_t)*in2 + input2_offset);
                    int32_t out = te_nn_requantize(product, output_multiplier, output_shift);
                    out += output_offset;
                    *output++ = (int16_t)te_nn_clamp_i32(out, activation_min, activation_max);
                    in1 += s1[3];
                    in2 += s2[3];
                }
            }
        }
    }
}
