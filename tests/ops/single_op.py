"""Single-op int8 models, written straight into a .tflite flatbuffer, and checked by the hundred.

`single_op_tflite` builds a one-operator model with the flatbuffer object API that
tflite_micro ships (no Keras, no converter): any shapes, constant inputs, per-tensor or
per-channel quantization, builtin options. `check_cases` runs many such models against
TFLite-Micro in one go: tinyedge compiles each to its model C as usual, and all of them are
linked into ONE host executable with the kernels (a gcc run costs far more than a model), so
a few hundred configurations take seconds. Any byte that differs fails the test, naming the
configuration.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import subprocess
import tempfile
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import flatbuffers
import jinja2
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge import codegen
from tinyedge.build import C_FLAGS
from tinyedge.codegen import CompiledModel, compile_graph, render_model
from tinyedge.importer import parse_tflite
from tinyedge.resources import firmware_dir
from tinyedge.verify import random_samples, reference_outputs

CASES_PER_BUILD = 250  # one translation unit of model C per build stays small enough to compile in a second


@dataclass(frozen=True)
class TensorSpec:
    """One int8 tensor: scale and zero point per tensor (a float and an int) or per channel (sequences)."""

    shape: tuple[int, ...]
    scale: float | Sequence[float]
    zero_point: int | Sequence[int]
    data: np.ndarray | None = None  # a constant tensor's values
    axis: int = 0  # quantized dimension of a per-channel tensor
    dtype: str = "int8"

    def quantization(self) -> schema.QuantizationParametersT:
        q = schema.QuantizationParametersT()
        scales = [self.scale] if np.isscalar(self.scale) else list(self.scale)  # type: ignore[arg-type]
        zero_points = [self.zero_point] if np.isscalar(self.zero_point) else list(self.zero_point)  # type: ignore
        q.scale = [float(np.float32(s)) for s in scales]
        q.zeroPoint = [int(z) for z in zero_points]
        q.quantizedDimension = self.axis
        return q


@dataclass(frozen=True)
class OpCase:
    """One operator with its tensors; `label` says where the configuration came from (seed, index)."""

    opcode: str
    inputs: tuple[TensorSpec, ...]
    output: TensorSpec
    options: object | None = None  # a schema *OptionsT object (MulOptionsT, SubOptionsT, ...)
    label: str = ""
    samples: tuple[bytes, ...] = ()  # the input samples (inputs concatenated); none: seeded random ones
    expected: tuple[bytes, ...] = ()  # hand-worked outputs of `samples`, checked as well as tflite_micro's

    def describe(self) -> str:
        def one(t: TensorSpec) -> str:
            kind = "const " if t.data is not None else ""
            return f"{kind}{list(t.shape)} s={t.scale} z={t.zero_point}"

        options = {k: v for k, v in vars(self.options).items()} if self.options is not None else {}
        return (f"{self.label} {self.opcode}({'; '.join(one(t) for t in self.inputs)}) -> {one(self.output)}"
                f" {options}")


_TENSOR_TYPES = {"int8": schema.TensorType.INT8, "int16": schema.TensorType.INT16,
                 "int32": schema.TensorType.INT32, "int64": schema.TensorType.INT64,
                 "float32": schema.TensorType.FLOAT32}


def single_op_tflite(case: OpCase) -> bytes:
    """The flatbuffer of a model whose only operator is `case`; non-constant inputs are model inputs."""
    buffers = [schema.BufferT()]  # buffer 0: the schema's empty sentinel
    tensors = []
    for index, spec in enumerate((*case.inputs, case.output)):
        tensor = schema.TensorT()
        tensor.name = f"{'input' if index < len(case.inputs) else 'output'}_{index}"
        tensor.shape = np.array(spec.shape, dtype=np.int32)
        tensor.type = _TENSOR_TYPES[spec.dtype]
        tensor.quantization = spec.quantization()
        tensor.buffer = 0
        if spec.data is not None:
            buffer = schema.BufferT()
            values = np.asarray(spec.data, dtype=spec.dtype).reshape(spec.shape)
            buffer.data = np.frombuffer(values.tobytes(), dtype=np.uint8).copy()
            tensor.buffer = len(buffers)
            buffers.append(buffer)
        tensors.append(tensor)

    code = schema.OperatorCodeT()
    code.builtinCode = getattr(schema.BuiltinOperator, case.opcode)
    code.deprecatedBuiltinCode = min(code.builtinCode, schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
    code.version = 1
    op = schema.OperatorT()
    op.opcodeIndex = 0
    op.inputs = list(range(len(case.inputs)))
    op.outputs = [len(case.inputs)]
    if case.options is not None:
        op.builtinOptionsType = getattr(schema.BuiltinOptions, type(case.options).__name__.removesuffix("T"))
        op.builtinOptions = case.options

    subgraph = schema.SubGraphT()
    subgraph.tensors = tensors
    subgraph.inputs = [i for i, spec in enumerate(case.inputs) if spec.data is None]
    subgraph.outputs = [len(case.inputs)]
    subgraph.operators = [op]
    subgraph.name = "main"
    model = schema.ModelT()
    model.version = 3
    model.description = f"tinyedge single-op test: {case.label}"
    model.operatorCodes = [code]
    model.subgraphs = [subgraph]
    model.buffers = buffers
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@dataclass
class _Compiled:
    case: OpCase
    flatbuffer: bytes
    model: CompiledModel
    samples: list[bytes] = field(default_factory=list)


def check_cases(cases: Sequence[OpCase], workdir: Path, samples: int = 2, seed: int = 0) -> list[CompiledModel]:
    """Each case's output bytes from tinyedge's host C equal TFLite-Micro's, for `samples` seeded random inputs.

    Raises AssertionError naming every configuration that differs (or that tinyedge refused).
    Returns the compiled models, for tests that also look at the chosen kernels and parameters.
    """
    compiled = []
    for number, case in enumerate(cases):
        flatbuffer = single_op_tflite(case)
        model = compile_graph(parse_tflite(flatbuffer, name=f"case{number}"))
        inputs = list(case.samples) or random_samples(model, samples, seed=seed + number)
        compiled.append(_Compiled(case, flatbuffer, model, inputs))

    failures = []
    for start in range(0, len(compiled), CASES_PER_BUILD):
        batch = compiled[start:start + CASES_PER_BUILD]
        actual = _run_on_host(batch, workdir / f"batch{start // CASES_PER_BUILD}")
        for item, outputs in zip(batch, actual):
            expected = _reference_outputs(item)
            if item.case.expected and list(item.case.expected) != expected:
                failures.append(f"{item.case.describe()}: tflite_micro gives {expected}, "
                                f"not the hand-worked {list(item.case.expected)}")
            for number, (want, got) in enumerate(zip(expected, outputs)):
                if want != got:
                    position = next(i for i, (a, b) in enumerate(zip(want, got)) if a != b)
                    failures.append(f"{item.case.describe()}: sample {number}, byte {position}: "
                                    f"tflite_micro {np.int8(want[position] - 256 * (want[position] > 127))}, "
                                    f"tinyedge {np.int8(got[position] - 256 * (got[position] > 127))}")
                    break
    assert not failures, f"{len(failures)} of {len(cases)} configurations differ:\n" + "\n".join(failures[:20])
    return [item.model for item in compiled]


# TFLite-Micro's outputs by (flatbuffer, samples): many tests check the same cases twice (reference
# kernels, then the fast ones), and the interpreter's answer depends on nothing else.
_REFERENCE_CACHE: dict[bytes, list[bytes]] = {}
_REFERENCE_CACHE_ENTRIES = 20_000


def _reference_outputs(item: _Compiled) -> list[bytes]:
    key = hashlib.sha256(item.flatbuffer + b"".join(len(s).to_bytes(8, "little") + s for s in item.samples)).digest()
    if key not in _REFERENCE_CACHE:
        if len(_REFERENCE_CACHE) >= _REFERENCE_CACHE_ENTRIES:
            _REFERENCE_CACHE.clear()
        _REFERENCE_CACHE[key] = reference_outputs(item.flatbuffer, item.model, item.samples)
    return list(_REFERENCE_CACHE[key])


# Every file-scope name of the generated model C (tinyedge_model.h and .c), prefixed per case so that
# all the models of a batch compile as ONE translation unit (one compiler run for the lot). A name the
# templates add later and this misses is a redefinition error, never a silent mix-up.
_MODEL_NAMES = re.compile(r"\b(te_arena|te_input|tinyedge_model_\w+|tensor_\d+|layer\d+_\w+|TINYEDGE_\w+)\b")
_MODEL_HEADER_INCLUDE = '#include "tinyedge_model.h"\n'


def _renamed_model_c(model_dir: Path, prefix: str) -> str:
    header = (model_dir / "tinyedge_model.h").read_text()
    source = (model_dir / "tinyedge_model.c").read_text()
    assert _MODEL_HEADER_INCLUDE in source, "the model C no longer includes its header as expected"
    text = header + source.replace(_MODEL_HEADER_INCLUDE, "")
    return _MODEL_NAMES.sub(lambda m: f"{prefix}_{m.group(1)}", text)


_DRIVER = """\
/* tinyedge single-op test driver: runs {count} models on the samples read from stdin, in order,
 * and writes their outputs to stdout. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {{
    int (*invoke)(const int8_t *input, int8_t *output);
    int8_t *(*input)(void);
    size_t input_bytes, output_bytes, samples;
}} te_case;

{declarations}

static const te_case cases[] = {{
{rows}
}};

int main(void)
{{
    static int8_t output[{max_output}];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {{
        for (size_t s = 0; s < cases[c].samples; ++s) {{
            int8_t *input = cases[c].input();
            if (fread(input, 1, cases[c].input_bytes, stdin) != cases[c].input_bytes) {{
                fprintf(stderr, "case %zu: truncated input\\n", c);
                return EXIT_FAILURE;
            }}
            cases[c].invoke(input, output);
            fwrite(output, 1, cases[c].output_bytes, stdout);
        }}
        fflush(stdout); /* what a crash leaves written tells which case it was */
    }}
    return EXIT_SUCCESS;
}}
"""


_HOST_FLAGS = tuple(f for f in C_FLAGS if f not in ("-g", "-fstack-usage"))
# Each kernel compiled once per test run (with the batch's flags, as its own translation unit as before),
# then linked into every batch that calls it: the sources do not change while the tests run.
_KERNEL_OBJECTS: dict[str, Path] = {}
_KERNEL_FOLDER: tempfile.TemporaryDirectory | None = None


def _kernel_object(kernel: str) -> Path:
    global _KERNEL_FOLDER
    if kernel not in _KERNEL_OBJECTS:
        if _KERNEL_FOLDER is None:
            _KERNEL_FOLDER = tempfile.TemporaryDirectory(prefix="tinyedge-single-op-kernels-")
        obj = Path(_KERNEL_FOLDER.name) / (kernel.replace("/", "__") + ".o")
        command = ["gcc", *_HOST_FLAGS, "-I", str(firmware_dir() / "include"), "-c",
                   str(firmware_dir() / "kernels" / kernel), "-o", str(obj)]
        build = subprocess.run(command, capture_output=True, text=True)
        assert build.returncode == 0, f"kernel {kernel} does not compile:\n{build.stderr[-4000:]}"
        _KERNEL_OBJECTS[kernel] = obj
    return _KERNEL_OBJECTS[kernel]


@contextlib.contextmanager
def _templates_loaded_once() -> Iterator[None]:
    """render_model makes a new jinja2 Environment per call, which parses the templates again (30 ms a
    model); here one Environment per set of arguments serves every call."""
    environments: dict[str, jinja2.Environment] = {}

    def environment(**kwargs) -> jinja2.Environment:
        key = repr(sorted((k, repr(v.searchpath) if isinstance(v, jinja2.FileSystemLoader) else repr(v))
                          for k, v in kwargs.items()))
        if key not in environments:
            environments[key] = jinja2.Environment(**kwargs)
        return environments[key]

    proxy = types.SimpleNamespace(**{**vars(jinja2), "Environment": environment})
    with mock.patch.object(codegen, "jinja2", proxy):
        yield


def _run_on_host(batch: list[_Compiled], folder: Path) -> list[list[bytes]]:
    """Every case's outputs, from one executable holding all of the batch's models."""
    folder.mkdir(parents=True, exist_ok=True)
    models, declarations, rows = [], [], []
    with _templates_loaded_once():
        for number, item in enumerate(batch):
            render_model(item.model, folder / f"case{number}")
    for number, item in enumerate(batch):
        prefix = f"te_case{number}"
        models.append(_renamed_model_c(folder / f"case{number}" / "model", prefix))
        declarations.append(f"int {prefix}_tinyedge_model_invoke(const int8_t *input, int8_t *output);\n"
                            f"int8_t *{prefix}_tinyedge_model_input(void);")
        rows.append(f"    {{{prefix}_tinyedge_model_invoke, {prefix}_tinyedge_model_input, "
                    f"{item.model.input_bytes}, {item.model.output_bytes}, {len(item.samples)}}},")
    (folder / "models.c").write_text("".join(models))
    sources = [str(folder / "models.c")]
    driver = folder / "driver.c"
    driver.write_text(_DRIVER.format(count=len(batch), declarations="\n".join(declarations), rows="\n".join(rows),
                                     max_output=max(item.model.output_bytes for item in batch)))
    kernels = sorted({source for item in batch for source in item.model.kernel_sources})
    executable = folder / "cases"
    command = ["gcc", *_HOST_FLAGS, "-I", str(firmware_dir() / "include"), str(driver), *sources,
               *(str(_kernel_object(k)) for k in kernels), "-o", str(executable)]
    build = subprocess.run(command, capture_output=True, text=True)
    assert build.returncode == 0, f"the batch of {len(batch)} models does not compile:\n{build.stderr[-4000:]}"
    stdin = b"".join(sample for item in batch for sample in item.samples)
    run = subprocess.run([str(executable)], input=stdin, capture_output=True, timeout=120)
    if run.returncode != 0:
        written, running = len(run.stdout), 0
        while running < len(batch) - 1 and written >= batch[running].model.output_bytes * len(batch[running].samples):
            written -= batch[running].model.output_bytes * len(batch[running].samples)
            running += 1
        raise AssertionError(f"the batch executable failed (exit {run.returncode}) in {batch[running].case.describe()}"
                             f": {run.stderr.decode()[-2000:]}")
    outputs, offset = [], 0
    for item in batch:
        size = item.model.output_bytes
        outputs.append([run.stdout[offset + i * size:offset + (i + 1) * size] for i in range(len(item.samples))])
        offset += size * len(item.samples)
    assert offset == len(run.stdout), f"the batch wrote {len(run.stdout)} bytes, expected {offset}"
    return outputs


# ---------------------------------------------------------------- random binary element-wise cases
ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


def log_uniform(rng: np.random.Generator, low_exponent: float, high_exponent: float) -> float:
    """A scale between 10**low_exponent and 10**high_exponent, uniform in its exponent."""
    return float(10.0 ** rng.uniform(low_exponent, high_exponent))


def random_zero_point(rng: np.random.Generator) -> int:
    """The extremes and zero as often as any value in between."""
    return int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))


def random_broadcast_shapes(rng: np.random.Generator,
                            max_dim: int = 6) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(input1, input2, output) shapes of rank 0-4 as TFLite broadcasts them, dimensions up to max_dim:
    equal shapes a third of the time, else each input keeps or drops (to 1) each output dimension,
    and may lose leading ones."""
    rank = int(rng.integers(1, 5))
    out = tuple(int(d) for d in rng.integers(1, max_dim + 1, size=rank))
    if rng.random() < 1 / 3:
        return out, out, out

    def operand() -> tuple[int, ...]:
        dims = tuple(d if rng.random() < 0.5 else 1 for d in out)
        drop = int(rng.integers(0, rank + 1))  # leading dimensions left out (implicit 1s) when they are 1
        while drop and dims and dims[0] == 1:  # down to a scalar [] (a constant factor, as in hard_sigmoid)
            dims, drop = dims[1:], drop - 1
        return dims

    shape1, shape2 = operand(), operand()
    # The output is what the two broadcast to: a dimension both dropped is 1 in the output too.
    width = max(len(shape1), len(shape2))
    ext1, ext2 = (1,) * (width - len(shape1)) + shape1, (1,) * (width - len(shape2)) + shape2
    return shape1, shape2, tuple(max(a, b) for a, b in zip(ext1, ext2))


def random_binary_case(opcode: str, rng: np.random.Generator, scales: tuple[float, float, float],
                       options: object | None, label: str, max_dim: int = 6) -> OpCase:
    """Two int8 operands (one of them constant a quarter of the time) and an int8 output."""
    shape1, shape2, out_shape = random_broadcast_shapes(rng, max_dim)
    constant = int(rng.integers(0, 8))  # 0: input 1 constant, 1: input 2 constant, else both are inputs
    inputs = []
    for number, (shape, scale) in enumerate(((shape1, scales[0]), (shape2, scales[1]))):
        data = rng.integers(-128, 128, size=shape, dtype=np.int8) if number == constant else None
        inputs.append(TensorSpec(shape, scale, random_zero_point(rng), data=data))
    return OpCase(opcode, tuple(inputs), TensorSpec(out_shape, scales[2], random_zero_point(rng)), options, label)


def all_pairs_case(opcode: str, scales: tuple[float, float, float], zero_points: tuple[int, int, int],
                   options: object | None, label: str) -> OpCase:
    """Every one of the 65536 (input1, input2) pairs once: input 1 a constant column [256, 1] of all
    int8 values, input 2 the model input [1, 256] given all int8 values, output [256, 256]."""
    values = np.arange(-128, 128, dtype=np.int8)
    inputs = (TensorSpec((256, 1), scales[0], zero_points[0], data=values.reshape(256, 1)),
              TensorSpec((1, 256), scales[1], zero_points[1]))
    return OpCase(opcode, inputs, TensorSpec((256, 256), scales[2], zero_points[2]), options, label,
                  samples=(values.tobytes(),))


def activation(name: str) -> int:
    return getattr(schema.ActivationFunctionType, name)


def int8_bytes(*values: int) -> bytes:
    return np.array(values, dtype=np.int8).tobytes()
