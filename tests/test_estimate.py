"""Analytical estimates for Xtensa boards: fits, the shipped calibration table, labels, monotonic in MACs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinyedge.boards import load_board
from tinyedge.codegen import CompiledModel
from tinyedge.errors import TinyEdgeError
from tinyedge.estimate import (
    ANY,
    LayerSample,
    Work,
    _table_toml,
    check_fits,
    estimate,
    fit_board,
    fit_costs,
    layer_work,
    load_calibration,
)
from tinyedge.pipeline import compile_tflite


def conv_model(filters: int, quantize_for_test, folder: Path) -> CompiledModel:
    import keras

    keras.utils.set_random_seed(2)
    inputs = keras.Input((10, 10, 4))
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(4, activation="softmax")(x)
    tflite = quantize_for_test(keras.Model(inputs, outputs), folder / f"conv{filters}.tflite")
    return compile_tflite(tflite, name=f"conv{filters}")


@pytest.fixture(scope="module")
def models(tmp_path_factory, quantize_for_test) -> dict[int, CompiledModel]:
    folder = tmp_path_factory.mktemp("estimate")
    return {filters: conv_model(filters, quantize_for_test, folder) for filters in (4, 16)}


def test_fit_recovers_a_known_linear_cost_exactly() -> None:
    works = [Work(macs, outputs, 0) for macs, outputs in [(100, 10), (400, 10), (400, 40), (1600, 20)]]
    fit = fit_costs(works, [3 * w.macs + 40 * w.outputs + 500 for w in works], mac_op=True)
    assert (fit.per_mac, fit.per_output, fit.per_call) == pytest.approx((3.0, 40.0, 500.0))
    assert fit(Work(1000, 30, 0)) == pytest.approx(3 * 1000 + 40 * 30 + 500)


def test_fit_never_goes_negative_and_keeps_a_per_mac_term() -> None:
    # Exactly 4 cycles/MAC - 150: the unconstrained fit has a negative per-call cost.
    works = [Work(macs, 10, 0) for macs in (100, 200, 400)]
    fit = fit_costs(works, [4 * w.macs - 150 for w in works], mac_op=True)
    assert min(fit.per_mac, fit.per_output, fit.per_element, fit.per_call) >= 0
    assert fit.per_mac > 0
    other = fit_costs([Work(0, 5, 20), Work(0, 5, 40)], [1000.0, 1000.0], mac_op=False)
    assert other.per_element > 0 and other.per_mac == 0


def test_the_shipped_table_has_fallbacks_and_per_mac_costs_for_every_calibrated_board() -> None:
    calibration = load_calibration()
    assert set(calibration.cores) >= {"xtensa-lx6", "xtensa-lx7"}
    for board, fits in calibration.fits.items():
        assert {f.kind for f in fits if f.op == ANY} == {"conv", "depthwise", "fc", "other"}, board
        for fit in fits:
            lead = fit.cycles.per_element if fit.kind == "other" else fit.cycles.per_mac
            assert lead > 0, (board, fit.basis)
    assert calibration.measured_on and calibration.method and all(s.assumption for s in calibration.cores.values())


def test_the_shipped_fits_are_made_again_from_the_shipped_measurements() -> None:
    """Refit every board from the layer measurements the table keeps: the same fits, the same check."""
    calibration = load_calibration()
    for board, fits in calibration.fits.items():
        samples = calibration.samples[board]
        assert len(samples) == sum(f.layers for f in fits if f.op != ANY), board
        refitted = {(f.op, f.kernel, f.kind): f for f in fit_board(samples)}
        assert set(refitted) == {(f.op, f.kernel, f.kind) for f in fits}, board
        for fit in fits:
            again = refitted[(fit.op, fit.kernel, fit.kind)]
            assert again.layers == fit.layers
            for term in ("per_mac", "per_output", "per_element", "per_call"):
                for side in ("cycles", "instructions"):
                    stored, made = getattr(getattr(fit, side), term), getattr(getattr(again, side), term)
                    assert made == pytest.approx(stored, rel=1e-5, abs=1e-3), (board, fit.basis, side, term)
        check = check_fits(samples)
        assert check.keys() == calibration.checks[board].keys()
        for model, figures in check.items():
            stored = calibration.checks[board][model]
            assert figures["measured"] == stored["measured"]
            assert figures["fitted"] == pytest.approx(stored["fitted"], rel=1e-4)
            assert figures["left_out"] == pytest.approx(stored["left_out"], rel=1e-4)
            # in-sample within 15%: memory stalls (esp32c3's flash cache) are not linear in a layer's work
            assert figures["fitted"] == pytest.approx(figures["measured"], rel=0.15), (board, model)


def test_the_label_prints_the_worst_held_out_error_of_the_proxy_board(models: dict[int, CompiledModel]) -> None:
    calibration = load_calibration()
    errors = calibration.held_out_errors("esp32c3")
    assert errors.keys() == calibration.checks["esp32c3"].keys()
    model, worst = max(errors.items(), key=lambda item: abs(item[1]))
    label = estimate(models[4], "esp32", calibration).label
    assert f"held-out error up to {abs(worst):.0%} ({model} predicted by fits made without it: {worst:+.0%})" \
        in label


@pytest.mark.parametrize("board", ["esp32", "esp32s3"])
def test_the_estimate_grows_with_the_macs(board: str, models: dict[int, CompiledModel]) -> None:
    small, large = estimate(models[4], board), estimate(models[16], board)
    assert models[16].macs > models[4].macs
    assert large.cycles > small.cycles and large.instructions > small.instructions
    assert large.latency_ms > small.latency_ms and large.energy_uj > small.energy_uj
    conv_small, conv_large = small.layers[0], large.layers[0]
    assert conv_small.op == "CONV_2D" and conv_large.macs > conv_small.macs and conv_large.cycles > conv_small.cycles


@pytest.mark.parametrize("name", ["esp32", "esp32s3"])
def test_the_estimate_is_labelled_as_one_and_adds_up(name: str, models: dict[int, CompiledModel]) -> None:
    board = load_board(name)
    result = estimate(models[16], board)
    assert result.label.startswith("analytical estimate (") and "not a measurement" in result.label
    assert board.core in result.label and "240 MHz" in result.label and "esp32c3" in result.label
    assert "assumed" in result.label and result.assumption and "estimate_xtensa.toml" in result.calibration
    assert (result.proxy, result.optimistic_board) == ("esp32c3", "nrf52840")
    assert result.proxy_cycle_model == load_calibration().cycle_models["esp32c3"]
    assert [layer.index for layer in result.layers] == [layer.index for layer in models[16].layers]
    assert result.cycles == sum(layer.cycles for layer in result.layers)
    assert result.instructions == sum(layer.instructions for layer in result.layers)
    assert result.latency_ms == pytest.approx(result.cycles / 240e6 * 1000)
    assert result.energy_uj == pytest.approx(result.latency_ms * board.power.active.value * board.power.supply.value)
    assert 0 < result.cycles_optimistic < result.cycles  # the Cortex-M4F's DSP paths are faster
    assert result.latency_ms_optimistic < result.latency_ms


def test_boards_that_are_emulated_get_no_estimate(models: dict[int, CompiledModel]) -> None:
    with pytest.raises(TinyEdgeError, match=r"no analytical estimate for core cortex-m4f .*xtensa-lx6, xtensa-lx7"):
        estimate(models[4], "nrf52840")


def synthetic_samples(board: str, scale: float) -> list[LayerSample]:
    """Layers of every kind with known costs: per MAC `scale`, per output 20, per element 3."""
    rows = [("CONV_2D", "te_conv2d_s8", macs, outputs) for macs, outputs in ((1000, 50), (2000, 40), (5000, 150))]
    rows += [("DEPTHWISE_CONV_2D", "te_depthwise_conv2d_s8", 300 * k, 40 * k) for k in (1, 3)]
    rows += [("FULLY_CONNECTED", "te_fully_connected_s8", 500 * k, 10) for k in (1, 4)]
    rows += [("SOFTMAX", "te_softmax_s8", 0, 10 * k) for k in (1, 2)]
    samples = []
    for index, (op, kernel, macs, outputs) in enumerate(rows):
        work = Work(macs, outputs, 2 * outputs)
        cycles = scale * macs + 20 * outputs if macs else 3 * work.elements
        samples.append(LayerSample(f"m{index % 2}", board, op, kernel, work, round(cycles * 0.8), round(cycles)))
    return samples


def test_a_written_table_loads_back_and_prices_unseen_kernels_by_kind(models: dict[int, CompiledModel],
                                                                      tmp_path: Path) -> None:
    tables = {}
    for board, scale in (("esp32c3", 6.0), ("nrf52840", 2.0)):
        samples = synthetic_samples(board, scale)
        tables[board] = (fit_board(samples), check_fits(samples))
    path = tmp_path / "table.toml"
    samples = [*synthetic_samples("esp32c3", 6.0), *synthetic_samples("nrf52840", 2.0)]
    path.write_text(_table_toml(["m0", "m1"], tables, {"esp32c3": "rv32 model", "nrf52840": "m4 model"}, samples))
    calibration = load_calibration(path)
    assert calibration.samples["esp32c3"] == tuple(synthetic_samples("esp32c3", 6.0))
    assert calibration.held_out_errors("esp32c3").keys() == {"m0", "m1"}
    conv = calibration.fit_for("esp32c3", "CONV_2D", "te_conv2d_s8")
    assert (conv.cycles.per_mac, conv.cycles.per_output) == pytest.approx((6.0, 20.0))
    unseen = calibration.fit_for("esp32c3", "CONV_2D", "te_conv2d_some_new_variant_s8")
    assert unseen.basis == "conv fallback"
    assert calibration.fit_for("esp32c3", "PAD", "te_pad_s8").basis == "other fallback"
    result = estimate(models[4], "esp32", calibration)
    conv = layer_work(models[4])[0]
    assert result.layers[0].cycles == round(6.0 * conv.macs + 20.0 * conv.outputs)  # core factor 1.0


def test_a_missing_table_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(TinyEdgeError, match=r"--calibrate"):
        load_calibration(tmp_path / "absent.toml")
    (tmp_path / "old.toml").write_text("version = 0\n")
    with pytest.raises(TinyEdgeError, match=r"table version 0"):
        load_calibration(tmp_path / "old.toml")
