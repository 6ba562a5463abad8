"""The real MLPerf Tiny int8 reference models, for benchmarks run where they have been fetched.

ANCHORS.md's TFLite-Micro figures were measured on these four files, so they are the fairest
comparison, and they are models nobody on this project designed or trained. Tests and CI never read
them (nothing is downloaded at run time): a benchmark given --mlperf-dir compiles them. To get them:

    git clone --depth 1 https://github.com/mlcommons/tiny
    python benchmarks/per_core.py --mlperf-dir tiny/benchmark/training

--mlperf-dir may also be a folder holding just the four .tflite files.
"""

from __future__ import annotations

from pathlib import Path

# mlcommons/tiny, benchmark/training/: the int8 reference models of the four v1.x benchmarks.
FILES = {
    "kws": "keyword_spotting/trained_models/kws_ref_model.tflite",
    "vww": "visual_wake_words/trained_models/vww_96_int8.tflite",
    "ic": "image_classification/trained_models/pretrainedResnet_quant.tflite",
    "ad": "anomaly_detection/trained_models/ad01_int8.tflite",
}


def mlperf_model(folder: Path, name: str) -> Path:
    """`name`'s reference .tflite under `folder` (a benchmark/training tree, a clone's root, or the files)."""
    relative = Path(FILES[name])
    for candidate in (folder / relative, folder / "benchmark" / "training" / relative, folder / relative.name):
        if candidate.is_file():
            return candidate
    raise SystemExit(f"error: no {relative.name} under {folder}; clone https://github.com/mlcommons/tiny and pass "
                     "--mlperf-dir <clone>/benchmark/training (or a folder holding the four .tflite files)")
