/*
 * tinyedge: int8 SVDF with int16 state, faster: the same bytes as te_svdf_s8 (te_svdf_s8.h) for a
 * state zero point of 0 (what converters write).
 *
 * The input vector, with its offset added, is widened once per batch to int16 (te_nn_dsp.h's
 * group order) and the feature weights come packed as te_nn_dot_* reads them (rows zero-padded
 * to whole groups of 4, pairs of filters interleaved word by word): two filters per pass, two
 * SMLADs per group of 4 on DSP cores. The time products take int16 pairs by SMLAD. The memory
 * shift is one memmove. Sums wrap modulo 2^32, as the reference's do.
 *
 * scratch: te_svdf_packed_s8_scratch_size(...) int32 values: the filter sums, the unit sums and
 * the widened input column.
 */
#ifndef TE_SVDF_PACKED_S8_H
#define TE_SVDF_PACKED_S8_H

#include <stdint.h>

#include "te_svdf_s8.h"

static inline int32_t te_svdf_packed_s8_scratch_size(int32_t batches, int32_t filters, int32_t units,
                                                     int32_t input_size) {
    return te_svdf_s8_scratch_size(batches, filters, units) + (input_size + 3) / 4 * 2;
}

/* params->state_zero_point must be 0. */
void te_svdf_packed_s8(const te_svdf_params *params, const int8_t *input, const int8_t *packed_feature,
                       const int16_t *weights_time, const int32_t *bias, int16_t *state, int32_t *scratch,
                       int8_t *output);

#endif /* TE_SVDF_PACKED_S8_H */
