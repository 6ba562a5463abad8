/*
 * tinyedge: int16 TANH (16x8 mode), TFLite-Micro's reference int16 tanh.
 *
 * Input and output zero point 0; output in units of 2^-15. tanh(x) = 2 * sigmoid(2x) - 1 over
 * the LOGISTIC kernel's table: x is scaled as te_logistic_s16 scales it, then interpolated with
 * 8 fractional bits (the 2x), and 2 * s - 1 rounded to Q15. input and output may be the same buffer.
 */
#ifndef TE_TANH_S16_H
#define TE_TANH_S16_H

#include <stdint.h>

typedef struct {
    int32_t size;                   /* elements */
    int32_t input_multiplier;       /* [1, 32767] for any input scale below 1.33; see the lowering */
    int32_t input_left_shift;       /* rounding right shift after the multiply, [0, 31] */
    const uint16_t *sigmoid_table;  /* [256]: sigmoid(i / 24) in 0.16, TFLite-Micro's sigmoid_table_uint16 */
} te_tanh_s16_params;

void te_tanh_s16(const te_tanh_s16_params *params, const int16_t *input, int16_t *output);

#endif /* TE_TANH_S16_H */
