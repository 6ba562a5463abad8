/*
 * tinyedge: int8 REVERSE_V2, the bytes of TFLite-Micro's reference Reverse: blocks of `inner`
 * bytes, the middle ones in reverse order.
 */
#include "te_reverse_s8.h"

#include <string.h>

void te_reverse_s8(const te_reverse_params *params, const int8_t *input, int8_t *output)
{
    const int32_t outer = params->outer;
    const int32_t middle = params->middle;
    const int32_t inner = params->inner;

    for (int32_t o = 0; o < outer; ++o) {
        const int8_t *in = input + o * middle * inner;
        int8_t *out = output + o * middle * inner;
        for (int32_t m = 0; m < middle; ++m) {
            memcpy(out + m * inner, in + (middle - 1 - m) * inner, (size_t)inner);
        }
    }
}
