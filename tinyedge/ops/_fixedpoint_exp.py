"""gemmlowp's fixed-point exp, 1/(1+x), logistic and tanh in Python, for tables built at lowering time.

Each function is the C helper of the same name in firmware/include/te_fixedpoint.h (prefix
te_fp_) on Python integers, step for step: every product rounds where the C rounds
(sat_rounding_doubling_high_mul) and every addition wraps to int32 where the C wraps, so a
table computed from them holds the bytes te_logistic_s8 and te_tanh_s8 would compute.
A "Qk" value is an int32 with k integer bits and 31 - k fractional bits.
"""

from __future__ import annotations

from tinyedge.ops._fixedpoint import (
    INT32_MAX,
    _c_div,
    rescale,
    sat_rounding_doubling_high_mul,
    saturating_rounding_mul_by_pot,
    wrap32,
)

Q0_HALF = 1 << 30
EXP_MINUS_ONE_EIGHTH = 1895147668  # exp(-1/8) in Q0
ONE_THIRD = 715827883  # 1/3 in Q0
Q2_ONE = 1 << 29
Q2_48_OVER_17 = 1515870810
Q2_MINUS_32_OVER_17 = -1010580540
EXP_OF_MINUS_POT = (1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242)  # exp(-2^k), k = -2..4

mul = sat_rounding_doubling_high_mul


def _add(a: int, b: int) -> int:
    return wrap32(a + b)


def _sub(a: int, b: int) -> int:
    return wrap32(a - b)


def rounding_half_sum(a: int, b: int) -> int:
    """te_fp_rounding_half_sum: (a + b) / 2 rounded, halves away from zero (in int64, truncating division)."""
    total = a + b
    return _c_div(total + (1 if total >= 0 else -1), 2)


def exp_on_interval_between_negative_one_quarter_and_0_excl(a: int) -> int:
    x = _add(a, 1 << 28)
    x2 = mul(x, x)
    x3 = mul(x2, x)
    x4 = mul(x2, x2)
    x4_over_4 = saturating_rounding_mul_by_pot(x4, -2)
    polynomial = saturating_rounding_mul_by_pot(_add(mul(_add(x4_over_4, x3), ONE_THIRD), x2), -1)
    return _add(EXP_MINUS_ONE_EIGHTH, mul(EXP_MINUS_ONE_EIGHTH, _add(x, polynomial)))


def exp_on_negative_values(a: int, integer_bits: int) -> int:
    """exp(a) for a Q(integer_bits) value a <= 0, in Q0."""
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0))
    remainder = _sub(a_mod_quarter_minus_one_quarter, a)
    for k in range(-2, 5):
        if integer_bits > k and remainder & (1 << (fractional_bits + k)):
            result = mul(result, EXP_OF_MINUS_POT[k + 2])
    if integer_bits > 5 and a < -(1 << (36 - integer_bits)):
        result = 0
    return INT32_MAX if a == 0 else result


def reciprocal_of_half_one_plus_x_q2(a: int) -> int:
    half_denominator = rounding_half_sum(a, INT32_MAX)
    x = _add(Q2_48_OVER_17, mul(half_denominator, Q2_MINUS_32_OVER_17))
    for _ in range(3):
        one_minus_half_denominator_times_x = _sub(Q2_ONE, mul(half_denominator, x))
        x = _add(x, rescale(mul(x, one_minus_half_denominator_times_x), 4, 2))
    return x


def logistic(a: int, integer_bits: int) -> int:
    """te_fp_logistic: 1 / (1 + exp(-a)) for a Q(integer_bits) value, in Q0."""
    if a == 0:
        return Q0_HALF
    result_if_positive = rescale(reciprocal_of_half_one_plus_x_q2(exp_on_negative_values(-abs(a), integer_bits)), 1, 0)
    return result_if_positive if a > 0 else _sub(INT32_MAX, result_if_positive)


def tanh(a: int, integer_bits: int) -> int:
    """te_fp_tanh: tanh(a) for a Q(integer_bits) value, in Q0."""
    if a == 0:
        return 0
    exp_of_minus_twice = exp_on_negative_values(-abs(a), integer_bits + 1)
    t = rescale(_sub(reciprocal_of_half_one_plus_x_q2(exp_of_minus_twice), Q2_ONE), 2, 0)
    return -t if a < 0 else t
