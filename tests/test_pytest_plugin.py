"""The pytest plugin, run on small user test suites with pytester: budgets, bit-exactness, options.

Two suites compile for real (a few KB model, about 4 s each); the rest never reach the compiler.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
from pathlib import Path

import pytest

# Imported here so that the in-process pytester runs reuse them instead of importing them afresh.
import tinyedge.pipeline  # noqa: F401
import tinyedge.pytest_plugin  # noqa: F401
import tinyedge.simulate.backends  # noqa: F401

pytest_plugins = ["pytester"]

MODEL = "models/tiny_kws.tflite"


def plugin_args() -> tuple[str, ...]:
    """`-p tinyedge.pytest_plugin` until the entry point is installed (then pytest loads it by itself)."""
    installed = any(ep.value == "tinyedge.pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11"))
    return () if installed else ("-p", "tinyedge.pytest_plugin")


@pytest.fixture
def project(pytester: pytest.Pytester, tiny_kws_tflite: Path) -> pytest.Pytester:
    """A user's project folder holding models/tiny_kws.tflite."""
    (pytester.path / "models").mkdir()
    shutil.copyfile(tiny_kws_tflite, pytester.path / MODEL)
    return pytester


def test_suite_compiles_once_passes_within_budget_and_fails_over_budget_with_the_numbers(project):
    project.makepyfile(test_kws=f"""
        from pathlib import Path

        import pytest

        def test_fits(tinyedge_firmware):
            fw = tinyedge_firmware("{MODEL}")
            fw.assert_bit_exact()
            fw.assert_budget(instructions=10_000_000, cycles=20_000_000, latency_ms=100.0, ram=64 * 1024,
                             flash=256 * 1024)
            assert fw.report.verification.samples == 2  # --tinyedge-samples
            assert fw.board == "nrf52840" and fw.model == "tiny_kws"  # --tinyedge-board

        def test_same_arguments_give_the_same_firmware(tinyedge_firmware):
            first = tinyedge_firmware("{MODEL}")
            again = tinyedge_firmware(Path("{MODEL}").resolve(), board="nrf52840", samples=2)
            assert again is first

        def test_assert_budget_without_a_budget_is_an_error(tinyedge_firmware):
            with pytest.raises(TypeError, match="at least one budget"):
                tinyedge_firmware("{MODEL}").assert_budget()

        def test_tight_budget(tinyedge_firmware):
            tinyedge_firmware("{MODEL}").assert_budget(cycles=1_000, ram=256, flash=256 * 1024)
    """)
    result = project.runpytest(*plugin_args(), "--tinyedge-board", "nrf52840", "--tinyedge-samples", "2",
                               "--tinyedge-output", "reports")
    result.assert_outcomes(passed=3, failed=1)

    out_dir = project.path / "reports" / "tiny_kws-nrf52840"
    report = json.loads((out_dir / "report.json").read_text())
    assert report["verification"]["bit_exact"] is True
    cycles, ram = report["simulation"]["cycles"], report["memory"]["ram_bytes"]
    assert cycles > 1_000 and ram > 256
    result.stdout.fnmatch_lines([
        f"E * cycles {cycles:,} > budget 1,000 (nrf52840, tiny_kws)",
        f"E * ram {ram:,} B > budget 256 B (nrf52840, tiny_kws)",
        f"E * report: {out_dir / 'report.html'}",
    ])
    assert "flash" not in "\n".join(line for line in result.outlines if "> budget" in line)
    # One firmware for the four tests, listed once in the summary with its figures.
    result.stdout.fnmatch_lines([
        "*tinyedge: 1 firmware build(s)*",
        f"tiny_kws on nrf52840: {report['simulation']['instructions']:,} instructions, {cycles:,} cycles*bit-exact*",
    ])
    assert sorted(p.name for p in (project.path / "reports").iterdir()) == ["tiny_kws-nrf52840"]


def test_firmware_whose_outputs_differ_from_the_reference_fails_assert_bit_exact(project):
    """The emulator hands back one flipped output byte, as a firmware bug would; verification must catch it."""
    project.makeconftest("""
        import dataclasses

        import pytest

        from tinyedge.simulate import backends

        @pytest.fixture(autouse=True)
        def flip_first_output_byte(monkeypatch):
            real_run = backends.run

            def run(*args, **kwargs):
                sim = real_run(*args, **kwargs)
                broken = bytes([sim.outputs[0][0] ^ 0x01]) + sim.outputs[0][1:]
                return dataclasses.replace(sim, outputs=(broken, *sim.outputs[1:]))

            monkeypatch.setattr(backends, "run", run)
    """)
    project.makepyfile(test_kws=f"""
        def test_bit_exact(tinyedge_firmware):
            fw = tinyedge_firmware("{MODEL}", board="rp2040", samples=3)
            assert fw.report.verification.mismatched_samples == 1
            fw.assert_bit_exact()
    """)
    result = project.runpytest(*plugin_args())
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "E * the firmware's outputs differ from tflite_micro.runtime.Interpreter's in 1 of 3 samples "
        "(rp2040, tiny_kws)",
        "*tiny_kws on rp2040: *1 MISMATCHED*",
    ])


def test_compile_error_fails_the_test_with_one_line_naming_model_and_board(project):
    """esp32 (Xtensa) cannot be emulated: compile_model refuses it before any work."""
    project.makepyfile(test_kws=f"""
        def test_esp32(tinyedge_firmware):
            tinyedge_firmware("{MODEL}", board="esp32")

        def test_esp32_again(tinyedge_firmware):
            tinyedge_firmware("{MODEL}", board="esp32")
    """)
    result = project.runpytest(*plugin_args())
    result.assert_outcomes(failed=2)
    errors = [line for line in result.outlines if line.startswith("E ")]
    assert len(errors) == 2, result.outlines
    assert all("FirmwareError: tiny_kws.tflite on esp32: board 'esp32' cannot be emulated" in e for e in errors)
    assert "pipeline.py" not in result.stdout.str()  # no traceback through tinyedge's internals
    result.stdout.fnmatch_lines(["*tinyedge: 1 firmware build(s)*", "FAILED tiny_kws.tflite on esp32: *"])


def test_no_board_anywhere_says_how_to_give_one(project):
    project.makepyfile(test_kws=f"""
        def test_no_board(tinyedge_firmware):
            tinyedge_firmware("{MODEL}")
    """)
    result = project.runpytest(*plugin_args())
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E * no board for models/tiny_kws.tflite: pass board=*--tinyedge-board NAME*"])


def test_options_come_from_the_command_line_over_the_ini_file(project):
    project.makeini("""
        [pytest]
        tinyedge_board = rp2040
        tinyedge_backend = builtin
        tinyedge_samples = 7
    """)
    project.makepyfile(test_settings="""
        from pathlib import Path

        def test_settings(tinyedge_firmware):
            settings = tinyedge_firmware.settings
            assert settings.board == "stm32l552"  # command line beats the ini file
            assert settings.backend == "builtin" and settings.samples == 7  # from the ini file
            assert settings.output == Path.cwd() / "out" / "fw"
    """)
    result = project.runpytest(*plugin_args(), "--tinyedge-board", "stm32l552", "--tinyedge-output", "out/fw")
    result.assert_outcomes(passed=1)


def test_defaults_without_options(project):
    project.makepyfile(test_settings="""
        def test_settings(tinyedge_firmware):
            settings = tinyedge_firmware.settings
            assert (settings.board, settings.backend, settings.samples, settings.output) == (None, "auto", 4, None)
    """)
    project.runpytest(*plugin_args()).assert_outcomes(passed=1)


def test_unknown_backend_is_a_usage_error_listing_the_valid_ones(project):
    project.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = project.runpytest(*plugin_args(), "--tinyedge-backend", "gem5")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*tinyedge backend 'gem5' (--tinyedge-backend or tinyedge_backend): "
                                 "valid backends: auto, builtin, renode, qemu*"])


def test_bad_sample_count_in_the_ini_file_is_a_usage_error(project):
    project.makeini("[pytest]\ntinyedge_samples = many\n")
    project.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = project.runpytest(*plugin_args())
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*tinyedge_samples must be a whole number, not 'many'*"])


def test_options_are_listed_in_pytest_help(project):
    result = project.runpytest(*plugin_args(), "--help")
    result.stdout.fnmatch_lines(["*tinyedge firmware fixtures*", "*--tinyedge-board=NAME*",
                                 "*--tinyedge-backend=NAME*", "*--tinyedge-samples=N*", "*--tinyedge-output=DIR*"])
