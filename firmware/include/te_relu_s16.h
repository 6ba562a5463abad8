/*
 * tinyedge: int16 RELU, RELU6 and LEAKY_RELU (16x8 mode) as TFLite-Micro runs them alone.
 *
 * te_relu_s8's arithmetic and te_relu_params (te_relu_s8.h) on int16 tensors: offsets and
 * clamp bounds in [-32768, 32767]; x = input - input_offset spans up to 65535 in magnitude.
 * TFLite-Micro requires zero point 0 on RELU's int16 input and output; RELU6 and LEAKY_RELU
 * take any.
 */
#ifndef TE_RELU_S16_H
#define TE_RELU_S16_H

#include <stdint.h>

#include "te_relu_s8.h"

void te_relu_s16(const te_relu_params *params, const int16_t *input, int16_t *output);

#endif /* TE_RELU_S16_H */
