/*
 * tinyedge: int16 constant padding (TFLite PAD and PADV2 in 16x8 mode).
 *
 * te_pad_s8's layout and te_pad_params (te_pad_s8.h) on int16 tensors; pad_value is in
 * [-32768, 32767]. TFLite-Micro's int16 PAD fills with the integer 0, not the output zero point
 * (they agree at TensorFlow's zero point 0), and PADV2 with its constant's value as it is.
 */
#ifndef TE_PAD_S16_H
#define TE_PAD_S16_H

#include <stdint.h>

#include "te_pad_s8.h"

void te_pad_s16(const te_pad_params *params, const int16_t *input, int16_t *output);

#endif /* TE_PAD_S16_H */
