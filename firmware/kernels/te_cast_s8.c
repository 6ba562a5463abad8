/*
 * tinyedge: CAST to or from int8, as TFLite-Micro's cast.cc computes it (static_cast per value).
 */
#include "te_cast_s8.h"

void te_cast_s8(const te_cast_params *params, const void *input, void *output)
{
    const int32_t size = params->size;

    switch (params->conversion) {
    case TE_CAST_S8_TO_S8:
        for (int32_t i = 0; i < size; ++i) {
            ((int8_t *)output)[i] = ((const int8_t *)input)[i];
        }
        break;
    case TE_CAST_S8_TO_S16:
        for (int32_t i = 0; i < size; ++i) {
            ((int16_t *)output)[i] = ((const int8_t *)input)[i];
        }
        break;
    case TE_CAST_S8_TO_S32:
        for (int32_t i = 0; i < size; ++i) {
            ((int32_t *)output)[i] = ((const int8_t *)input)[i];
        }
        break;
    case TE_CAST_S16_TO_S8:
        for (int32_t i = 0; i < size; ++i) {
            ((int8_t *)output)[i] = (int8_t)((const int16_t *)input)[i];
        }
        break;
    case TE_CAST_S32_TO_S8:
        for (int32_t i = 0; i < size; ++i) {
            ((int8_t *)output)[i] = (int8_t)((const int32_t *)input)[i];
        }
        break;
    case TE_CAST_BOOL_TO_S8:
        for (int32_t i = 0; i < size; ++i) {
            ((int8_t *)output)[i] = ((const uint8_t *)input)[i] != 0;
        }
        break;
    }
}
