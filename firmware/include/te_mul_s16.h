/*
 * tinyedge: int16 element-wise multiplication with broadcasting (TFLite MUL in 16x8 mode).
 *
 * te_mul_s8's layout, broadcasting and arithmetic with te_mul_params (te_mul_s8.h) on int16
 * tensors: TFLite-Micro requires zero point 0 on both inputs and the output, so the offsets are
 * 0 and the product of two int16 values, at most 2^30 in magnitude, fits int32; clamp bounds
 * in [-32768, 32767].
 *
 * In place: the output may be the same buffer as input1 when input1 is not broadcast.
 */
#ifndef TE_MUL_S16_H
#define TE_MUL_S16_H

#include <stdint.h>

#include "te_mul_s8.h"

void te_mul_s16(const te_mul_params *params, const int16_t *input1, const int16_t *input2, int16_t *output);

#endif /* TE_MUL_S16_H */
