/*
 * tinyedge: int8 UNIDIRECTIONAL_SEQUENCE_LSTM with int16 cell state: TFLite-Micro's 8x8->16 integer
 * LSTM step (gates, cell update, hidden update), one batch row at a time.
 */
#include "te_unidirectional_sequence_lstm_s8.h"

#include <stddef.h>

#define TE_INT16_MIN (-32768)
#define TE_INT16_MAX 32767

/* TFLite's sigmoid_table_uint16: sigmoid(i / 24) in units of 2^-16 (the last entry saturated to 65535);
 * int16 sigmoid and tanh interpolate between its entries. */
static const uint16_t te_lstm_sigmoid_table[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149,
    40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369,
    47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169,
    53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
    60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302,
    62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
    63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786,
    64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
    65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
    65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
    65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522,
    65523, 65523, 65524, 65524, 65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528,
    65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531,
    65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65534, 65535
};

/* Q3.12 -> Q0.15 sigmoid (TFLite's int16 Logistic with the input multiplier 3, no shift). */
static int16_t te_lstm_sigmoid(int16_t value)
{
    const int32_t x = (int32_t)value * 3;
    const uint32_t magnitude = (uint32_t)(x < 0 ? -x : x);
    const uint32_t index = magnitude >> 9;
    uint32_t result;
    if (index >= 255) {
        result = (uint32_t)0x7FFF << 10;
    } else {
        const uint32_t low = te_lstm_sigmoid_table[index];
        const uint32_t high = te_lstm_sigmoid_table[index + 1];
        result = (low << 9) + (magnitude & 0x1FF) * (high - low);
    }
    result = x >= 0 ? result + (1u << 9) : (1u << 25) - result + (1u << 9) - 1;
    return (int16_t)(result >> 10);
}

/* int16 -> Q0.15 tanh (TFLite's int16 Tanh): the input times multiplier, rounded right by shift,
 * reads the table in units of 2^-8 of its step. */
static int16_t te_lstm_tanh(int16_t value, int32_t multiplier, int32_t shift)
{
    const int32_t round = shift > 0 ? (int32_t)1 << (shift - 1) : 0;
    const int32_t x = ((int32_t)value * multiplier + round) >> shift;
    const uint32_t magnitude = (uint32_t)(x < 0 ? -x : x);
    const uint32_t index = magnitude >> 8;
    int32_t result;
    if (index >= 255) {
        result = 0xFFFF << 8;
    } else {
        const uint32_t low = te_lstm_sigmoid_table[index];
        const uint32_t high = te_lstm_sigmoid_table[index + 1];
        result = (int32_t)((low << 8) + (magnitude & 0xFF) * (high - low));
    }
    result = x >= 0 ? result - (1 << 23) + (1 << 7) : -result + (1 << 23) + (1 << 7) - 1;
    return (int16_t)(result >> 8);
}

static int16_t te_lstm_sat16(int32_t x) { return (int16_t)te_nn_clamp_i32(x, TE_INT16_MIN, TE_INT16_MAX); }

/* One row of fully connected products requantized to int16: sum_i weights[u, i] * (in[i] + offset)
 * (+ bias[u]); int32 sums wrap as TFLite-Micro's build does. */
static void te_lstm_products(const int8_t *in, int32_t size, int32_t offset, const int8_t *weights,
                             const int32_t *bias, int32_t units, int32_t multiplier, int32_t shift, int16_t *out)
{
    for (int32_t u = 0; u < units; ++u) {
        const int8_t *w = weights + u * size;
        uint32_t acc = 0;
        for (int32_t i = 0; i < size; ++i) {
            acc += (uint32_t)(w[i] * (in[i] + offset));
        }
        if (bias != NULL) {
            acc += (uint32_t)bias[u];
        }
        out[u] = te_lstm_sat16(te_nn_requantize((int32_t)acc, multiplier, shift));
    }
}

/* gate = sigmoid or tanh(input products + recurrent products), in Q0.15; sum: scratch of units values. */
static void te_lstm_gate(const int8_t *in, int32_t input_size, int32_t input_offset, const int8_t *hidden,
                         int32_t hidden_offset, int32_t units, const int8_t *input_weights,
                         const int8_t *recurrent_weights, const int32_t *bias, int32_t input_multiplier,
                         int32_t input_shift, int32_t recurrent_multiplier, int32_t recurrent_shift, int sigmoid,
                         int16_t *gate, int16_t *sum)
{
    te_lstm_products(in, input_size, input_offset, input_weights, bias, units, input_multiplier, input_shift, gate);
    te_lstm_products(hidden, units, hidden_offset, recurrent_weights, NULL, units, recurrent_multiplier,
                     recurrent_shift, sum);
    for (int32_t u = 0; u < units; ++u) {
        const int16_t x = te_lstm_sat16((int32_t)gate[u] + sum[u]);
        gate[u] = sigmoid ? te_lstm_sigmoid(x) : te_lstm_tanh(x, 3, 0);
    }
}

void te_unidirectional_sequence_lstm_s8(
    const te_lstm_params *params, const int8_t *input,
    const int8_t *input_to_input, const int8_t *input_to_forget, const int8_t *input_to_cell,
    const int8_t *input_to_output,
    const int8_t *recurrent_to_input, const int8_t *recurrent_to_forget, const int8_t *recurrent_to_cell,
    const int8_t *recurrent_to_output,
    const int32_t *input_bias, const int32_t *forget_bias, const int32_t *cell_bias, const int32_t *output_bias,
    int8_t *hidden, int16_t *cell, int16_t *scratch, int8_t *output)
{
    /* Locals, not params->...: a store through hidden, cell or output may alias *params. */
    const te_lstm_params p = *params;
    int16_t *forget_gate = scratch;
    int16_t *input_gate = scratch + p.units;
    int16_t *cell_gate = scratch + 2 * p.units;
    int16_t *sum = scratch + 3 * p.units;
    int16_t *output_gate = input_gate; /* free again once the cell state is updated */
    int16_t *cell_tanh = forget_gate;
    int8_t *h = (int8_t *)(scratch + 4 * p.units); /* one batch row of the hidden state */

    for (int32_t b = 0; b < p.batches; ++b) {
        int8_t *stored = hidden + b * p.units;
        int16_t *c = cell + b * p.units;
        for (int32_t u = 0; u < p.units; ++u) {
            h[u] = (int8_t)(uint8_t)((uint32_t)(uint8_t)stored[u] + (uint32_t)p.hidden_zero_point);
        }
        for (int32_t t = 0; t < p.steps; ++t) {
            const int32_t row = p.time_major ? t * p.batches + b : b * p.steps + t;
            const int8_t *in = input + row * p.input_size;

            te_lstm_gate(in, p.input_size, p.input_offset, h, p.hidden_offset, p.units, input_to_forget,
                         recurrent_to_forget, forget_bias, p.forget_input_multiplier, p.forget_input_shift,
                         p.forget_recurrent_multiplier, p.forget_recurrent_shift, 1, forget_gate, sum);
            te_lstm_gate(in, p.input_size, p.input_offset, h, p.hidden_offset, p.units, input_to_input,
                         recurrent_to_input, input_bias, p.input_input_multiplier, p.input_input_shift,
                         p.input_recurrent_multiplier, p.input_recurrent_shift, 1, input_gate, sum);
            te_lstm_gate(in, p.input_size, p.input_offset, h, p.hidden_offset, p.units, input_to_cell,
                         recurrent_to_cell, cell_bias, p.cell_input_multiplier, p.cell_input_shift,
                         p.cell_recurrent_multiplier, p.cell_recurrent_shift, 0, cell_gate, sum);

            for (int32_t u = 0; u < p.units; ++u) {
                const int32_t kept = te_lstm_sat16(
                    te_nn_requantize((int32_t)forget_gate[u] * c[u], p.forget_multiplier, p.forget_shift));
                const int32_t added = te_lstm_sat16(
                    te_nn_requantize((int32_t)input_gate[u] * cell_gate[u], p.update_multiplier, p.update_shift));
                int32_t updated = te_lstm_sat16(kept + added);
                if (p.cell_clip > 0) {
                    updated = te_nn_clamp_i32(updated, -p.cell_clip, p.cell_clip);
                }
                c[u] = (int16_t)updated;
            }

            /* The output gate reads the hidden state of the previous step, as the other three did. */
            te_lstm_gate(in, p.input_size, p.input_offset, h, p.hidden_offset, p.units, input_to_output,
                         recurrent_to_output, output_bias, p.output_input_multiplier, p.output_input_shift,
                         p.output_recurrent_multiplier, p.output_recurrent_shift, 1, output_gate, sum);
            for (int32_t u = 0; u < p.units; ++u) {
                cell_tanh[u] = te_lstm_tanh(c[u], p.cell_tanh_multiplier, p.cell_tanh_shift);
            }
            int8_t *out = output + row * p.units;
            for (int32_t u = 0; u < p.units; ++u) {
                const int32_t value = te_nn_requantize((int32_t)cell_tanh[u] * output_gate[u], p.hidden_multiplier,
                                                       p.hidden_shift) + p.hidden_zero_point;
                h[u] = (int8_t)te_nn_clamp_i32(value, TE_INT8_MIN, TE_INT8_MAX);
                out[u] = h[u];
            }
        }
        for (int32_t u = 0; u < p.units; ++u) {
            stored[u] = (int8_t)(uint8_t)((uint32_t)(uint8_t)h[u] - (uint32_t)p.hidden_zero_point);
        }
    }
}
