/*
 * tinyedge: int8 LOG_SOFTMAX, bit-exact to TFLite-Micro's reference LogSoftmaxQuantized<int8_t>.
 */
#include "te_log_softmax_s8.h"

#include "te_fixedpoint.h"
#include "te_nn_math.h"

#define TE_LOG_SOFTMAX_DIFF_BITS 5    /* integer bits of the scaled difference and of the log, Q5.26 */
#define TE_LOG_SOFTMAX_SUM_BITS 12    /* integer bits of the sum of exponentials, Q12.19 */
#define TE_LOG_SOFTMAX_OUTPUT_BITS 4  /* the output: 16/256 per step */
#define TE_LOG_SOFTMAX_LOG_ACCUM_BITS (TE_LOG_SOFTMAX_DIFF_BITS + 1)

static int32_t te_log_softmax_saturating_add(int32_t a, int32_t b) {
    const int64_t sum = (int64_t)a + b;
    return (int32_t)(sum > INT32_MAX ? INT32_MAX : (sum < INT32_MIN ? INT32_MIN : sum));
}

static int32_t te_log_softmax_saturating_sub(int32_t a, int32_t b) {
    const int64_t difference = (int64_t)a - b;
    return (int32_t)(difference > INT32_MAX ? INT32_MAX : (difference < INT32_MIN ? INT32_MIN : difference));
}

/*
 * log(x) for a Q12 x >= 1, in Q5 (TFLite's log_x_for_x_greater_than_or_equal_to_1<5, 12>): x = r * 2^z
 * with r in [sqrt(1/2), sqrt(2)) found twice (from x and from x * sqrt(1/2)), then a rational
 * approximation of log(r) around sqrt(sqrt(1/2)) plus z * log(2), in Q6.
 */
static int32_t te_log_softmax_log_q5(int32_t x) {
    const int32_t log_2 = 1488522236;          /* Q0 constants */
    const int32_t sqrt_sqrt_half = 1805811301;
    const int32_t sqrt_half = 1518500250;
    const int32_t one_quarter = 536870912;
    const int32_t alpha_n = 117049297;
    const int32_t alpha_d = 127690142;
    const int32_t alpha_i = 1057819769;
    const int32_t alpha_f = 638450708;
    const int accum_bits = TE_LOG_SOFTMAX_LOG_ACCUM_BITS;
    const int32_t shifted_quarter = te_fp_rescale(one_quarter, 0, accum_bits);

    const int z_a_headroom_plus_1 = te_fp_count_leading_zeros((uint32_t)x);
    const int32_t r_a_tmp = te_fp_saturating_rounding_mul_by_pot(x, z_a_headroom_plus_1 - 1);
    const int32_t r_a = te_fp_saturating_rounding_mul_by_pot(te_fp_mul(r_a_tmp, sqrt_half), 1);
    const int32_t z_a_pow_2_adj = te_log_softmax_saturating_add(
        te_fp_saturating_rounding_mul_by_pot(TE_LOG_SOFTMAX_SUM_BITS - z_a_headroom_plus_1, 31 - accum_bits),
        shifted_quarter);

    const int32_t z_b = te_fp_mul(x, sqrt_half);
    const int z_b_headroom = te_fp_count_leading_zeros((uint32_t)z_b) - 1;
    const int32_t r_b = te_fp_saturating_rounding_mul_by_pot(x, z_b_headroom);
    const int32_t z_b_pow_2_adj = te_log_softmax_saturating_sub(
        te_fp_saturating_rounding_mul_by_pot(TE_LOG_SOFTMAX_SUM_BITS - z_b_headroom, 31 - accum_bits),
        shifted_quarter);

    const int32_t r = te_nn_min_i32(r_a, r_b);
    const int32_t z_pow_2_adj = te_nn_max_i32(z_a_pow_2_adj, z_b_pow_2_adj);

    const int32_t p = te_fp_rounding_half_sum(r, sqrt_sqrt_half);
    int32_t q = te_fp_sub(r, sqrt_sqrt_half);
    q = te_fp_add(q, q);
    const int32_t common_sq = te_fp_mul(q, q);
    const int32_t num = te_fp_add(te_fp_mul(q, r), te_fp_mul(te_fp_mul(q, common_sq), alpha_n));
    const int32_t denom_minus_one = te_fp_add(
        te_fp_mul(p, te_fp_add(te_fp_add(alpha_i, q), te_fp_mul(alpha_d, common_sq))), te_fp_mul(alpha_f, q));
    const int32_t recip_denom = te_fp_one_over_one_plus_x_for_x_in_0_1(denom_minus_one);
    const int32_t num_scaled = te_fp_rescale(num, 0, accum_bits);
    return te_fp_rescale(te_fp_add(te_fp_mul(z_pow_2_adj, log_2), te_fp_mul(num_scaled, recip_denom)), accum_bits,
                         TE_LOG_SOFTMAX_DIFF_BITS);
}

void te_log_softmax_s8(const te_log_softmax_params *params, const int8_t *input, int8_t *output)
{
    const int32_t depth = params->depth;
    const int32_t input_multiplier = params->input_multiplier;
    const int32_t input_left_shift = params->input_left_shift;
    const int32_t diff_min = params->diff_min;

    for (int32_t row = 0; row < params->outer_size; ++row) {
        const int8_t *in = input + row * depth;
        int8_t *out = output + row * depth;
        int32_t max_in_row = TE_INT8_MIN;
        int32_t sum_of_exps = 0; /* Q12 */

        for (int32_t c = 0; c < depth; ++c) {
            max_in_row = te_nn_max_i32(max_in_row, in[c]);
        }
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t diff = in[c] - max_in_row;
            if (diff >= diff_min) {
                const int32_t diff_q5 = te_nn_requantize(diff, input_multiplier, input_left_shift);
                sum_of_exps = te_fp_add(sum_of_exps, te_fp_rescale(te_fp_exp_on_negative_values(
                    diff_q5, TE_LOG_SOFTMAX_DIFF_BITS), 0, TE_LOG_SOFTMAX_SUM_BITS));
            }
        }
        /* The row's maximum adds exp(0) = 1: the sum is >= 1 and its log >= 0. */
        const int32_t log_sum_q5 = te_log_softmax_log_q5(sum_of_exps);
        const int32_t adjusted_diff_min = te_nn_max_i32(
            diff_min - 1, te_nn_requantize(te_fp_add(log_sum_q5, INT32_MIN), params->reverse_scaling_divisor,
                                           params->reverse_scaling_shift));

        /* Every input of the row was read above; each output is written after its own input is read. */
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t diff = in[c] - max_in_row;
            if (diff > adjusted_diff_min) {
                const int32_t diff_q5 = te_nn_requantize(diff, input_multiplier, input_left_shift);
                const int32_t value = te_nn_rounding_divide_by_pot(
                    te_fp_sub(diff_q5, log_sum_q5), 31 - TE_LOG_SOFTMAX_DIFF_BITS - TE_LOG_SOFTMAX_OUTPUT_BITS);
                out[c] = (int8_t)te_nn_clamp_i32(value + TE_INT8_MAX, TE_INT8_MIN, TE_INT8_MAX);
            } else {
                out[c] = TE_INT8_MIN;
            }
        }
    }
}
