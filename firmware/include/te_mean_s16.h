/*
 * tinyedge: int16 MEAN and SUM over constant axes (16x8 mode).
 *
 * te_mean_s8's layout, scratch and te_mean_params (te_mean_s8.h) on int16 tensors: the
 * zero-point-corrected int32 sums of int16 values, requantized, offset and clamped to
 * [-32768, 32767]. `sums` is scratch for num_outputs int32 values.
 */
#ifndef TE_MEAN_S16_H
#define TE_MEAN_S16_H

#include <stdint.h>

#include "te_mean_s8.h"

void te_mean_s16(const te_mean_params *params, const int16_t *input, int32_t *sums, int16_t *output);

#endif /* TE_MEAN_S16_H */
