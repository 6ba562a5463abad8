"""Generate stage: the graph, its kernel calls and memory plan as C source (model/ folder).

Python works out every value (array bodies, pointer expressions, parameter fields); the
templates in templates/model/ only lay them out.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from tinyedge import __version__
from tinyedge.errors import TinyEdgeError, UnsupportedOpError
from tinyedge.ir import Graph, Tensor
from tinyedge.model_kind import IO_DTYPES
from tinyedge.ops import (
    ConstArg,
    KernelCall,
    ScratchArg,
    TensorArg,
    TensorListArg,
    find_unsupported,
    lower,
    unsupported_message,
)
from tinyedge.ops.conv import constants_read_in_place
from tinyedge.plan import SPEED, MemoryPlan, lean_calls, plan_memory, planned_calls
from tinyedge.resources import templates_dir

CTYPES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int32_t", "uint32": "uint32_t",
          "int64": "int64_t", "float32": "float", "bool": "uint8_t"}
VALUES_PER_LINE = 16
CTYPE_BYTES = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4, "int64_t": 8,
               "float": 4}


@dataclass(frozen=True)
class IOTensor:
    name: str
    index: int
    shape: tuple[int, ...]
    dtype: str
    offset: int  # byte offset in the concatenated input/output buffer, aligned to the element size
    nbytes: int
    scale: float | None  # None: not quantized (an int32 shape or index)
    zero_point: int

    @property
    def ctype(self) -> str:
        return CTYPES[self.dtype]


@dataclass(frozen=True)
class Layer:
    index: int
    opcode: str
    name: str  # the layer's output tensor, as Keras/Netron show it
    function: str
    macs: int


@dataclass(frozen=True)
class CompiledModel:
    """Everything later stages need to know about the generated C model."""

    graph: Graph
    calls: tuple[KernelCall, ...]
    plan: MemoryPlan
    inputs: tuple[IOTensor, ...]
    outputs: tuple[IOTensor, ...]
    layers: tuple[Layer, ...]
    kernel_sources: tuple[str, ...]  # firmware/kernels/*.c files the model calls
    weight_bytes: int  # constant data emitted into flash
    params: int  # number of weight and bias values
    macs: int
    model_sha256: str

    @property
    def input_bytes(self) -> int:
        return max((t.offset + t.nbytes for t in self.inputs), default=0)

    @property
    def output_bytes(self) -> int:
        return max((t.offset + t.nbytes for t in self.outputs), default=0)

    @property
    def input_arena_offset(self) -> int | None:
        """Where the planner put the model's input in the arena (single-input models), else None."""
        if len(self.inputs) != 1:
            return None
        return self.plan.tensor_offsets.get(self.inputs[0].index)


def compile_graph(graph: Graph, model_sha256: str = "", optimize: str = SPEED,
                  dsp_extension: bool = True) -> CompiledModel:
    """Lower every op and plan memory for `optimize` (tinyedge.plan.OPTIMIZE_GOALS); raises before any file
    is written if an op is unsupported. `dsp_extension`: whether the target core has the Cortex-M DSP
    extension (Board.dsp_extension), whose kernels copy their constants into the scratch."""
    unsupported = find_unsupported(graph)
    if unsupported:
        raise UnsupportedOpError(unsupported_message(graph, unsupported))
    with nullcontext() if dsp_extension else constants_read_in_place():
        calls = tuple(lower(graph, op) for op in graph.operators)
        # "ram": the smaller of the plans with either set of lean variants (the copy-free one on a tie)
        leans = [lean_calls(graph, calls, copy_free) for copy_free in (True, False)] if optimize != SPEED else [{}]
    plans = [(plan_memory(graph, calls, optimize, lean), lean) for lean in leans]
    plan, lean = min(plans, key=lambda candidate: candidate[0].arena_bytes)
    calls = planned_calls(calls, lean, plan)
    constants = _constant_tensors(graph, calls)
    weight_bytes = sum(graph.tensor(t).nbytes for t in constants)
    weight_bytes += sum(values.nbytes for values in _distinct_constants(calls))
    params = _parameter_count(graph)
    layers = tuple(Layer(op.index, op.opcode, graph.tensor(op.outputs[0]).name, call.function, call.macs)
                   for op, call in zip(graph.operators, calls))
    return CompiledModel(
        graph=graph, calls=calls, plan=plan,
        inputs=_io(graph, graph.inputs), outputs=_io(graph, graph.outputs), layers=layers,
        kernel_sources=tuple(sorted({f"{call.function}.c" for call in calls})),
        weight_bytes=weight_bytes, params=params, macs=sum(call.macs for call in calls),
        model_sha256=model_sha256,
    )


def _parameter_count(graph: Graph) -> int:
    """Weights and biases of the model: its quantized constant tensors (shapes and axes are not quantized).

    Counted on the graph, not on what the kernels receive: a lowering may repack weights.
    """
    used = {t for op in graph.operators for t in op.inputs if t >= 0}
    return sum(t.size for t in graph.tensors if t.index in used and t.is_constant and t.quant is not None)


def _io(graph: Graph, indices: tuple[int, ...]) -> tuple[IOTensor, ...]:
    """The model's inputs (outputs) as one buffer: each at an offset aligned to its element size."""
    result, offset = [], 0
    for index in indices:
        t = graph.tensor(index)
        if t.dtype not in IO_DTYPES or (t.quant is None and t.dtype != "int32"):
            raise TinyEdgeError(f"model input/output '{t.name}' is {t.dtype}; the firmware takes quantized "
                                f"{', '.join(IO_DTYPES)} inputs and outputs: quantize the model with "
                                "`tinyedge quantize` first")
        itemsize = np.dtype(t.dtype).itemsize
        offset = -(-offset // itemsize) * itemsize
        scale, zero_point = (t.scale, t.zero_point) if t.quant is not None else (None, 0)
        result.append(IOTensor(t.name, index, t.shape, t.dtype, offset, t.nbytes, scale, zero_point))
        offset += t.nbytes
    return tuple(result)


def _const_args(call: KernelCall) -> list[ConstArg]:
    return list(call.constants) + [a for a in call.args if isinstance(a, ConstArg)]


def _const_key(const: ConstArg) -> tuple[str, bytes]:
    return const.ctype, np.ascontiguousarray(const.values).tobytes()


def _distinct_constants(calls: tuple[KernelCall, ...]) -> list[np.ndarray]:
    """The computed constants as they are stored: identical ones once (an unrolled recurrent layer packs
    the same weights at every time step)."""
    distinct: dict[tuple[str, bytes], np.ndarray] = {}
    for call in calls:
        for const in _const_args(call):
            distinct.setdefault(_const_key(const), const.values)
    return list(distinct.values())


def _constant_tensors(graph: Graph, calls: tuple[KernelCall, ...]) -> list[int]:
    indices: set[int] = set()
    for call in calls:
        for arg in call.args:
            refs = arg.indices if isinstance(arg, TensorListArg) else (arg.index,) if isinstance(arg, TensorArg) else ()
            indices.update(t for t in refs if t >= 0 and graph.tensor(t).is_constant)
    return sorted(indices)


def format_values(values: np.ndarray, ctype: str) -> str:
    """The body of a C array initializer, VALUES_PER_LINE values to a line."""
    flat = values.reshape(-1)
    if ctype == "float":
        items = [f"{float(v)!r}f" for v in flat.astype(np.float32)]
    else:
        items = [str(int(v)) for v in flat]
    lines = [", ".join(items[i:i + VALUES_PER_LINE]) for i in range(0, len(items), VALUES_PER_LINE)]
    return ",\n".join("    " + line for line in lines) if lines else "    0"


def _ctype(tensor: Tensor) -> str:
    try:
        return CTYPES[tensor.dtype]
    except KeyError:
        raise TinyEdgeError(f"tensor '{tensor.name}' has type {tensor.dtype}, which the C generator does not handle") \
            from None


class _Emitter:
    """Turns KernelCall arguments into C expressions for one compiled model."""

    def __init__(self, model: CompiledModel):
        self.model = model
        self.graph = model.graph
        self.input_offsets = {t.index: t.offset for t in model.inputs}
        self.output_offsets = {t.index: t.offset for t in model.outputs}

    def tensor(self, index: int, view: str | None = None) -> str:
        if index < 0:
            return "NULL"
        tensor = self.graph.tensor(index)
        ctype = _ctype(tensor)
        if view is not None and view != ctype:
            const = "const " if tensor.is_constant or index in self.input_offsets else ""
            return f"({const}{view} *){self.tensor(index)}"
        if tensor.is_constant:
            return f"tensor_{index}"
        if index in self.model.plan.tensor_offsets:
            return f"({ctype} *)&te_arena[{self.model.plan.tensor_offsets[index]}]"
        if index in self.input_offsets:
            pointer = f"input + {self.input_offsets[index]}"
            return pointer if ctype == "int8_t" else f"(const {ctype} *)({pointer})"
        assert index in self.output_offsets, f"tensor {index} is in no buffer"
        pointer = f"output + {self.output_offsets[index]}"
        return pointer if ctype == "int8_t" else f"({ctype} *)({pointer})"

    def args(self, op_index: int, call: KernelCall, prefix: str, aliases: dict[str, str]) -> list[str]:
        exprs = []
        scratch_offset = self.model.plan.scratch_offsets.get(op_index, 0)
        for arg in call.args:
            if isinstance(arg, TensorArg):
                exprs.append(self.tensor(arg.index, arg.view))
            elif isinstance(arg, TensorListArg):
                ctype = arg.view or _ctype(self.graph.tensor(arg.indices[0]))
                array = f"{ctype} *const[]" if arg.writable else f"const {ctype} *const[]"
                exprs.append(f"({array}){{" + ", ".join(self.tensor(t, arg.view) for t in arg.indices) + "}")
            elif isinstance(arg, ConstArg):
                name = f"{prefix}_{arg.name}"
                exprs.append(aliases.get(name, name))
            elif isinstance(arg, ScratchArg):
                exprs.append(f"({arg.ctype} *)&te_arena[{scratch_offset}]")
                scratch_offset += arg.nbytes
        return exprs


def render_model(model: CompiledModel, out_dir: Path) -> list[Path]:
    """Write model/tinyedge_model.{c,h} and its metadata; returns the files written."""
    graph, emitter = model.graph, _Emitter(model)
    arrays = []
    for index in _constant_tensors(graph, model.calls):
        tensor = graph.tensor(index)
        assert tensor.data is not None
        arrays.append({"name": f"tensor_{index}", "ctype": _ctype(tensor), "length": max(tensor.size, 1),
                       "comment": f"'{tensor.name}' {tensor.dtype}{list(tensor.shape)}",
                       "body": format_values(tensor.data, _ctype(tensor))})
    layers = []
    stored: dict[tuple[str, bytes], str] = {}  # identical constants are stored once, the others name it
    aliases: dict[str, str] = {}
    # Which layers read each array: its section, .rodata.<name> (-fdata-sections), is what the build's
    # placement of the model's constants (tinyedge/build.py) names when only some of them fit in RAM.
    users: dict[str, set[int]] = {}
    for op, call in zip(graph.operators, model.calls):
        prefix = f"layer{op.index}"
        for index in _constant_tensors(graph, (call,)):
            users.setdefault(f"tensor_{index}", set()).add(op.index)
        for const in _const_args(call):
            name, key = f"{prefix}_{const.name}", _const_key(const)
            users.setdefault(stored.get(key, name), set()).add(op.index)
            if key in stored:
                aliases[name] = stored[key]
                continue
            stored[key] = name
            arrays.append({"name": name, "ctype": const.ctype, "length": max(const.values.size, 1),
                           "comment": f"layer {op.index} {op.opcode}: {const.name}",
                           "body": format_values(const.values, const.ctype)})
        params = []
        for field, value in call.params.items():
            if isinstance(value, str) and value.startswith("@"):
                value = aliases.get(f"{prefix}_{value[1:]}", f"{prefix}_{value[1:]}")
            params.append((field, value))
        layers.append({"index": op.index, "description": graph.describe(op), "params_type": call.params_type,
                       "params_name": f"{prefix}_params", "params": params, "function": call.function,
                       "args": emitter.args(op.index, call, prefix, aliases)})

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "model")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    context = {
        "banner": f"Generated by tinyedge {__version__} from model sha256 {model.model_sha256[:16]}. Do not edit.",
        "model_name": graph.name, "arena_bytes": model.plan.arena_bytes,
        "input_bytes": model.input_bytes, "output_bytes": model.output_bytes,
        "input_arena_offset": model.input_arena_offset,
        "inputs": [_io_context(t) for t in model.inputs], "outputs": [_io_context(t) for t in model.outputs],
        "headers": sorted({call.header for call in model.calls}), "arrays": arrays, "layers": layers,
    }
    model_dir = out_dir / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ("tinyedge_model.h", "tinyedge_model.c"):
        path = model_dir / name
        path.write_text(env.get_template(f"{name}.j2").render(context))
        written.append(path)
    meta = model_dir / "tinyedge_model.json"
    constants = [{"name": a["name"], "section": f".rodata.{a['name']}",
                  "bytes": a["length"] * CTYPE_BYTES.get(a["ctype"], 4), "layers": sorted(users.get(a["name"], ()))}
                 for a in arrays]
    meta.write_text(json.dumps(_metadata(model) | {"constants": constants}, indent=2) + "\n")
    written.append(meta)
    return written


def _io_context(t: IOTensor) -> dict:
    return {"name": t.name, "dtype": t.dtype, "ctype": t.ctype, "shape": list(t.shape), "offset": t.offset,
            "nbytes": t.nbytes, "scale": None if t.scale is None else repr(float(np.float32(t.scale))),
            "zero_point": t.zero_point}


def _metadata(model: CompiledModel) -> dict:
    def io(t: IOTensor) -> dict:
        return {"name": t.name, "shape": list(t.shape), "dtype": t.dtype, "offset": t.offset, "bytes": t.nbytes,
                "scale": t.scale, "zero_point": t.zero_point}

    return {
        "tinyedge_version": __version__, "model": model.graph.name, "model_sha256": model.model_sha256,
        "inputs": [io(t) for t in model.inputs], "outputs": [io(t) for t in model.outputs],
        "arena_bytes": model.plan.arena_bytes, "weight_bytes": model.weight_bytes, "macs": model.macs,
        "layers": [{"index": layer.index, "op": layer.opcode, "name": layer.name, "kernel": layer.function,
                    "macs": layer.macs} for layer in model.layers],
    }


def model_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
