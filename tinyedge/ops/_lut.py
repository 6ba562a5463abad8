"""256-entry int8 lookup tables built in float32, as TFLite-Micro's Prepare builds them.

Some int8 kernels of TFLite-Micro (ELU's PopulateLookupTable, ...) tabulate a float function
once in Prepare: each int8 input value is dequantized in float32, transformed with the C
library's float function, scaled by the output's float32 inverse scale, rounded half away
from zero (roundf), offset by the output zero point and clamped. Every step here is the same
float32 operation; the transcendental functions are the host C library's own (`expf` from
libm, through ctypes), the ones the installed tflite_micro calls, so the tables agree bit for
bit with the reference tinyedge is checked against.

The table is indexed by the input byte read as unsigned (value 0..127 at 0..127, -128..-1 at
128..255), which te_lookup_s8 does with one cast.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math
from collections.abc import Callable

import numpy as np

from tinyedge.errors import TinyEdgeError
from tinyedge.ir import Operator
from tinyedge.ops import ConstArg, KernelCall, ParamValue, TensorArg

INT32_MIN = -(2**31)


def _libm_function(name: str) -> Callable[[float], float]:
    path = ctypes.util.find_library("m")
    if path is None:
        raise TinyEdgeError(f"the C math library (libm) is not found; tinyedge needs its {name} to build the lookup "
                            "tables TFLite-Micro builds")
    function = getattr(ctypes.CDLL(path), name)
    function.restype, function.argtypes = ctypes.c_float, [ctypes.c_float]
    return function


@functools.cache
def _expf() -> Callable[[float], float]:
    return _libm_function("expf")  # looked up on first use: only the ops that tabulate exp need libm


def expf(x: np.float32) -> np.float32:
    """The C library's expf, as TFLite-Micro's std::exp(float) calls it."""
    return np.float32(_expf()(float(x)))


def float_to_int32(value: np.float32) -> int:
    """static_cast<int32_t>(float) as x86-64 does it (cvttss2si): truncation, and INT32_MIN for a value
    out of range or NaN (undefined in C++, but what the installed tflite_micro computes)."""
    if not math.isfinite(float(value)) or not -(2.0**31) <= float(value) < 2.0**31:
        return INT32_MIN
    return int(float(value))


def roundf(value: np.float32) -> np.float32:
    """C's roundf: halves away from zero (exact in double for a float32 value)."""
    x = float(value)
    if not math.isfinite(x):
        return np.float32(x)
    rounded = math.floor(abs(x) + 0.5)
    return np.float32(math.copysign(rounded, x))


def float_lookup_table(input_scale: float, input_zero_point: int, output_scale: float, output_zero_point: int,
                       transform: Callable[[np.float32], np.float32]) -> np.ndarray:
    """PopulateLookupTable<int8_t>: the int8 output of every int8 input, indexed by the input byte as unsigned."""
    inverse_scale = np.float32(1.0) / np.float32(output_scale)
    table = np.zeros(256, dtype=np.int8)
    with np.errstate(over="ignore", invalid="ignore"):
        for value in range(-128, 128):
            dequantized = np.float32(input_scale) * np.float32(value - input_zero_point)
            rescaled = roundf(transform(dequantized) * inverse_scale)
            quantized = float_to_int32(rescaled + np.float32(output_zero_point))
            table[value & 0xFF] = min(127, max(-128, quantized))
    return table


def lookup_call(op: Operator, size: int, table: np.ndarray) -> KernelCall:
    """te_lookup_s8 over `size` bytes with `table`; in place, as every output byte depends on its input byte only."""
    params: dict[str, ParamValue] = {"size": size, "table": "@table"}
    return KernelCall(function="te_lookup_s8", header="te_lookup_s8.h", params_type="te_lookup_params", params=params,
                      args=(TensorArg(op.inputs[0]), TensorArg(op.outputs[0])), in_place=True,
                      constants=(ConstArg("table", "int8_t", table.astype(np.int8)),))
