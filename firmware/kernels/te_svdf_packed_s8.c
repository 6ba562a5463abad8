/*
 * tinyedge: int8 SVDF with int16 state, two filters per pass over a widened input and int16
 * pairs in the time products (see te_svdf_packed_s8.h); the same bytes as te_svdf_s8.
 */
#include "te_svdf_packed_s8.h"

#include <string.h>

#include "te_nn_dsp.h"

#define TE_INT16_MIN (-32768)
#define TE_INT16_MAX 32767

/* sum over m of w[m] * s[m], wrapping modulo 2^32. */
static int32_t te_svdf_time_dot(const int16_t *w, const int16_t *s, int32_t n)
{
    uint32_t acc = 0;
    int32_t m = 0;
#if TE_NN_DSP
    for (; m + 2 <= n; m += 2) {
        acc = (uint32_t)__smlad(te_nn_read_u32(w + m), te_nn_read_u32(s + m), (int32_t)acc);
    }
#endif
    for (; m < n; ++m) {
        acc += (uint32_t)(w[m] * s[m]);
    }
    return (int32_t)acc;
}

static int16_t te_svdf_to_state(int32_t acc, int32_t multiplier, int32_t shift)
{
    return (int16_t)te_nn_clamp_i32(te_nn_requantize(acc, multiplier, shift), TE_INT16_MIN, TE_INT16_MAX);
}

void te_svdf_packed_s8(const te_svdf_params *params, const int8_t *input, const int8_t *packed_feature,
                       const int16_t *weights_time, const int32_t *bias, int16_t *state, int32_t *scratch,
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
    const int32_t multiplier_1 = params->multiplier_1;
    const int32_t shift_1 = params->shift_1;
    const int32_t multiplier_2 = params->multiplier_2;
    const int32_t shift_2 = params->shift_2;
    const int32_t output_offset = params->output_offset;
    const int32_t groups = (input_size + 3) / 4;
    const int32_t row_bytes = groups * 4;
    int32_t *filter_sums = scratch;                          /* [batches, filters] */
    int32_t *unit_sums = scratch + batches * filters;        /* [batches, units] */
    int16_t *column = (int16_t *)(unit_sums + batches * units);  /* [groups * 4], widened input */
    /* params->state_zero_point is 0: the lowering chooses this kernel only then. */

    memmove(state, state + 1, (size_t)(batches * filters * memory_size - 1) * sizeof *state);

    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *in = input + b * input_size;
        for (int32_t g = 0; g < groups; ++g) {
            int16_t x[4];
            for (int32_t k = 0; k < 4; ++k) {
                const int32_t i = g * 4 + k;
                x[k] = (int16_t)(i < input_size ? in[i] + input_offset : 0);
            }
            column[g * 4 + 0] = x[0], column[g * 4 + 1] = x[2], column[g * 4 + 2] = x[1], column[g * 4 + 3] = x[3];
        }
        int16_t *newest = state + b * filters * memory_size + (memory_size - 1);
        const int8_t *rows = packed_feature;
        int32_t f = 0;
        for (; f + 2 <= filters; f += 2, rows += 2 * row_bytes) {
            int32_t acc[2] = {0, 0};
            te_nn_dot_2x1(rows, column, groups, acc);
            newest[f * memory_size] = te_svdf_to_state(acc[0], multiplier_1, shift_1);
            newest[(f + 1) * memory_size] = te_svdf_to_state(acc[1], multiplier_1, shift_1);
        }
        if (f < filters) {
            newest[f * memory_size] = te_svdf_to_state(te_nn_dot_1x1(rows, column, groups, 0), multiplier_1, shift_1);
        }
    }

    for (int32_t b = 0; b < batches; ++b) {
        const int16_t *memory = state + b * filters * memory_size;
        for (int32_t f = 0; f < filters; ++f) {
            filter_sums[b * filters + f] = te_svdf_time_dot(weights_time + f * memory_size,
                                                            memory + f * memory_size, memory_size);
        }
        for (int32_t u = 0; u < units; ++u) {
            uint32_t acc = bias != NULL ? (uint32_t)bias[u] : 0;
            for (int32_t r = 0; r < rank; ++r) {
                acc += (uint32_t)filter_sums[b * filters + u * rank + r];
            }
            unit_sums[b * units + u] = (int32_t)acc;
        }
    }

    for (int32_t i = 0; i < batches * units; ++i) {
        const int32_t value = te_nn_requantize(unit_sums[i], multiplier_2, shift_2) + output_offset;
        output[i] = (int8_t)te_nn_clamp_i32(value, TE_INT8_MIN, TE_INT8_MAX);
    }
}
