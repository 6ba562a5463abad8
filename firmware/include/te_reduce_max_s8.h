/*
 * tinyedge: int8 REDUCE_MAX over some axes (TFLite REDUCE_MAX, e.g. Keras GlobalMaxPooling2D/1D).
 *
 * The input, up to 5-D, is extended on the left with 1s to exactly 5-D and read in
 * row-major order; input element (i0, ..., i4) competes for
 *   output[i0 * output_strides[0] + ... + i4 * output_strides[4]]
 * where a reduced axis has stride 0. Each output starts at -128 and keeps the largest
 * input byte it sees: the output is quantized exactly as the input (TFLite-Micro requires
 * it), so no requantization happens. The output is in the order of the kept dimensions,
 * so keep_dims does not matter here.
 */
#ifndef TE_REDUCE_MAX_S8_H
#define TE_REDUCE_MAX_S8_H

#include <stdint.h>

typedef struct {
    const int32_t *input_shape;     /* [5] */
    const int32_t *output_strides;  /* [5] elements of the output; 0 on reduced axes */
    int32_t num_outputs;            /* elements of the output */
} te_reduce_max_params;

void te_reduce_max_s8(const te_reduce_max_params *params, const int8_t *input, int8_t *output);

#endif /* TE_REDUCE_MAX_S8_H */
