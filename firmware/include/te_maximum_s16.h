/*
 * tinyedge: int16 element-wise larger value with broadcasting (TFLite MAXIMUM in 16x8 mode).
 *
 * te_maximum_s8's layout and te_maximum_params (te_maximum_s8.h) on int16 tensors: the raw values are
 * compared, as TFLite-Micro compares them (it takes the quantizations to be equal).
 */
#ifndef TE_MAXIMUM_S16_H
#define TE_MAXIMUM_S16_H

#include <stdint.h>

#include "te_maximum_s8.h"

void te_maximum_s16(const te_maximum_params *params, const int16_t *input1, const int16_t *input2, int16_t *output);

#endif /* TE_MAXIMUM_S16_H */
