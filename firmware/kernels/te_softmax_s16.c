/*
 * tinyedge: int16 softmax, bit-exact to TFLite-Micro's reference_ops::SoftmaxInt16.
 */
#include "te_softmax_s16.h"

#include "te_nn_math.h"

/* TFLite-Micro's LUTLookup for int16: 512 segments of 128 inputs, linear between their end points. */
static int16_t te_softmax_lut_lookup(int16_t value, const int16_t *lut) {
    const int32_t index = 256 + (value >> 7);
    const int32_t offset = value & 0x7F;
    const int16_t base = lut[index];
    const int16_t slope = (int16_t)(lut[index + 1] - lut[index]);
    const int32_t delta = ((int32_t)slope * offset + 64) >> 7;
    return (int16_t)(base + delta);
}

/* The number of leading zero bits of a non-zero x (CountLeadingZeros). */
static int te_softmax_clz(uint32_t x) {
    int n = 0;
    while ((x & 0x80000000u) == 0) {
        x <<= 1;
        ++n;
    }
    return n;
}

void te_softmax_s16(const te_softmax_s16_params *params, const int16_t *input, int16_t *output) {
    const int32_t depth = params->depth;
    int32_t row;
    for (row = 0; row < params->outer_size; ++row) {
        const int16_t *in = input + row * depth;
        int16_t *exps = output + row * depth; /* Q0.15, kept in the output until the sum is known */
        int32_t max_in_row = TE_INT16_MIN;
        uint32_t sum_of_exps = 0; /* Q16.15; int32 in the reference, and no row comes near its range */
        int headroom_plus_one;
        int32_t shifted_sum;
        int16_t reciprocal_q015;
        int right_shift;
        int64_t round;
        int32_t c;

        for (c = 0; c < depth; ++c) {
            max_in_row = te_nn_max_i32(max_in_row, in[c]);
        }
        for (c = 0; c < depth; ++c) {
            /* [-65535, 0] rescaled so that -65535 steps stand for -10.0, then centred on the table. */
            const int32_t scaled_diff = te_nn_requantize((int32_t)in[c] - max_in_row, params->input_multiplier,
                                                         params->input_shift);
            const int32_t centred = te_nn_clamp_i32(scaled_diff + TE_INT16_MAX, TE_INT16_MIN, TE_INT16_MAX);
            exps[c] = te_softmax_lut_lookup((int16_t)centred, params->exp_lut);
            sum_of_exps += (uint32_t)(int32_t)exps[c];
        }

        /* The row maximum's exp is 32767, so the sum is positive: normalize it to [2^16, 2^17] ... */
        headroom_plus_one = te_softmax_clz(sum_of_exps);
        shifted_sum = (int32_t)((((int64_t)(int32_t)sum_of_exps << (headroom_plus_one - 1)) + (1 << 13)) >> 14);
        /* ... and take 1/(1 + x) of x = shifted_sum - 1, centred from [0, 65535] on [-32768, 32767]. */
        reciprocal_q015 = te_softmax_lut_lookup(
            (int16_t)te_nn_clamp_i32(shifted_sum - ((1 << 15) + (1 << 16)), TE_INT16_MIN, TE_INT16_MAX),
            params->one_over_one_plus_x_lut);

        right_shift = 31 - headroom_plus_one;
        round = (int64_t)1 << (right_shift - 1);
        for (c = 0; c < depth; ++c) {
            const int32_t result = (int32_t)(((int64_t)exps[c] * reciprocal_q015 + round) >> right_shift);
            exps[c] = (int16_t)te_nn_clamp_i32(result, 0, TE_INT16_MAX);
        }
    }
}
