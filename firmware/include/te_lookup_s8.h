/*
 * tinyedge: int8 -> int8 through a 256-entry table (TFLite-Micro's int8 ELU, and any op
 * whose Prepare tabulates a function of one int8 input).
 *
 *   output[i] = table[(uint8_t)input[i]]
 *
 * so the table holds the outputs of inputs 0..127 at 0..127 and of -128..-1 at 128..255.
 * The table is computed by the lowering exactly as TFLite-Micro's Prepare computes it.
 * input and output may be the same buffer.
 */
#ifndef TE_LOOKUP_S8_H
#define TE_LOOKUP_S8_H

#include <stdint.h>

typedef struct {
    int32_t size;         /* elements */
    const int8_t *table;  /* [256], indexed by the input byte as unsigned */
} te_lookup_params;

void te_lookup_s8(const te_lookup_params *params, const int8_t *input, int8_t *output);

#endif /* TE_LOOKUP_S8_H */
