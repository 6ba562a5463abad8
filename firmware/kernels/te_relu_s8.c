/*
 * tinyedge: int8 RELU / RELU6 / LEAKY_RELU, bit-exact to TFLite-Micro's ReluQuantized,
 * Relu6Quantized and QuantizeLeakyRelu.
 */
#include "te_relu_s8.h"

#include "te_nn_math.h"

/* multiplier 2^30 with shift 1 is the exact identity of the requantization. */
#define TE_RELU_IDENTITY_MULTIPLIER ((int32_t)1 << 30)
#define TE_RELU_IDENTITY_SHIFT 1

static int te_relu_is_identity(int32_t multiplier, int32_t shift) {
    return multiplier == TE_RELU_IDENTITY_MULTIPLIER && shift == TE_RELU_IDENTITY_SHIFT;
}

void te_relu_s8(const te_relu_params *params, const int8_t *input, int8_t *output) {
    const int32_t lo = params->act_min;
    const int32_t hi = params->act_max;
    int32_t i;
    if (te_relu_is_identity(params->positive_multiplier, params->positive_shift) &&
        te_relu_is_identity(params->negative_multiplier, params->negative_shift)) {
        const int32_t offset = params->output_offset - params->input_offset;
        for (i = 0; i < params->size; ++i) {
            output[i] = (int8_t)te_nn_clamp_i32((int32_t)input[i] + offset, lo, hi);
        }
        return;
    }
    for (i = 0; i < params->size; ++i) {
        const int32_t x = (int32_t)input[i] - params->input_offset;
        const int32_t scaled = x >= 0 ? te_nn_requantize(x, params->positive_multiplier, params->positive_shift)
                                      : te_nn_requantize(x, params->negative_multiplier, params->negative_shift);
        output[i] = (int8_t)te_nn_clamp_i32(params->output_offset + scaled, lo, hi);
    }
}
