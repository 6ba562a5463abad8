/*
 * tinyedge: int16 SELECT_V2 (16x8 mode), as TFLite-Micro's reference kernel (select.cc) computes it: each
 * output the raw value of x where the condition is true, of y where it is false.
 */
#include "te_select_v2_s16.h"

void te_select_v2_s16(const te_select_v2_params *params, const uint8_t *condition, const int16_t *x,
                      const int16_t *y, int16_t *output)
{
    const int32_t *shape = params->output_shape;
    const int32_t *sc = params->condition_strides;
    const int32_t *sx = params->x_strides;
    const int32_t *sy = params->y_strides;

    for (int32_t i0 = 0; i0 < shape[0]; ++i0) {
        for (int32_t i1 = 0; i1 < shape[1]; ++i1) {
            for (int32_t i2 = 0; i2 < shape[2]; ++i2) {
                for (int32_t i3 = 0; i3 < shape[3]; ++i3) {
                    const uint8_t *c = condition + i0 * sc[0] + i1 * sc[1] + i2 * sc[2] + i3 * sc[3];
                    const int16_t *a = x + i0 * sx[0] + i1 * sx[1] + i2 * sx[2] + i3 * sx[3];
                    const int16_t *b = y + i0 * sy[0] + i1 * sy[1] + i2 * sy[2] + i3 * sy[3];
                    for (int32_t i4 = 0; i4 < shape[4]; ++i4) {
                        output[i4] = c[i4 * sc[4]] ? a[i4 * sx[4]] : b[i4 * sy[4]];
                    }
                    output += shape[4];
                }
            }
        }
    }
}
