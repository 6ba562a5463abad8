"""UNIDIRECTIONAL_SEQUENCE_LSTM: TFLite-Micro's 8x8->16 integer LSTM (int8 input, weights, hidden state and
output; int16 cell state and gates; int32 biases), step for step.

Parameters follow TFLite-Micro's Prepare (PrepareGateParametersInteger, CreateLstmCellStateInfo):
  - Each gate is two fully connected products written to int16 at the fixed scale 2^-12 (Q3.12, the
    input of the gate's sigmoid or tanh): input x input weights + gate bias, hidden state x recurrent
    weights (no bias), each with the multiplier (input_scale * weights_scale in float32, widened to
    double) / 2^-12, clamped to int16 and added with int16 saturation.
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
"""

from __future__ import annotations

import math

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Tensor
from tinyedge.ops import KernelCall, ParamValue, ScratchArg, TensorArg, lowering
from tinyedge.ops._quant import quantize_multiplier

LSTM_REFERENCE = "te_unidirectional_sequence_lstm_s8"
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
    """GetQuantizedConvolutionMultipler: the scales' product in float32, widened, over the Q3.12 scale."""
    product = float(np.float32(np.float32(input_.scale) * np.float32(weights.scale)))
    return quantize_multiplier(product / GATE_INPUT_SCALE)


def _mul_multiplier(scale_1: float, scale_2: float, scale_out: float) -> tuple[int, int]:
    """CreateInterGateMulParams: float32 scales multiplied and divided in double."""
    return quantize_multiplier(float(np.float32(scale_1)) * float(np.float32(scale_2)) / float(np.float32(scale_out)))


def _cell_scale_power(cell: Tensor) -> int | None:
    """p with cell_scale == 2^p (within TFLite-Micro's 1e-3 in the exponent), else None."""
    exponent = math.log2(float(np.float32(cell.scale)))
    return round(exponent) if abs(exponent - round(exponent)) < 1e-3 else None


@lowering("UNIDIRECTIONAL_SEQUENCE_LSTM")
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

    if (input_.dtype != "int8" or hidden.dtype != "int8" or output.dtype != "int8" or cell.dtype != "int16"
            or any(w.dtype != "int8" for w in weights) or any(b.dtype != "int32" for b in biases.values())):
        raise UnsupportedOpError(f"{where}: only the 8x8->16 integer LSTM is supported (int8 input, weights, hidden "
                                 "state and output; int16 cell state; int32 biases)")
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

    args = (TensorArg(op.inputs[INPUT]),
            *(TensorArg(op.inputs[INPUT_WEIGHTS[g]]) for g in GATES),
            *(TensorArg(op.inputs[RECURRENT_WEIGHTS[g]]) for g in GATES),
            *(TensorArg(op.inputs[BIASES[g]]) for g in GATES),
            TensorArg(op.inputs[HIDDEN]), TensorArg(op.inputs[CELL]),
            ScratchArg(9 * units, "int16_t"),  # te_unidirectional_sequence_lstm_s8_scratch_size
            TensorArg(op.outputs[0]))
    return KernelCall(function=LSTM_REFERENCE, header=f"{LSTM_REFERENCE}.h", params_type="te_lstm_params",
                      params=params, args=args, macs=batches * steps * 4 * units * (input_size + units))
