/*
 * tinyedge: int8 TRANSPOSE_CONV gathered phase by phase into im2col columns and multiplied by
 * packed weights (see te_transpose_conv_im2col_s8.h); the same bytes as te_transpose_conv_s8.
 */
#include "te_transpose_conv_im2col_s8.h"

/* What te_transpose_conv_column needs to know about the input. */
typedef struct {
    int32_t input_height;
    int32_t input_width;
    int32_t input_depth;
    int32_t zero_point;
} te_transpose_geometry;

/* Taps of a filter dimension of `size` that a phase sees: phase, phase + stride, ... below size. */
static int32_t te_transpose_conv_taps(int32_t size, int32_t stride, int32_t phase)
{
    return phase < size ? (size - 1 - phase) / stride + 1 : 0;
}

/*
 * The column of input taps of one output pixel: for t_y < taps_y, input row base_y - t_y, and in it
 * the taps_x input pixels base_x - taps_x + 1 ... base_x (left to right: tap t_x = taps_x - 1 first),
 * each input_depth values, widened at column (dst_step as te_nn_widen_s8). Taps outside the input
 * hold the zero point. A row of taps inside the input is one contiguous run. A depth that is a
 * multiple of 4 is widened straight from the input; any other is gathered as int8 first.
 */
static void te_transpose_conv_column(const te_transpose_geometry *g, const int8_t *image, int32_t base_y,
                                     int32_t base_x, int32_t taps_y, int32_t taps_x, int16_t *column,
                                     int32_t dst_step, int8_t *gather)
{
    const int32_t depth = g->input_depth;
    const int widen_taps = depth % 4 == 0;
    const int32_t first_x = base_x - (taps_x - 1);
    const int32_t run = taps_x * depth;
    int8_t *bytes = gather;
    int16_t *dst = column;
    for (int32_t t_y = 0; t_y < taps_y; ++t_y) {
        const int32_t in_y = base_y - t_y;
        const int row_inside = in_y >= 0 && in_y < g->input_height;
        if (row_inside && first_x >= 0 && base_x < g->input_width) {
            const int8_t *src = image + (in_y * g->input_width + first_x) * depth;
            if (widen_taps) {
                te_nn_widen_s8(src, run, dst, dst_step);
                dst += dst_step * (run / 4);
            } else {
                te_nn_copy_s8(bytes, src, run);
                bytes += run;
            }
            continue;
        }
        for (int32_t in_x = first_x; in_x <= base_x; ++in_x) {
            const int inside = row_inside && in_x >= 0 && in_x < g->input_width;
            const int8_t *src = inside ? image + (in_y * g->input_width + in_x) * depth : image;
            if (widen_taps) {
                if (inside) {
                    te_nn_widen_s8(src, depth, dst, dst_step);
                } else {
                    te_nn_fill_s16(dst, g->zero_point, depth / 4, dst_step);
                }
                dst += dst_step * (depth / 4);
            } else {
                if (inside) {
                    te_nn_copy_s8(bytes, src, depth);
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

void te_transpose_conv_im2col_s8(const te_transpose_conv_im2col_params *params, const int8_t *input,
                                 const int8_t *filter, const int32_t *quant, const int32_t *phases, int16_t *scratch,
                                 int8_t *output)
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
    const int32_t pad_height = params->pad_height;
    const int32_t pad_width = params->pad_width;
    const int32_t activation_min = params->activation_min;
    const int32_t activation_max = params->activation_max;
    const int full_range = activation_min == TE_INT8_MIN && activation_max == TE_INT8_MAX;

    const te_transpose_geometry geometry = {input_height, input_width, input_depth, -params->input_offset};
    const int32_t max_groups = (te_transpose_conv_taps(filter_height, stride_height, 0)
                                * te_transpose_conv_taps(filter_width, stride_width, 0) * input_depth + 3) / 4;
    int8_t *gather = (int8_t *)(scratch + 8 * max_groups);
    int8_t *pair_out = gather + 4 * max_groups;

    for (int32_t batch = 0; batch < batches; ++batch) {
        const int8_t *image = input + batch * input_height * input_width * input_depth;
        int8_t *out_image = output + batch * output_height * output_width * output_depth;
        for (int32_t out_y = 0; out_y < output_height; ++out_y) {
            const int32_t phase_y = (out_y + pad_height) % stride_height;
            const int32_t base_y = (out_y + pad_height) / stride_height;
            const int32_t taps_y = te_transpose_conv_taps(filter_height, stride_height, phase_y);
            int8_t *out_row = out_image + out_y * output_width * output_depth;
            /* Phase by phase across the row: two pixels of one phase, stride_width apart, per product. */
            for (int32_t first = 0; first < stride_width && first < output_width; ++first) {
                const int32_t phase_x = (first + pad_width) % stride_width;
                const int32_t taps_x = te_transpose_conv_taps(filter_width, stride_width, phase_x);
                const int32_t groups = (taps_y * taps_x * input_depth + 3) / 4;
                const int32_t *phase = phases + 2 * (phase_y * stride_width + phase_x);
                for (int32_t out_x = first; out_x < output_width; out_x += 2 * stride_width) {
                    const int32_t second = out_x + stride_width;
                    const int32_t count = second < output_width ? 2 : 1;
                    for (int32_t i = 0; i < count; ++i) {
                        te_transpose_conv_column(&geometry, image, base_y,
                                                 (out_x + i * stride_width + pad_width) / stride_width, taps_y, taps_x,
                                                 scratch + 4 * i, 4 * count, gather);
                    }
                    /* te_nn_mat_mult_s8 writes the second pixel right after the first: straight into the
                     * output when they are neighbours (stride 1), else into pair_out and copied. */
                    int8_t *dst = stride_width == 1 || count == 1 ? out_row + out_x * output_depth : pair_out;
                    if (full_range) {
                        te_nn_mat_mult_s8(filter + phase[0], quant + phase[1], TE_INT8_MIN, TE_INT8_MAX, 1,
                                          output_depth, groups, scratch, count, dst);
                    } else {
                        te_nn_mat_mult_s8(filter + phase[0], quant + phase[1], activation_min, activation_max, 0,
                                          output_depth, groups, scratch, count, dst);
                    }
                    if (dst == pair_out) {
                        te_nn_copy_s8(out_row + out_x * output_depth, pair_out, output_depth);
                        te_nn_copy_s8(out_row + second * output_depth, pair_out + output_depth, output_depth);
                    }
                }
            }
        }
    }
}
