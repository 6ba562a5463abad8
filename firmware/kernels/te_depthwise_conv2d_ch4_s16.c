/*
 * tinyedge: 16x8 DEPTHWISE_CONV_2D, four channels at a time with dual 16-bit multiplies; the same
 * bytes as te_depthwise_conv2d_s16 (depth multiplier 1).
 */
#include "te_depthwise_conv2d_ch4_s16.h"

#include <stddef.h>

#include "te_nn_dot_s16.h"

static inline int16_t te_dw_output_s16(int32_t acc, const int64_t *bias, int32_t c, const int32_t *requant,
                                       int32_t activation_min, int32_t activation_max)
{
    const int64_t sum = (int64_t)acc + (bias != NULL ? bias[c] : 0);
    const int32_t scaled = te_nn_requantize_s16_fast(sum, requant + TE_NN_REQUANT_S16_WORDS * c, 64);
    return (int16_t)te_nn_clamp_i32(scaled, activation_min, activation_max);
}

/* The taps first..end of a window starting at `origin` (step `dilation`) that land inside [0, size). */
static inline void te_dw_taps(int32_t origin, int32_t dilation, int32_t taps, int32_t size, int32_t *first,
                              int32_t *end)
{
    *first = origin >= 0 ? 0 : (-origin + dilation - 1) / dilation;
    const int32_t last = size - origin <= 0 ? 0 : (size - origin + dilation - 1) / dilation;
    *end = last < taps ? last : taps;
    if (*end < *first) { /* no tap inside: an empty range */
        *end = *first;
    }
}

void te_depthwise_conv2d_ch4_s16(const te_depthwise_conv2d_ch4_s16_params *params, const int16_t *input,
                                 const int8_t *filter, const int64_t *bias, int16_t *output)
{
    /* Locals, not params->...: an int16_t store may alias *params, which would force reloads. */
    const int32_t batches = params->batches;
    const int32_t input_height = params->input_height;
    const int32_t input_width = params->input_width;
    const int32_t depth = params->depth;
    const int32_t filter_height = params->filter_height;
    const int32_t filter_width = params->filter_width;
    const int32_t output_height = params->output_height;
    const int32_t output_width = params->output_width;
    const int32_t stride_height = params->stride_height;
    const int32_t stride_width = params->stride_width;
    const int32_t dilation_height = params->dilation_height;
    const int32_t dilation_width = params->dilation_width;
    const int32_t pad_height = params->pad_height;
    const int32_t pad_width = params->pad_width;
    const int32_t activation_min = params->activation_min;
    const int32_t activation_max = params->activation_max;
    const int32_t *requant = params->requant;
    const int32_t depth4 = depth & ~3;
    const int32_t x_step = dilation_width * depth; /* int16 values from one tap to the next across */

    for (int32_t batch = 0; batch < batches; ++batch) {
        const int16_t *image = input + batch * input_height * input_width * depth;
        for (int32_t out_y = 0; out_y < output_height; ++out_y) {
            const int32_t in_y0 = out_y * stride_height - pad_height;
            int32_t fy0, fy1;
            te_dw_taps(in_y0, dilation_height, filter_height, input_height, &fy0, &fy1);
            for (int32_t out_x = 0; out_x < output_width; ++out_x) {
                const int32_t in_x0 = out_x * stride_width - pad_width;
                int32_t fx0, fx1; /* the taps inside the input: the padding's contribute nothing */
                te_dw_taps(in_x0, dilation_width, filter_width, input_width, &fx0, &fx1);
                for (int32_t c = 0; c < depth4; c += 4) {
                    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
                    for (int32_t fy = fy0; fy < fy1; ++fy) {
                        const int16_t *x = image + ((in_y0 + dilation_height * fy) * input_width
                                                    + in_x0 + dilation_width * fx0) * depth + c;
                        const int8_t *w = filter + (fy * filter_width + fx0) * depth + c;
                        const int8_t *const w_end = w + (fx1 - fx0) * depth;
                        while (w != w_end) {
                            const uint32_t ww = te_s16_read_u32(w);
                            const uint32_t w01 = te_s16_widen_lo(ww), w23 = te_s16_widen_hi(ww);
                            const uint32_t x01 = te_s16_read_u32(x), x23 = te_s16_read_u32(x + 2);
                            a0 = te_s16_smlabb(x01, w01, a0);
                            a1 = te_s16_smlatt(x01, w01, a1);
                            a2 = te_s16_smlabb(x23, w23, a2);
                            a3 = te_s16_smlatt(x23, w23, a3);
                            x += x_step;
                            w += depth;
                        }
                    }
                    output[c] = te_dw_output_s16(a0, bias, c, requant, activation_min, activation_max);
                    output[c + 1] = te_dw_output_s16(a1, bias, c + 1, requant, activation_min, activation_max);
                    output[c + 2] = te_dw_output_s16(a2, bias, c + 2, requant, activation_min, activation_max);
                    output[c + 3] = te_dw_output_s16(a3, bias, c + 3, requant, activation_min, activation_max);
                }
                for (int32_t c = depth4; c < depth; ++c) { /* the last depth % 4 channels */
                    int32_t acc = 0;
                    for (int32_t fy = fy0; fy < fy1; ++fy) {
                        for (int32_t fx = fx0; fx < fx1; ++fx) {
                            const int32_t in_y = in_y0 + dilation_height * fy, in_x = in_x0 + dilation_width * fx;
                            acc += (int32_t)filter[(fy * filter_width + fx) * depth + c]
                                   * image[(in_y * input_width + in_x) * depth + c];
                        }
                    }
                    output[c] = te_dw_output_s16(acc, bias, c, requant, activation_min, activation_max);
                }
                output += depth;
            }
        }
    }
}
