/*
 * tinyedge: int16 MEAN and SUM (16x8 mode), the arithmetic of TFLite-Micro's reference
 * QuantizedMeanOrSum for int16_t.
 */
#include "te_mean_s16.h"

void te_mean_s16(const te_mean_params *params, const int16_t *input, int32_t *sums, int16_t *output)
{
    const int32_t *shape = params->input_shape;
    const int32_t *stride = params->output_strides;

    for (int32_t i = 0; i < params->num_outputs; ++i) {
        sums[i] = 0;
    }
    for (int32_t i0 = 0; i0 < shape[0]; ++i0) {
        for (int32_t i1 = 0; i1 < shape[1]; ++i1) {
            for (int32_t i2 = 0; i2 < shape[2]; ++i2) {
                for (int32_t i3 = 0; i3 < shape[3]; ++i3) {
                    int32_t *sum = sums + i0 * stride[0] + i1 * stride[1] + i2 * stride[2] + i3 * stride[3];
                    for (int32_t i4 = 0; i4 < shape[4]; ++i4) {
                        /* Wrapping add, as TFLite's AddTensorValuesWithExpectedOverflow. */
                        sum[i4 * stride[4]] = (int32_t)((uint32_t)sum[i4 * stride[4]] + (uint32_t)*input++);
                    }
                }
            }
        }
    }
    for (int32_t i = 0; i < params->num_outputs; ++i) {
        const int32_t shifted = (int32_t)((int64_t)sums[i] + params->sum_offset);
        const int32_t out = te_nn_requantize(shifted, params->multiplier, params->shift) + params->output_offset;
        output[i] = (int16_t)te_nn_clamp_i32(out, TE_INT16_MIN, TE_INT16_MAX);
    }
}
