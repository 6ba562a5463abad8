"""With CI set, a skip fails the run unless it names a tool from outside the package registries."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).with_name("conftest.py")


def allowed_skip(reason: str) -> str | None:
    """tests/conftest.py's policy, loaded by path: `import conftest` may find another folder's conftest."""
    name = "tinyedge_tests_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, CONFTEST)
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name].allowed_skip(reason)

SUITE = '''
import pytest

def test_runs():
    assert True

@pytest.mark.skipif(True, reason="Renode is not installed (`renode` on PATH or RENODE_BIN)")
def test_needs_renode():
    pass

def test_needs_esp_idf():
    pytest.skip("ESP-IDF is not installed (idf.py not on PATH)")

@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    assert False
'''


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A small suite that loads the skip policy of tests/conftest.py, as tinyedge's own test run does."""
    pytester.makeconftest(f"""
import importlib.util
import sys
_spec = importlib.util.spec_from_file_location("tinyedge_tests_conftest", {str(CONFTEST)!r})
_policy = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_policy)
pytest_runtest_logreport = _policy.pytest_runtest_logreport
pytest_collectreport = _policy.pytest_collectreport
pytest_sessionfinish = _policy.pytest_sessionfinish
pytest_terminal_summary = _policy.pytest_terminal_summary
""")
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def run(suite: pytest.Pytester, monkeypatch, ci: str | None) -> pytest.RunResult:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    return suite.runpytest_subprocess("-p", "no:cacheprovider", "-rs")


def test_allowed_skips_and_xfail_pass_in_ci(suite, monkeypatch):
    result = run(suite, monkeypatch, "true")
    result.assert_outcomes(passed=1, skipped=2, xfailed=1)
    assert result.ret == 0
    assert "skips CI does not allow" not in result.stdout.str()


def test_a_skip_for_an_installable_tool_fails_the_run_in_ci_and_is_listed(suite, monkeypatch):
    suite.makepyfile(test_cmake='''
import pytest

def test_needs_cmake():
    pytest.skip("cmake or the compiler is not installed")
''')
    result = run(suite, monkeypatch, "true")
    result.assert_outcomes(passed=1, skipped=3, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*skips CI does not allow*",
                                 "test_cmake.py::test_needs_cmake: cmake or the compiler is not installed",
                                 "1 test(s) skipped for a tool scripts/setup.sh installs*"])
    assert "test_needs_renode:" not in result.stdout.str()


def test_a_module_skipped_at_collection_counts_too(suite, monkeypatch):
    suite.makepyfile(test_module_skip='''
import pytest
pytest.skip("make is not installed", allow_module_level=True)
''')
    result = run(suite, monkeypatch, "true")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["test_module_skip.py: make is not installed"])


@pytest.mark.parametrize("ci", [None, "false", ""])
def test_outside_ci_skips_do_not_fail(suite, monkeypatch, ci):
    suite.makepyfile(test_gxx='''
import pytest

def test_needs_gxx():
    pytest.skip("needs g++ for the sketch")
''')
    result = run(suite, monkeypatch, ci)
    assert result.ret == 0
    assert "skips CI does not allow" not in result.stdout.str()


@pytest.mark.parametrize("reason", [
    "Renode is not installed (`renode` on PATH or RENODE_BIN)", "renode-test is not installed",
    "xtensa-esp32-elf-gcc is not installed", "ESP-IDF is not installed", "needs a MicroPython source tree",
    "needs a TFLite-Micro source tree (TFLM_DIR)", "no physical board attached", "no debug probe connected"])
def test_reasons_for_tools_outside_the_registries_are_allowed(reason):
    assert allowed_skip(reason) is not None


@pytest.mark.parametrize("reason", [
    "cmake or the compiler is not installed", "make or the compiler is not installed", "needs cmake and ninja",
    "needs g++ for the sketch", "arm-none-eabi-gcc is not installed", "riscv64-unknown-elf-gcc is not installed",
    "QEMU is not installed (scripts/setup.sh installs it)", "no kernels in firmware/kernels yet",
    "pyOCD is not installed"])
def test_reasons_for_installable_tools_are_not_allowed(reason):
    assert allowed_skip(reason) is None
