"""TFLite-Micro's own models as peers (benchmarks/tflm_peer_suite.py on a representative subset): what tflite_micro
runs, tinyedge runs bit-exact on the host and on nrf52840, or refuses in one line naming why; nothing differs.

TFLM_DIR points to a TFLite-Micro checkout or to a bare git mirror of it; without it the test skips.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from benchmarks.tflm_peer_suite import Tree, run_suite, summary

TFLM_DIR = os.environ.get("TFLM_DIR", "")
# One of each kind the suite holds: int8 examples (dense, conv, LSTM), 16x8 integration tests, a float example,
# the audio preprocessor (custom signal-processing ops).
EXPECTED = {
    "tensorflow/lite/micro/examples/hello_world/models/hello_world_int8.tflite": "bit-exact",
    "tensorflow/lite/micro/examples/micro_speech/models/micro_speech_quantized.tflite": "bit-exact",
    "tensorflow/lite/micro/examples/mnist_lstm/trained_lstm_int8.tflite": "bit-exact",
    "tensorflow/lite/micro/models/person_detect.tflite": "bit-exact",  # a bias carrying its filter's axis
    "tensorflow/lite/micro/examples/hello_world/models/hello_world_float.tflite": "a float .tflite",
    "tensorflow/lite/micro/examples/micro_speech/models/audio_preprocessor_int8.tflite": "custom ops",
    "tensorflow/lite/micro/integration_tests/seanet/add/add0.tflite": "quantized in 16x8 mode",
    "tensorflow/lite/micro/integration_tests/seanet/conv/conv0.tflite": "quantized in 16x8 mode",
}

NO_TREE = ("needs a TFLite-Micro source tree (TFLM_DIR: a checkout or a bare git mirror of "
           "github.com/tensorflow/tflite-micro)")


def test_a_checkout_and_a_bare_mirror_list_and_read_the_same_models(tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / "models" / "deep").mkdir(parents=True)
    (checkout / "models" / "a.tflite").write_bytes(b"first")
    (checkout / "models" / "deep" / "b.tflite").write_bytes(b"second")
    (checkout / "models" / "notes.txt").write_text("not a model")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(checkout)]
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "models"]):
        subprocess.run([*git, *args], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(checkout), str(tmp_path / "mirror")], check=True)
    for tree in (Tree(checkout), Tree(tmp_path / "mirror")):
        assert tree.models() == ["models/a.tflite", "models/deep/b.tflite"]
        assert [tree.read(n) for n in tree.models()] == [b"first", b"second"]
    assert not Tree(checkout).bare and Tree(tmp_path / "mirror").bare


@pytest.mark.slow
@pytest.mark.skipif(not TFLM_DIR, reason=NO_TREE)
def test_tflm_models_run_bit_exact_or_are_refused_by_name_and_none_differs():
    outcomes = run_suite(Tree(TFLM_DIR), only=tuple(EXPECTED), log=lambda _line: None)
    report = "\n".join(summary(outcomes))
    assert sorted(o.name for o in outcomes) == sorted(EXPECTED), report
    for outcome in outcomes:
        expected = EXPECTED[outcome.name]
        if expected == "bit-exact":
            assert outcome.status == "bit-exact", report
        else:
            assert outcome.status == "refused" and expected in outcome.detail, report
