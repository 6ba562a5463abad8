"""UNIDIRECTIONAL_SEQUENCE_LSTM: TFLite-Micro's 8x8->16 integer LSTM (int8 input, weights, hidden state and
output; int16 cell state and gates; int32 biases), step for step.

Parameters follow TFLite-Micro's Prepare (PrepareGateParametersInteger, CreateLstmCellStateInfo):
  - Each gate is two fully connected products written to int16 at the fixed scale 2^-12 (Q3.12, the
    input of the gate's sigmoid or tanh): input x input weights + gate bias, hidden state x recurrent
    weights (no bias), each with the multiplier input_scale * weights_scale / 2^-12 in double (TFLite's
    source takes the product in float32, but the tflite_micro build matches the double product, as
    fully_connected.py found for FULLY_CONNECTED; 16x8 LSTMs, whose 16-bit rounded multipliers flip
    on the last bits, differ with the float32 one), clamped to int16 and added with int16 saturation.
  - Sigmoid and tanh give Q0.15 (scale 2^-15); the inter-gate products are multipliers of
    scale1 * scale2 / scale_out in double: forget x cell -> cell (2^-15), input x cell gate -> cell
    (2^-30 / cell_scale), tanh(cell) x output gate -> hidden (2^-30 / hidden_scale, plus its zero point).
  - tanh(cell) reads the cell state at its power-of-two scale 2^p: its input is scaled by 3 * 2^(12 + p)
    (a multiply for 12 + p >= 0, a rounded shift right otherwise), as TFLite-Micro's Tanh does.
  - cell_clip > 0 clamps the cell state to +-(int16)(cell_clip / cell_scale).
The intermediate tensors a converter attaches are not read: TFLite-Micro's kernel uses the fixed scales above.
The hidden and cell states are variable tensors (the planner keeps them for the whole program, starting at
zero). TFLite-Micro starts an int8 variable at its zero point, so the kernel keeps the hidden state as
hidden - zero point (wrapping in 8 bits), which zeroed memory starts right; no other op may read the states,
which hold that form. The output at each step is a copy of the new hidden state, so its bytes carry the hidden state's
quantization. TFLite-Micro refuses peephole, projection, layer-norm and CIFG (no input gate) LSTMs; so does
this lowering.

With int16 activations (16x8 mode: int16 input, hidden state and output, int8 weights, int64 biases)
te_unidirectional_sequence_lstm_s16 runs TFLite-Micro's EvalLstm<int16_t, int8_t, int16_t, int64_t>: the
same parameters, the fully connected products summed in int64 and requantized with the 64-bit
MultiplyByQuantizedMultiplier, the hidden state clamped to int16 and stored as it is (TFLite-Micro starts an
int16 variable at 0, whatever its zero point), and the sigmoid table passed as a ConstArg (the int16
LOGISTIC and TANH kernels' array, stored once per model).
"""

from __future__ import annotations

import math

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Tensor
from tinyedge.ops import ConstArg, KernelCall, ParamValue, ScratchArg, TensorArg, lowering
from tinyedge.ops._activations_16x8 import SIGMOID_TABLE_UINT16
from tinyedge.ops._quant import QUANTIZED, quantize_multiplier

LSTM_REFERENCE = "te_unidirectional_sequence_lstm_s8"
LSTM_16X8 = "te_unidirectional_sequence_lstm_s16"
I64_MAX_SHIFT = 14  # the 64-bit requantization's rounding shift 15 - shift must stay positive
GATE_INPUT_SCALE = 2.0 ** -12  # Q3.12: the fully connected outputs, the input of sigmoid and tanh
GATE_OUTPUT_SCALE = 2.0 ** -15  # Q0.15: sigmoid and tanh outputs
GATES = ("input", "forget", "cell", "output")
INPUT, HIDDEN, CELL = 0, 18, 19
INPUT_WEIGHTS = dict(zip(GATES, (1, 2, 3, 4)))
RECURRENT_WEIGHTS = dict(zip(GATES, (5, 6, 7, 8)))
BIASES = dict(zip(GATES, (12, 13, 14, 15)))
VARIANTS = {"peephole": (9, 10, 11), "projection": (16, 17), "layer normalization": (20, 21, 22, 23)}
CELL_SCALE_POWERS = range(-30, 3)  # 3 * 2^(12 + p) times an int16 stays within int32; shifts stay below 32


def _fc_multiplier(input_: Tensor, weights: Tensor) -> tuple[int, int]:
    """GetQuantizedConvolutionMultipler as tflite_micro computes it: the float32 scales' product in double, over
    the Q3.12 scale."""
    product = float(np.float32(input_.scale)) * float(np.float32(weights.scale))
    return quantize_multiplier(product / GATE_INPUT_SCALE)


def _mul_multiplier(scale_1: float, scale_2: float, scale_out: float) -> tuple[int, int]:
    """CreateInterGateMulParams: float32 scales multiplied and divided in double."""
    return quantize_multiplier(float(np.float32(scale_1)) * float(np.float32(scale_2)) / float(np.float32(scale_out)))


def _cell_scale_power(cell: Tensor) -> int | None:
    """p with cell_scale == 2^p (within TFLite-Micro's 1e-3 in the exponent), else None."""
    exponent = math.log2(float(np.float32(cell.scale)))
    return round(exponent) if abs(exponent - round(exponent)) < 1e-3 else None


@lowering("UNIDIRECTIONAL_SEQUENCE_LSTM", activations=QUANTIZED)
def lower_unidirectional_sequence_lstm(graph: Graph, op: Operator) -> KernelCall:
    where = graph.describe(op)
    if len(op.inputs) != 24 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{where}: expected the LSTM's 24 inputs and one output")
    for variant, slots in VARIANTS.items():
        if any(op.inputs[i] >= 0 for i in slots):
            raise UnsupportedOpError(f"{where}: a {variant} LSTM; TFLite-Micro's LSTM kernel (and tinyedge's) runs "
                                     "the standard Keras LSTM only")
    required = (INPUT, HIDDEN, CELL, *INPUT_WEIGHTS.values(), *RECURRENT_WEIGHTS.values(), *BIASES.values())
    if any(op.inputs[i] < 0 for i in required):
        raise UnsupportedOpError(f"{where}: an LSTM without an input gate (CIFG) or without biases; TFLite-Micro "
                                 "requires all four gates' weights and biases")
    input_, hidden, cell = (graph.tensor(op.inputs[i]) for i in (INPUT, HIDDEN, CELL))
    output = graph.tensor(op.outputs[0])
    input_weights = {g: graph.tensor(op.inputs[i]) for g, i in INPUT_WEIGHTS.items()}
    recurrent_weights = {g: graph.tensor(op.inputs[i]) for g, i in RECURRENT_WEIGHTS.items()}
    biases = {g: graph.tensor(op.inputs[i]) for g, i in BIASES.items()}
    weights = [*input_weights.values(), *recurrent_weights.values()]

    int16 = input_.dtype == "int16"  # 16x8 mode
    activation_dtype, bias_dtype = ("int16", "int64") if int16 else ("int8", "int32")
    if (input_.dtype != activation_dtype or hidden.dtype != activation_dtype or output.dtype != activation_dtype
            or cell.dtype != "int16" or any(w.dtype != "int8" for w in weights)
            or any(b.dtype != bias_dtype for b in biases.values())):
        raise UnsupportedOpError(f"{where}: only the 8x8->16 integer LSTM (int8 input, weights, hidden state and "
                                 "output; int16 cell state; int32 biases) and the 16x8 one (int16 input, hidden state "
                                 "and output; int8 weights; int16 cell state; int64 biases) are supported")
    if not (all(w.is_constant for w in weights) and all(b.is_constant for b in biases.values())):
        raise UnsupportedOpError(f"{where}: the weights and biases must be constant tensors")
    for state in (hidden, cell):
        if not state.variable or state.is_constant:
            raise UnsupportedOpError(f"{where}: the state '{state.name}' must be a variable tensor")
        if any(state.index in (*other.inputs, *other.outputs) for other in graph.operators if other.index != op.index):
            raise UnsupportedOpError(f"{where}: another layer uses the LSTM's state '{state.name}'; tinyedge keeps "
                                     "it in a form of its own")
    if any(t.quant is None or t.quant.per_channel for t in (input_, hidden, cell, *weights)):
        raise UnsupportedOpError(f"{where}: input, states and weights need one scale each (TFLite-Micro's LSTM "
                                 "applies per-tensor multipliers only)")
    if any(w.zero_point != 0 for w in weights) or cell.zero_point != 0:
        raise UnsupportedOpError(f"{where}: weights and the cell state must be symmetric (zero point 0)")

    time_major = bool(op.options.get("timeMajor", False))
    cell_clip = float(np.float32(op.options.get("cellClip", 0.0) or 0.0))
    activation = str(op.options.get("fusedActivationFunction", "TANH"))
    if activation != "TANH":  # the schema's activations give TFLite-Micro's gate no other it can run
        raise UnsupportedOpError(f"{where}: cell gate activation {activation}; TFLite-Micro's LSTM runs TANH only")
    if cell_clip < 0:
        raise UnsupportedOpError(f"{where}: a negative cell clip ({cell_clip}); TFLite-Micro refuses it")
    if len(input_.shape) != 3:
        raise UnsupportedOpError(f"{where}: the input must be 3-D, not {list(input_.shape)}")
    steps, batches, input_size = input_.shape if time_major else (input_.shape[1], input_.shape[0], input_.shape[2])
    units = input_weights["forget"].shape[0] if len(input_weights["forget"].shape) == 2 else -1
    if (any(w.shape != (units, input_size) for w in input_weights.values())
            or any(w.shape != (units, units) for w in recurrent_weights.values())
            or any(b.shape != (units,) for b in biases.values())
            or len(hidden.shape) < 2 or hidden.shape[1] != units or hidden.size != batches * units
            or cell.size != batches * units or output.shape != (*input_.shape[:2], units)):
        raise UnsupportedOpError(f"{where}: weights, biases, states or output do not fit input {list(input_.shape)} "
                                 f"and {units} units")
    power = _cell_scale_power(cell)
    if power is None or power not in CELL_SCALE_POWERS:
        raise UnsupportedOpError(f"{where}: cell state scale {cell.scale} is not a power of two between 2^-30 and "
                                 "2^2; TFLite-Micro's integer tanh needs one")

    params: dict[str, ParamValue] = {
        "batches": batches, "steps": steps, "input_size": input_size, "units": units, "time_major": int(time_major),
        "input_offset": -input_.zero_point, "hidden_offset": -hidden.zero_point,
    }
    for gate in GATES:
        multiplier, shift = _fc_multiplier(input_, input_weights[gate])
        params[f"{gate}_input_multiplier"], params[f"{gate}_input_shift"] = multiplier, shift
        multiplier, shift = _fc_multiplier(hidden, recurrent_weights[gate])
        params[f"{gate}_recurrent_multiplier"], params[f"{gate}_recurrent_shift"] = multiplier, shift
    fc_shifts = [int(params[f"{gate}_{kind}_shift"]) for gate in GATES for kind in ("input", "recurrent")]
    if int16 and max(fc_shifts) > I64_MAX_SHIFT:
        raise UnsupportedOpError(f"{where}: a gate's input or recurrent scale is over 2^{I64_MAX_SHIFT} times its "
                                 "Q3.12 output's; TFLite-Micro's 64-bit requantization cannot scale that far up")
    params["forget_multiplier"], params["forget_shift"] = _mul_multiplier(GATE_OUTPUT_SCALE, cell.scale, cell.scale)
    params["update_multiplier"], params["update_shift"] = _mul_multiplier(GATE_OUTPUT_SCALE, GATE_OUTPUT_SCALE,
                                                                          cell.scale)
    params["hidden_multiplier"], params["hidden_shift"] = _mul_multiplier(GATE_OUTPUT_SCALE, GATE_OUTPUT_SCALE,
                                                                          hidden.scale)
    params["hidden_zero_point"] = hidden.zero_point
    # lstm_internal::Tanh: left shift 12 + p becomes the multiplier 3 << (12 + p); a negative one a rounded
    # right shift of the input times 3.
    tanh_shift = 12 + power
    params["cell_tanh_multiplier"] = 3 << tanh_shift if tanh_shift >= 0 else 3
    params["cell_tanh_shift"] = 0 if tanh_shift >= 0 else -tanh_shift
    # CreateLstmCellStateInfo: the clip over the scale in double, limited to int16, truncated toward zero.
    params["cell_clip"] = int(min(max(cell_clip / float(np.float32(cell.scale)), -32768.0), 32767.0))

    # te_unidirectional_sequence_lstm_s8_scratch_size (9 * units bytes), _s16_scratch_size (8 * units bytes)
    scratch = ScratchArg(8 * units if int16 else 9 * units, "int16_t")
    table = (ConstArg("sigmoid_table", "uint16_t", np.array(SIGMOID_TABLE_UINT16, dtype=np.uint16)),) if int16 else ()
    args = (*table, TensorArg(op.inputs[INPUT]),
            *(TensorArg(op.inputs[INPUT_WEIGHTS[g]]) for g in GATES),
            *(TensorArg(op.inputs[RECURRENT_WEIGHTS[g]]) for g in GATES),
            *(TensorArg(op.inputs[BIASES[g]]) for g in GATES),
            TensorArg(op.inputs[HIDDEN]), TensorArg(op.inputs[CELL]), scratch, TensorArg(op.outputs[0]))
    kernel = LSTM_16X8 if int16 else LSTM_REFERENCE
    return KernelCall(function=kernel, header=f"{kernel}.h", params_type="te_lstm_params",
                      params=params, args=args, macs=batches * steps * 4 * units * (input_size + units))
