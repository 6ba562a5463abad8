/*
 * tinyedge: int8 -> int16 softmax, bit-exact to TFLite-Micro's reference_ops::Softmax<int8_t, int16_t>.
 */
#include "te_softmax_s8_s16.h"

#include "te_fixedpoint.h"
#include "te_nn_math.h"

/* Integer bits of the scaled difference (Q5.26) and of the running sum (Q12.19). */
#define TE_SOFTMAX_DIFF_INTEGER_BITS 5
#define TE_SOFTMAX_ACCUM_INTEGER_BITS 12

/* exp(diff * beta * input_scale) in Q0, for diff <= 0 and diff >= diff_min. */
static int32_t te_softmax_s8_s16_exp(const te_softmax_params *params, int32_t diff) {
    /* MultiplyByQuantizedMultiplierGreaterThanOne: shift up, then one rounding high multiply. */
    const int32_t diff_rescaled = te_nn_sat_rounding_doubling_high_mul(
        (int32_t)((uint32_t)diff << params->input_left_shift), params->input_multiplier);
    return te_fp_exp_on_negative_values(diff_rescaled, TE_SOFTMAX_DIFF_INTEGER_BITS);
}

void te_softmax_s8_s16(const te_softmax_params *params, const int8_t *input, int16_t *output) {
    const int32_t depth = params->depth;
    int32_t row;
    for (row = 0; row < params->outer_size; ++row) {
        const int8_t *in = input + row * depth;
        int16_t *out = output + row * depth;
        int32_t max_in_row = TE_INT8_MIN;
        int32_t sum_of_exps = 0; /* Q12.19 */
        int num_bits_over_unit;
        int32_t shifted_scale;
        int exponent;
        int32_t c;

        for (c = 0; c < depth; ++c) {
            max_in_row = te_nn_max_i32(max_in_row, in[c]);
        }
        for (c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= params->diff_min) {
                sum_of_exps = te_fp_add(sum_of_exps, te_fp_rescale(te_softmax_s8_s16_exp(params, diff), 0,
                                                                   TE_SOFTMAX_ACCUM_INTEGER_BITS));
            }
        }

        /* The row's maximum contributes exp(0) = 1, so the sum is positive. */
        shifted_scale = te_fp_reciprocal(sum_of_exps, TE_SOFTMAX_ACCUM_INTEGER_BITS, &num_bits_over_unit);
        /* Output in units of 2^-16: divide the Q0 product by 2^(31 - 16 + num_bits_over_unit). */
        exponent = num_bits_over_unit + 31 - 16;

        for (c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= params->diff_min) {
                const int32_t exp_in_0 = te_softmax_s8_s16_exp(params, diff);
                const int32_t unsat_output =
                    te_nn_rounding_divide_by_pot(te_fp_mul(shifted_scale, exp_in_0), exponent);
                out[c] = (int16_t)te_nn_clamp_i32(unsat_output + TE_INT16_MIN, TE_INT16_MIN, TE_INT16_MAX);
            } else {
                out[c] = (int16_t)TE_INT16_MIN;
            }
        }
    }
}
