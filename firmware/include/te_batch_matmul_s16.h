/*
 * tinyedge: 16x8-mode BATCH_MATMUL (both operands and the output int16, zero points 0), TFLite-Micro's
 * reference BatchMatMul<int16_t, int64_t>: the te_batch_matmul_params of the int8 kernel (its
 * offsets are 0 here, as TFLite-Micro requires), sums in int64, requantized by te_nn_requantize_i64
 * and clamped to the int16 range (no fused activation).
 */
#ifndef TE_BATCH_MATMUL_S16_H
#define TE_BATCH_MATMUL_S16_H

#include <stdint.h>

#include "te_batch_matmul_s8.h"

void te_batch_matmul_s16(const te_batch_matmul_params *params, const int16_t *lhs, const int16_t *rhs,
                         int16_t *output);

#endif /* TE_BATCH_MATMUL_S16_H */
