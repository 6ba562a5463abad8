/*
 * tinyedge: int16 RELU / RELU6 / LEAKY_RELU, bit-exact to TFLite-Micro's ReluQuantized<int16_t>,
 * Relu6Quantized<int16_t> and QuantizeLeakyRelu<int16_t>.
 */
#include "te_relu_s16.h"

#include "te_nn_math.h"

void te_relu_s16(const te_relu_params *params, const int16_t *input, int16_t *output) {
    const int32_t lo = params->act_min;
    const int32_t hi = params->act_max;
    int32_t i;
    /* RELU6's identity pair (2^30, 1) on both signs: a clamp of the input values, nothing rescaled. */
    if (params->positive_multiplier == ((int32_t)1 << 30) && params->positive_shift == 1 &&
        params->negative_multiplier == ((int32_t)1 << 30) && params->negative_shift == 1) {
        const int32_t offset = params->output_offset - params->input_offset;
        for (i = 0; i < params->size; ++i) {
            output[i] = (int16_t)te_nn_clamp_i32((int32_t)input[i] + offset, lo, hi);
        }
        return;
    }
    for (i = 0; i < params->size; ++i) {
        const int32_t x = (int32_t)input[i] - params->input_offset;
        const int32_t scaled = x >= 0 ? te_nn_requantize(x, params->positive_multiplier, params->positive_shift)
                                      : te_nn_requantize(x, params->negative_multiplier, params->negative_shift);
        output[i] = (int16_t)te_nn_clamp_i32(params->output_offset + scaled, lo, hi);
    }
}
