/*
 * tinyedge: int8 RESHAPE / SQUEEZE / EXPAND_DIMS, a byte copy that may run in place.
 */
#include "te_reshape_s8.h"

#include <string.h>

void te_reshape_s8(const te_reshape_params *params, const int8_t *input, int8_t *output)
{
    if (input != output) {
        memcpy(output, input, (size_t)params->size);
    }
}
