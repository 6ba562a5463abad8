/*
 * tinyedge: int8 BATCH_MATMUL, the arithmetic of TFLite-Micro's reference kernel.
 */
#include "te_batch_matmul_s8.h"

void te_batch_matmul_s8(const te_batch_matmul_params *params, const int8_t *lhs, const int8_t *rhs,
                        int8_t *output)
{
    /* Locals, not params->...: an int8_t store may alias *params, which would force reloads. */
    const int32_t batches0 = params->batches0;
    const int32_t batches1 = params->batches1;
    const int32_t batches2 = params->batches2;
    const int32_t lhs_batch_stride0 = params->lhs_batch_stride0;
    const int32_t lhs_batch_stride1 = params->lhs_batch_stride1;
    const int32_t lhs_batch_stride2 = params->lhs_batch_stride2;
    const int32_t rhs_batch_stride0 = params->rhs_batch_stride0;
    const int32_t rhs_batch_stride1 = params->rhs_batch_stride1;
    const int32_t rhs_batch_stride2 = params->rhs_batch_stride2;
    const int32_t rows = params->rows;
    const int32_t cols = params->cols;
    const int32_t depth = params->depth;
    const int32_t lhs_row_stride = params->lhs_row_stride;
    const int32_t lhs_depth_stride = params->lhs_depth_stride;
    const int32_t rhs_depth_stride = params->rhs_depth_stride;
    const int32_t rhs_col_stride = params->rhs_col_stride;
    const int32_t lhs_offset = params->lhs_offset;
    const int32_t rhs_offset = params->rhs_offset;
    const int32_t output_offset = params->output_offset;
    const int32_t output_multiplier = params->output_multiplier;
    const int32_t output_shift = params->output_shift;

    int8_t *out = output;
    for (int32_t b0 = 0; b0 < batches0; ++b0) {
        for (int32_t b1 = 0; b1 < batches1; ++b1) {
            for (int32_t b2 = 0; b2 < batches2; ++b2) {
                const int8_t *lhs_matrix = lhs + b0 * lhs_batch_stride0 + b1 * lhs_batch_stride1
                                           + b2 * lhs_batch_stride2;
                const int8_t *rhs_matrix = rhs + b0 * rhs_batch_stride0 + b1 * rhs_batch_stride1
                                           + b2 * rhs_batch_stride2;
                for (int32_t r = 0; r < rows; ++r) {
                    for (int32_t c = 0; c < cols; ++c) {
                        const int8_t *x = lhs_matrix + r * lhs_row_stride;
                        const int8_t *y = rhs_matrix + c * rhs_col_stride;
                        int32_t acc = 0;
                        for (int32_t k = 0; k < depth; ++k) {
                            acc += ((int32_t)x[k * lhs_depth_stride] + lhs_offset)
                                   * ((int32_t)y[k * rhs_depth_stride] + rhs_offset);
                        }
                        acc = te_nn_requantize(acc, output_multiplier, output_shift) + output_offset;
                        *out++ = (int8_t)te_nn_clamp_i32(acc, TE_INT8_MIN, TE_INT8_MAX);
                    }
                }
            }
        }
    }
}
