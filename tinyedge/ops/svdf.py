"""SVDF: int8 input and output, int16 (or int8) state and time weights, as TFLite-Micro's integer SVDF.

Parameters follow PrepareSvdf (svdf_common.cc): two multipliers, each a product and quotient
of float32 scales (float arithmetic, then widened to double) quantized with QuantizeMultiplier:
  effective_scale_1 = input_scale * weights_feature_scale / state_scale  (input -> state)
  effective_scale_2 = state_scale * weights_time_scale / output_scale    (state -> output)
The bias is required and its scale must lie within 1e-5 of state_scale * weights_time_scale,
as TFLite-Micro's Prepare requires. The state is a variable tensor: the planner gives it a
buffer of its own for the whole program (it carries the memory from one call to the next) and
the zeroed static arena is its starting value. The integer path applies no activation. A
non-zero state zero point is added after the int16 clamp, as the installed tflite_micro does
(checked on random zero points); converters write 0.

int8 state and time weights, TFLite-Micro's other integer form (its keyword_scrambled_8bit model
has it), run te_svdf_int8_state_s8: the same steps one byte wide, the state clamped to int8.

te_svdf_packed_s8 gives the same bytes faster (the input widened once, the feature weights packed
as te_nn_dot_* reads them, int16 pairs in the time products by SMLAD on DSP cores); it runs
whenever the state's zero point is 0, as converters write it. Others keep te_svdf_s8.
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import ConstArg, KernelCall, ParamValue, ScratchArg, TensorArg, lowering
from tinyedge.ops._quant import quantize_multiplier, require_int8
from tinyedge.ops.conv import depth4, pack_rows, requested_fallback, variants_enabled

SVDF_REFERENCE = "te_svdf_s8"
SVDF_PACKED = "te_svdf_packed_s8"
SVDF_INT8_STATE = "te_svdf_int8_state_s8"
BIAS_SCALE_TOLERANCE = 1e-5  # TFLite-Micro's Prepare: |bias_scale - state_scale * time_scale| below this


def _scale_ratio(a: float, b: float, c: float) -> float:
    """a * b / c in float32, as the C++ float arithmetic of Prepare gives it, widened to double."""
    return float(np.float32(np.float32(a) * np.float32(b)) / np.float32(c))


def _packed(weights: np.ndarray) -> np.ndarray:
    """Feature weights [filters, input_size] as te_nn_dot_* reads them (pack_rows; one filter: its padded row)."""
    if weights.shape[0] >= 2:
        return pack_rows(weights)
    row = np.zeros(depth4(weights.shape[1]), dtype=np.int8)
    row[:weights.shape[1]] = weights[0]
    return row


@lowering("SVDF")
def lower_svdf(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 5 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected input, feature and time weights, bias, state "
                                 "and one output")
    input_index, feature_index, time_index, bias_index, state_index = op.inputs
    output_index = op.outputs[0]
    require_int8(graph, op, input_index, feature_index, output_index)
    input_, feature, output = graph.tensor(input_index), graph.tensor(feature_index), graph.tensor(output_index)
    if time_index < 0 or state_index < 0:
        raise UnsupportedOpError(f"{graph.describe(op)}: the time weights and the state are required")
    time, state = graph.tensor(time_index), graph.tensor(state_index)
    if time.dtype != state.dtype or state.dtype not in ("int16", "int8"):
        raise UnsupportedOpError(f"{graph.describe(op)}: time weights {time.dtype} and state {state.dtype}: "
                                 "TFLite-Micro's integer SVDF takes both int16 or both int8")
    if bias_index < 0:
        raise UnsupportedOpError(f"{graph.describe(op)}: SVDF without a bias: TFLite-Micro's integer SVDF needs one")
    bias = graph.tensor(bias_index)
    if not (feature.is_constant and time.is_constant and bias.is_constant):
        raise UnsupportedOpError(f"{graph.describe(op)}: the weights and the bias must be constant tensors")
    if not state.variable or state.is_constant:
        raise UnsupportedOpError(f"{graph.describe(op)}: the state '{state.name}' must be a variable tensor")
    if any(t.quant is None for t in (input_, feature, time, bias, state, output)):
        raise UnsupportedOpError(f"{graph.describe(op)}: every tensor but the state's must be quantized")

    rank = int(op.options.get("rank", 0))
    if len(input_.shape) != 2 or len(feature.shape) != 2 or len(time.shape) != 2 or len(output.shape) != 2:
        raise UnsupportedOpError(f"{graph.describe(op)}: input, weights and output must be 2-D")
    batches, input_size = input_.shape
    filters, memory_size = time.shape
    if rank <= 0 or filters % rank or feature.shape != (filters, input_size):
        raise UnsupportedOpError(f"{graph.describe(op)}: rank {rank}, feature weights {list(feature.shape)} and "
                                 f"time weights {list(time.shape)} do not fit input {list(input_.shape)}")
    units = filters // rank
    if (output.shape != (batches, units) or state.shape != (batches, filters * memory_size)
            or bias.dtype != "int32" or bias.size != units):
        raise UnsupportedOpError(f"{graph.describe(op)}: output {list(output.shape)}, state {list(state.shape)} or "
                                 f"bias {bias.dtype}{list(bias.shape)} do not fit {filters} filters of rank {rank} "
                                 f"remembering {memory_size} steps")

    state_time = float(np.float32(np.float32(state.scale) * np.float32(time.scale)))
    if not abs(float(np.float32(bias.scale)) - state_time) < BIAS_SCALE_TOLERANCE:
        raise UnsupportedOpError(f"{graph.describe(op)}: bias scale {bias.scale} is not state scale x time weights "
                                 f"scale {state_time}; TFLite-Micro refuses this layer too")
    multiplier_1, shift_1 = quantize_multiplier(_scale_ratio(input_.scale, feature.scale, state.scale))
    multiplier_2, shift_2 = quantize_multiplier(_scale_ratio(state.scale, time.scale, output.scale))
    params: dict[str, ParamValue] = {
        "batches": batches, "input_size": input_size, "filters": filters, "units": units, "rank": rank,
        "memory_size": memory_size, "input_offset": -input_.zero_point, "state_zero_point": state.zero_point,
        "multiplier_1": multiplier_1, "shift_1": shift_1, "multiplier_2": multiplier_2, "shift_2": shift_2,
        "output_offset": output.zero_point,
    }
    macs = batches * filters * (input_size + memory_size)
    sums = batches * filters + batches * units  # te_svdf_s8_scratch_size, in int32 values
    if state.dtype == "int8":
        return KernelCall(
            function=SVDF_INT8_STATE, header=f"{SVDF_INT8_STATE}.h", params_type="te_svdf_params", params=params,
            args=(TensorArg(input_index), TensorArg(feature_index), TensorArg(time_index), TensorArg(bias_index),
                  TensorArg(state_index), ScratchArg(4 * sums), TensorArg(output_index)),
            macs=macs,
        )
    if variants_enabled() and state.zero_point == 0:
        assert feature.data is not None
        return KernelCall(
            function=SVDF_PACKED, header=f"{SVDF_PACKED}.h", params_type="te_svdf_params", params=params,
            args=(TensorArg(input_index), ConstArg("feature", "int8_t", _packed(feature.data)),
                  TensorArg(time_index), TensorArg(bias_index), TensorArg(state_index),
                  ScratchArg(4 * (sums + depth4(input_size) // 2)), TensorArg(output_index)),
            macs=macs,
        )
    return KernelCall(
        function=SVDF_REFERENCE, header=f"{SVDF_REFERENCE}.h", params_type="te_svdf_params", params=params,
        args=(TensorArg(input_index), TensorArg(feature_index), TensorArg(time_index), TensorArg(bias_index),
              TensorArg(state_index), ScratchArg(4 * sums), TensorArg(output_index)),
        macs=macs, fallback=requested_fallback() or f"state zero point {state.zero_point} (the fast kernel takes 0)",
    )
