/*
 * tinyedge: int8 FILL: `size` output elements, each the raw byte of the scalar value (the
 * output shares the value's quantization, as the converter writes it; nothing is requantized).
 */
#ifndef TE_FILL_S8_H
#define TE_FILL_S8_H

#include <stdint.h>

typedef struct {
    int32_t size;  /* elements, >= 0 */
} te_fill_params;

void te_fill_s8(const te_fill_params *params, const int8_t *value, int8_t *output);

#endif /* TE_FILL_S8_H */
