/*
 * tinyedge: int16 PRELU (16x8 mode), x >= 0 ? x : alpha * x with alpha broadcast.
 *
 * te_prelu_s8's layout, arithmetic and te_prelu_params (te_prelu_s8.h) with an int16 input and
 * output and an int8 alpha, as TFLite-Micro requires in 16x8 mode: offsets in the int16 range
 * for input and output; x * (alpha + alpha_offset) stays within 2^24. Outputs clamped to
 * [-32768, 32767].
 */
#ifndef TE_PRELU_S16_H
#define TE_PRELU_S16_H

#include <stdint.h>

#include "te_prelu_s8.h"

void te_prelu_s16(const te_prelu_params *params, const int16_t *input, const int8_t *alpha, int16_t *output);

#endif /* TE_PRELU_S16_H */
