/*
 * tinyedge: int16 TRANSPOSE (16x8 mode) with te_transpose_s8's layout and te_transpose_params
 * (te_transpose_s8.h), steps in int16 elements. The lowering moves most int16 tensors as bytes
 * through te_transpose_s8; this kernel takes the 5-D ones whose bytes would need a sixth axis.
 */
#ifndef TE_TRANSPOSE_S16_H
#define TE_TRANSPOSE_S16_H

#include <stdint.h>

#include "te_transpose_s8.h"

void te_transpose_s16(const te_transpose_params *params, const int16_t *input, int16_t *output);

#endif /* TE_TRANSPOSE_S16_H */
