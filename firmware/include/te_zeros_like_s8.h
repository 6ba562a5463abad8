/*
 * tinyedge: int8 ZEROS_LIKE: `size` output bytes set to 0 (the integer, not the zero point,
 * as TFLite-Micro writes it). The input is not read: only its shape matters, and that is known
 * when the model is compiled.
 */
#ifndef TE_ZEROS_LIKE_S8_H
#define TE_ZEROS_LIKE_S8_H

#include <stdint.h>

typedef struct {
    int32_t size;  /* elements, >= 0 */
} te_zeros_like_params;

void te_zeros_like_s8(const te_zeros_like_params *params, int8_t *output);

#endif /* TE_ZEROS_LIKE_S8_H */
