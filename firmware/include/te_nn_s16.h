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
 * The fast kernels' form of te_nn_requantize_s16, the same integers in fewer steps. Per channel
 * four constants, worked out in Python (tinyedge/ops/_mac_16x8.py, fast_requantization):
 *   64-bit sums: {r, t, round_lo, round_hi}: r the multiplier rounded to 16 bits, t = 15 - shift
 *                (1 to 46), round = 2^(t - 1) split in two words; the result is (acc * r + round) >> t
 *                (te_nn_requantize_i64), one SMLAL where the sum fits in 32 bits (the usual case);
 *   32-bit sums: {multiplier, shift, 0, 0} for te_nn_requantize.
 */
static inline int32_t te_nn_requantize_s16_fast(int64_t acc, const int32_t *q, int32_t accumulator_bits)
{
    if (accumulator_bits == 32) {
        return te_nn_requantize((int32_t)(uint32_t)(uint64_t)acc, q[0], q[1]);
    }
    const int64_t round = (int64_t)(((uint64_t)(uint32_t)q[3] << 32) | (uint32_t)q[2]);
    const int32_t x = (int32_t)acc;
    const int64_t y = (int64_t)x == acc ? round + (int64_t)x * q[0] : round + acc * q[0];
    const int32_t t = q[1];
    const int32_t hi = (int32_t)(y >> 32);
    const uint32_t lo = (uint32_t)y;
    return t >= 32 ? hi >> (t - 32) : (int32_t)((lo >> t) | ((uint32_t)hi << (32 - t)));
}

#endif /* TE_NN_S16_H */
