/*
 * tinyedge: int16 AVERAGE_POOL_2D over NHWC windows (16x8 mode).
 *
 * te_avg_pool2d_s8's layout and te_avg_pool2d_params (te_avg_pool2d_s8.h) on int16 tensors; clamp bounds in
 * [-32768, 32767]. As for int8, TFLite-Micro pools the raw values and requires the output
 * quantized as the input.
 */
#ifndef TE_AVG_POOL2D_S16_H
#define TE_AVG_POOL2D_S16_H

#include <stdint.h>

#include "te_avg_pool2d_s8.h"

void te_avg_pool2d_s16(const te_avg_pool2d_params *params, const int16_t *input, int16_t *output);

#endif /* TE_AVG_POOL2D_S16_H */
