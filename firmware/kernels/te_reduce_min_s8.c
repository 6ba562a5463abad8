/*
 * tinyedge: int8 REDUCE_MIN, the arithmetic of TFLite-Micro's reference ReduceGeneric on int8
 * (initial value 127, keep the smallest).
 */
#include "te_reduce_min_s8.h"

#include "te_nn_math.h"

void te_reduce_min_s8(const te_reduce_min_params *params, const int8_t *input, int8_t *output)
{
    const int32_t *shape = params->input_shape;
    const int32_t *stride = params->output_strides;

    for (int32_t i = 0; i < params->num_outputs; ++i) {
        output[i] = (int8_t)TE_INT8_MAX;
    }
    for (int32_t i0 = 0; i0 < shape[0]; ++i0) {
        for (int32_t i1 = 0; i1 < shape[1]; ++i1) {
            for (int32_t i2 = 0; i2 < shape[2]; ++i2) {
                for (int32_t i3 = 0; i3 < shape[3]; ++i3) {
                    int8_t *out = output + i0 * stride[0] + i1 * stride[1] + i2 * stride[2] + i3 * stride[3];
                    for (int32_t i4 = 0; i4 < shape[4]; ++i4) {
                        const int8_t in = *input++;
                        if (in < out[i4 * stride[4]]) {
                            out[i4 * stride[4]] = in;
                        }
                    }
                }
            }
        }
    }
}
