/*
 * tinyedge: int16 LOGISTIC (16x8 mode), TFLite-Micro's reference int16 logistic.
 *
 * Input and output zero point 0; output in units of 2^-15 ([0, 32767] for [0, 1)).
 * Each input is brought to the table's scale 1/(3 * 4096):
 *   x = (input * input_multiplier + 2^(input_left_shift - 1)) >> input_left_shift
 * (no rounding term when the shift is 0), then sigmoid(|x|) is interpolated between
 * sigmoid_table[|x| >> 9] and the next entry with |x|'s 9 low bits, and mirrored for x < 0.
 * input and output may be the same buffer.
 */
#ifndef TE_LOGISTIC_S16_H
#define TE_LOGISTIC_S16_H

#include <stdint.h>

typedef struct {
    int32_t size;                   /* elements */
    int32_t input_multiplier;       /* [1, 32767] for any input scale below 1.33; see the lowering */
    int32_t input_left_shift;       /* rounding right shift after the multiply, [0, 31] */
    const uint16_t *sigmoid_table;  /* [256]: sigmoid(i / 24) in 0.16, TFLite-Micro's sigmoid_table_uint16 */
} te_logistic_s16_params;

void te_logistic_s16(const te_logistic_s16_params *params, const int16_t *input, int16_t *output);

#endif /* TE_LOGISTIC_S16_H */
