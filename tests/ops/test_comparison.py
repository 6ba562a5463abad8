"""EQUAL, NOT_EQUAL, GREATER, GREATER_EQUAL, LESS and LESS_EQUAL against TFLite-Micro, byte for
byte: 200 seeded random configurations each (a comparison's bool output turned into int8 0/1 by
a SELECT_V2, since a model ends in int8), hand-worked answers, the scales TFLite-Micro cannot
run refused, and a trained Keras model with `keras.ops.where(a > b, b, 0.25)`."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras_training import train_briefly
from op_chain import ChainCase, as_int8, bool_spec, chains
from single_op import TensorSpec, check_cases, int8_bytes, log_uniform, random_broadcast_shapes, random_zero_point

from tinyedge.codegen import compile_graph
from tinyedge.errors import TinyEdgeError
from tinyedge.importer import parse_tflite

OPCODES = ["EQUAL", "NOT_EQUAL", "GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL"]
CONFIGURATIONS = 200


def _comparison(opcode: str, in1: TensorSpec, in2: TensorSpec, out_shape: tuple[int, ...], label: str,
                samples: tuple[bytes, ...] = (), expected: tuple[bytes, ...] = ()) -> ChainCase:
    return ChainCase(opcode, (in1, in2), bool_spec(out_shape), None, label, samples, expected,
                     then=(as_int8(out_shape),))


def _cases(opcode: str, seed: int, count: int) -> list[ChainCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        shape1, shape2, out_shape = random_broadcast_shapes(rng)
        # Half the time one quantization for both (equal values tie), else two, scales in (0, 1).
        scale1, zero1 = log_uniform(rng, -3, -0.01), random_zero_point(rng)
        scale2, zero2 = (scale1, zero1) if rng.random() < 0.5 else (log_uniform(rng, -3, -0.01),
                                                                    random_zero_point(rng))
        constant = int(rng.integers(0, 6))  # 0: input 1 constant, 1: input 2 constant
        data = [rng.integers(-128, 128, size=s, dtype=np.int8) if constant == n else None
                for n, s in enumerate((shape1, shape2))]
        cases.append(_comparison(opcode, TensorSpec(shape1, scale1, zero1, data[0]),
                                 TensorSpec(shape2, scale2, zero2, data[1]), out_shape, f"seed {seed} #{number}"))
    return cases


@pytest.mark.parametrize("opcode", OPCODES)
def test_comparisons_match_tflite_micro_on_random_shapes(tmp_path, opcode):
    with chains():
        check_cases(_cases(opcode, seed=31 + OPCODES.index(opcode), count=CONFIGURATIONS), tmp_path, samples=3)


def test_comparisons_small_exact_answers(tmp_path):
    # Input 1 at scale 0.5, zero point 0: -4 -1 0 1 4 stand for -2 -0.5 0 0.5 2. Input 2 at scale 0.25,
    # zero point 2: 0 is -0.5, so each is compared with -0.5.
    inputs = (TensorSpec((5,), 0.5, 0), TensorSpec((1,), 0.25, 2, data=np.array([0], dtype=np.int8)))
    sample = int8_bytes(-4, -1, 0, 1, 4)
    answers = {"EQUAL": (0, 1, 0, 0, 0), "NOT_EQUAL": (1, 0, 1, 1, 1), "GREATER": (0, 0, 1, 1, 1),
               "GREATER_EQUAL": (0, 1, 1, 1, 1), "LESS": (1, 0, 0, 0, 0), "LESS_EQUAL": (1, 1, 0, 0, 0)}
    with chains():
        check_cases([_comparison(opcode, *inputs, (5,), opcode.lower(), (sample,), (int8_bytes(*answer),))
                     for opcode, answer in answers.items()], tmp_path)


@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_comparison_with_a_scale_of_one_or_more_is_refused(scale):
    # TFLite-Micro's Prepare aborts the process on it (QuantizeMultiplierSmallerThanOneExp of the scale).
    from op_chain import chain_tflite
    case = _comparison("GREATER", TensorSpec((4,), 0.1, 0), TensorSpec((4,), scale, 0), (4,), "scale")
    with pytest.raises(TinyEdgeError, match="outside \\(0, 1\\)"):
        compile_graph(parse_tflite(chain_tflite(case)))


def test_comparison_with_int8_output_is_refused():
    from op_chain import chain_tflite
    case = ChainCase("LESS", (TensorSpec((4,), 0.1, 0), TensorSpec((4,), 0.1, 0)), TensorSpec((4,), 1.0, 0))
    with pytest.raises(TinyEdgeError, match="a comparison gives bool"):
        compile_graph(parse_tflite(chain_tflite(case)))


def test_trained_model_with_where_of_a_comparison(assert_bit_exact):
    x = keras.Input((12,), batch_size=1)
    a = keras.layers.Dense(8)(x)
    b = keras.layers.Dense(8, activation="relu")(x)
    # A constant for y makes the converter write SELECT_V2; three tensors of one shape give SELECT,
    # which TFLite-Micro lacks. `a` also goes to the output beside it, so both Dense layers train.
    chosen = keras.layers.Lambda(lambda t: keras.ops.where(t[0] > t[1], t[1], 0.25))([a, b])
    model = train_briefly(keras.Model(x, keras.layers.Dense(3)(keras.layers.Concatenate()([a, chosen]))))
    result = assert_bit_exact(model)
    opcodes = [layer.opcode for layer in result.model.layers]
    assert "GREATER" in opcodes and "SELECT_V2" in opcodes, opcodes
