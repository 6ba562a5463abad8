/*
 * tinyedge: int8 select with broadcasting (TFLite SELECT_V2): output = condition ? x : y.
 *
 * Output [output_shape[0..4]] row-major; each input is read with its own strides in elements,
 * 0 where it is broadcast. condition is a bool tensor, one byte per element (0 false, else true).
 * The raw int8 values are copied: x, y and the output share one quantization.
 */
#ifndef TE_SELECT_V2_S8_H
#define TE_SELECT_V2_S8_H

#include <stdint.h>

typedef struct {
    const int32_t *output_shape;       /* [5] */
    const int32_t *condition_strides;  /* [5] elements; 0 where the condition is broadcast */
    const int32_t *x_strides;          /* [5] */
    const int32_t *y_strides;          /* [5] */
} te_select_v2_params;

void te_select_v2_s8(const te_select_v2_params *params, const uint8_t *condition, const int8_t *x, const int8_t *y,
                     int8_t *output);

#endif /* TE_SELECT_V2_S8_H */
