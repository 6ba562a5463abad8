/*
 * tinyedge: int8 sum of num_inputs tensors of one shape (TFLite ADD_N).
 *
 * Every input holds `size` int8 values in the same layout as the output and shares one scale
 * and zero point. Each element, as TFLite-Micro's reference AddN computes it:
 *   acc  = requantize((input_offset) << left_shift, input_multiplier, input_shift)
 *   acc += requantize((input_offset + inputs[j][i]) << left_shift, ...)   for each input j
 *   output[i] = clamp(requantize(acc, output_multiplier, output_shift) + output_offset)
 * (the sum starts from the rescaled input offset, as the reference does).
 */
#ifndef TE_ADD_N_S8_H
#define TE_ADD_N_S8_H

#include <stdint.h>

typedef struct {
    int32_t num_inputs;         /* >= 2 */
    int32_t size;               /* elements of each tensor, >= 0 */
    int32_t input_offset;       /* minus the inputs' zero point, [-127, 128] */
    int32_t left_shift;         /* 20 */
    int32_t input_multiplier;   /* Q31 significand, [2^30, 2^31) */
    int32_t input_shift;        /* <= 0 */
    int32_t output_multiplier;  /* Q31 significand, [2^30, 2^31) */
    int32_t output_shift;       /* <= 0 */
    int32_t output_offset;      /* the output's zero point, [-128, 127] */
    int32_t activation_min;     /* [-128, 127] */
    int32_t activation_max;     /* [activation_min, 127] */
} te_add_n_params;

void te_add_n_s8(const te_add_n_params *params, const int8_t *const *inputs, int8_t *output);

#endif /* TE_ADD_N_S8_H */
