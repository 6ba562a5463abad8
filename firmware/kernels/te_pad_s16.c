/*
 * tinyedge: int16 PAD / PADV2, the element order of TFLite-Micro's reference kernel (as te_pad_s8:
 * the innermost axis a row at a time, padding, a copy of the input row, padding).
 */
#include "te_pad_s16.h"

#include <string.h>

static int outside(int32_t index, int32_t size, int32_t left, int32_t right)
{
    return index < left || index >= size - right;
}

static void fill(int16_t *output, int16_t value, int32_t count)
{
    for (int32_t i = 0; i < count; ++i) {
        output[i] = value;
    }
}

void te_pad_s16(const te_pad_params *params, const int16_t *input, int16_t *output)
{
    const int32_t *shape = params->output_shape;
    const int32_t *left = params->left_padding;
    const int32_t *right = params->right_padding;
    const int16_t pad_value = (int16_t)params->pad_value;
    const int32_t row = shape[4];
    const int32_t input_row = row - left[4] - right[4];

    for (int32_t i0 = 0; i0 < shape[0]; ++i0) {
        for (int32_t i1 = 0; i1 < shape[1]; ++i1) {
            for (int32_t i2 = 0; i2 < shape[2]; ++i2) {
                for (int32_t i3 = 0; i3 < shape[3]; ++i3) {
                    if (outside(i0, shape[0], left[0], right[0]) || outside(i1, shape[1], left[1], right[1])
                        || outside(i2, shape[2], left[2], right[2])
                        || outside(i3, shape[3], left[3], right[3])) {
                        fill(output, pad_value, row);
                    } else {
                        fill(output, pad_value, left[4]);
                        memcpy(output + left[4], input, (size_t)input_row * sizeof *input);
                        fill(output + left[4] + input_row, pad_value, right[4]);
                        input += input_row;
                    }
                    output += row;
                }
            }
        }
    }
}
