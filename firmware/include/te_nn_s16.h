/*
 * tinyedge: what the 16x8 kernels (int16 activations, int8 weights) share.
 *
 * TFLite-Micro sums a 16x8 layer in the bias's type: int64 (the converter's default), or int32
 * where the file's bias is int32, and then the sum wraps modulo 2^32 as the reference's int32
 * does, and the 32-bit requantization (double rounding) applies. The kernels here sum in
 * int64, which holds every exact sum, and te_nn_requantize_s16 picks the reference's form.
 */
#ifndef TE_NN_S16_H
#define TE_NN_S16_H

#include <stdint.h>

#include "te_nn_math.h"

/* accumulator_bits: 64 (int64 bias, or none) or 32 (int32 bias); shift -31 to 14 for 64. */
static inline int32_t te_nn_requantize_s16(int64_t acc, int32_t multiplier, int32_t shift,
                                           int32_t accumulator_bits)
{
    if (accumulator_bits == 32) {
        return te_nn_requantize((int32_t)(uint32_t)(uint64_t)acc, multiplier, shift);
    }
    return te_nn_requantize_i64(acc, multiplier, shift);
}

/*
 * The fast kernels' form of te_nn_requantize_s16: the same integers in fewer steps. Per channel
 * TE_NN_REQUANT_S16_WORDS constants, worked out in Python (tinyedge/ops/_mac_16x8.py,
 * requant_words): {r, round_lo, round_hi, s, multiplier, shift}.
 *
 * TFLite's 64-bit form is (acc * m16 + 2^(t - 1)) >> t, m16 the multiplier rounded to 16 bits and
 * t = 15 - shift. Scaled by 2^k so that t + k >= 32 (r = m16 * 2^k < 2^31, round = 2^(t - 1 + k)),
 * it is the high word of one SMLAL, shifted right by s = t + k - 32, for any sum that fits in 32
 * bits (the usual case). Other sums, and channels with t < 16 (s = -1: a scale ratio of 1/2 or
 * more), take te_nn_requantize_i64 with the multiplier and shift as they are; 32-bit sums take
 * te_nn_requantize with them.
 */
#define TE_NN_REQUANT_S16_WORDS 6

static inline int32_t te_nn_requantize_s16_fast(int64_t acc, const int32_t *q, int32_t accumulator_bits)
{
    if (accumulator_bits == 32) {
        return te_nn_requantize((int32_t)(uint32_t)(uint64_t)acc, q[4], q[5]);
    }
    const int32_t x = (int32_t)acc;
    if ((int64_t)x != acc || q[3] < 0) {
        return te_nn_requantize_i64(acc, q[4], q[5]);
    }
    const int64_t round = (int64_t)(((uint64_t)(uint32_t)q[2] << 32) | (uint32_t)q[1]);
    const int64_t y = round + (int64_t)x * q[0];
    return (int32_t)(y >> 32) >> q[3];
}

#endif /* TE_NN_S16_H */
