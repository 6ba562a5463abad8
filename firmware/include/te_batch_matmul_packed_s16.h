/*
 * tinyedge: 16x8-mode BATCH_MATMUL (int16 x int16), fast: the same bytes as te_batch_matmul_s16.
 * Both operands are int16, so neither needs widening: SMLALD multiplies a pair of lhs values by a
 * pair of rhs values into a 64-bit sum (products reach 2^30, so 32-bit sums would not hold). Two
 * lhs rows at a time share each rhs column. An rhs stored [depth, cols] (no adj_y) has its column
 * gathered into scratch; an lhs stored [depth, rows] (adj_x) is gathered into scratch as rows once
 * per matrix.
 *
 * Takes te_batch_matmul_params (te_batch_matmul_s8.h; offsets 0) and the requantization constants
 * of te_nn_requantize_s16_fast (te_nn_s16.h) for the one multiplier; scratch
 * TE_BATCH_MATMUL_PACKED_S16_SCRATCH_BYTES.
 */
#ifndef TE_BATCH_MATMUL_PACKED_S16_H
#define TE_BATCH_MATMUL_PACKED_S16_H

#include <stdint.h>

#include "te_batch_matmul_s8.h"
#include "te_nn_s16.h"

/* An rhs column (depth values) and, for a transposed lhs, the whole lhs matrix as rows, in int16. */
#define TE_BATCH_MATMUL_PACKED_S16_SCRATCH_BYTES(rows, depth, adj_x) (2 * (depth) * (1 + ((adj_x) ? (rows) : 0)))

void te_batch_matmul_packed_s16(const te_batch_matmul_params *params, const int32_t *requant, const int16_t *lhs,
                                const int16_t *rhs, int16_t *scratch, int16_t *output);

#endif /* TE_BATCH_MATMUL_PACKED_S16_H */
