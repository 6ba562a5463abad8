/*
 * tinyedge: int8 1x1 CONV_2D as a matrix multiply, two output channels by three pixels per
 * inner loop where te_nn_mat_mult3_s8 takes the layer, by two otherwise (see te_conv2d_1x1_s8.h);
 * the same bytes as te_conv2d_s8.
 */
#include "te_conv2d_1x1_s8.h"

void te_conv2d_1x1_s8(const te_conv2d_1x1_params *params, const int8_t *input, const int8_t *filter,
                      const int32_t *quant, int16_t *scratch, int8_t *output)
{
    /* Locals, not params->...: an int8_t store may alias *params, which would force reloads. */
    const int32_t batches = params->batches;
    const int32_t input_height = params->input_height;
    const int32_t input_width = params->input_width;
    const int32_t input_depth = params->input_depth;
    const int32_t output_height = params->output_height;
    const int32_t output_width = params->output_width;
    const int32_t output_depth = params->output_depth;
    const int32_t stride_height = params->stride_height;
    const int32_t stride_width = params->stride_width;
    const int32_t activation_min = params->activation_min;
    const int32_t activation_max = params->activation_max;
    const int full_range = activation_min == TE_INT8_MIN && activation_max == TE_INT8_MAX;

    const int32_t groups = (input_depth + 3) / 4;
    const int32_t pixels = output_height * output_width;
    const int32_t pixel_step = stride_width * input_depth;
    const int32_t row_skip = (stride_height * input_width - output_width * stride_width) * input_depth;

    const int32_t constants_bytes = params->constants_bytes;
    if (TE_NN_DSP && constants_bytes > 0) {
        /* The constants' copy lies past the columns. */
        int8_t *copy = (int8_t *)scratch + TE_CONV2D_1X1_SCRATCH_BYTES(input_depth);
        te_nn_copy_constants(copy, &filter, &quant, 4 * groups * output_depth, constants_bytes);
    }
    const int triples = te_nn_mat_mult3_takes(quant, output_depth, full_range);

    for (int32_t batch = 0; batch < batches; ++batch) {
        const int8_t *in = input + batch * input_height * input_width * input_depth;
        int8_t *out = output + batch * pixels * output_depth;
        int32_t out_x = 0;
        int32_t pixel = 0;
        /* Three pixels at a time (interleaved) where te_nn_mat_mult3_s8 takes the layer, */
        for (; triples && pixels - pixel >= 3; pixel += 3) {
            for (int32_t i = 0; i < 3; ++i) {
                te_nn_widen_s8(in, input_depth, scratch + 4 * i, 12);
                in += pixel_step;
                if (++out_x == output_width) {
                    out_x = 0;
                    in += row_skip;
                }
            }
            te_nn_mat_mult3_s8(filter, quant, output_depth, groups, scratch, out);
            out += 3 * output_depth;
        }
        /* then two (interleaved), or the last one. */
        for (; pixel < pixels; pixel += 2) {
            const int32_t count = pixels - pixel >= 2 ? 2 : 1;
            for (int32_t i = 0; i < count; ++i) {
                te_nn_widen_s8(in, input_depth, scratch + 4 * i, 4 * count);
                in += pixel_step;
                if (++out_x == output_width) {
                    out_x = 0;
                    in += row_skip;
                }
            }
            if (full_range) {
                te_nn_mat_mult_s8(filter, quant, TE_INT8_MIN, TE_INT8_MAX, 1, output_depth, groups,
                                  scratch, count, out);
            } else {
                te_nn_mat_mult_s8(filter, quant, activation_min, activation_max, 0, output_depth,
                                  groups, scratch, count, out);
            }
            out += count * output_depth;
        }
    }
}
