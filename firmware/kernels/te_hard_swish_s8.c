/*
 * tinyedge: int8 HARD_SWISH, bit-exact to TFLite-Micro's reference_ops::HardSwish<int8_t>.
 *
 * Every intermediate is an int16 in the reference; values are held in int32 here and
 * narrowed where the reference narrows.
 */
#include "te_hard_swish_s8.h"

#include "te_nn_math.h"

#define TE_INT16_MIN (-32768)
#define TE_INT16_MAX 32767

/* value * 2^amount saturated to int16. */
static int32_t te_hs_saturating_left_shift(int32_t value, int amount) {
    return te_nn_clamp_i32(value * (1 << amount), TE_INT16_MIN, TE_INT16_MAX);
}

/* round(a * b / 2^15) for int16 a, b, with -1 * -1 saturated (gemmlowp, 16-bit lanes). */
static int32_t te_hs_sat_rounding_doubling_high_mul(int32_t a, int32_t b) {
    const int32_t ab = a * b;
    const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
    if (a == TE_INT16_MIN && b == TE_INT16_MIN) {
        return TE_INT16_MAX;
    }
    return (int16_t)((ab + nudge) / (1 << 15));
}

/* a * b / 2^15 truncated toward zero for int16 a, b, -1 * -1 saturated (SQDMULH). */
static int32_t te_hs_sat_doubling_high_mul(int32_t a, int32_t b) {
    if (a == TE_INT16_MIN && b == TE_INT16_MIN) {
        return TE_INT16_MAX;
    }
    return (int16_t)((a * b) / (1 << 15));
}

void te_hard_swish_s8(const te_hard_swish_params *params, const int8_t *input, int8_t *output) {
    const int32_t reluish_exponent = params->reluish_exponent;
    int32_t i;
    for (i = 0; i < params->size; ++i) {
        const int32_t input_value = (int32_t)input[i] - params->input_zero_point;
        const int32_t hires = (int16_t)(input_value * (1 << 7));
        const int32_t preshift_output_scale = te_hs_sat_rounding_doubling_high_mul(hires, params->output_multiplier);
        int32_t reluish = hires;
        int32_t preshift_output;
        int32_t out;
        /* Saturating left shift in two steps so that saturation only bites in the last bit. */
        if (reluish_exponent > 0) {
            reluish = te_hs_saturating_left_shift(reluish, reluish_exponent - 1);
        }
        reluish = te_hs_sat_rounding_doubling_high_mul(reluish, params->reluish_multiplier);
        if (reluish_exponent > 0) {
            reluish = te_hs_saturating_left_shift(reluish, 1);
        }
        if (reluish_exponent < 0) {
            reluish = te_nn_rounding_divide_by_pot(reluish, -reluish_exponent);
        }
        /* [-1, 1] in Q15 onto [0, 1]. */
        reluish = (int16_t)((reluish + (1 << 15)) >> 1);
        preshift_output = te_hs_sat_doubling_high_mul(reluish, preshift_output_scale);
        out = (int16_t)(te_nn_rounding_divide_by_pot(preshift_output, -params->output_exponent) +
                        params->output_zero_point);
        output[i] = (int8_t)te_nn_clamp_i32(out, TE_INT8_MIN, TE_INT8_MAX);
    }
}
