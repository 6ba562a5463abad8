"""Where a report's quantized model came from: calibration data, the quantization's cost, tool versions.

Printed once during a compile, these would be lost with the terminal; the report keeps them.
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from tinyedge import __version__
from tinyedge.report import SYNTHETIC_CALIBRATION, AgreementInfo, Provenance

if TYPE_CHECKING:
    from tinyedge.quantize import Agreement, QuantizeResult

PYTHON_API = "tinyedge Python API"  # the command of a compile not started from the command line


def collect(calib: Path | None, quantized: QuantizeResult, compiler: str | None, command: str | None) -> Provenance:
    from tinyedge.quantize import quantized_activations  # numpy only; TensorFlow stays in its child

    agreement = quantized.agreement
    if quantized.synthetic_calibration or (calib is None and not quantized.passthrough):
        calibration, digest = SYNTHETIC_CALIBRATION, None
    elif calib is None:
        calibration, digest = "none: the model came already quantized", None
    else:
        calibration, digest = str(calib), calibration_sha256(Path(calib))
    return Provenance(
        calibration=calibration,
        calibration_sha256=digest,
        calibration_samples=quantized.calibration_samples,
        agreement=_agreement_info(agreement),
        versions=tool_versions(compiler),
        command=command or PYTHON_API,
        activations=quantized_activations(quantized.tflite),
        int8_agreement=_agreement_info(quantized.int8_agreement),
    )


def _agreement_info(agreement: Agreement | None) -> AgreementInfo | None:
    if agreement is None:
        return None
    return AgreementInfo(agreement.samples, agreement.cosine, agreement.max_abs_error, agreement.mean_abs_error,
                         agreement.top1, agreement.activations)


def calibration_sha256(path: Path) -> str:
    """Of a file, its bytes; of a folder, its .npy files' names and bytes in sorted order (as they are loaded)."""
    digest = hashlib.sha256()
    if path.is_dir():
        for file in sorted(path.glob("*.npy")):
            digest.update(file.name.encode() + b"\0")
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    else:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def tool_versions(compiler: str | None) -> dict[str, str]:
    return {
        "tinyedge": __version__,
        "tensorflow": _distribution_version("tensorflow-cpu", "tensorflow"),
        "tflite_micro": _distribution_version("tflite-micro"),
        "compiler": compiler or "none",
    }


def _distribution_version(*names: str) -> str:
    """The installed version, read from package metadata: importing TensorFlow for it would cost seconds."""
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"
