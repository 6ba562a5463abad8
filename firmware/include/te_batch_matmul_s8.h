/*
 * tinyedge: int8 batched matrix multiply (TFLite BATCH_MATMUL), per-tensor quantization on
 * both operands; the reference arithmetic of TFLite-Micro.
 *
 * Layouts: each operand is a stack of matrices addressed through strides, so transposed
 * operands (adj_x, adj_y) and broadcast batch dimensions need no copy:
 *   lhs element (row r, depth k) of batch (b0, b1, b2) at
 *       b0 * lhs_batch_stride0 + b1 * lhs_batch_stride1 + b2 * lhs_batch_stride2
 *       + r * lhs_row_stride + k * lhs_depth_stride
 *   rhs element (depth k, column c) likewise with rhs_batch_stride*, rhs_depth_stride, rhs_col_stride
 *   (a batch stride of 0 repeats the operand along that batch dimension: broadcasting)
 *   output [batches0, batches1, batches2, rows, cols] int8, row-major
 *
 * Per output element:
 *   acc = sum over k of (lhs[r, k] + lhs_offset) * (rhs[k, c] + rhs_offset)   (int32)
 *   out = clamp(requantize(acc, output_multiplier, output_shift) + output_offset, -128, 127)
 */
#ifndef TE_BATCH_MATMUL_S8_H
#define TE_BATCH_MATMUL_S8_H

#include <stdint.h>

#include "te_nn_math.h"

typedef struct {
    int32_t batches0;            /* output batch dimensions (1 when absent) */
    int32_t batches1;
    int32_t batches2;
    int32_t lhs_batch_stride0;   /* elements, 0 where lhs is broadcast */
    int32_t lhs_batch_stride1;
    int32_t lhs_batch_stride2;
    int32_t rhs_batch_stride0;   /* elements, 0 where rhs is broadcast */
    int32_t rhs_batch_stride1;
    int32_t rhs_batch_stride2;
    int32_t rows;                /* output rows per matrix */
    int32_t cols;                /* output columns per matrix */
    int32_t depth;               /* values summed per output */
    int32_t lhs_row_stride;      /* depth, or 1 for a transposed lhs (adj_x) */
    int32_t lhs_depth_stride;    /* 1, or rows for a transposed lhs */
    int32_t rhs_depth_stride;    /* cols, or 1 for a transposed rhs (adj_y) */
    int32_t rhs_col_stride;      /* 1, or depth for a transposed rhs */
    int32_t lhs_offset;          /* -lhs zero point, [-127, 128] */
    int32_t rhs_offset;          /* -rhs zero point, [-127, 128] */
    int32_t output_offset;       /* output zero point, [-128, 127] */
    int32_t output_multiplier;   /* Q31 significand, [2^30, 2^31) or 0 */
    int32_t output_shift;        /* power-of-two exponent, [-31, 30] */
} te_batch_matmul_params;

void te_batch_matmul_s8(const te_batch_matmul_params *params, const int8_t *lhs, const int8_t *rhs,
                        int8_t *output);

#endif /* TE_BATCH_MATMUL_S8_H */
