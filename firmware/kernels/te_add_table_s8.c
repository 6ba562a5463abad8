/*
 * tinyedge: int8 ADD through per-input tables, bit-exact with te_add_s8.
 *
 * The first two requantizations of an element depend on one int8 input each, so each has at
 * most 256 results: the kernel computes them once per call into `tables` (512 int32 of
 * scratch) and per element only looks them up and requantizes their sum. Worth it above a few
 * hundred elements; the lowering picks it there.
 */
#include "te_add_s8.h"

static void fill_table(int32_t *table, int32_t offset, int32_t left_shift, int32_t multiplier, int32_t shift)
{
    for (int32_t x = -128; x <= 127; ++x) {
        table[x + 128] = te_nn_requantize((x + offset) * (1 << left_shift), multiplier, shift);
    }
}

void te_add_table_s8(const te_add_params *params, const int8_t *input1, const int8_t *input2, int8_t *output,
                     int32_t *tables)
{
    int32_t *const table1 = tables;
    int32_t *const table2 = tables + 256;
    fill_table(table1, params->input1_offset, params->left_shift, params->input1_multiplier, params->input1_shift);
    fill_table(table2, params->input2_offset, params->left_shift, params->input2_multiplier, params->input2_shift);

    const int32_t *shape = params->output_shape;
    const int32_t *s1 = params->input1_strides;
    const int32_t *s2 = params->input2_strides;
    for (int32_t i0 = 0; i0 < shape[0]; ++i0) {
        for (int32_t i1 = 0; i1 < shape[1]; ++i1) {
            for (int32_t i2 = 0; i2 < shape[2]; ++i2) {
                const int8_t *in1 = input1 + i0 * s1[0] + i1 * s1[1] + i2 * s1[2];
                const int8_t *in2 = input2 + i0 * s2[0] + i1 * s2[1] + i2 * s2[2];
                for (int32_t i3 = 0; i3 < shape[3]; ++i3) {
                    const int32_t sum = table1[in1[i3 * s1[3]] + 128] + table2[in2[i3 * s2[3]] + 128];
                    const int32_t out = te_nn_requantize(sum, params->output_multiplier, params->output_shift)
                                        + params->output_offset;
                    *output++ = (int8_t)te_nn_clamp_i32(out, params->activation_min, params->activation_max);
                }
            }
        }
    }
}
