/*
 * tinyedge: QUANTIZE to int8, bit-exact to TFLite-Micro's EvalQuantizeReference
 * (reference_ops::Requantize for int8 input, reference_ops::AffineQuantize for float input).
 */
#include "te_quantize_s8.h"

#include "te_nn_math.h"

/*
 * (int32_t)roundf(v) as the reference computes it: halves away from zero; a value outside
 * the int32 range, or NaN, converts to INT32_MIN, as the x86 conversion instruction of the
 * reference build does (C leaves that conversion undefined).
 */
static int32_t te_quantize_round_to_int32(float v) {
    int32_t truncated;
    float fraction;
    if (!(v >= -2147483648.0f && v < 2147483648.0f)) {
        return INT32_MIN;
    }
    truncated = (int32_t)v;          /* toward zero */
    fraction = v - (float)truncated; /* exact: v is an integer from 2^23 up */
    if (fraction >= 0.5f) {
        return truncated + 1;
    }
    if (fraction <= -0.5f) {
        return truncated - 1;
    }
    return truncated;
}

static void te_quantize_from_int8(const te_quantize_params *params, const int8_t *input, int8_t *output) {
    int32_t i;
    for (i = 0; i < params->size; ++i) {
        const int32_t scaled =
            te_nn_requantize((int32_t)input[i] - params->input_zero_point, params->multiplier, params->shift);
        output[i] = (int8_t)te_nn_clamp_i32(scaled + params->output_zero_point, TE_INT8_MIN, TE_INT8_MAX);
    }
}

static void te_quantize_from_float32(const te_quantize_params *params, const float *input, int8_t *output) {
    const float scale = params->output_scale;
    int32_t i;
    for (i = 0; i < params->size; ++i) {
        /* The reference adds the zero point in int32 and wraps (out-of-range values only). */
        const int32_t q = (int32_t)((uint32_t)te_quantize_round_to_int32(input[i] / scale) +
                                    (uint32_t)params->output_zero_point);
        output[i] = (int8_t)te_nn_clamp_i32(q, TE_INT8_MIN, TE_INT8_MAX);
    }
}

void te_quantize_s8(const te_quantize_params *params, const void *input, int8_t *output) {
    if (params->input_type == TE_QUANTIZE_FROM_FLOAT32) {
        te_quantize_from_float32(params, (const float *)input, output);
    } else {
        te_quantize_from_int8(params, (const int8_t *)input, output);
    }
}
