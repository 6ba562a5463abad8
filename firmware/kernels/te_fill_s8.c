/* tinyedge: int8 FILL, as TFLite-Micro's fill.cc: every output element the value. */
#include "te_fill_s8.h"

#include <string.h>

void te_fill_s8(const te_fill_params *params, const int8_t *value, int8_t *output)
{
    memset(output, *value, (size_t)params->size);
}
