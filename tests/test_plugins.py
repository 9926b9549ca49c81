"""The plugin system: hooks, ordering, a take-over loader, a raising analyzer, the listing."""

from __future__ import annotations

import pytest

import inspector
from inspector.plugin_manager import list_plugins
from tests.conftest import SAMPLES
from tests.plugins import raising_analyzer, take_over_loader


def test_builtins_are_registered(manager):
    names = {info.name: info.hooks for info in list_plugins(manager)}
    assert names == {
        "analyze_filters": ("analyze_model",),
        "analyze_params": ("analyze_model",),
        "load_keras": ("load_model",),
        "load_onnx": ("load_model",),
    }


def test_an_installed_loader_takes_over_from_the_builtin(manager):
    manager.register(take_over_loader, name="take_over_loader")
    model = inspector.load(SAMPLES / "seed.onnx", plugin_manager=manager)
    assert model.producer == "take-over plugin"


def test_a_raising_analyzer_becomes_a_finding_and_others_still_run(manager):
    manager.register(raising_analyzer, name="raising_analyzer")
    report = inspector.inspect_model(SAMPLES / "broken_grouped.onnx", plugin_manager=manager)
    plugin_errors = [f for f in report.findings if f.check == "plugin"]
    assert (
        len(plugin_errors) == 1
        and "raising_analyzer" in plugin_errors[0].message
        and "boom" in plugin_errors[0].message
    )
    assert any(f.check == "params" and f.layer == "bad_grouped" for f in report.findings)


def test_raise_errors_reraises(manager):
    manager.register(raising_analyzer, name="raising_analyzer")
    model = inspector.load(SAMPLES / "seed.onnx", plugin_manager=manager)
    with pytest.raises(RuntimeError, match="boom"):
        inspector.analyze(model, plugin_manager=manager, options=inspector.Options(raise_errors=True))


def test_list_plugins_is_sorted(manager):
    manager.register(take_over_loader, name="a_loader")
    names = [info.name for info in list_plugins(manager)]
    assert names == ["a_loader", "analyze_filters", "analyze_params", "load_keras", "load_onnx"]


def test_broken_grouped_conv_is_flagged_on_its_layer(manager):
    report = inspector.inspect_model(SAMPLES / "broken_grouped.onnx", plugin_manager=manager)
    assert not report.passed and report.exit_code == 1
    assert {f.layer for f in report.errors} == {"bad_grouped"}
    channels = next(f for f in report.errors if f.check == "channels")
    assert channels.data == {"expected": 4, "found": 2}
    params = next(f for f in report.errors if f.check == "params")
    assert params.data == {"expected": 3 * 3 * 4 * 16 + 16, "found": 3 * 3 * 2 * 16 + 16}


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.onnx") if p.name != "broken_grouped.onnx"))
def test_every_good_sample_passes(manager, sample):
    report = inspector.inspect_model(SAMPLES / sample, plugin_manager=manager)
    assert report.passed, [f.message for f in report.errors]
