/*
 * tinyedge: int8 batched matrix multiply (TFLite BATCH_MATMUL) on widened operands: each rhs
 * matrix (once per distinct matrix: a broadcast one is widened once) and each pair of lhs rows
 * is widened to int16 with its zero point already subtracted, so the inner loop has no offset
 * left, and two rows by two columns are summed at a time with 16-bit dual multiply-accumulates
 * (SMLAD on the Cortex-M DSP extension); a constant rhs comes widened from the lowering. The same bytes as te_batch_matmul_s8, with the same
 * parameters (te_batch_matmul_s8.h).
 *
 * Layouts: lhs, rhs and output as te_batch_matmul_s8.h says (strided operands, row-major output).
 *   A widened vector holds depth values (lhs + lhs_offset or rhs + rhs_offset, in [-255, 255]) in
 *   groups of 4 stored x0, x2, x1, x3, zero-padded to whole groups; the two vectors of a pair are
 *   interleaved group by group (te_nn_dsp.h). A widened rhs matrix is its columns so, in pairs (an
 *   odd last column paired with zeros): (cols + 1) / 2 * 8 * groups int16, groups = (depth + 3) / 4.
 *   rhs_widened NULL when rhs is an activation; for a constant rhs, the lowering's widened matrices,
 *           one per rhs matrix in memory order (rhs then goes unread and may be NULL)
 *   scratch TE_BATCH_MATMUL_WIDENED_SCRATCH_BYTES(block, depth) bytes, 4-byte aligned, block the
 *           columns widened at a time: min(cols, TE_BATCH_MATMUL_WIDENED_BLOCK_COLS) for an
 *           activation rhs, 0 with rhs_widened. It holds those rhs columns widened, the pair of
 *           widened lhs rows, then depth rounded up to 4 bytes to gather a strided vector. (A wider
 *           rhs is taken a block at a time, the lhs rows widened again per block: the scratch stays
 *           small whatever cols is.)
 *
 * Per output element, exactly te_batch_matmul_s8's: the int32 sum of the same products (two
 * products of at most 255 * 255 per dual multiply-accumulate), then te_nn_requantize with the
 * output offset and int8 clamp, done as te_nn_requantize_rounding (te_nn_dsp.h) when the output
 * shift is a right shift of 1 to 22 and depth * 255 * 255 < 2^30 (the kernel checks both once
 * per call from the parameters).
 */
#ifndef TE_BATCH_MATMUL_WIDENED_S8_H
#define TE_BATCH_MATMUL_WIDENED_S8_H

#include <stdint.h>

#include "te_batch_matmul_s8.h"
#include "te_nn_dsp.h"

/* The most rhs columns widened at a time (even). */
#define TE_BATCH_MATMUL_WIDENED_BLOCK_COLS 16

/* (block rounded up to even + 2 lhs rows) widened vectors of depth rounded up to 4, and one gather. */
#define TE_BATCH_MATMUL_WIDENED_SCRATCH_BYTES(block, depth) \
    (2 * (((depth) + 3) / 4 * 4) * (((block) + 1) / 2 * 2 + 2) + ((depth) + 3) / 4 * 4)

void te_batch_matmul_widened_s8(const te_batch_matmul_params *params, const int8_t *lhs, const int8_t *rhs,
                                const int16_t *rhs_widened, int16_t *scratch, int8_t *output);

#endif /* TE_BATCH_MATMUL_WIDENED_S8_H */
