/*
 * tinyedge: int8 comparisons with broadcasting (TFLite EQUAL, NOT_EQUAL, GREATER, GREATER_EQUAL,
 * LESS, LESS_EQUAL), one kernel with the comparison as a parameter.
 *
 * Shapes and strides as in te_add_s8.h (output [output_shape[0..3]] row-major, stride 0 where
 * an input is broadcast; without broadcasting shape [1, 1, 1, size], strides [0, 0, 0, 1]).
 *
 * Per element, each input is brought to a common scale as TFLite-Micro's comparisons.cc does,
 *     scaled = requantize((x + input_offset) * 2^left_shift, input_multiplier, input_shift)
 * and output = (scaled1 OP scaled2), a bool byte: 1 or 0.
 * Ranges: offsets in [-127, 128], left_shift 8, multipliers in [2^30, 2^31), shifts <= 0.
 *
 * In place: the output may be the same buffer as input1 when input1 is not broadcast.
 */
#ifndef TE_COMPARISON_S8_H
#define TE_COMPARISON_S8_H

#include <stdint.h>

typedef enum {
    TE_COMPARISON_EQUAL,
    TE_COMPARISON_NOT_EQUAL,
    TE_COMPARISON_GREATER,
    TE_COMPARISON_GREATER_EQUAL,
    TE_COMPARISON_LESS,
    TE_COMPARISON_LESS_EQUAL
} te_comparison;

typedef struct {
    te_comparison comparison;
    int32_t left_shift;
    int32_t input1_offset;
    int32_t input1_multiplier;
    int32_t input1_shift;
    int32_t input2_offset;
    int32_t input2_multiplier;
    int32_t input2_shift;
    const int32_t *output_shape;    /* [4] */
    const int32_t *input1_strides;  /* [4] elements; 0 where input1 is broadcast */
    const int32_t *input2_strides;  /* [4] elements; 0 where input2 is broadcast */
} te_comparison_params;

/* output: bool tensor, one byte per element. */
void te_comparison_s8(const te_comparison_params *params, const int8_t *input1, const int8_t *input2,
                      uint8_t *output);

#endif /* TE_COMPARISON_S8_H */
