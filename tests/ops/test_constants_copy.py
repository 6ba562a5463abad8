"""The fast convolutions' constants copy is reserved only for cores whose kernels make it.

On cores with the DSP extension te_conv2d_1x1_s8 / _im2col_s8 and the depthwise variants copy their
packed constants into the scratch once per call (conv2d_constants_bytes, depthwise_constants_words);
the plain C of the other cores reads them in place, so lowering for such a board (Board.dsp_extension)
reserves no arena bytes for a copy nobody writes.
"""

from __future__ import annotations

import keras
from board_run import run_bit_exact
from keras_training import train_briefly

from tinyedge.boards import load_board
from tinyedge.codegen import compile_graph
from tinyedge.importer import parse_tflite
from tinyedge.ops import ScratchArg

COPY_PARAMS = {"constants_bytes": 1, "constants_words": 4}  # param: bytes per unit


def _ds_block() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 12, 8), batch_size=1)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(16, 1, activation="relu")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    return train_briefly(keras.Model(inputs, x), epochs=2)


def _copies(model) -> list[int]:
    """Bytes each copying kernel reserves for its constants (0: read in place)."""
    return [int(call.params[name]) * unit for call in model.calls for name, unit in COPY_PARAMS.items()
            if name in call.params]


def _scratch(model) -> int:
    return sum(a.nbytes for call in model.calls for a in call.args if isinstance(a, ScratchArg))


def test_cores_without_the_dsp_extension_reserve_no_copy_and_stay_bit_exact(quantize_for_test, tmp_path):
    flatbuffer = quantize_for_test(_ds_block(), tmp_path / "ds.tflite").read_bytes()
    dsp = compile_graph(parse_tflite(flatbuffer, name="ds"), dsp_extension=load_board("nrf52840").dsp_extension)
    plain = compile_graph(parse_tflite(flatbuffer, name="ds"), dsp_extension=load_board("rp2040").dsp_extension)
    assert [call.function for call in dsp.calls] == [call.function for call in plain.calls]
    assert len(_copies(dsp)) == 3 and all(_copies(dsp))
    assert _copies(plain) == [0, 0, 0]
    assert _scratch(dsp) - _scratch(plain) == sum(_copies(dsp))
    assert plain.plan.arena_bytes < dsp.plan.arena_bytes
    run_bit_exact(flatbuffer, "rp2040", tmp_path, model=plain)
