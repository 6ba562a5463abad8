"""BATCH_MATMUL against TFLite-Micro, byte for byte: 200+ seeded random configurations (ranks 2-5,
broadcast batch dimensions, adj_x / adj_y, a constant operand, zero points at the extremes) through
the reference kernel and the same ones through te_batch_matmul_widened_s8, small hand-worked
answers, what is refused before any C is written, and trained Keras models that multiply
activations (attention-like) and an activation by a constant."""

from __future__ import annotations

from collections import Counter

import keras
import numpy as np
import pytest
from keras_training import train_briefly
from single_op import OpCase, TensorSpec, check_cases, int8_bytes, log_uniform, single_op_tflite
from single_op import random_zero_point as zero_point
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.codegen import compile_graph
from tinyedge.errors import UnsupportedOpError
from tinyedge.importer import parse_tflite
from tinyedge.ops import batch_matmul
from tinyedge.ops._quant import quantize_multiplier
from tinyedge.ops.batch_matmul import BATCH_MATMUL_REFERENCE, BATCH_MATMUL_WIDENED, matmul_multiplier, widen_constant
from tinyedge.ops.conv import reference_kernels

L = keras.layers
CONFIGURATIONS = 220


def matmul_case(lhs: TensorSpec, rhs: TensorSpec, output: TensorSpec, adj_x: bool, adj_y: bool, label: str,
                samples: tuple[bytes, ...] = (), expected: tuple[bytes, ...] = ()) -> OpCase:
    options = schema.BatchMatMulOptionsT()
    options.adjX, options.adjY = adj_x, adj_y
    return OpCase("BATCH_MATMUL", (lhs, rhs), output, options, label, samples, expected)


def random_batches(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(lhs, rhs, output) batch dimensions: up to 3, each operand keeping a dimension or 1 (broadcast),
    and leading ones left out now and then."""
    count = int(rng.choice([0, 1, 1, 2, 2, 3]))
    out = tuple(int(d) for d in rng.integers(1, 4, count))

    def operand() -> tuple[int, ...]:
        dims = tuple(d if rng.random() < 0.6 else 1 for d in out)
        while dims and dims[0] == 1 and rng.random() < 0.5:
            dims = dims[1:]
        return dims

    lhs, rhs = operand(), operand()
    width = max(len(lhs), len(rhs))
    ext_l, ext_r = (1,) * (width - len(lhs)) + lhs, (1,) * (width - len(rhs)) + rhs
    return lhs, rhs, tuple(max(a, b) for a, b in zip(ext_l, ext_r))


def random_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        lhs_batch, rhs_batch, out_batch = random_batches(rng)
        rows, cols = (int(d) for d in rng.integers(1, 10, 2))
        if rng.random() < 0.15:
            cols = int(rng.integers(17, 40))  # wider than the widened kernel's block of 16 columns
        depth = int(rng.integers(1, 40 if rng.random() < 0.3 else 10))
        adj_x, adj_y = bool(rng.random() < 0.3), bool(rng.random() < 0.4)
        lhs_shape = (*lhs_batch, *((depth, rows) if adj_x else (rows, depth)))
        rhs_shape = (*rhs_batch, *((cols, depth) if adj_y else (depth, cols)))
        lhs_scale, rhs_scale = log_uniform(rng, -3, 0), log_uniform(rng, -3, 0)
        spread = lhs_scale * rhs_scale * np.sqrt(depth) * 128
        output_scale = spread * (log_uniform(rng, -4, -2) if rng.random() < 0.1 else log_uniform(rng, -2, 1))
        constant = int(rng.integers(0, 8))  # 0: lhs constant, 1-2: rhs constant, else both are inputs

        def data(shape: tuple[int, ...], which: bool) -> np.ndarray | None:
            return rng.integers(-128, 128, shape, dtype=np.int8) if which else None

        lhs = TensorSpec(lhs_shape, lhs_scale, zero_point(rng), data=data(lhs_shape, constant == 0))
        rhs = TensorSpec(rhs_shape, rhs_scale, zero_point(rng), data=data(rhs_shape, constant in (1, 2)))
        output = TensorSpec((*out_batch, rows, cols), output_scale, zero_point(rng))
        cases.append(matmul_case(lhs, rhs, output, adj_x, adj_y, f"seed {seed} #{number}"))
    return cases


@pytest.fixture(scope="module")
def cases() -> list[OpCase]:
    return random_cases(seed=41, count=CONFIGURATIONS)


def test_batch_matmul_reference_kernel_matches_tflite_micro_on_random_configurations(tmp_path, cases):
    with reference_kernels():
        models = check_cases(cases, tmp_path)
    assert {m.calls[0].function for m in models} == {BATCH_MATMUL_REFERENCE}
    shifts = [m.calls[0].params["output_shift"] for m in models]
    assert min(shifts) < -10 and max(shifts) > 0, "long right shifts and left shifts are both covered"
    ranks = Counter(max(len(t.shape) for t in (m.graph.tensors[0], m.graph.tensors[1])) for m in models)
    assert set(ranks) == {2, 3, 4, 5}, ranks


def test_batch_matmul_widened_kernel_matches_tflite_micro_on_the_same_configurations(tmp_path, cases):
    models = check_cases(cases, tmp_path)
    assert {m.calls[0].function for m in models} == {BATCH_MATMUL_WIDENED}
    # Both of the kernel's requantizations: te_nn_requantize_rounding (right shifts 1-22) and the reference one.
    rounding = Counter(1 <= -m.calls[0].params["output_shift"] <= 22 for m in models)
    assert rounding[True] > 100 and rounding[False] > 10, rounding
    assert sum(m.calls[0].params["cols"] > 16 and m.graph.tensors[1].data is None for m in models) > 10


def test_batch_matmul_small_exact_answers(tmp_path):
    # [[1, 2], [3, 4]] x [[5, 6], [7, 8]] = [[19, 22], [43, 50]]; scales 1 x 1 -> 1, no rounding.
    lhs, rhs = TensorSpec((2, 2), 1.0, 0), TensorSpec((2, 2), 1.0, 0)
    plain = matmul_case(lhs, rhs, TensorSpec((2, 2), 1.0, 0), False, False, "2x2",
                        (int8_bytes(1, 2, 3, 4) + int8_bytes(5, 6, 7, 8),), (int8_bytes(19, 22, 43, 50),))
    # adj_y: rhs given as its transpose [[5, 7], [6, 8]]; zero points: lhs 1, rhs -1, output 3;
    # (lhs - 1) = [[1, 2], [3, 4]], (rhs + 1) = [[5, 7], [6, 8]]^T -> the same product, plus 3.
    offsets = matmul_case(TensorSpec((2, 2), 1.0, 1), TensorSpec((2, 2), 1.0, -1), TensorSpec((2, 2), 1.0, 3),
                          False, True, "adj_y, zero points",
                          (int8_bytes(2, 3, 4, 5) + int8_bytes(4, 6, 5, 7),), (int8_bytes(22, 25, 46, 53),))
    # A batch of 2 lhs matrices times one rhs (broadcast), output scale 2: 3 / 2 and -3 / 2; the
    # multiplier 1/2 is Q31 2^30 with no shift, and the doubling high multiply rounds halves up.
    broadcast = matmul_case(TensorSpec((2, 1, 2), 1.0, 0), TensorSpec((2, 1), 1.0, 0), TensorSpec((2, 1, 1), 2.0, 0),
                            False, False, "broadcast",
                            (int8_bytes(1, 2, -3, 0) + int8_bytes(1, 1),), (int8_bytes(2, -1),))
    check_cases([plain, offsets, broadcast], tmp_path)


def test_multiplier_takes_the_scale_product_in_double(tmp_path, monkeypatch):
    # Scales whose multiplier is 1234660355 * 2^-16 from the double product and 1234660348 * 2^-16
    # from the float32 one (as TFLite's source reads), and an accumulator, -6440368, on which the two
    # round differently (found by a search over accumulators): tflite_micro gives the double's -57.
    lhs_scale, rhs_scale, output_scale, acc = 0.001806955668143928, 0.005133712198585272, 1.05740487575531, -6440368
    depth = 1024
    # acc = lhs[0] * 1 + 127 * (the sum of the other lhs values)
    quotient, remainder = divmod(acc, 127)
    lhs = np.zeros(depth, dtype=np.int64)
    lhs[0] = remainder
    lhs[1:] = quotient // (depth - 1)
    lhs[1:1 + quotient % (depth - 1)] += 1
    rhs = np.full((depth, 1), 127, dtype=np.int8)
    rhs[0] = 1
    assert int(lhs[0] + 127 * lhs[1:].sum()) == acc and lhs.min() >= -128 and lhs.max() <= 127
    case = matmul_case(TensorSpec((1, depth), lhs_scale, 0), TensorSpec((depth, 1), rhs_scale, 0, data=rhs),
                       TensorSpec((1, 1), output_scale, 0), False, False, "double product",
                       (lhs.astype(np.int8).tobytes(),), (int8_bytes(-57),))
    check_cases([case], tmp_path / "double")

    def float32_product(a: float, b: float, c: float) -> tuple[int, int]:
        return quantize_multiplier(float(np.float32(a) * np.float32(b)) / c)

    assert float32_product(lhs_scale, rhs_scale, output_scale) != matmul_multiplier(lhs_scale, rhs_scale, output_scale)
    monkeypatch.setattr(batch_matmul, "matmul_multiplier", float32_product)
    with pytest.raises(AssertionError, match="configurations differ"):
        check_cases([case], tmp_path / "float32")


def test_widen_constant_pairs_columns_group_by_group_in_lane_order():
    rhs = np.array([[1, 2], [3, 4], [5, 6]], dtype=np.int8)  # depth 3, cols 2; zero point 1
    # column 0 - 1 = [0, 2, 4, (0)] stored x0, x2, x1, x3; then column 1 - 1 = [1, 3, 5, (0)]
    assert widen_constant(rhs, False, 1).tolist() == [0, 4, 2, 0, 1, 5, 3, 0]
    assert widen_constant(rhs.T.copy(), True, 1).tolist() == [0, 4, 2, 0, 1, 5, 3, 0]  # adj_y: stored [cols, depth]
    # An odd last column pairs with zeros; two matrices follow one another.
    assert widen_constant(np.ones((2, 1, 1), dtype=np.int8), False, -2).tolist() == [3, 0, 0, 0, 0, 0, 0, 0] * 2


def _refused(case: OpCase) -> str:
    with pytest.raises(UnsupportedOpError) as error:
        compile_graph(parse_tflite(single_op_tflite(case), name="refused"))
    return str(error.value)


def test_batch_matmul_refuses_what_tflite_micro_cannot_run():
    def case(lhs: tuple, rhs: tuple, out: tuple, **kw) -> OpCase:
        return matmul_case(TensorSpec(lhs, 0.1, 0), TensorSpec(rhs, 0.1, 0), TensorSpec(out, 0.1, 0),
                           kw.get("adj_x", False), kw.get("adj_y", False), "refused")

    assert "same depth" in _refused(case((2, 3), (4, 5), (2, 5)))
    assert "do not broadcast" in _refused(case((2, 2, 3), (3, 3, 5), (3, 2, 5)))
    assert "2-D to 5-D" in _refused(case((1, 1, 1, 1, 2, 3), (3, 5), (1, 1, 1, 1, 2, 5)))
    assert "does not hold" in _refused(case((2, 3), (3, 5), (2, 4)))
    per_channel = matmul_case(TensorSpec((2, 3), 0.1, 0), TensorSpec((3, 2), [0.1, 0.2], [0, 0], axis=1,
                                                                     data=np.ones((3, 2), np.int8)),
                              TensorSpec((2, 2), 0.1, 0), False, False, "per-channel")
    assert "per tensor" in _refused(per_channel)


def _functions(result) -> list[str]:
    return [call.function for op, call in zip(result.model.graph.operators, result.model.calls)
            if op.opcode == "BATCH_MATMUL"]


def test_trained_attention_like_model_is_bit_exact(assert_bit_exact):
    # Scores Q K^T (adj_y), softmax, then scores V: two BATCH_MATMULs of activations.
    x = keras.Input((8, 12), batch_size=1)
    q, k, v = L.Dense(8)(x), L.Dense(8)(x), L.Dense(6)(x)
    scores = L.Lambda(lambda t: keras.ops.matmul(t[0], keras.ops.transpose(t[1], (0, 2, 1))) * 0.35)([q, k])
    weights = L.Softmax()(scores)
    y = L.Lambda(lambda t: keras.ops.matmul(t[0], t[1]))([weights, v])
    model = train_briefly(keras.Model(x, L.Dense(4)(y)))
    result = assert_bit_exact(model)
    assert _functions(result) == [BATCH_MATMUL_WIDENED] * 2


def test_trained_model_multiplying_by_a_constant_matrix_is_bit_exact(assert_bit_exact):
    # A [2, 6, 5] activation times a trained [5, 7] matrix per batch, through a batch dimension the
    # converter keeps as a BATCH_MATMUL.
    class Project(L.Layer):
        def build(self, shape):
            self.kernel = self.add_weight(shape=(2, shape[-1], 7), initializer="glorot_uniform")

        def call(self, t):
            return keras.ops.matmul(t, self.kernel)

    x = keras.Input((2, 6, 5), batch_size=1)
    model = train_briefly(keras.Model(x, Project()(L.Dense(5, activation="relu")(x))))
    result = assert_bit_exact(model)
    assert _functions(result) == [BATCH_MATMUL_WIDENED]
