/*
 * tinyedge: int8 DYNAMIC_UPDATE_SLICE, as TFLite-Micro's dynamic_update_slice.cc: the operand
 * copied, then the update's rows copied over the box at the (clamped) start.
 */
#include "te_dynamic_update_slice_s8.h"

#include <string.h>

void te_dynamic_update_slice_s8(const te_dynamic_update_slice_params *params, const int8_t *operand,
                                const int8_t *update, int8_t *output)
{
    const int32_t *u = params->update_shape;
    const int32_t *s = params->output_strides;

    if (output != operand) {
        memcpy(output, operand, (size_t)params->size);
    }
    int8_t *box = output + params->start;
    for (int32_t i0 = 0; i0 < u[0]; ++i0) {
        for (int32_t i1 = 0; i1 < u[1]; ++i1) {
            for (int32_t i2 = 0; i2 < u[2]; ++i2) {
                for (int32_t i3 = 0; i3 < u[3]; ++i3) {
                    for (int32_t i4 = 0; i4 < u[4]; ++i4) {
                        int8_t *row = box + i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3] + i4 * s[4];
                        memcpy(row, update, (size_t)u[5]);
                        update += u[5];
                    }
                }
            }
        }
    }
}
