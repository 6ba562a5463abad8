/*
 * tinyedge: 16x8-mode BATCH_MATMUL with SMLALD on int16 pairs of both operands; the same bytes as
 * te_batch_matmul_s16.
 */
#include "te_batch_matmul_packed_s16.h"

#include "te_nn_dot_s16.h"

#if TE_S16_DSP
static inline int64_t te_bmm_smlald(uint32_t x, uint32_t y, int64_t acc) { return __smlald(x, y, acc); }
#else
static inline int64_t te_bmm_smlald(uint32_t x, uint32_t y, int64_t acc)
{
    return acc + (int32_t)(int16_t)x * (int16_t)y + (int64_t)((int32_t)(int16_t)(x >> 16) * (int16_t)(y >> 16));
}
#endif

static inline int16_t te_bmm_output_s16(int64_t acc, const int32_t *requant)
{
    return (int16_t)te_nn_clamp_i32(te_nn_requantize_s16_fast(acc, requant, 64), TE_INT16_MIN, TE_INT16_MAX);
}

void te_batch_matmul_packed_s16(const te_batch_matmul_params *params, const int32_t *requant, const int16_t *lhs,
                                const int16_t *rhs, int16_t *scratch, int16_t *output)
{
    const int32_t rows = params->rows;
    const int32_t cols = params->cols;
    const int32_t depth = params->depth;
    const int32_t lhs_row_stride = params->lhs_row_stride;
    const int32_t lhs_depth_stride = params->lhs_depth_stride;
    const int32_t rhs_depth_stride = params->rhs_depth_stride;
    const int32_t rhs_col_stride = params->rhs_col_stride;
    const int32_t pairs = depth >> 1;
    int16_t *column = scratch;        /* depth values */
    int16_t *lhs_rows = scratch + depth; /* rows x depth, for a transposed lhs */

    int16_t *out = output;
    for (int32_t b0 = 0; b0 < params->batches0; ++b0) {
        for (int32_t b1 = 0; b1 < params->batches1; ++b1) {
            for (int32_t b2 = 0; b2 < params->batches2; ++b2) {
                const int16_t *lhs_matrix = lhs + b0 * params->lhs_batch_stride0 + b1 * params->lhs_batch_stride1
                                            + b2 * params->lhs_batch_stride2;
                const int16_t *rhs_matrix = rhs + b0 * params->rhs_batch_stride0 + b1 * params->rhs_batch_stride1
                                            + b2 * params->rhs_batch_stride2;
                if (lhs_depth_stride != 1) { /* a transposed lhs: its rows gathered once */
                    for (int32_t r = 0; r < rows; ++r) {
                        for (int32_t k = 0; k < depth; ++k) {
                            lhs_rows[r * depth + k] = lhs_matrix[r * lhs_row_stride + k * lhs_depth_stride];
                        }
                    }
                    lhs_matrix = lhs_rows;
                }
                const int32_t row_stride = lhs_depth_stride != 1 ? depth : lhs_row_stride;
                for (int32_t c = 0; c < cols; ++c) {
                    const int16_t *y = rhs_matrix + c * rhs_col_stride;
                    if (rhs_depth_stride != 1) { /* an rhs stored [depth, cols]: its column gathered */
                        for (int32_t k = 0; k < depth; ++k) {
                            column[k] = y[k * rhs_depth_stride];
                        }
                        y = column;
                    }
                    for (int32_t r = 0; r < rows; r += 2) {
                        /* A last odd row: computed twice, stored once. */
                        const int16_t *x0 = lhs_matrix + r * row_stride;
                        const int16_t *x1 = r + 1 < rows ? x0 + row_stride : x0;
                        int64_t acc0 = 0, acc1 = 0;
                        for (int32_t p = 0; p < pairs; ++p) {
                            const uint32_t yy = te_s16_read_u32(y + 2 * p);
                            acc0 = te_bmm_smlald(te_s16_read_u32(x0 + 2 * p), yy, acc0);
                            acc1 = te_bmm_smlald(te_s16_read_u32(x1 + 2 * p), yy, acc1);
                        }
                        if (depth & 1) {
                            acc0 += (int32_t)x0[depth - 1] * y[depth - 1];
                            acc1 += (int32_t)x1[depth - 1] * y[depth - 1];
                        }
                        out[r * cols + c] = te_bmm_output_s16(acc0, requant);
                        if (r + 1 < rows) {
                            out[(r + 1) * cols + c] = te_bmm_output_s16(acc1, requant);
                        }
                    }
                }
                out += rows * cols;
            }
        }
    }
}
