/*
 * tinyedge: int16 PRELU (16x8 mode), the arithmetic of TFLite-Micro's reference BroadcastPrelu4DSlow
 * with int16 input and output and int8 alpha.
 */
#include "te_prelu_s16.h"

#include "te_nn_math.h"

void te_prelu_s16(const te_prelu_params *params, const int16_t *input, const int8_t *alpha, int16_t *output)
{
    /* Parameters copied into locals: stores to the output may alias *params as far as the
     * compiler knows, and it would load every field again per element. */
    const int32_t input_offset = params->input_offset;
    const int32_t alpha_offset = params->alpha_offset;
    const int32_t output_offset = params->output_offset;
    const int32_t positive_multiplier = params->positive_multiplier;
    const int32_t positive_shift = params->positive_shift;
    const int32_t negative_multiplier = params->negative_multiplier;
    const int32_t negative_shift = params->negative_shift;
    const int32_t shape[4] = {params->output_shape[0], params->output_shape[1], params->output_shape[2],
                              params->output_shape[3]};
    const int32_t s1[4] = {params->input1_strides[0], params->input1_strides[1], params->input1_strides[2],
                           params->input1_strides[3]};
    const int32_t s2[4] = {params->input2_strides[0], params->input2_strides[1], params->input2_strides[2],
                           params->input2_strides[3]};

    for (int32_t i0 = 0; i0 < shape[0]; ++i0) {
        for (int32_t i1 = 0; i1 < shape[1]; ++i1) {
            for (int32_t i2 = 0; i2 < shape[2]; ++i2) {
                const int16_t *in = input + i0 * s1[0] + i1 * s1[1] + i2 * s1[2];
                const int8_t *a = alpha + i0 * s2[0] + i1 * s2[1] + i2 * s2[2];
                for (int32_t i3 = 0; i3 < shape[3]; ++i3) {
                    const int32_t x = *in + input_offset;
                    int32_t out;
                    if (x >= 0) {
                        out = te_nn_requantize(x, positive_multiplier, positive_shift);
                    } else {
                        out = te_nn_requantize(x * (*a + alpha_offset), negative_multiplier, negative_shift);
                    }
                    *output++ = (int16_t)te_nn_clamp_i32(out + output_offset, TE_INT16_MIN, TE_INT16_MAX);
                    in += s1[3];
                    a += s2[3];
                }
            }
        }
    }
}
