"""TFLite's integer requantization and gemmlowp fixed point in Python, for tables built at lowering time.

Each function is the C helper of the same name in firmware/include (te_nn_math.h,
te_fixedpoint.h, te_nn_inv_sqrt.h) on Python integers, with int32 wrapping where the C
wraps, so that a table computed here holds the bytes the kernel would compute.
"""

from __future__ import annotations

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def wrap32(x: int) -> int:
    """x as a C int32 after a wrapping (uint32_t) operation."""
    return ((x - INT32_MIN) % 2**32) + INT32_MIN


def _c_div(a: int, b: int) -> int:
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b > 0) else -quotient


def sat_rounding_doubling_high_mul(a: int, b: int) -> int:
    """te_nn_sat_rounding_doubling_high_mul: round(a * b / 2^31), INT32_MIN * INT32_MIN saturated."""
    if a == b == INT32_MIN:
        return INT32_MAX
    product = a * b
    nudge = (1 << 30) if product >= 0 else 1 - (1 << 30)
    return _c_div(product + nudge, 1 << 31)


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    """te_nn_rounding_divide_by_pot: x / 2^exponent rounded to nearest, ties away from zero."""
    mask = (1 << exponent) - 1
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if (x & mask) > threshold else 0)


def requantize(x: int, multiplier: int, shift: int) -> int:
    """te_nn_requantize (TFLite's MultiplyByQuantizedMultiplier, double rounding)."""
    left, right = max(shift, 0), max(-shift, 0)
    return rounding_divide_by_pot(sat_rounding_doubling_high_mul(wrap32(x << left), multiplier), right)


def saturating_rounding_mul_by_pot(x: int, exponent: int) -> int:
    """te_fp_saturating_rounding_mul_by_pot (gemmlowp's SaturatingRoundingMultiplyByPOT)."""
    if exponent > 0:
        threshold = (1 << (31 - exponent)) - 1
        return INT32_MAX if x > threshold else INT32_MIN if x < -threshold else wrap32(x << exponent)
    return rounding_divide_by_pot(x, -exponent) if exponent < 0 else x


def rescale(x: int, source_integer_bits: int, target_integer_bits: int) -> int:
    return saturating_rounding_mul_by_pot(x, source_integer_bits - target_integer_bits)


def inv_sqrt_multiplier(x: int) -> tuple[int, int]:
    """te_nn_inv_sqrt_multiplier (TFLite's GetInvSqrtQuantizedMultiplierExp, reverse_shift -1)."""
    if x <= 1:
        return INT32_MAX, 0
    right_shift = 11
    while x >= 1 << 29:
        x = _c_div(x, 4)
        right_shift += 1
    bit_pairs = ((32 - x.bit_length()) - 1) // 2 - 1
    right_shift -= bit_pairs
    x = wrap32(x << (2 * bit_pairs))
    half_x = saturating_rounding_mul_by_pot(x >> 1, -1)  # Q3
    y = 1 << 28  # Q3 one
    for _ in range(5):
        y3 = rescale(sat_rounding_doubling_high_mul(sat_rounding_doubling_high_mul(y, y), y), 9, 3)
        y = rescale(wrap32(sat_rounding_doubling_high_mul((1 << 28) + (1 << 27), y)
                           - sat_rounding_doubling_high_mul(half_x, y3)), 6, 3)
    y = sat_rounding_doubling_high_mul(y, 1518500250)
    if right_shift < 0:
        y = wrap32(y << -right_shift)
        right_shift = 0
    return y, -right_shift
