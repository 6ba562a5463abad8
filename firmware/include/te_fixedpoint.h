/*
 * tinyedge: Q-format fixed-point math for the int8 activation kernels.
 *
 * TFLite-Micro evaluates softmax, logistic and tanh on int8 data with gemmlowp's
 * fixed-point functions (exp on negative values, 1/(1+x), tanh, logistic). These are
 * the same computations written for one int32 lane in plain C99, step for step, so
 * that every rounding happens where the reference rounds and the results match bit
 * for bit.
 *
 * Notation: a "Qk" value is an int32 with k integer bits (plus the sign bit) and
 * 31 - k fractional bits, so it holds a real number in [-2^k, 2^k). Q0 holds [-1, 1),
 * its "one" is INT32_MAX. Multiplying a Qa by a Qb with te_fp_mul gives a Q(a+b).
 *
 * Integer additions wrap like the reference's (which relies on two's complement);
 * they are written through uint32_t so that C never sees a signed overflow.
 */
#ifndef TE_FIXEDPOINT_H
#define TE_FIXEDPOINT_H

#include <stdint.h>

#include "te_nn_math.h"

/* Q0 constants (raw values over 2^31). */
#define TE_FP_Q0_ONE INT32_MAX                  /* 1.0 saturated, gemmlowp's One() for Q0 */
#define TE_FP_Q0_HALF ((int32_t)1 << 30)        /* 0.5 */
#define TE_FP_EXP_MINUS_ONE_EIGHTH 1895147668   /* exp(-1/8) */
#define TE_FP_ONE_THIRD 715827883               /* 1/3 */
/* Q2 constants of the Newton-Raphson division (raw values over 2^29). */
#define TE_FP_Q2_ONE ((int32_t)1 << 29)
#define TE_FP_Q2_48_OVER_17 1515870810
#define TE_FP_Q2_MINUS_32_OVER_17 (-1010580540)

static inline int32_t te_fp_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static inline int32_t te_fp_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

/* Product of two fixed-point values: Qa * Qb -> Q(a+b), rounded, -1 * -1 saturated. */
static inline int32_t te_fp_mul(int32_t a, int32_t b) { return te_nn_sat_rounding_doubling_high_mul(a, b); }

/* Number of leading zero bits of x (32 for x == 0). */
static inline int te_fp_count_leading_zeros(uint32_t x) {
#if defined(__GNUC__)
    return x ? __builtin_clz(x) : 32;
#else
    int count = 0;
    if (x == 0) {
        return 32;
    }
    while (!(x & 0x80000000u)) {
        x <<= 1;
        ++count;
    }
    return count;
#endif
}

/* (a + b) / 2 rounded to nearest, halves away from zero (gemmlowp's RoundingHalfSum). */
static inline int32_t te_fp_rounding_half_sum(int32_t a, int32_t b) {
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

/*
 * x * 2^exponent keeping the Q format: a left shift that saturates to INT32_MIN/MAX
 * when exponent > 0, a rounding right shift when exponent < 0
 * (gemmlowp's SaturatingRoundingMultiplyByPOT). exponent in [-31, 31].
 */
static inline int32_t te_fp_saturating_rounding_mul_by_pot(int32_t x, int exponent) {
    if (exponent > 0) {
        const int32_t threshold = (int32_t)(((uint32_t)1 << (31 - exponent)) - 1);
        if (x > threshold) {
            return INT32_MAX;
        }
        if (x < -threshold) {
            return INT32_MIN;
        }
        return (int32_t)((uint32_t)x << exponent);
    }
    if (exponent < 0) {
        return te_nn_rounding_divide_by_pot(x, -exponent);
    }
    return x;
}

/* A Q(src_bits) value as Q(dst_bits) (gemmlowp's Rescale). */
static inline int32_t te_fp_rescale(int32_t x, int src_integer_bits, int dst_integer_bits) {
    return te_fp_saturating_rounding_mul_by_pot(x, src_integer_bits - dst_integer_bits);
}

/*
 * exp(a) for a Q0 value a in [-1/4, 0): Taylor expansion around -1/8 to the fourth
 * power, result in Q0.
 */
static inline int32_t te_fp_exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a) {
    const int32_t x = te_fp_add(a, (int32_t)1 << 28); /* a + 1/8 */
    const int32_t x2 = te_fp_mul(x, x);
    const int32_t x3 = te_fp_mul(x2, x);
    const int32_t x4 = te_fp_mul(x2, x2);
    const int32_t x4_over_4 = te_fp_saturating_rounding_mul_by_pot(x4, -2);
    const int32_t x4_over_24_plus_x3_over_6_plus_x2_over_2 = te_fp_saturating_rounding_mul_by_pot(
        te_fp_add(te_fp_mul(te_fp_add(x4_over_4, x3), TE_FP_ONE_THIRD), x2), -1);
    return te_fp_add(TE_FP_EXP_MINUS_ONE_EIGHTH,
                     te_fp_mul(TE_FP_EXP_MINUS_ONE_EIGHTH, te_fp_add(x, x4_over_24_plus_x3_over_6_plus_x2_over_2)));
}

/*
 * exp(a) for a Q(integer_bits) value a <= 0, result in Q0 (exp(0) gives INT32_MAX).
 * integer_bits in [0, 30]. The input is split into a part in [-1/4, 0), evaluated by the
 * polynomial, and a multiple of 1/4 whose set bits each multiply the result by the
 * constant exp(-2^k) ("barrel shifter").
 */
static inline int32_t te_fp_exp_on_negative_values(int32_t a, int integer_bits) {
    /* exp(-2^k) in Q0 for k = -2 .. 4. */
    static const int32_t exp_of_minus_pot[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter;
    int32_t result = te_fp_exp_on_interval_between_negative_one_quarter_and_0_excl(
        te_fp_rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0));
    const int32_t remainder = te_fp_sub(a_mod_quarter_minus_one_quarter, a);
    int k;
    for (k = -2; k <= 4; ++k) {
        if (integer_bits > k) {
            const uint32_t bit = (uint32_t)1 << (fractional_bits + k);
            if ((uint32_t)remainder & bit) {
                result = te_fp_mul(result, exp_of_minus_pot[k + 2]);
            }
        }
    }
    if (integer_bits > 5) {
        /* Below -32 the result is zero (exp(-32) is under one Q0 unit). */
        const int32_t clamp = -((int32_t)1 << (36 - integer_bits));
        if (a < clamp) {
            result = 0;
        }
    }
    return a == 0 ? TE_FP_Q0_ONE : result;
}

/*
 * Newton-Raphson iterations for 1 / (1 + a), a in Q0 [0, 1): returns 2 / (1 + a)
 * in Q2 (x approximates 1 / half_denominator).
 */
static inline int32_t te_fp_reciprocal_of_half_one_plus_x_q2(int32_t a) {
    const int32_t half_denominator = te_fp_rounding_half_sum(a, TE_FP_Q0_ONE);
    int32_t x = te_fp_add(TE_FP_Q2_48_OVER_17, te_fp_mul(half_denominator, TE_FP_Q2_MINUS_32_OVER_17));
    int i;
    for (i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x = te_fp_mul(half_denominator, x);
        const int32_t one_minus_half_denominator_times_x = te_fp_sub(TE_FP_Q2_ONE, half_denominator_times_x);
        x = te_fp_add(x, te_fp_rescale(te_fp_mul(x, one_minus_half_denominator_times_x), 4, 2));
    }
    return x;
}

/* 1 / (1 + a) for a Q0 value a in [0, 1), result in Q0. */
static inline int32_t te_fp_one_over_one_plus_x_for_x_in_0_1(int32_t a) {
    /* x / 2 read as Q1, then rescaled to Q0. */
    return te_fp_rescale(te_fp_reciprocal_of_half_one_plus_x_q2(a), 1, 0);
}

/* (1 - a) / (1 + a) for a Q0 value a in [0, 1), result in Q0. */
static inline int32_t te_fp_one_minus_x_over_one_plus_x_for_x_in_0_1(int32_t a) {
    return te_fp_rescale(te_fp_sub(te_fp_reciprocal_of_half_one_plus_x_q2(a), TE_FP_Q2_ONE), 2, 0);
}

/* logistic(a) = 1 / (1 + exp(-a)) for a Q(integer_bits) value, result in Q0. */
static inline int32_t te_fp_logistic(int32_t a, int integer_bits) {
    const int32_t abs_a = a > 0 ? a : -a;
    const int32_t result_if_positive =
        te_fp_one_over_one_plus_x_for_x_in_0_1(te_fp_exp_on_negative_values(-abs_a, integer_bits));
    if (a == 0) {
        return TE_FP_Q0_HALF;
    }
    return a > 0 ? result_if_positive : te_fp_sub(TE_FP_Q0_ONE, result_if_positive);
}

/* tanh(a) = (1 - exp(-2|a|)) / (1 + exp(-2|a|)) with a's sign, a in Q(integer_bits), result in Q0. */
static inline int32_t te_fp_tanh(int32_t a, int integer_bits) {
    const int32_t non_positive = a < 0 ? a : -a;
    /* exp(2 * n): the same raw value read with one more integer bit. */
    const int32_t t = te_fp_one_minus_x_over_one_plus_x_for_x_in_0_1(
        te_fp_exp_on_negative_values(non_positive, integer_bits + 1));
    if (a == 0) {
        return 0;
    }
    return a < 0 ? -t : t;
}

/*
 * 1 / x for a positive Q(x_integer_bits) value x: returns the Q0 significand s and sets
 * *num_bits_over_unit to e so that 1 / x = s * 2^-e (TFLite's GetReciprocal).
 */
static inline int32_t te_fp_reciprocal(int32_t x, int x_integer_bits, int *num_bits_over_unit) {
    const int headroom_plus_one = te_fp_count_leading_zeros((uint32_t)x);
    /* x scaled into [1, 2) is 1 + shifted_minus_one; headroom_plus_one < 32 as x > 0. */
    const int32_t shifted_minus_one = (int32_t)(((uint32_t)x << headroom_plus_one) - ((uint32_t)1 << 31));
    *num_bits_over_unit = x_integer_bits - headroom_plus_one;
    return te_fp_one_over_one_plus_x_for_x_in_0_1(shifted_minus_one);
}

#endif /* TE_FIXEDPOINT_H */
