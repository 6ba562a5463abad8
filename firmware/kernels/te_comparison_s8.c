/*
 * tinyedge: int8 comparisons, as TFLite-Micro's reference kernels (comparisons.cc) compute them:
 * both inputs rescaled to a common scale, then compared. The same bytes for all six comparisons.
 */
#include "te_comparison_s8.h"
#include "te_nn_math.h"

static int compare(te_comparison comparison, int32_t a, int32_t b)
{
    switch (comparison) {
    case TE_COMPARISON_EQUAL: return a == b;
    case TE_COMPARISON_NOT_EQUAL: return a != b;
    case TE_COMPARISON_GREATER: return a > b;
    case TE_COMPARISON_GREATER_EQUAL: return a >= b;
    case TE_COMPARISON_LESS: return a < b;
    case TE_COMPARISON_LESS_EQUAL: return a <= b;
    }
    return 0;
}

void te_comparison_s8(const te_comparison_params *params, const int8_t *input1, const int8_t *input2,
                      uint8_t *output)
{
    /* Copied into locals: the compiler cannot tell that output does not alias *params. */
    const te_comparison comparison = params->comparison;
    const int32_t left_shift = params->left_shift;
    const int32_t offset1 = params->input1_offset, multiplier1 = params->input1_multiplier;
    const int32_t shift1 = params->input1_shift;
    const int32_t offset2 = params->input2_offset, multiplier2 = params->input2_multiplier;
    const int32_t shift2 = params->input2_shift;
    const int32_t *shape = params->output_shape;
    const int32_t *s1 = params->input1_strides;
    const int32_t *s2 = params->input2_strides;

    for (int32_t i0 = 0; i0 < shape[0]; ++i0) {
        for (int32_t i1 = 0; i1 < shape[1]; ++i1) {
            for (int32_t i2 = 0; i2 < shape[2]; ++i2) {
                const int8_t *in1 = input1 + i0 * s1[0] + i1 * s1[1] + i2 * s1[2];
                const int8_t *in2 = input2 + i0 * s2[0] + i1 * s2[1] + i2 * s2[2];
                for (int32_t i3 = 0; i3 < shape[3]; ++i3) {
                    const int32_t x1 = (in1[i3 * s1[3]] + offset1) * (1 << left_shift);
                    const int32_t x2 = (in2[i3 * s2[3]] + offset2) * (1 << left_shift);
                    const int32_t scaled1 = te_nn_requantize(x1, multiplier1, shift1);
                    const int32_t scaled2 = te_nn_requantize(x2, multiplier2, shift2);
                    output[i3] = (uint8_t)compare(comparison, scaled1, scaled2);
                }
                output += shape[3];
            }
        }
    }
}
