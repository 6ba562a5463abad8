/*
 * tinyedge: int8 element-wise addition with broadcasting (TFLite ADD).
 *
 * Shapes are up to 4-D, extended on the left with 1s to exactly 4-D:
 *   output [output_shape[0], output_shape[1], output_shape[2], output_shape[3]] row-major
 *   input1, input2: element (i0, i1, i2, i3) of the output reads
 *     inputN[i0 * inputN_strides[0] + i1 * inputN_strides[1] + i2 * inputN_strides[2]
 *            + i3 * inputN_strides[3]]
 *   where a broadcast dimension has stride 0. Without broadcasting the lowering passes
 *   the flat shape [1, 1, 1, size] and strides [0, 0, 0, 1].
 *
 * Per element, both inputs are brought to a common scale with 20 bits of headroom, added
 * and requantized to the output (TFLite's quantized add):
 *   a   = requantize((input1 + input1_offset) << left_shift, input1_multiplier, input1_shift)
 *   b   = requantize((input2 + input2_offset) << left_shift, input2_multiplier, input2_shift)
 *   out = clamp(requantize(a + b, output_multiplier, output_shift) + output_offset,
 *               activation_min, activation_max)
 *
 * In place: the output may be the same buffer as input1 when input1 is not broadcast;
 * every element is read before it is written.
 */
#ifndef TE_ADD_S8_H
#define TE_ADD_S8_H

#include <stdint.h>

#include "te_nn_dsp.h"
#include "te_nn_math.h"

typedef struct {
    int32_t input1_offset;      /* -input1 zero point, [-127, 128] */
    int32_t input2_offset;      /* -input2 zero point, [-127, 128] */
    int32_t left_shift;         /* 20 for int8 */
    int32_t input1_multiplier;  /* Q31 significand, [2^30, 2^31) or 0 */
    int32_t input1_shift;       /* <= 0 */
    int32_t input2_multiplier;  /* Q31 significand, [2^30, 2^31) or 0 */
    int32_t input2_shift;       /* <= 0 */
    int32_t output_multiplier;  /* Q31 significand, [2^30, 2^31) or 0 */
    int32_t output_shift;       /* <= 0 */
    int32_t output_offset;      /* output zero point, [-128, 127] */
    int32_t activation_min;     /* clamp bounds, */
    int32_t activation_max;     /* -128 <= min <= max <= 127 */
    const int32_t *output_shape;    /* [4] */
    const int32_t *input1_strides;  /* [4] elements; 0 where input1 is broadcast */
    const int32_t *input2_strides;  /* [4] elements; 0 where input2 is broadcast */
} te_add_params;

/*
 * te_nn_requantize(x, multiplier, -right_shift) for the values ADD meets (the ranges above):
 * |x| < 2^29, multiplier in [0, 2^31), right_shift in [0, 31].
 *
 * The rounding doubling high multiply adds 2^30 to a non-negative product and 1 - 2^30 to a
 * negative one, then divides by 2^31 truncating toward zero; for a negative sum truncation is
 * the floor of (sum + 2^31 - 1), so both cases are floor((x * multiplier + 2^30) / 2^31), which
 * te_nn_smmlar2 computes (one SMMLAR on DSP cores) with `half` = 2^(right_shift - 1) added. The
 * only saturating case (both factors INT32_MIN) cannot occur. The rounding right shift rounds
 * halves away from zero: floor((high + half - 1) / 2^right_shift) for a negative x, where
 * round_down is -1 (when x < 0 gives high == 0 the -1 changes nothing), and 0 for a right_shift
 * of 0, which has nothing to round.
 */
static inline int32_t te_add_requantize(int32_t x, int32_t multiplier, int32_t half, int32_t round_down,
                                        int32_t right_shift)
{
    return (te_nn_smmlar2(x, multiplier, half) + ((x >> 31) & round_down)) >> right_shift;
}

void te_add_s8(const te_add_params *params, const int8_t *input1, const int8_t *input2, int8_t *output);

/* The same bytes, faster on large tensors: `tables` is scratch for 512 int32 (te_add_table_s8.c). */
void te_add_table_s8(const te_add_params *params, const int8_t *input1, const int8_t *input2, int8_t *output,
                     int32_t *tables);

#endif /* TE_ADD_S8_H */
