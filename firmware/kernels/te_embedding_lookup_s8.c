/*
 * tinyedge: int8 EMBEDDING_LOOKUP, the row copies of TFLite-Micro's EvalSimple.
 */
#include "te_embedding_lookup_s8.h"

#include <string.h>

void te_embedding_lookup_s8(const te_embedding_lookup_params *params, const int32_t *ids, const int8_t *table,
                            int8_t *output)
{
    const int32_t row = params->row_size;

    for (int32_t i = 0; i < params->num_ids; ++i) {
        const int32_t id = ids[i];
        if (id < 0 || id >= params->num_rows) {
            memset(output, 0, (size_t)row);  /* TFLite-Micro fails here; never read outside */
        } else {
            memcpy(output, table + id * row, (size_t)row);
        }
        output += row;
    }
}
