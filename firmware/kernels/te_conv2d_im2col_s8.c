/*
 * tinyedge: int8 CONV_2D by im2col and a matrix multiply, two output channels by three
 * pixels per inner loop where te_nn_mat_mult3_s8 takes the layer, by two otherwise (see
 * te_conv2d_im2col_s8.h); the same bytes as te_conv2d_s8.
 */
#include "te_conv2d_im2col_s8.h"

/* What te_conv2d_im2col_column needs to know about the input and the filter. */
typedef struct {
    int32_t input_height;
    int32_t input_width;
    int32_t input_depth;
    int32_t filter_height;
    int32_t filter_width;
    int32_t dilation_height;
    int32_t dilation_width;
    int32_t zero_point;
} te_im2col_geometry;

/*
 * The window whose top-left tap is input (in_y0, in_x0) as a widened column at column
 * (dst_step as te_nn_widen_s8). A depth that is a multiple of 4 is widened straight from the
 * input, tap by tap or a whole filter row at once; any other is gathered as int8 first.
 * Taps outside the input hold the zero point.
 */
static void te_conv2d_im2col_column(const te_im2col_geometry *g, const int8_t *image, int32_t in_y0, int32_t in_x0,
                                    int16_t *column, int32_t dst_step, int8_t *gather)
{
    const int32_t depth = g->input_depth;
    const int32_t row_values = g->filter_width * depth;
    const int32_t row_size = g->input_width * depth;
    /* A filter row lies in one contiguous input run when it has no dilation and no padding. */
    const int row_inside = (g->dilation_width == 1 || g->filter_width == 1) && in_x0 >= 0
                           && in_x0 + g->filter_width <= g->input_width;
    const int widen_taps = depth % 4 == 0;
    int8_t *bytes = gather;
    int16_t *dst = column;
    for (int32_t filter_y = 0; filter_y < g->filter_height; ++filter_y) {
        const int32_t in_y = in_y0 + filter_y * g->dilation_height;
        if (in_y < 0 || in_y >= g->input_height) {
            if (widen_taps) {
                te_nn_fill_s16(dst, g->zero_point, row_values / 4, dst_step);
                dst += dst_step * (row_values / 4);
            } else {
                te_nn_fill_s8(bytes, g->zero_point, row_values);
                bytes += row_values;
            }
            continue;
        }
        const int8_t *row = image + in_y * row_size;
        if (row_inside) {
            if (widen_taps) {
                te_nn_widen_s8(row + in_x0 * depth, row_values, dst, dst_step);
                dst += dst_step * (row_values / 4);
            } else {
                te_nn_copy_s8(bytes, row + in_x0 * depth, row_values);
                bytes += row_values;
            }
            continue;
        }
        for (int32_t filter_x = 0; filter_x < g->filter_width; ++filter_x) {
            const int32_t in_x = in_x0 + filter_x * g->dilation_width;
            const int inside = in_x >= 0 && in_x < g->input_width;
            if (widen_taps) {
                if (inside) {
                    te_nn_widen_s8(row + in_x * depth, depth, dst, dst_step);
                } else {
                    te_nn_fill_s16(dst, g->zero_point, depth / 4, dst_step);
                }
                dst += dst_step * (depth / 4);
            } else {
                if (inside) {
                    te_nn_copy_s8(bytes, row + in_x * depth, depth);
                } else {
                    te_nn_fill_s8(bytes, g->zero_point, depth);
                }
                bytes += depth;
            }
        }
    }
    if (!widen_taps) {
        te_nn_widen_s8(gather, (int32_t)(bytes - gather), column, dst_step);
    }
}

void te_conv2d_im2col_s8(const te_conv2d_im2col_params *params, const int8_t *input, const int8_t *filter,
                         const int32_t *quant, int16_t *scratch, int8_t *output)
{
    /* Locals, not params->...: an int8_t store may alias *params, which would force reloads. */
    const int32_t batches = params->batches;
    const int32_t input_height = params->input_height;
    const int32_t input_width = params->input_width;
    const int32_t input_depth = params->input_depth;
    const int32_t filter_height = params->filter_height;
    const int32_t filter_width = params->filter_width;
    const int32_t output_height = params->output_height;
    const int32_t output_width = params->output_width;
    const int32_t output_depth = params->output_depth;
    const int32_t stride_height = params->stride_height;
    const int32_t stride_width = params->stride_width;
    const int32_t dilation_height = params->dilation_height;
    const int32_t dilation_width = params->dilation_width;
    const int32_t pad_height = params->pad_height;
    const int32_t pad_width = params->pad_width;
    const int32_t zero_point = -params->input_offset;
    const int32_t activation_min = params->activation_min;
    const int32_t activation_max = params->activation_max;
    const int full_range = activation_min == TE_INT8_MIN && activation_max == TE_INT8_MAX;

    const te_im2col_geometry geometry = {input_height, input_width, input_depth, filter_height, filter_width,
                                         dilation_height, dilation_width, zero_point};
    const int32_t groups = (filter_height * filter_width * input_depth + 3) / 4;
    const int32_t input_row_size = input_width * input_depth;
    const int32_t pixels = output_height * output_width;
    int8_t *gather = (int8_t *)(scratch + 12 * groups);
    const int32_t constants_bytes = params->constants_bytes;
    if (TE_NN_DSP && constants_bytes > 0) {
        /* The constants' copy lies past the columns. */
        int8_t *copy = (int8_t *)scratch + TE_CONV2D_IM2COL_SCRATCH_BYTES(filter_height * filter_width * input_depth);
        te_nn_copy_constants(copy, &filter, &quant, 4 * groups * output_depth, constants_bytes);
    }
    const int triples = te_nn_mat_mult3_takes(quant, output_depth, full_range);

    for (int32_t batch = 0; batch < batches; ++batch) {
        const int8_t *image = input + batch * input_height * input_row_size;
        int8_t *out = output + batch * pixels * output_depth;
        int32_t out_y = 0, out_x = 0;
        int32_t pixel = 0;
        /* Three pixels at a time (interleaved) where te_nn_mat_mult3_s8 takes the layer, */
        for (; triples && pixels - pixel >= 3; pixel += 3) {
            for (int32_t i = 0; i < 3; ++i) {
                te_conv2d_im2col_column(&geometry, image, out_y * stride_height - pad_height,
                                        out_x * stride_width - pad_width, scratch + 4 * i, 12, gather);
                if (++out_x == output_width) {
                    out_x = 0;
                    ++out_y;
                }
            }
            te_nn_mat_mult3_s8(filter, quant, output_depth, groups, scratch, out);
            out += 3 * output_depth;
        }
        /* then two (interleaved), or the last one. */
        for (; pixel < pixels; pixel += 2) {
            const int32_t count = pixels - pixel >= 2 ? 2 : 1;
            for (int32_t i = 0; i < count; ++i) {
                te_conv2d_im2col_column(&geometry, image, out_y * stride_height - pad_height,
                                        out_x * stride_width - pad_width, scratch + 4 * i, 4 * count, gather);
                if (++out_x == output_width) {
                    out_x = 0;
                    ++out_y;
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
