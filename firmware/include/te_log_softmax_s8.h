/*
 * tinyedge: int8 log-softmax over the last axis (TFLite LOG_SOFTMAX), TFLite-Micro's
 * reference LogSoftmaxQuantized: gemmlowp fixed point, no tables.
 *
 * Per row of `depth` values, with diff = input - max of the row:
 *   sum   = sum over diff >= diff_min of exp(requantize(diff, input_multiplier, input_left_shift)) (Q12)
 *   log   = log(sum) (Q5);  cut = max(diff_min - 1, requantize(log + INT32_MIN, reverse_scaling_divisor,
 *                                                              reverse_scaling_shift))
 *   output = diff > cut ? clamp(round((requantize(diff, ...) - log) / 2^22) + 127, -128, 127) : -128
 * The output is in units of 16/256 with zero point 127 (TFLite-Micro requires that quantization).
 * In place allowed.
 */
#ifndef TE_LOG_SOFTMAX_S8_H
#define TE_LOG_SOFTMAX_S8_H

#include <stdint.h>

typedef struct {
    int32_t outer_size;               /* rows */
    int32_t depth;                    /* elements per row (the last dimension) */
    int32_t input_multiplier;         /* Q31 significand of input_scale * 2^26 (capped at 2^31 - 1) */
    int32_t input_left_shift;         /* its power of two, > 0 */
    int32_t reverse_scaling_divisor;  /* Q31 significand of 2^(31 - input_left_shift) / input_multiplier */
    int32_t reverse_scaling_shift;    /* its power of two, <= 0 */
    int32_t diff_min;                 /* -CalculateInputRadius(5, input_left_shift), < 0 */
} te_log_softmax_params;

void te_log_softmax_s8(const te_log_softmax_params *params, const int8_t *input, int8_t *output);

#endif /* TE_LOG_SOFTMAX_S8_H */
