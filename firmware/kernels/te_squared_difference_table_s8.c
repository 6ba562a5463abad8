/*
 * tinyedge: int8 SQUARED_DIFFERENCE through per-input tables, bit-exact with
 * te_squared_difference_s8.
 *
 * The two input rescalings of an element depend on one int8 input each, so each has at most
 * 256 results: the kernel computes them once per call into `tables` (512 int32 of scratch) and
 * per element only looks them up, squares their difference and requantizes it (one rounding
 * multiply-high and shift). Worth it above a few hundred elements; the lowering picks it there.
 */
#include "te_squared_difference_s8.h"
#include "te_nn_dsp.h"

static void fill_table(int32_t *table, int32_t offset, int32_t left_shift, int32_t multiplier, int32_t shift)
{
    for (int32_t x = -128; x <= 127; ++x) {
        table[x + 128] = te_nn_requantize((x + offset) * (1 << left_shift), multiplier, shift);
    }
}

/* The element loop for one rescale form (a constant at each call, so each form has its own loop). */
static TE_NN_ALWAYS_INLINE void te_squared_difference_table_loop(const te_squared_difference_table_params *params,
                                                                 const int32_t *table1, const int32_t *table2,
                                                                 const int8_t *input1, const int8_t *input2,
                                                                 int8_t *output, int form)
{
    /* Parameters copied into locals: as far as the compiler knows, every int8 store to the output
     * may change *params, and it would load each field again for every element. */
    const int32_t output_multiplier = params->output_multiplier;
    const int32_t output_rounding = params->output_rounding;
    const int32_t shift = params->shift;
    const int32_t shape[4] = {params->output_shape[0], params->output_shape[1], params->output_shape[2],
                              params->output_shape[3]};
    const int32_t s1[4] = {params->input1_strides[0], params->input1_strides[1], params->input1_strides[2],
                           params->input1_strides[3]};
    const int32_t s2[4] = {params->input2_strides[0], params->input2_strides[1], params->input2_strides[2],
                           params->input2_strides[3]};

    for (int32_t i0 = 0; i0 < shape[0]; ++i0) {
        for (int32_t i1 = 0; i1 < shape[1]; ++i1) {
            for (int32_t i2 = 0; i2 < shape[2]; ++i2) {
                const int8_t *in1 = input1 + i0 * s1[0] + i1 * s1[1] + i2 * s1[2];
                const int8_t *in2 = input2 + i0 * s2[0] + i1 * s2[1] + i2 * s2[2];
                for (int32_t i3 = 0; i3 < shape[3]; ++i3) {
                    const int32_t difference = table1[*in1 + 128] - table2[*in2 + 128];
                    const int32_t out =
                        te_nn_rescale(difference * difference, output_multiplier, output_rounding, shift, form);
                    *output++ = (int8_t)te_nn_clamp_i32(out, TE_INT8_MIN, TE_INT8_MAX);
                    in1 += s1[3];
                    in2 += s2[3];
                }
            }
        }
    }
}

void te_squared_difference_table_s8(const te_squared_difference_table_params *params, const int8_t *input1,
                                    const int8_t *input2, int8_t *output, int32_t *tables)
{
    int32_t *const table1 = tables;
    int32_t *const table2 = tables + 256;
    fill_table(table1, params->input1_offset, params->left_shift, params->input1_multiplier, params->input1_shift);
    fill_table(table2, params->input2_offset, params->left_shift, params->input2_multiplier, params->input2_shift);

    if (params->form == TE_NN_RESCALE_ROUNDING) {
        te_squared_difference_table_loop(params, table1, table2, input1, input2, output, TE_NN_RESCALE_ROUNDING);
    } else if (params->form == TE_NN_RESCALE_LEFT) {
        te_squared_difference_table_loop(params, table1, table2, input1, input2, output, TE_NN_RESCALE_LEFT);
    } else {
        te_squared_difference_table_loop(params, table1, table2, input1, input2, output, TE_NN_RESCALE_GENERAL);
    }
}
