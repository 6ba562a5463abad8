/*
 * tinyedge: the output stage the 16x8 convolution variants share: every output channel of two
 * pixels from their columns (te_nn_dot_s16_2x2), requantized as te_conv2d_s16 does.
 */
#ifndef TE_NN_MAT_MULT_S16_H
#define TE_NN_MAT_MULT_S16_H

#include <stddef.h>
#include <stdint.h>

#include "te_nn_dot_s16.h"
#include "te_nn_s16.h"

/* The requantization and clamp of one 16x8 convolution (its params' fields). */
typedef struct {
    int32_t output_depth;
    int32_t activation_min;
    int32_t activation_max;
    int32_t accumulator_bits;
    const int32_t *requant;  /* [output_depth][TE_NN_REQUANT_S16_WORDS]: te_nn_requantize_s16_fast */
} te_nn_requant_s16;

static inline int16_t te_nn_output_s16(int64_t acc, const int64_t *bias, int32_t c, const te_nn_requant_s16 *q)
{
    const int64_t sum = acc + (bias != NULL ? bias[c] : 0);
    const int32_t scaled = te_nn_requantize_s16_fast(sum, q->requant + TE_NN_REQUANT_S16_WORDS * c,
                                                     q->accumulator_bits);
    return (int16_t)te_nn_clamp_i32(scaled, q->activation_min, q->activation_max);
}

/*
 * out0 (out1): every channel of the pixel whose column is x0 (x1), k values each; filter: blocks of
 * two rows (te_nn_dot_s16.h). out1 NULL: one pixel (x1 is then read but not stored).
 */
static inline void te_nn_mat_mult_s16(const int8_t *filter, const int64_t *bias, const int16_t *x0,
                                      const int16_t *x1, int32_t k, const te_nn_requant_s16 *q, int16_t *out0,
                                      int16_t *out1)
{
    const int32_t output_depth = q->output_depth;
    for (int32_t c = 0; c < output_depth; c += 2) {
        int64_t acc[4];
        if (k <= 4 * TE_S16_CHUNK_GROUPS) { /* one chunk: 32-bit sums throughout */
            int32_t a[4];
            te_nn_dot_s16_2x2_short(filter + c * k, x0, x1, k, a);
            acc[0] = a[0], acc[1] = a[1], acc[2] = a[2], acc[3] = a[3];
        } else {
            acc[0] = acc[1] = acc[2] = acc[3] = 0;
            te_nn_dot_s16_2x2(filter + c * k, x0, x1, k, acc);
        }
        out0[c] = te_nn_output_s16(acc[0], bias, c, q);
        if (out1 != NULL) {
            out1[c] = te_nn_output_s16(acc[1], bias, c, q);
        }
        if (c + 1 < output_depth) { /* else the block's second row is the zero row */
            out0[c + 1] = te_nn_output_s16(acc[2], bias, c + 1, q);
            if (out1 != NULL) {
                out1[c + 1] = te_nn_output_s16(acc[3], bias, c + 1, q);
            }
        }
    }
}

#endif /* TE_NN_MAT_MULT_S16_H */
