/*
 * tinyedge: int8 SVDF with int8 state: TFLite-Micro's integer reference for int8_t state, step for
 * step (shift the memory, feature products into the newest column, time products, rank sum).
 *
 * The state is kept less its zero point, modulo 256: TFLite-Micro starts an int8 state at its zero
 * point, and the firmware's zeroed arena then holds exactly that (as the int8 LSTM keeps its hidden
 * state). A value reads back as (int8_t)(stored + zero point).
 */
#include "te_svdf_int8_state_s8.h"

#include <stddef.h>

void te_svdf_int8_state_s8(const te_svdf_params *params, const int8_t *input, const int8_t *weights_feature,
                           const int8_t *weights_time, const int32_t *bias, int8_t *state, int32_t *scratch,
                           int8_t *output)
{
    /* Locals, not params->...: a store through state or output may alias *params. */
    const int32_t batches = params->batches;
    const int32_t input_size = params->input_size;
    const int32_t filters = params->filters;
    const int32_t units = params->units;
    const int32_t rank = params->rank;
    const int32_t memory_size = params->memory_size;
    const int32_t input_offset = params->input_offset;
    const int32_t state_zero_point = params->state_zero_point;
    const int32_t multiplier_1 = params->multiplier_1;
    const int32_t shift_1 = params->shift_1;
    const int32_t multiplier_2 = params->multiplier_2;
    const int32_t shift_2 = params->shift_2;
    const int32_t output_offset = params->output_offset;
    int32_t *filter_sums = scratch;                      /* [batches, filters] */
    int32_t *unit_sums = scratch + batches * filters;    /* [batches, units] */

    /* The whole state moves one place left, across filter boundaries too; each filter's newest
     * column is overwritten next. */
    const int32_t state_size = batches * filters * memory_size;
    for (int32_t i = 0; i + 1 < state_size; ++i) {
        state[i] = state[i + 1];
    }

    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *in = input + b * input_size;
        int8_t *newest = state + b * filters * memory_size + (memory_size - 1);
        for (int32_t f = 0; f < filters; ++f) {
            const int8_t *w = weights_feature + f * input_size;
            int32_t acc = 0;
            for (int32_t i = 0; i < input_size; ++i) {
                acc += w[i] * (in[i] + input_offset);
            }
            acc = te_nn_clamp_i32(te_nn_requantize(acc, multiplier_1, shift_1), TE_INT8_MIN, TE_INT8_MAX);
            const int8_t value = (int8_t)(uint8_t)((uint32_t)acc + (uint32_t)state_zero_point);
            newest[f * memory_size] = (int8_t)(uint8_t)((uint32_t)(uint8_t)value - (uint32_t)state_zero_point);
        }
    }

    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *memory = state + b * filters * memory_size;
        for (int32_t f = 0; f < filters; ++f) {
            const int8_t *w = weights_time + f * memory_size;
            const int8_t *s = memory + f * memory_size;
            int32_t acc = 0;
            for (int32_t m = 0; m < memory_size; ++m) {
                const int8_t value = (int8_t)(uint8_t)((uint32_t)(uint8_t)s[m] + (uint32_t)state_zero_point);
                acc += w[m] * (value - state_zero_point);
            }
            filter_sums[b * filters + f] = acc;
        }
    }

    for (int32_t b = 0; b < batches; ++b) {
        const int32_t *sums = filter_sums + b * filters;
        for (int32_t u = 0; u < units; ++u) {
            uint32_t acc = bias != NULL ? (uint32_t)bias[u] : 0;
            for (int32_t r = 0; r < rank; ++r) {
                acc += (uint32_t)sums[u * rank + r];
            }
            unit_sums[b * units + u] = (int32_t)acc;
        }
    }

    for (int32_t i = 0; i < batches * units; ++i) {
        const int32_t value = te_nn_requantize(unit_sums[i], multiplier_2, shift_2) + output_offset;
        output[i] = (int8_t)te_nn_clamp_i32(value, TE_INT8_MIN, TE_INT8_MAX);
    }
}
