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

#endif /* TE_NN_S16_H */
