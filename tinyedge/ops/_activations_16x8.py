"""LOGISTIC and TANH with int16 activations (16x8 mode), as TFLite-Micro's int16 path computes them.

Prepare (logistic_common.cc, tanh.cc) requires zero point 0 on input and output and an output
scale whose float32 log2 rounds to -15 within 1e-3 (CheckedLog2). The input is brought to the
table's scale 1/(3 * 4096) (so +-2^17 stands for +-10.7):

- a power-of-two input scale whose log2 + 12 is 0 (LOGISTIC) or 0 or 1 (TANH): multiplier
  3 << that shift, no rounding shift (the reference's input_multiplier 0 case, resolved here);
- any other scale: the double input_scale * 4096 * 3, doubled (and the shift raised) while it is
  at most 32767 / 2 and the shift at most 30, then truncated to an int32.

The kernels then interpolate TFLite-Micro's 256-entry sigmoid table (sigmoid(i / 24) in 0.16;
tanh(x) = 2 * sigmoid(2x) - 1): LOGISTIC with 9 fractional bits, TANH with 8. The table is data
copied from TFLite-Micro's common.h, not a formula: its entries are within one of
round(65536 * sigmoid(i / 24)) but not equal to it (the test checks both that and every entry's use
against tflite_micro). It is passed as a ConstArg, which the code generator stores once per model.
"""

from __future__ import annotations

import functools

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Tensor
from tinyedge.ops import ConstArg, KernelCall, ParamValue, TensorArg
from tinyedge.ops._lut import _libm_function, roundf
from tinyedge.ops._quant import require_dtype

INPUT_INTEGER_BITS = 3  # kInputIntegerBits of the int16 path: 15 - 3 = 12 is log2 of the table's POT scale
OUTPUT_FRACTIONAL_BITS = 15  # the output scale must be 2^-15
INT32_MIN = -(1 << 31)

# sigmoid_table_uint16 of TFLite-Micro's tensorflow/lite/kernels/internal/common.h (data).
SIGMOID_TABLE_UINT16 = (
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498,
    40149, 40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255,
    46817, 47369, 47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865,
    52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174,
    56503, 56823, 57133, 57433, 57724, 58007, 58280, 58544, 58800, 59048, 59288,
    59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110, 61279, 61441,
    61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886,
    62990, 63090, 63186, 63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835,
    63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308, 64357, 64405, 64450,
    64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786, 64816, 64845,
    64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079, 65097,
    65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360,
    65367, 65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425,
    65429, 65433, 65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465,
    65468, 65471, 65474, 65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491,
    65493, 65495, 65497, 65498, 65500, 65501, 65503, 65504, 65505, 65507, 65508,
    65509, 65510, 65511, 65512, 65513, 65514, 65515, 65516, 65517, 65517, 65518,
    65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524, 65525,
    65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529,
    65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531, 65531, 65531, 65531,
    65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533, 65533, 65533,
    65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65535,
)


@functools.cache
def _logf():  # type: ignore[no-untyped-def]
    return _libm_function("logf")


def checked_log2(x: float) -> tuple[bool, int]:
    """TFLite's CheckedLog2 in float32: (whether log2(x) is within 1e-3 of an integer, that integer)."""
    log2 = np.float32(_logf()(float(np.float32(x)))) * (np.float32(1.0) / np.float32(_logf()(2.0)))
    rounded = roundf(np.float32(log2))
    return bool(abs(np.float32(log2) - rounded) < np.float32(1e-3)), int(rounded)


def _double_to_int32(x: float) -> int:
    """static_cast<int32_t>(double) on x86-64 (cvttsd2si): truncation, INT32_MIN out of range."""
    return int(x) if -(2.0**31) < x < 2.0**31 else INT32_MIN


def int16_input_scaling(input_scale: float, pot_shifts: tuple[int, ...]) -> tuple[int, int]:
    """(input_multiplier, input_left_shift) of the int16 LOGISTIC/TANH Prepare, the power-of-two case
    resolved as the reference kernel resolves it (multiplier 3 << shift, shift 0)."""
    is_pot, log2 = checked_log2(input_scale)
    left_shift = (15 - INPUT_INTEGER_BITS) + log2
    if is_pot and left_shift in pot_shifts:
        return 3 << left_shift, 0
    multiplier = float(np.float32(input_scale)) * 4096.0 * 3.0
    left_shift = 0
    while multiplier <= 32767.0 / 2.0 and left_shift <= 30:
        left_shift += 1
        multiplier *= 2.0
    return _double_to_int32(multiplier), left_shift


def _unary_int16(graph: Graph, op: Operator, name: str) -> tuple[Tensor, Tensor]:
    """The int16 input and output, checked as TFLite-Micro's Prepare checks them."""
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected one input and one output")
    require_dtype(graph, op, ("int16",), op.inputs[0], op.outputs[0])
    input_, output = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if input_.quant is None or output.quant is None or input_.quant.per_channel or output.quant.per_channel:
        raise UnsupportedOpError(f"{graph.describe(op)}: input and output must be quantized per tensor")
    if input_.size != output.size:
        raise UnsupportedOpError(f"{graph.describe(op)}: input {list(input_.shape)} and output "
                                 f"{list(output.shape)} differ in size")
    if (input_.zero_point, output.zero_point) != (0, 0):
        raise UnsupportedOpError(f"{graph.describe(op)}: an int16 {name} needs zero point 0 on its input and output "
                                 f"(they are {input_.zero_point} and {output.zero_point}); TFLite-Micro refuses "
                                 "this layer too")
    is_pot, log2 = checked_log2(output.scale)
    if not is_pot or log2 != -OUTPUT_FRACTIONAL_BITS:
        raise UnsupportedOpError(f"{graph.describe(op)}: an int16 {name} output must have scale 2^-15 (it has "
                                 f"{output.scale}); TFLite-Micro refuses this layer too")
    return input_, output


def _sigmoid_table_call(graph: Graph, op: Operator, name: str, pot_shifts: tuple[int, ...]) -> KernelCall:
    input_, _output = _unary_int16(graph, op, name.upper())
    multiplier, left_shift = int16_input_scaling(input_.scale, pot_shifts)
    params: dict[str, ParamValue] = {"size": input_.size, "input_multiplier": multiplier,
                                     "input_left_shift": left_shift, "sigmoid_table": "@sigmoid_table"}
    return KernelCall(
        function=f"te_{name}_s16", header=f"te_{name}_s16.h", params_type=f"te_{name}_s16_params", params=params,
        args=(TensorArg(op.inputs[0]), TensorArg(op.outputs[0])), in_place=True,
        constants=(ConstArg("sigmoid_table", "uint16_t", np.array(SIGMOID_TABLE_UINT16, dtype=np.uint16)),),
    )


def lower_logistic_s16(graph: Graph, op: Operator) -> KernelCall:
    """int16 LOGISTIC: te_logistic_s16 (the power-of-two case only at input scale 2^-12)."""
    return _sigmoid_table_call(graph, op, "logistic", (0,))


def lower_tanh_s16(graph: Graph, op: Operator) -> KernelCall:
    """int16 TANH: te_tanh_s16 (the power-of-two case at input scales 2^-12 and 2^-11)."""
    return _sigmoid_table_call(graph, op, "tanh", (0, 1))

