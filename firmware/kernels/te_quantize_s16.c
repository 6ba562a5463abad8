/*
 * tinyedge: QUANTIZE between int8, int16 and int32, bit-exact to TFLite-Micro's
 * reference_ops::Requantize as EvalQuantizeReference instantiates it for each type pair.
 */
#include "te_quantize_s16.h"

#include "te_nn_math.h"

static int32_t te_quantize_load(const void *input, int32_t bytes, int32_t i) {
    if (bytes == 1) {
        return ((const int8_t *)input)[i];
    }
    if (bytes == 2) {
        return ((const int16_t *)input)[i];
    }
    return ((const int32_t *)input)[i];
}

void te_quantize_s16(const te_quantize_s16_params *params, const void *input, void *output) {
    const int32_t input_bytes = params->input_bytes;
    const int32_t output_bytes = params->output_bytes;
    const int32_t lo = output_bytes == 1 ? TE_INT8_MIN : output_bytes == 2 ? TE_INT16_MIN : INT32_MIN;
    const int32_t hi = output_bytes == 1 ? TE_INT8_MAX : output_bytes == 2 ? TE_INT16_MAX : INT32_MAX;
    int32_t i;
    for (i = 0; i < params->size; ++i) {
        /* int32 arithmetic that wraps, as the reference's does on its host (only an int32 side can wrap). */
        const int32_t x = (int32_t)((uint32_t)te_quantize_load(input, input_bytes, i) -
                                    (uint32_t)params->input_zero_point);
        const int32_t scaled = te_nn_requantize(x, params->multiplier, params->shift);
        const int32_t q = te_nn_clamp_i32((int32_t)((uint32_t)scaled + (uint32_t)params->output_zero_point), lo, hi);
        if (output_bytes == 1) {
            ((int8_t *)output)[i] = (int8_t)q;
        } else if (output_bytes == 2) {
            ((int16_t *)output)[i] = (int16_t)q;
        } else {
            ((int32_t *)output)[i] = q;
        }
    }
}
