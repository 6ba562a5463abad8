/*
 * tinyedge: CAST to or from int8 (TFLite CAST), `size` elements, each converted as C's integer
 * conversion does: a wider value is kept, a value outside int8 wraps modulo 256 (two's
 * complement), a bool byte gives 0 or 1. No requantization. input and output point at arrays of
 * the types the conversion names; they never share a buffer unless both are int8.
 */
#ifndef TE_CAST_S8_H
#define TE_CAST_S8_H

#include <stdint.h>

typedef enum {
    TE_CAST_S8_TO_S8,
    TE_CAST_S8_TO_S16,
    TE_CAST_S8_TO_S32,
    TE_CAST_S16_TO_S8,
    TE_CAST_S32_TO_S8,
    TE_CAST_BOOL_TO_S8
} te_cast_conversion;

typedef struct {
    te_cast_conversion conversion;
    int32_t size;  /* elements, >= 0 */
} te_cast_params;

void te_cast_s8(const te_cast_params *params, const void *input, void *output);

#endif /* TE_CAST_S8_H */
