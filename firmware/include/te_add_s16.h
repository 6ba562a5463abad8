/*
 * tinyedge: int16 element-wise addition with broadcasting (TFLite ADD in 16x8 mode).
 *
 * The layout, broadcasting and arithmetic of te_add_s8 (te_add_s8.h, whose te_add_params it
 * takes), with int16 inputs and output: left_shift is 15, so that an offset input, up to
 * 65535 in magnitude, shifted stays below 2^31; offsets and clamp bounds are in the int16
 * range. TFLite-Micro's int16 ADD is its general rescaling path (AddGeneralParamScale), with
 * no power-of-two shortcut, so any zero points are taken.
 *
 * In place: the output may be the same buffer as input1 when input1 is not broadcast.
 */
#ifndef TE_ADD_S16_H
#define TE_ADD_S16_H

#include <stdint.h>

#include "te_add_s8.h"

void te_add_s16(const te_add_params *params, const int16_t *input1, const int16_t *input2, int16_t *output);

#endif /* TE_ADD_S16_H */
