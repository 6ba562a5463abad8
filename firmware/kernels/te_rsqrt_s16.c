/*
 * tinyedge: int16 RSQRT (16x8 mode), the arithmetic of TFLite-Micro's reference RsqrtEvalQuantized
 * for int16_t.
 */
#include "te_rsqrt_s16.h"

#include "te_nn_inv_sqrt.h"
#include "te_nn_math.h"

#define TE_RSQRT_SHIFT 20 /* 1/sqrt(v) is carried as an integer in units of 2^-20 */

void te_rsqrt_s16(const te_rsqrt_params *params, const int16_t *input, int16_t *output)
{
    const int32_t size = params->size;
    const int32_t input_zero_point = params->input_zero_point;
    const int32_t output_zero_point = params->output_zero_point;
    const int32_t multiplier = params->multiplier;
    const int32_t shift = params->shift;

    for (int32_t i = 0; i < size; ++i) {
        const int32_t v = input[i] - input_zero_point;
        if (v <= 0) {
            output[i] = TE_INT16_MAX;
            continue;
        }
        int32_t inv_sqrt_multiplier;
        int32_t inv_sqrt_shift;
        te_nn_inv_sqrt_multiplier(v, &inv_sqrt_multiplier, &inv_sqrt_shift);
        const int32_t r = te_nn_requantize(1, inv_sqrt_multiplier, inv_sqrt_shift + TE_RSQRT_SHIFT);
        const int32_t out = te_nn_requantize(r, multiplier, shift - TE_RSQRT_SHIFT) + output_zero_point;
        output[i] = (int16_t)te_nn_clamp_i32(out, TE_INT16_MIN, TE_INT16_MAX);
    }
}
