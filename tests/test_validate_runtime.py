"""Validating onnxruntime as it will be deployed: execution providers, graph optimization level, threads; the
report records what ran."""

from __future__ import annotations

import subprocess
import sys

import onnxruntime as ort
import pytest

import inspector
from inspector.errors import ValidationError
from inspector.validation.runtime import Placement
from tests.conftest import SAMPLES, report_json

SEED = str(SAMPLES / "seed.onnx")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "inspector", *args], capture_output=True, text=True)


@pytest.mark.parametrize("level", ["disabled", "basic", "extended", "all"])
def test_every_optimization_level_validates_and_is_recorded(level):
    result = inspector.validate(SAMPLES / "strided_padded.onnx", graph_optimization=level, threads=1)
    assert result.passed
    assert result.runtime == {
        "onnxruntime": ort.__version__,
        "providers": ["CPUExecutionProvider"],
        "graph_optimization": level,
        "threads": 1,
    }
    assert {layer.providers for layer in result.layers} == {("CPUExecutionProvider",)}


def test_providers_that_ran_each_layer_are_read_from_onnxruntime():
    # AzureExecutionProvider ships with the CPU wheel and takes no Conv node, so onnxruntime's own profile must
    # place every conv on the CPU provider, in captured and standalone layers alike.
    if "AzureExecutionProvider" not in ort.get_available_providers():
        pytest.skip("this onnxruntime build has no second provider")
    for sample in ("seed.onnx", "conv_in_if.onnx"):
        result = inspector.validate(SAMPLES / sample, providers=("azure", "cpu"))
        assert result.passed and result.runtime["providers"] == ["AzureExecutionProvider", "CPUExecutionProvider"]
        assert {layer.providers for layer in result.layers} == {("CPUExecutionProvider",)}


def test_cli_records_the_runtime_in_json():
    result = run(
        SEED, "--validate", "--provider", "cpu", "--graph-optimization", "basic", "--threads", "2", "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    validation = report_json(result.stdout)["validation"]
    assert validation["runtime"]["graph_optimization"] == "basic" and validation["runtime"]["threads"] == 2
    assert [layer["providers"] for layer in validation["layers"]] == [["CPUExecutionProvider"]] * 2


def test_a_provider_that_is_not_installed_is_a_one_line_error_listing_the_available_ones():
    result = run(SEED, "--validate", "--provider", "CUDAExecutionProvider")
    assert result.returncode == 2 and result.stdout == "" and result.stderr.count("\n") == 1
    assert "'CUDAExecutionProvider' is not installed" in result.stderr
    assert all(name in result.stderr for name in ort.get_available_providers())
    with pytest.raises(ValidationError, match="not installed"):
        inspector.validate(SEED, providers=("TensorrtExecutionProvider",))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--threads", "0"], "--threads '0': expected a positive integer"),
        (["--graph-optimization", "max"], "invalid choice"),
        (["--bound", "loose"], "invalid choice"),
    ],
)
def test_bad_runtime_flags_exit_2(flags, message):
    result = run(SEED, "--validate", *flags)
    assert result.returncode == 2 and message in result.stderr


def test_runtime_flags_need_validate():
    result = run(SEED, "--provider", "cpu")
    assert result.returncode == 2 and "--provider only applies with --validate" in result.stderr


def test_worst_case_bound_is_chosen_on_request():
    result = inspector.validate(SEED, bound="worst-case")
    assert result.passed and {layer.comparison.rule for layer in result.layers} == {"worst-case"}
    assert {layer.comparison.bound.lam for layer in result.layers} == {None}


def test_placement_names_a_node_by_its_name_output_or_what_onnxruntime_made_of_it():
    placement = Placement(
        ("XProvider", "CPUExecutionProvider"),
        {"conv_nchwc": "XProvider", "InsertedPrecisionFreeCast_y": "CPUExecutionProvider", "conv_1": "XProvider"},
    )
    assert placement.of("conv", "c") == ("XProvider",)
    assert placement.of("half", "y") == ("CPUExecutionProvider",)
    assert placement.of("conv_", "z") == ("XProvider", "CPUExecutionProvider")  # not named: any of them
    assert Placement(("CPUExecutionProvider",), {}).of("a", "b") == ("CPUExecutionProvider",)
