"""Hostile calibration data: one line that says what is wrong, and a lone sample accepted only with a warning."""

from __future__ import annotations

import numpy as np
import pytest

from tinyedge.errors import TinyEdgeError
from tinyedge.quantize import load_calibration

SHAPES = [(1, 5, 4, 2)]


def test_a_single_sample_without_batch_axis_is_one_sample_with_a_warning_on_stderr(tmp_path, capsys):
    np.save(tmp_path / "one.npy", np.ones((5, 4, 2), np.float32))
    (data,) = load_calibration(tmp_path / "one.npy", SHAPES)
    assert data.shape == (1, 5, 4, 2)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("tinyedge: warning: calibration data ") and "one sample" in lines[0]
    assert "unreliable int8 ranges" in lines[0]


def test_the_single_sample_warning_goes_to_the_given_log(tmp_path, capsys):
    np.savez(tmp_path / "one.npz", x=np.ones((5, 4, 2), np.float32))
    messages: list[str] = []
    load_calibration(tmp_path / "one.npz", SHAPES, log=messages.append)
    assert len(messages) == 1 and "one sample" in messages[0]
    assert capsys.readouterr().err == ""


def test_a_batch_gives_no_warning(tmp_path, capsys):
    np.save(tmp_path / "batch.npy", np.ones((3, 5, 4, 2), np.float32))
    assert load_calibration(tmp_path / "batch.npy", SHAPES)[0].shape == (3, 5, 4, 2)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_calibration_values_are_refused(tmp_path, bad):
    array = np.ones((3, 5, 4, 2), np.float32)
    array[1, 2, 3, 1] = bad
    np.save(tmp_path / "c.npy", array)
    with pytest.raises(TinyEdgeError, match="holds NaN or infinite values"):
        load_calibration(tmp_path / "c.npy", SHAPES)


def test_an_object_array_is_refused_without_unpickling(tmp_path):
    np.save(tmp_path / "o.npy", np.array([np.ones(3), "x"], dtype=object), allow_pickle=True)
    with pytest.raises(TinyEdgeError, match="cannot read calibration file .*allow_pickle"):
        load_calibration(tmp_path / "o.npy", SHAPES)


@pytest.mark.parametrize("dtype", ["complex64", "bool", "U3"])
def test_a_non_numeric_dtype_is_refused(tmp_path, dtype):
    np.save(tmp_path / "d.npy", np.zeros((3, 5, 4, 2), dtype=dtype))
    with pytest.raises(TinyEdgeError, match=f"has dtype {np.dtype(dtype)}; give float32 samples"):
        load_calibration(tmp_path / "d.npy", SHAPES)
