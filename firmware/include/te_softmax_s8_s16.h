/*
 * tinyedge: int8 -> int16 softmax over the last axis, TFLite-Micro's reference
 * Softmax<int8_t, int16_t>.
 *
 * te_softmax_s8's arithmetic and parameters (te_softmax_params, te_softmax_s8.h) with an int16
 * output in units of 1/65536 and zero point -32768 (the only int16 output TFLite-Micro allows
 * after an int8 input). The output is twice the input's size, so it must not overlap the input.
 */
#ifndef TE_SOFTMAX_S8_S16_H
#define TE_SOFTMAX_S8_S16_H

#include <stdint.h>

#include "te_softmax_s8.h"

void te_softmax_s8_s16(const te_softmax_params *params, const int8_t *input, int16_t *output);

#endif /* TE_SOFTMAX_S8_S16_H */
