/*
 * tinyedge: int8 bilinear resize, NHWC (TFLite RESIZE_BILINEAR), TFLite-Micro's float-free
 * reference_ops::ResizeBilinearInteger.
 *
 * For output row y the lowering gives the source rows row_low[y] <= row_high[y] and the
 * position's fraction row_fraction[y] past row_low[y] in units of 2^-10 (negative above the
 * first row with half-pixel centers); likewise per output column. Each output byte is
 *   s = in[low, low] (1024 - fy)(1024 - fx) + in[high, low] fy (1024 - fx)
 *     + in[low, high] (1024 - fy) fx        + in[high, high] fy fx
 *   out = (s + (s > 0 ? 2^19 : -2^19)) / 2^20   (C division, truncating)
 * |s| < 2^29, so int32 holds it. Raw bytes: nothing is requantized (TFLite-Micro reads no
 * quantization). Output and input must not overlap.
 */
#ifndef TE_RESIZE_BILINEAR_S8_H
#define TE_RESIZE_BILINEAR_S8_H

#include <stdint.h>

typedef struct {
    int32_t batches;
    int32_t input_height;
    int32_t input_width;
    int32_t depth;
    int32_t output_height;
    int32_t output_width;
    const int32_t *row_low;         /* [output_height] */
    const int32_t *row_high;        /* [output_height] */
    const int32_t *row_fraction;    /* [output_height], (-1024, 1024) */
    const int32_t *column_low;      /* [output_width] */
    const int32_t *column_high;     /* [output_width] */
    const int32_t *column_fraction; /* [output_width], (-1024, 1024) */
} te_resize_bilinear_params;

void te_resize_bilinear_s8(const te_resize_bilinear_params *params, const int8_t *input, int8_t *output);

#endif /* TE_RESIZE_BILINEAR_S8_H */
