/*
 * tinyedge: int8 RESIZE_BILINEAR, the arithmetic of TFLite-Micro's reference ResizeBilinearInteger
 * (double-rounding build: the 2^20 sum rounded half away from zero).
 */
#include "te_resize_bilinear_s8.h"

#define TE_RESIZE_ONE 1024 /* positions in units of 2^-10 */

void te_resize_bilinear_s8(const te_resize_bilinear_params *params, const int8_t *input, int8_t *output)
{
    const int32_t depth = params->depth;
    const int32_t row_stride = params->input_width * depth;
    const int32_t image_stride = params->input_height * row_stride;

    for (int32_t b = 0; b < params->batches; ++b) {
        const int8_t *image = input + b * image_stride;
        for (int32_t y = 0; y < params->output_height; ++y) {
            const int8_t *low_row = image + params->row_low[y] * row_stride;
            const int8_t *high_row = image + params->row_high[y] * row_stride;
            const int32_t fy = params->row_fraction[y];
            for (int32_t x = 0; x < params->output_width; ++x) {
                const int32_t low_column = params->column_low[x] * depth;
                const int32_t high_column = params->column_high[x] * depth;
                const int32_t fx = params->column_fraction[x];
                const int32_t w_ll = (TE_RESIZE_ONE - fy) * (TE_RESIZE_ONE - fx);
                const int32_t w_hl = fy * (TE_RESIZE_ONE - fx);
                const int32_t w_lh = (TE_RESIZE_ONE - fy) * fx;
                const int32_t w_hh = fy * fx;
                for (int32_t c = 0; c < depth; ++c) {
                    const int32_t sum = low_row[low_column + c] * w_ll + high_row[low_column + c] * w_hl +
                                        low_row[high_column + c] * w_lh + high_row[high_column + c] * w_hh;
                    const int32_t round = sum > 0 ? (1 << 19) : -(1 << 19);
                    *output++ = (int8_t)((sum + round) / (1 << 20));
                }
            }
        }
    }
}
