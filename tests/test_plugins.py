"""The plugin system: hooks, ordering, a take-over loader, a raising analyzer, the listing."""

from __future__ import annotations

import numpy as np
import pytest

import inspector
from inspector import hookspecs
from inspector.plugin_manager import list_plugins
from inspector.validation.inputs import random_feeds
from inspector.validation.runtime import RuntimeSettings
from tests.conftest import SAMPLES
from tests.plugins import raising_analyzer, take_over_loader, toy_format


def test_builtins_are_registered(manager):
    names = {info.name: info.hooks for info in list_plugins(manager)}
    assert names == {
        "analyze_filters": ("analyze_model",),
        "analyze_params": ("analyze_model",),
        "capture_onnx": ("capture_layers", "run_layer"),
        "load_keras": ("load_model",),
        "load_onnx": ("load_model",),
        "run_keras_layer": ("run_layer",),
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
    assert names == [
        "a_loader",
        "analyze_filters",
        "analyze_params",
        "capture_onnx",
        "load_keras",
        "load_onnx",
        "run_keras_layer",
    ]


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


class Calls:
    """Analyzers that record the order pluggy calls them in, and a wrapper around all of them."""

    def __init__(self) -> None:
        self.order: list[str] = []

    def plugins(self) -> list[object]:
        calls = self.order

        class First:
            @inspector.hookimpl(tryfirst=True)
            def analyze_model(self, model, options):
                calls.append("first")

        class Last:
            @inspector.hookimpl(trylast=True)
            def analyze_model(self, model, options):
                calls.append("last")

        class Wrapper:
            @inspector.hookimpl(wrapper=True)
            def analyze_model(self, model, options):
                calls.append("wrapper before")
                results = yield
                calls.append("wrapper after")
                note = inspector.Finding(severity="info", check="wrapped", layer=None, message="seen by the wrapper")
                return [*results, [note]]

        return [First(), Last(), Wrapper()]


def test_analyzers_run_through_the_hook_call_in_pluggys_order_inside_wrappers(manager):
    calls = Calls()
    for plugin in calls.plugins():
        manager.register(plugin)
    manager.register(raising_analyzer, name="raising_analyzer")
    findings = inspector.analyze(inspector.load(SAMPLES / "seed.onnx", plugin_manager=manager), plugin_manager=manager)
    assert calls.order == ["wrapper before", "first", "last", "wrapper after"]
    assert [f.check for f in findings if f.check in ("wrapped", "plugin")] == ["plugin", "wrapped"]


def test_a_third_party_format_validates_through_the_hooks(manager, tmp_path):
    manager.register(toy_format, name="toy_format")
    rng = np.random.default_rng(0)
    path = toy_format.write(tmp_path / "net.toyconv", rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4), 9)
    model = inspector.load(path, plugin_manager=manager)
    result = inspector.validate(model, plugin_manager=manager)
    assert result.passed and result["toy_conv"].mode == "standalone"
    assert result["toy_conv"].providers == ("CPUExecutionProvider",)
    unknown = inspector.validate(model)  # without the plugin, nothing runs its layers: skipped with the reason
    assert unknown["toy_conv"].status == "skipped" and "no installed plugin runs" in unknown["toy_conv"].message


HOOK_SCENARIOS = {
    "load_model": lambda m: m.hook.load_model(path=SAMPLES / "seed.onnx", options=inspector.Options()),
    "analyze_model": lambda m: any(
        m.hook.analyze_model(
            model=inspector.load(SAMPLES / "broken_grouped.onnx", plugin_manager=m), options=inspector.Options()
        )
    ),
    "capture_layers": lambda m: list(
        m.hook.capture_layers(
            model=_seed(m), layers=_seed(m).conv_layers, feeds=_feeds(m), runtime=RuntimeSettings(), budget_bytes=1e9
        )
    ),
    "run_layer": lambda m: m.hook.run_layer(
        model=_seed(m), layer=_seed(m)["conv1"], x=np.ones((1, 1, 28, 28), np.float32), runtime=RuntimeSettings()
    ),
}


def _seed(manager):
    return inspector.load(SAMPLES / "seed.onnx", plugin_manager=manager)


def _feeds(manager):
    return lambda: random_feeds(_seed(manager), 0, {})


def test_every_hook_spec_is_documented_and_exercised(manager):
    specs = sorted(name for name, value in vars(hookspecs).items() if hasattr(value, "inspector_spec"))
    readme = (SAMPLES.parent / "README.md").read_text()
    assert specs == sorted(HOOK_SCENARIOS), "a hook spec without a scenario here (or a scenario without a spec)"
    for name in specs:
        doc = getattr(hookspecs, name).__doc__ or ""
        assert "return" in doc.lower(), f"{name}'s docstring does not say what its return values mean"
        assert f"### `{name}(" in readme, f"README.md does not document the {name} hook"
        assert HOOK_SCENARIOS[name](manager), f"no built-in plugin answers {name}"
