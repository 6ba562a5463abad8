/*
 * tinyedge: int8 table lookup (TFLite-Micro's EvalUsingLookupTable); in place allowed.
 */
#include "te_lookup_s8.h"

void te_lookup_s8(const te_lookup_params *params, const int8_t *input, int8_t *output)
{
    const int8_t *table = params->table;
    const int32_t size = params->size;

    for (int32_t i = 0; i < size; ++i) {
        output[i] = table[(uint8_t)input[i]];
    }
}
