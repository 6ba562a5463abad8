/*
 * tinyedge: int8 SVDF with int8 state and time weights, TFLite-Micro's other integer SVDF
 * (EvalIntegerSvdfReference for int8_t; keyword_scrambled_8bit in TFLite-Micro's models uses it).
 *
 * The same steps and parameters as te_svdf_s8 (te_svdf_s8.h), with the state one byte wide:
 *   state[b, f, memory_size - 1] = (int8_t)(clamp_int8(requantize(sum_i weights_feature[f, i] *
 *                                  (input[b, i] + input_offset), multiplier_1, shift_1)) + state_zero_point)
 *   acc[b, u] = bias[u] + sum over the rank filters f of u, and m, of
 *               weights_time[f, m] * (state[b, f, m] - state_zero_point)
 *   output[b, u] = clamp_int8(requantize(acc[b, u], multiplier_2, shift_2) + output_offset)
 * Layouts and scratch as te_svdf_s8, with weights_time and state int8. The state buffer holds each
 * value less state_zero_point (modulo 256), so the zeroed arena is TFLite-Micro's starting state
 * (every value at the zero point).
 */
#ifndef TE_SVDF_INT8_STATE_S8_H
#define TE_SVDF_INT8_STATE_S8_H

#include <stdint.h>

#include "te_svdf_s8.h"

void te_svdf_int8_state_s8(const te_svdf_params *params, const int8_t *input, const int8_t *weights_feature,
                           const int8_t *weights_time, const int32_t *bias, int8_t *state, int32_t *scratch,
                           int8_t *output);

#endif /* TE_SVDF_INT8_STATE_S8_H */
