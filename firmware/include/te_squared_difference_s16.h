/*
 * tinyedge: int16 (input1 - input2)^2 with broadcasting (TFLite SQUARED_DIFFERENCE in 16x8 mode).
 *
 * te_squared_difference_s8's layout and arithmetic with te_squared_difference_params
 * (te_squared_difference_s8.h) on int16 tensors: TFLite-Micro requires zero point 0 everywhere
 * and uses no headroom (left_shift 0): each rescaled input is at most 2^14 in magnitude, so the
 * square of their difference stays within 2^30. Outputs are clamped to [-32768, 32767].
 */
#ifndef TE_SQUARED_DIFFERENCE_S16_H
#define TE_SQUARED_DIFFERENCE_S16_H

#include <stdint.h>

#include "te_squared_difference_s8.h"

void te_squared_difference_s16(const te_squared_difference_params *params, const int16_t *input1,
                               const int16_t *input2, int16_t *output);

#endif /* TE_SQUARED_DIFFERENCE_S16_H */
