/*
 * tinyedge: fixed-point helpers shared by the int8 and int16 (16x8 mode) kernels.
 *
 * These reproduce, bit for bit, the integer arithmetic that TFLite-Micro's reference
 * kernels use to requantize (gemmlowp's rounding doubling high multiply and rounding
 * right shift). Plain C99, header-only so every kernel inlines them.
 */
#ifndef TE_NN_MATH_H
#define TE_NN_MATH_H

#include <stdint.h>

#define TE_INT8_MIN (-128)
#define TE_INT8_MAX 127
#define TE_INT16_MIN (-32768)
#define TE_INT16_MAX 32767

static inline int32_t te_nn_min_i32(int32_t a, int32_t b) { return a < b ? a : b; }
static inline int32_t te_nn_max_i32(int32_t a, int32_t b) { return a > b ? a : b; }
static inline int32_t te_nn_clamp_i32(int32_t x, int32_t lo, int32_t hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

/* round(a * b / 2^31), saturating the single overflow case a == b == INT32_MIN. */
static inline int32_t te_nn_sat_rounding_doubling_high_mul(int32_t a, int32_t b) {
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* x / 2^exponent rounded to nearest, ties away from zero; exponent in [0, 31]. */
static inline int32_t te_nn_rounding_divide_by_pot(int32_t x, int exponent) {
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/*
 * x * multiplier * 2^shift, multiplier a Q31 significand in [2^30, 2^31) (or 0),
 * shift > 0 scales up before the multiply, shift < 0 rounds down after it
 * (TFLite's MultiplyByQuantizedMultiplier, double rounding).
 */
static inline int32_t te_nn_requantize(int32_t x, int32_t multiplier, int32_t shift) {
    const int left_shift = shift > 0 ? shift : 0;
    const int right_shift = shift > 0 ? 0 : -shift;
    return te_nn_rounding_divide_by_pot(
        te_nn_sat_rounding_doubling_high_mul((int32_t)((uint32_t)x << left_shift), multiplier),
        right_shift);
}

/*
 * The 64-bit accumulator form (TFLite's MultiplyByQuantizedMultiplier for int64_t x), which the
 * 16x8 kernels with int64 bias use: the multiplier is first rounded to 16 bits, then one
 * rounding shift by 15 - shift (ties up). shift is -31 to 7; x within +-2^47.
 */
static inline int32_t te_nn_requantize_i64(int64_t x, int32_t multiplier, int32_t shift) {
    const int32_t reduced = multiplier < 0x7FFF0000 ? (multiplier + (1 << 15)) >> 16 : 0x7FFF;
    const int total_shift = 15 - shift;
    const int64_t round = (int64_t)1 << (total_shift - 1);
    return (int32_t)((x * reduced + round) >> total_shift);
}

#endif /* TE_NN_MATH_H */
