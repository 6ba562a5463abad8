/*
 * tinyedge: int8 rows of a table picked by ids (TFLite EMBEDDING_LOOKUP).
 *
 * ids    [num_ids]              int32, each in [0, num_rows - 1]
 * table  [num_rows, row_size]   (row-major; row_size the product of dimensions 1 on)
 * output [num_ids, row_size]
 * Output row i is table row ids[i], row_size bytes copied unchanged. An id outside the table,
 * which TFLite-Micro fails the inference on, gives a row of zeros instead of a read out of
 * bounds.
 */
#ifndef TE_EMBEDDING_LOOKUP_S8_H
#define TE_EMBEDDING_LOOKUP_S8_H

#include <stdint.h>

typedef struct {
    int32_t num_ids;   /* >= 0 */
    int32_t num_rows;  /* >= 0 */
    int32_t row_size;  /* >= 1 */
} te_embedding_lookup_params;

void te_embedding_lookup_s8(const te_embedding_lookup_params *params, const int32_t *ids, const int8_t *table,
                            int8_t *output);

#endif /* TE_EMBEDDING_LOOKUP_S8_H */
