/*
 * tinyedge: int8 HARD_SWISH, x * relu6(x + 3) / 6, TFLite-Micro's reference_ops::HardSwish.
 *
 * The reference works in 16-bit fixed point: x - zero point is scaled by 2^7 ("hires"),
 * multiplied by output_multiplier (a Q15 significand) toward the output scale, and by a
 * "relu-ish" factor in [0, 1] that maps x in [-3, 3] affinely onto [0, 1] (reluish
 * multiplier and exponent, with saturation); the product is shifted right by
 * -output_exponent and offset by the output zero point.
 */
#ifndef TE_HARD_SWISH_S8_H
#define TE_HARD_SWISH_S8_H

#include <stdint.h>

typedef struct {
    int32_t size;                /* number of elements */
    int32_t input_zero_point;    /* [-128, 127] */
    int32_t output_zero_point;   /* [-128, 127] */
    int32_t output_multiplier;   /* Q15 significand of (input_scale / 128) / output_scale, [2^14, 2^15) */
    int32_t output_exponent;     /* its power-of-two exponent, [-15, 0] */
    int32_t reluish_multiplier;  /* Q15 significand of (input_scale / 128) / (3 / 32768), [2^14, 2^15) */
    int32_t reluish_exponent;    /* its power-of-two exponent, [-15, 15] */
} te_hard_swish_params;

void te_hard_swish_s8(const te_hard_swish_params *params, const int8_t *input, int8_t *output);

#endif /* TE_HARD_SWISH_S8_H */
