/*
 * tinyedge: int8 DYNAMIC_UPDATE_SLICE: output = operand (`size` bytes), then the update,
 * [update_shape[0..5]] row-major, written over the box whose first element is output[start];
 * output_strides are the output's row-major strides in elements, 6-D with leading 1s. The start
 * is clamped at compile time so the box lies inside, as TFLite-Micro clamps it. Bytes are copied
 * unchanged.
 *
 * In place: the output may be the operand's buffer; then only the box is written.
 */
#ifndef TE_DYNAMIC_UPDATE_SLICE_S8_H
#define TE_DYNAMIC_UPDATE_SLICE_S8_H

#include <stdint.h>

typedef struct {
    int32_t size;                   /* operand and output elements */
    int32_t start;                  /* element offset of the box in the output */
    const int32_t *update_shape;    /* [6] */
    const int32_t *output_strides;  /* [6] elements */
} te_dynamic_update_slice_params;

void te_dynamic_update_slice_s8(const te_dynamic_update_slice_params *params, const int8_t *operand,
                                const int8_t *update, int8_t *output);

#endif /* TE_DYNAMIC_UPDATE_SLICE_S8_H */
