/*
 * tinyedge: DEQUANTIZE int8 -> float32, bit-exact to TFLite-Micro's reference_ops::Dequantize.
 */
#include "te_dequantize_s8.h"

void te_dequantize_s8(const te_dequantize_params *params, const int8_t *input, void *output) {
    float *out = (float *)output;
    int32_t i;
    for (i = 0; i < params->size; ++i) {
        out[i] = params->scale * (float)((int32_t)input[i] - params->zero_point);
    }
}
