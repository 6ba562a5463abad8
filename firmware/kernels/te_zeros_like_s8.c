/* tinyedge: int8 ZEROS_LIKE, as TFLite-Micro's zeros_like.cc: every output element 0. */
#include "te_zeros_like_s8.h"

#include <string.h>

void te_zeros_like_s8(const te_zeros_like_params *params, int8_t *output)
{
    memset(output, 0, (size_t)params->size);
}
