/*
 * tinyedge: UNIDIRECTIONAL_SEQUENCE_LSTM with int16 activations (16x8 mode): TFLite-Micro's
 * 16x8->16 integer LSTM (EvalLstm<int16_t, int8_t, int16_t, int64_t>), step for step.
 *
 * te_unidirectional_sequence_lstm_s8's gates, cell and hidden updates (see its header) and its
 * te_lstm_params, with these differences:
 *   input, hidden state and output are int16 (any zero point: input_offset, hidden_offset and
 *   hidden_zero_point span the int16 range);
 *   biases are int64, and each fully connected product sums in int64 and is requantized with
 *   the 64-bit MultiplyByQuantizedMultiplier (te_nn_requantize_i64);
 *   the hidden update clamps to int16;
 *   the hidden state is stored as it is (TFLite-Micro starts an int16 variable at 0, not at its
 *   zero point), read by the four gates and then overwritten in place;
 *   the sigmoid table is passed in (TFLite-Micro's sigmoid_table_uint16, the same array as the
 *   int16 LOGISTIC and TANH kernels take).
 *   scratch                 [4 * units] int16
 */
#ifndef TE_UNIDIRECTIONAL_SEQUENCE_LSTM_S16_H
#define TE_UNIDIRECTIONAL_SEQUENCE_LSTM_S16_H

#include <stdint.h>

#include "te_unidirectional_sequence_lstm_s8.h"

/* Bytes of scratch the kernel needs; the planner reserves the same. */
static inline int32_t te_unidirectional_sequence_lstm_s16_scratch_size(int32_t units) { return 8 * units; }

void te_unidirectional_sequence_lstm_s16(
    const te_lstm_params *params, const uint16_t *sigmoid_table, const int16_t *input,
    const int8_t *input_to_input, const int8_t *input_to_forget, const int8_t *input_to_cell,
    const int8_t *input_to_output,
    const int8_t *recurrent_to_input, const int8_t *recurrent_to_forget, const int8_t *recurrent_to_cell,
    const int8_t *recurrent_to_output,
    const int64_t *input_bias, const int64_t *forget_bias, const int64_t *cell_bias, const int64_t *output_bias,
    int16_t *hidden, int16_t *cell, int16_t *scratch, int16_t *output);

#endif /* TE_UNIDIRECTIONAL_SEQUENCE_LSTM_S16_H */
