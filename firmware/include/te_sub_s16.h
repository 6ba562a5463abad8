/*
 * tinyedge: int16 element-wise subtraction with broadcasting (TFLite SUB in 16x8 mode).
 *
 * The layout, broadcasting and arithmetic of te_sub_s8 (te_sub_s8.h, whose te_sub_params it
 * takes), with int16 inputs and output: left_shift is 15, so that an offset input, up to
 * 65535 in magnitude, shifted stays below 2^31; offsets and clamp bounds are in the int16
 * range. TFLite-Micro's int16 SUB is its general rescaling path (SubElementwise), with
 * no power-of-two shortcut, so any zero points are taken.
 *
 * In place: the output may be the same buffer as input1 when input1 is not broadcast.
 */
#ifndef TE_SUB_S16_H
#define TE_SUB_S16_H

#include <stdint.h>

#include "te_sub_s8.h"

void te_sub_s16(const te_sub_params *params, const int16_t *input1, const int16_t *input2, int16_t *output);

#endif /* TE_SUB_S16_H */
