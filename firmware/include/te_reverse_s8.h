/*
 * tinyedge: int8 REVERSE_V2 over a run of neighbouring axes.
 *
 * Layout: input and output [outer, middle, inner], middle the product of the reversed axes.
 *   output[o, m, :] = input[o, middle - 1 - m, :]
 * Bytes are copied unchanged. Input and output must not overlap.
 */
#ifndef TE_REVERSE_S8_H
#define TE_REVERSE_S8_H

#include <stdint.h>

typedef struct {
    int32_t outer;   /* product of the axes before the reversed ones, >= 1 */
    int32_t middle;  /* product of the reversed axes, >= 1 */
    int32_t inner;   /* bytes of one block: product of the axes after them, >= 1 */
} te_reverse_params;

void te_reverse_s8(const te_reverse_params *params, const int8_t *input, int8_t *output);

#endif /* TE_REVERSE_S8_H */
