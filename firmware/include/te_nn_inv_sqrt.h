/*
 * tinyedge: 1 / sqrt(x) of a positive int32 as a requantization multiplier, TFLite's
 * GetInvSqrtQuantizedMultiplierExp (reverse_shift -1) for one int32 lane, step for step:
 * x is normalized by powers of 4 into Q3 [1/2, 2), five Newton-Raphson iterations of gemmlowp
 * fixed point starting from 1, then times sqrt(2)/2. Afterwards
 *   y / sqrt(x) ~= te_nn_requantize(y, *multiplier, *shift).
 * x <= 1 (0 included, which has no inverse square root) gives multiplier INT32_MAX, shift 0.
 * Used by te_rsqrt_s8 and te_l2_normalization_s8.
 */
#ifndef TE_NN_INV_SQRT_H
#define TE_NN_INV_SQRT_H

#include <stdint.h>

#include "te_fixedpoint.h"

static inline void te_nn_inv_sqrt_multiplier(int32_t x, int32_t *multiplier, int32_t *shift) {
    const int32_t q3_half_three = ((int32_t)1 << 28) + ((int32_t)1 << 27); /* 1.5 in Q3 */
    const int32_t q0_half_sqrt_2 = 1518500250;                            /* sqrt(2) / 2 in Q0 */
    int32_t right_shift = 11;

    if (x <= 1) {
        *multiplier = INT32_MAX;
        *shift = 0;
        return;
    }
    while (x >= ((int32_t)1 << 29)) {
        x /= 4;
        ++right_shift;
    }
    /* Normalize x into [2^27, 2^29) by a left shift of whole bit pairs. */
    const int32_t bit_pairs = (te_fp_count_leading_zeros((uint32_t)x) - 1) / 2 - 1;
    right_shift -= bit_pairs;
    x = (int32_t)((uint32_t)x << (2 * bit_pairs));

    const int32_t half_x = te_fp_saturating_rounding_mul_by_pot(x >> 1, -1); /* Q3 */
    int32_t y = (int32_t)1 << 28;                                            /* Q3 one */
    for (int i = 0; i < 5; ++i) {
        /* y = 3/2 y - x/2 y^3 */
        const int32_t y3 = te_fp_rescale(te_fp_mul(te_fp_mul(y, y), y), 9, 3);
        y = te_fp_rescale(te_fp_sub(te_fp_mul(q3_half_three, y), te_fp_mul(half_x, y3)), 6, 3);
    }
    y = te_fp_mul(y, q0_half_sqrt_2);
    if (right_shift < 0) {
        y = (int32_t)((uint32_t)y << -right_shift);
        right_shift = 0;
    }
    *multiplier = y;
    *shift = -right_shift;
}

#endif /* TE_NN_INV_SQRT_H */
