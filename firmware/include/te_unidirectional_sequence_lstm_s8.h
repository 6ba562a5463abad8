/*
 * tinyedge: int8 UNIDIRECTIONAL_SEQUENCE_LSTM with int16 cell state, the arithmetic of TFLite-Micro's
 * 8x8->16 integer LSTM (lstm_eval's LstmStep), step for step.
 *
 * Layouts (row-major):
 *   input                [steps, batches, input_size] (time_major) or [batches, steps, input_size], int8
 *   input weights        [units, input_size] per gate, int8, symmetric
 *   recurrent weights    [units, units] per gate, int8, symmetric
 *   biases               [units] per gate, int32 (added to the input product only)
 *   hidden               [batches, units] int8, kept between calls, stored as hidden - hidden_zero_point
 *                        (wrapping in 8 bits): TFLite-Micro starts the hidden state at its zero point,
 *                        and a zeroed buffer is that
 *   cell                 [batches, units] int16 at scale 2^p, zero point 0, kept between calls
 *   scratch              [4 * units] int16, then [units] int8 (the hidden row being worked on)
 *   output               shaped as the input with units in place of input_size, int8
 *
 * Each batch row runs its steps in time order (rows never mix, so this gives TFLite-Micro's bytes for
 * either layout). Per step, gates in Q3.12 (int16, scale 2^-12) from the old hidden state:
 *   gate[u] = sat16(clamp16(requantize(bias[u] + sum_i w_in[u, i] * (input[i] + input_offset), in_mult))
 *                   + clamp16(requantize(sum_j w_rec[u, j] * (hidden[j] + hidden_offset), rec_mult)))
 * then sigmoid (tanh for the cell gate) to Q0.15 with TFLite's int16 lookup-table interpolation, and
 *   cell   = clip(sat16(clamp16(requantize(forget * cell, forget_mult))
 *                       + clamp16(requantize(input * cell_gate, update_mult))))
 *   hidden = clamp8(requantize(tanh(cell) * output_gate, hidden_mult) + hidden_zero_point)
 *   output[step] = hidden
 * tanh(cell) first scales the cell state by cell_tanh_multiplier >> cell_tanh_shift (rounded) into the
 * table's input units.
 */
#ifndef TE_UNIDIRECTIONAL_SEQUENCE_LSTM_S8_H
#define TE_UNIDIRECTIONAL_SEQUENCE_LSTM_S8_H

#include <stdint.h>

#include "te_nn_math.h"

typedef struct {
    int32_t batches;
    int32_t steps;
    int32_t input_size;
    int32_t units;
    int32_t time_major;                /* 1: input [steps, batches, ...]; 0: [batches, steps, ...] */
    int32_t input_offset;              /* -input zero point, [-127, 128] */
    int32_t hidden_offset;             /* -hidden state zero point */
    /* input and recurrent products -> Q3.12, per gate: Q31 significand and exponent */
    int32_t input_input_multiplier, input_input_shift, input_recurrent_multiplier, input_recurrent_shift;
    int32_t forget_input_multiplier, forget_input_shift, forget_recurrent_multiplier, forget_recurrent_shift;
    int32_t cell_input_multiplier, cell_input_shift, cell_recurrent_multiplier, cell_recurrent_shift;
    int32_t output_input_multiplier, output_input_shift, output_recurrent_multiplier, output_recurrent_shift;
    int32_t forget_multiplier;         /* forget gate x cell -> cell (2^-15) */
    int32_t forget_shift;
    int32_t update_multiplier;         /* input gate x cell gate -> cell (2^-30 / cell scale) */
    int32_t update_shift;
    int32_t hidden_multiplier;         /* tanh(cell) x output gate -> hidden (2^-30 / hidden scale) */
    int32_t hidden_shift;
    int32_t hidden_zero_point;         /* [-128, 127] */
    int32_t cell_tanh_multiplier;      /* 3 << (12 + p), or 3 when 12 + p < 0 */
    int32_t cell_tanh_shift;           /* 0, or -(12 + p) when 12 + p < 0; in [0, 31] */
    int32_t cell_clip;                 /* |cell| limit in [0, 32767]; 0: none */
} te_lstm_params;

/* Bytes of scratch the kernel needs; the planner reserves the same. */
static inline int32_t te_unidirectional_sequence_lstm_s8_scratch_size(int32_t units) { return 9 * units; }

void te_unidirectional_sequence_lstm_s8(
    const te_lstm_params *params, const int8_t *input,
    const int8_t *input_to_input, const int8_t *input_to_forget, const int8_t *input_to_cell,
    const int8_t *input_to_output,
    const int8_t *recurrent_to_input, const int8_t *recurrent_to_forget, const int8_t *recurrent_to_cell,
    const int8_t *recurrent_to_output,
    const int32_t *input_bias, const int32_t *forget_bias, const int32_t *cell_bias, const int32_t *output_bias,
    int8_t *hidden, int16_t *cell, int16_t *scratch, int8_t *output);

#endif /* TE_UNIDIRECTIONAL_SEQUENCE_LSTM_S8_H */
