/*
 * tinyedge: int16 element-wise smaller value with broadcasting (TFLite MINIMUM in 16x8 mode).
 *
 * te_minimum_s8's layout and te_minimum_params (te_minimum_s8.h) on int16 tensors: the raw values are
 * compared, as TFLite-Micro compares them (it takes the quantizations to be equal).
 */
#ifndef TE_MINIMUM_S16_H
#define TE_MINIMUM_S16_H

#include <stdint.h>

#include "te_minimum_s8.h"

void te_minimum_s16(const te_minimum_params *params, const int16_t *input1, const int16_t *input2, int16_t *output);

#endif /* TE_MINIMUM_S16_H */
