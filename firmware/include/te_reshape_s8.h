/*
 * tinyedge: int8 RESHAPE, SQUEEZE and EXPAND_DIMS: the bytes are unchanged, only the
 * shape differs, so the kernel copies `size` bytes. When the memory planner lets the
 * output share the input's buffer (input == output) there is nothing to do.
 */
#ifndef TE_RESHAPE_S8_H
#define TE_RESHAPE_S8_H

#include <stdint.h>

typedef struct {
    int32_t size;  /* bytes, >= 0 */
} te_reshape_params;

void te_reshape_s8(const te_reshape_params *params, const int8_t *input, int8_t *output);

#endif /* TE_RESHAPE_S8_H */
