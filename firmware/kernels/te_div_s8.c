/*
 * tinyedge: int8 DIV, the arithmetic of TFLite-Micro's reference DivElementwise per element,
 * over the broadcast loops of te_add_s8.
 */
#include "te_div_s8.h"

#include "te_fixedpoint.h"
#include "te_nn_math.h"

/* TFLite's CountLeadingSignBits for int32: 31 for 0 and -1. */
static int te_div_leading_sign_bits(int32_t x)
{
    return x >= 0 ? te_fp_count_leading_zeros((uint32_t)x) - 1
                  : te_fp_count_leading_zeros(2u * (uint32_t)(-(int64_t)x) - 1u);
}

/*
 * gemmlowp's RoundingDivideByPOT, exponent in [0, 62]. Past 31 (a quotient far below one output
 * step) the reference shifts an int32 by 32 or more, which C leaves undefined; the installed
 * tflite_micro (x86-64) then shifts by the exponent modulo 32, and its mask (1 << exponent) - 1
 * truncates to all ones. Those bytes are reproduced here on every target, so the firmware gives
 * what the reference interpreter gives.
 */
static int32_t te_div_rounding_divide_by_pot(int32_t x, int exponent)
{
    if (exponent <= 31) {
        return te_nn_rounding_divide_by_pot(x, exponent);
    }
    const int32_t threshold = -1 + (x < 0 ? 1 : 0);  /* (mask >> 1) + (x < 0) with mask = -1 */
    return (x >> (exponent & 31)) + (x > threshold ? 1 : 0);
}

static int8_t te_div_one(const te_div_params *params, int8_t x1, int8_t x2)
{
    int32_t a = params->input1_offset + (int32_t)x1;
    int32_t b = params->input2_offset + (int32_t)x2;
    if (b < 0) {
        a = -a;
        b = -b;
    }
    int reciprocal_shift;
    const int32_t reciprocal = te_fp_reciprocal(b, 31, &reciprocal_shift);
    const int headroom = te_div_leading_sign_bits(a);
    const int32_t quotient = te_nn_sat_rounding_doubling_high_mul((int32_t)((uint32_t)a << headroom), reciprocal);
    const int right_shift = headroom + reciprocal_shift - params->output_shift;
    const int32_t scaled = te_nn_sat_rounding_doubling_high_mul(quotient, params->output_multiplier);
    const int32_t out = te_div_rounding_divide_by_pot(scaled, right_shift) + params->output_offset;
    return (int8_t)te_nn_clamp_i32(out, params->activation_min, params->activation_max);
}

void te_div_s8(const te_div_params *params, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    const int32_t *shape = params->output_shape;
    const int32_t *s1 = params->input1_strides;
    const int32_t *s2 = params->input2_strides;

    for (int32_t i0 = 0; i0 < shape[0]; ++i0) {
        for (int32_t i1 = 0; i1 < shape[1]; ++i1) {
            for (int32_t i2 = 0; i2 < shape[2]; ++i2) {
                const int8_t *in1 = input1 + i0 * s1[0] + i1 * s1[1] + i2 * s1[2];
                const int8_t *in2 = input2 + i0 * s2[0] + i1 * s2[1] + i2 * s2[2];
                for (int32_t i3 = 0; i3 < shape[3]; ++i3) {
                    *output++ = te_div_one(params, *in1, *in2);
                    in1 += s1[3];
                    in2 += s2[3];
                }
            }
        }
    }
}
