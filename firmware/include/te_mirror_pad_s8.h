/*
 * tinyedge: int8 mirror padding (TFLite MIRROR_PAD, REFLECT and SYMMETRIC modes).
 *
 * The output, extended on the left with 1s to exactly 5-D, is written in row-major order.
 * input_offsets holds one table per axis, one after the other: output_shape[0] entries for
 * axis 0, then output_shape[1] for axis 1, and so on; entry i of axis d is the input element
 * offset (input coordinate times the input's row-major stride) that output coordinate i
 * copies along that axis, the mirroring already applied. Output element (i0, ..., i4) is
 * input element table0[i0] + ... + table4[i4]. Bytes are copied unchanged.
 */
#ifndef TE_MIRROR_PAD_S8_H
#define TE_MIRROR_PAD_S8_H

#include <stdint.h>

typedef struct {
    const int32_t *output_shape;   /* [5], >= 1 */
    const int32_t *input_offsets;  /* [output_shape[0] + ... + output_shape[4]], >= 0 */
} te_mirror_pad_params;

void te_mirror_pad_s8(const te_mirror_pad_params *params, const int8_t *input, int8_t *output);

#endif /* TE_MIRROR_PAD_S8_H */
