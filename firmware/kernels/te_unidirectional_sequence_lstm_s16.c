/*
 * tinyedge: UNIDIRECTIONAL_SEQUENCE_LSTM with int16 activations and int8 weights, bit-exact to
 * TFLite-Micro's EvalLstm<int16_t, int8_t, int16_t, int64_t>, one batch row at a time.
 */
#include "te_unidirectional_sequence_lstm_s16.h"

#include <stddef.h>

/* TFLite's int16 Logistic at Q3.12 in (input multiplier 3, no shift), Q0.15 out. */
static int16_t te_lstm16_sigmoid(const uint16_t *table, int16_t value) {
    const int32_t x = (int32_t)value * 3;
    const uint32_t magnitude = x < 0 ? 0u - (uint32_t)x : (uint32_t)x;
    const uint32_t index = magnitude >> 9;
    uint32_t result;
    if (index >= 255) {
        result = (uint32_t)0x7FFF << 10;
    } else {
        const uint32_t a = table[index];
        const uint32_t b = table[index + 1];
        result = (a << 9) + (magnitude & 0x1FF) * (b - a);
    }
    result = x >= 0 ? result + (1u << 9) : ((uint32_t)1 << 25) - result + (1u << 9) - 1u;
    return (int16_t)(result >> 10);
}

/* TFLite's int16 Tanh: the input times multiplier, rounded right by shift, into the table's units; Q0.15 out. */
static int16_t te_lstm16_tanh(const uint16_t *table, int16_t value, int32_t multiplier, int32_t shift) {
    const int32_t round = shift > 0 ? (int32_t)1 << (shift - 1) : 0;
    const int32_t x = ((int32_t)value * multiplier + round) >> shift;
    const uint32_t magnitude = x < 0 ? 0u - (uint32_t)x : (uint32_t)x;
    const uint32_t index = magnitude >> 8;
    int32_t result;
    if (index >= 255) {
        result = 0xFFFF << 8;
    } else {
        const uint32_t a = table[index];
        const uint32_t b = table[index + 1];
        result = (int32_t)((a << 8) + (magnitude & 0xFF) * (b - a));
    }
    result = x >= 0 ? result - (1 << 23) + (1 << 7) : -result + (1 << 23) + (1 << 7) - 1;
    return (int16_t)(result >> 8);
}

static int32_t te_lstm16_sat16(int32_t x) { return te_nn_clamp_i32(x, TE_INT16_MIN, TE_INT16_MAX); }

/* One row of fully connected products to int16: sum_i w[u, i] * (in[i] + offset) (+ bias[u]) in int64. */
static void te_lstm16_products(const int16_t *in, int32_t size, int32_t offset, const int8_t *weights,
                               const int64_t *bias, int32_t units, int32_t multiplier, int32_t shift, int16_t *out) {
    int32_t u, i;
    for (u = 0; u < units; ++u) {
        const int8_t *w = weights + u * size;
        int64_t acc = bias != NULL ? bias[u] : 0;
        for (i = 0; i < size; ++i) {
            acc += (int32_t)w[i] * ((int32_t)in[i] + offset);
        }
        out[u] = (int16_t)te_lstm16_sat16(te_nn_requantize_i64(acc, multiplier, shift));
    }
}

/* gate = sigmoid, or tanh for the cell gate, of (input products + recurrent products) in Q3.12; Q0.15 out. */
static void te_lstm16_gate(const te_lstm_params *p, const uint16_t *table, const int16_t *in, const int16_t *h,
                           const int8_t *input_weights, const int8_t *recurrent_weights, const int64_t *bias,
                           int32_t input_multiplier, int32_t input_shift, int32_t recurrent_multiplier,
                           int32_t recurrent_shift, int sigmoid, int16_t *gate, int16_t *sum) {
    int32_t u;
    te_lstm16_products(in, p->input_size, p->input_offset, input_weights, bias, p->units, input_multiplier,
                       input_shift, gate);
    te_lstm16_products(h, p->units, p->hidden_offset, recurrent_weights, NULL, p->units, recurrent_multiplier,
                       recurrent_shift, sum);
    for (u = 0; u < p->units; ++u) {
        const int16_t x = (int16_t)te_lstm16_sat16((int32_t)gate[u] + sum[u]);
        gate[u] = sigmoid ? te_lstm16_sigmoid(table, x) : te_lstm16_tanh(table, x, 3, 0);
    }
}

void te_unidirectional_sequence_lstm_s16(
    const te_lstm_params *params, const uint16_t *sigmoid_table, const int16_t *input,
    const int8_t *input_to_input, const int8_t *input_to_forget, const int8_t *input_to_cell,
    const int8_t *input_to_output,
    const int8_t *recurrent_to_input, const int8_t *recurrent_to_forget, const int8_t *recurrent_to_cell,
    const int8_t *recurrent_to_output,
    const int64_t *input_bias, const int64_t *forget_bias, const int64_t *cell_bias, const int64_t *output_bias,
    int16_t *hidden, int16_t *cell, int16_t *scratch, int16_t *output) {
    /* A copy, not params->...: a store through hidden, cell or output may alias *params. */
    const te_lstm_params p = *params;
    int16_t *forget_gate = scratch;
    int16_t *input_gate = scratch + p.units;
    int16_t *cell_gate = scratch + 2 * p.units;
    int16_t *sum = scratch + 3 * p.units;
    int16_t *output_gate = input_gate; /* free again once the cell state is updated */
    int16_t *cell_tanh = forget_gate;
    int32_t b, t, u;

    for (b = 0; b < p.batches; ++b) {
        int16_t *h = hidden + b * p.units;
        int16_t *c = cell + b * p.units;
        for (t = 0; t < p.steps; ++t) {
            const int32_t row = p.time_major ? t * p.batches + b : b * p.steps + t;
            const int16_t *in = input + row * p.input_size;
            int16_t *out = output + row * p.units;

            te_lstm16_gate(&p, sigmoid_table, in, h, input_to_forget, recurrent_to_forget, forget_bias,
                           p.forget_input_multiplier, p.forget_input_shift, p.forget_recurrent_multiplier,
                           p.forget_recurrent_shift, 1, forget_gate, sum);
            te_lstm16_gate(&p, sigmoid_table, in, h, input_to_input, recurrent_to_input, input_bias,
                           p.input_input_multiplier, p.input_input_shift, p.input_recurrent_multiplier,
                           p.input_recurrent_shift, 1, input_gate, sum);
            te_lstm16_gate(&p, sigmoid_table, in, h, input_to_cell, recurrent_to_cell, cell_bias,
                           p.cell_input_multiplier, p.cell_input_shift, p.cell_recurrent_multiplier,
                           p.cell_recurrent_shift, 0, cell_gate, sum);

            for (u = 0; u < p.units; ++u) {
                const int32_t kept = te_lstm16_sat16(
                    te_nn_requantize((int32_t)forget_gate[u] * c[u], p.forget_multiplier, p.forget_shift));
                const int32_t added = te_lstm16_sat16(
                    te_nn_requantize((int32_t)input_gate[u] * cell_gate[u], p.update_multiplier, p.update_shift));
                int32_t updated = te_lstm16_sat16(kept + added);
                if (p.cell_clip > 0) {
                    updated = te_nn_clamp_i32(updated, -p.cell_clip, p.cell_clip);
                }
                c[u] = (int16_t)updated;
            }

            /* The output gate still reads the previous step's hidden state, as the other three did. */
            te_lstm16_gate(&p, sigmoid_table, in, h, input_to_output, recurrent_to_output, output_bias,
                           p.output_input_multiplier, p.output_input_shift, p.output_recurrent_multiplier,
                           p.output_recurrent_shift, 1, output_gate, sum);
            for (u = 0; u < p.units; ++u) {
                cell_tanh[u] = te_lstm16_tanh(sigmoid_table, c[u], p.cell_tanh_multiplier, p.cell_tanh_shift);
            }
            for (u = 0; u < p.units; ++u) {
                const int32_t value = te_nn_requantize((int32_t)cell_tanh[u] * output_gate[u], p.hidden_multiplier,
                                                       p.hidden_shift) + p.hidden_zero_point;
                h[u] = (int16_t)te_lstm16_sat16(value);
                out[u] = h[u];
            }
        }
    }
}
