/*
 * tinyedge: int16 ABS (16x8 mode).
 *
 * te_abs_s8's arithmetic and te_abs_params (te_abs_s8.h) on int16 tensors, outputs clamped to
 * [-32768, 32767]. TFLite-Micro requires zero point 0 on the int16 input and output.
 */
#ifndef TE_ABS_S16_H
#define TE_ABS_S16_H

#include <stdint.h>

#include "te_abs_s8.h"

void te_abs_s16(const te_abs_params *params, const int16_t *input, int16_t *output);

#endif /* TE_ABS_S16_H */
