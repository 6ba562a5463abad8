/*
 * tinyedge: int16 softmax over the last axis (16x8 mode), TFLite-Micro's reference SoftmaxInt16.
 *
 * Input zero point 0; output zero point 0, scale 1/32768 ([0, 32767] for [0, 1]). For each row:
 *   e[c] = exp_lut(clamp(requantize(x[c] - max(row), input_multiplier, input_shift) + 32767))
 * (exp over [-10, 0] in Q0.15; a difference of -65535 after rescaling is exp(-10)), summed in
 * Q16.15; the sum is normalized to 17 bits and 1/sum looked up in one_over_one_plus_x_lut; each
 * output is e[c] * (1/sum) rounded back to Q0.15 and clamped to [0, 32767].
 * Both tables are 513 entries, looked up with TFLite-Micro's LUTLookup: index 256 + (v >> 7), the
 * 7 low bits interpolating to the next entry. The exps are kept in the output row while its sum is
 * formed, as the reference does; input and output may be the same buffer.
 */
#ifndef TE_SOFTMAX_S16_H
#define TE_SOFTMAX_S16_H

#include <stdint.h>

typedef struct {
    int32_t outer_size;                     /* rows: product of every dimension but the last, >= 1 */
    int32_t depth;                          /* length of the last axis, >= 1 */
    int32_t input_multiplier;               /* Q31 significand of input_scale * beta * 65535 / 10 */
    int32_t input_shift;                    /* its power-of-two exponent, -31 to 31 */
    const int16_t *exp_lut;                 /* [513]: exp(x) over [-10, 0] in Q0.15 */
    const int16_t *one_over_one_plus_x_lut; /* [513]: 1 / (1 + x) over [0, 1] in Q0.15 */
} te_softmax_s16_params;

void te_softmax_s16(const te_softmax_s16_params *params, const int16_t *input, int16_t *output);

#endif /* TE_SOFTMAX_S16_H */
