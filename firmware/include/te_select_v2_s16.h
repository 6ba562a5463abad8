/*
 * tinyedge: int16 SELECT_V2 (16x8 mode): output = condition ? x : y with all three broadcast.
 *
 * te_select_v2_s8's layout and te_select_v2_params (te_select_v2_s8.h) with int16 x, y and
 * output; the condition stays bool (one byte, 0 or 1). Raw values are copied, as TFLite-Micro
 * copies them.
 */
#ifndef TE_SELECT_V2_S16_H
#define TE_SELECT_V2_S16_H

#include <stdint.h>

#include "te_select_v2_s8.h"

void te_select_v2_s16(const te_select_v2_params *params, const uint8_t *condition, const int16_t *x,
                      const int16_t *y, int16_t *output);

#endif /* TE_SELECT_V2_S16_H */
