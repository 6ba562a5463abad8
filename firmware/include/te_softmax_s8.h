/*
 * tinyedge: int8 softmax over the last axis (TFLite-Micro's reference int8 -> int8 softmax).
 *
 * For each row the kernel takes diff = x - max(row); differences at or above diff_min are
 * scaled by beta * input_scale into Q5.26 (input_multiplier, input_left_shift), exp() is
 * evaluated in gemmlowp fixed point, summed in Q12.19, and each output is
 * exp(diff) / sum in units of 1/256 with zero point -128 (the only int8 output
 * quantization TFLite allows for softmax). Differences below diff_min give -128.
 */
#ifndef TE_SOFTMAX_S8_H
#define TE_SOFTMAX_S8_H

#include <stdint.h>

typedef struct {
    int32_t outer_size;       /* rows: product of every dimension but the last, >= 1 */
    int32_t depth;            /* length of the last axis, >= 1 */
    int32_t input_multiplier; /* Q31 significand of min(beta * input_scale * 2^26, 2^31 - 1), [2^30, 2^31) */
    int32_t input_left_shift; /* its power-of-two exponent, >= 0 */
    int32_t diff_min;         /* most negative diff that still counts, <= 0 */
} te_softmax_params;

void te_softmax_s8(const te_softmax_params *params, const int8_t *input, int8_t *output);

#endif /* TE_SOFTMAX_S8_H */
