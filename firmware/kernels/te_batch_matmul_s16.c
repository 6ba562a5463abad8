/*
 * tinyedge: 16x8-mode BATCH_MATMUL, the arithmetic of TFLite-Micro's BatchMatMul<int16_t, int64_t>.
 */
#include "te_batch_matmul_s16.h"

void te_batch_matmul_s16(const te_batch_matmul_params *params, const int16_t *lhs, const int16_t *rhs,
                         int16_t *output)
{
    /* Locals, not params->...: an int16_t store may alias *params, which would force reloads. */
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

    int16_t *out = output;
    for (int32_t b0 = 0; b0 < batches0; ++b0) {
        for (int32_t b1 = 0; b1 < batches1; ++b1) {
            for (int32_t b2 = 0; b2 < batches2; ++b2) {
                const int16_t *lhs_matrix = lhs + b0 * lhs_batch_stride0 + b1 * lhs_batch_stride1
                                            + b2 * lhs_batch_stride2;
                const int16_t *rhs_matrix = rhs + b0 * rhs_batch_stride0 + b1 * rhs_batch_stride1
                                            + b2 * rhs_batch_stride2;
                for (int32_t r = 0; r < rows; ++r) {
                    for (int32_t c = 0; c < cols; ++c) {
                        const int16_t *x = lhs_matrix + r * lhs_row_stride;
                        const int16_t *y = rhs_matrix + c * rhs_col_stride;
                        int64_t acc = 0;
                        for (int32_t k = 0; k < depth; ++k) {
                            acc += ((int64_t)x[k * lhs_depth_stride] + lhs_offset)
                                   * ((int64_t)y[k * rhs_depth_stride] + rhs_offset);
                        }
                        const int32_t scaled = te_nn_requantize_i64(acc, output_multiplier, output_shift)
                                               + output_offset;
                        *out++ = (int16_t)te_nn_clamp_i32(scaled, TE_INT16_MIN, TE_INT16_MAX);
                    }
                }
            }
        }
    }
}
