/*
 * tinyedge: int8 MUL with the output offset folded into the requantization's rounding term;
 * the same bytes as te_mul_s8, in the output rescale form the lowering chose (te_mul_s8.h).
 */
#include "te_mul_s8.h"
#include "te_nn_dsp.h"

/* The element loop for one rescale form (a constant at each call, so each form has its own loop). */
static TE_NN_ALWAYS_INLINE void te_mul_rounding_loop(const te_mul_rounding_params *params, const int8_t *input1,
                                                     const int8_t *input2, int8_t *output, int form)
{
    /* Parameters copied into locals: as far as the compiler knows, every int8 store to the output
     * may change *params, and it would load each field again for every element. */
    const int32_t input1_offset = params->input1_offset;
    const int32_t input2_offset = params->input2_offset;
    const int32_t output_multiplier = params->output_multiplier;
    const int32_t output_rounding = params->output_rounding;
    const int32_t shift = params->shift;
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
                const int8_t *in1 = input1 + i0 * s1[0] + i1 * s1[1] + i2 * s1[2];
                const int8_t *in2 = input2 + i0 * s2[0] + i1 * s2[1] + i2 * s2[2];
                for (int32_t i3 = 0; i3 < shape[3]; ++i3) {
                    const int32_t product = ((int32_t)*in1 + input1_offset) * ((int32_t)*in2 + input2_offset);
                    const int32_t out = te_nn_rescale(product, output_multiplier, output_rounding, shift, form);
                    *output++ = (int8_t)te_nn_clamp_i32(out, activation_min, activation_max);
                    in1 += s1[3];
                    in2 += s2[3];
                }
            }
        }
    }
}

void te_mul_rounding_s8(const te_mul_rounding_params *params, const int8_t *input1, const int8_t *input2,
                        int8_t *output)
{
    if (params->form == TE_NN_RESCALE_ROUNDING) {
        te_mul_rounding_loop(params, input1, input2, output, TE_NN_RESCALE_ROUNDING);
    } else if (params->form == TE_NN_RESCALE_LEFT) {
        te_mul_rounding_loop(params, input1, input2, output, TE_NN_RESCALE_LEFT);
    } else {
        te_mul_rounding_loop(params, input1, input2, output, TE_NN_RESCALE_GENERAL);
    }
}
