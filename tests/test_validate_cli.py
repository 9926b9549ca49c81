"""``inspect --validate`` as a user and a CI job run it: exit codes, tolerances, inputs, JSON, JUnit, bad flags."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from inspector.cli.main import main
from tests.conftest import SAMPLES, report_json

SEED = str(SAMPLES / "seed.onnx")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "inspector", *args], capture_output=True, text=True)


def validation(capsys, *args: str) -> tuple[int, dict]:
    code = main([*args, "--validate", "--format", "json"])
    return code, report_json(capsys.readouterr().out)["validation"]


def test_passing_model_prints_the_table_and_exits_0():
    result = run("--validate", SEED)
    assert result.returncode == 0, result.stderr
    assert "captured   ✔ passed" in result.stdout and "validation passed: 2 of 2 conv layers" in result.stdout
    assert result.stderr == ""  # no progress bar when stderr is not a terminal


def test_broken_model_exits_1_and_names_the_layer():
    result = run("--validate", str(SAMPLES / "broken_grouped.onnx"))
    assert result.returncode == 1
    assert "[validation] bad_grouped: onnxruntime refuses the layer" in result.stdout


def test_a_validation_failure_does_not_mark_the_parameter_count_wrong():
    result = run("--validate", SEED, "--atol", "conv2:0")
    assert result.returncode == 1
    conv2_row = next(line for line in result.stdout.splitlines() if line.startswith("conv2   Conv"))
    assert "18,496 ✔" in conv2_row and "✘" not in conv2_row


def test_per_layer_atol_overrides_the_global_one(capsys):
    # atol 0 asks onnxruntime's float32 output to equal the engine's float64 sum, which no float32 number can:
    # both layers fail, until a layer's own atol (far above float32 rounding) relaxes it.
    code, strict = validation(capsys, SEED, "--atol", "0")
    assert code == 1 and [layer["passed"] for layer in strict["layers"]] == [False, False]
    code, relaxed = validation(capsys, SEED, "--atol", "1e-3", "--atol", "conv2:0")
    assert code == 1 and [layer["passed"] for layer in relaxed["layers"]] == [True, False]
    assert [layer["atol"] for layer in relaxed["layers"]] == [1e-3, 0.0]
    assert relaxed["layers"][1]["tolerance"] == "given"


def test_junit_file_has_one_case_per_conv_layer(tmp_path):
    junit = tmp_path / "validation.xml"
    result = run("--validate", SEED, str(SAMPLES / "broken_grouped.onnx"), "--junit", str(junit))
    assert result.returncode == 1
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "4",
        "failures": "0",
        "errors": "1",
        "skipped": "0",
    }
    suites = {suite.get("name"): suite for suite in root}
    assert [case.get("name") for case in suites[SEED]] == ["conv1", "conv2"]
    broken = suites[str(SAMPLES / "broken_grouped.onnx")]
    (error,) = broken.iter("error")
    assert "bad_grouped" in error.text or "Input channels" in error.get("message")
    assert [p.name for p in tmp_path.iterdir()] == ["validation.xml"]  # written in one step, nothing left over


def test_junit_marks_failures_and_skips(tmp_path):
    junit = tmp_path / "j.xml"
    flags = ["--atol", "1e-3", "--atol", "conv2:0", "--junit", str(junit), "--output", str(tmp_path / "r.txt")]
    assert main([SEED, "--validate", *flags]) == 1
    root = ET.parse(junit).getroot()
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
    (failure,) = root.iter("failure")
    assert failure.get("type") == "validation" and "output channel" in failure.get("message")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--atol", "abc"], "--atol 'abc'"),
        (["--atol", "conv2:-1"], "--atol 'conv2:-1'"),
        (["--rtol", "nan"], "--rtol 'nan'"),
        (["--atol", "conv9:1e-3"], "conv9"),
        (["--seed", "-1"], "--seed"),
        (["--max-capture-mb", "0"], "--max-capture-mb"),
        (["--input-shape", "image:1xax28x28"], "--input-shape"),
        (["--input-shape", "image:1x2x28x28"], "fixed to 1"),
        (["--input-shape", "picture:1x1x28x28"], "picture"),
        (["--inputs", "missing.npz"], "missing.npz: no such file"),
        (["--inputs", str(SAMPLES / "seed.onnx")], "not an .npz file"),
        (["--inputs", "x.npz", "--input-shape", "image:1x1x28x28"], "not both"),
    ],
)
def test_bad_option_values_exit_2_with_one_line(flags, message):
    result = run(SEED, "--validate", *flags)
    assert result.returncode == 2, result.stdout
    assert result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_validation_flags_need_validate():
    result = run(SEED, "--seed", "1")
    assert result.returncode == 2 and "--seed only applies with --validate" in result.stderr


def test_onnxruntime_keeps_its_log_lines_to_itself():
    # tf2onnx's Resize carries an attribute onnxruntime 1.32 warns about through its default logger
    result = run("--validate", "-q", str(SAMPLES / "keras" / "k2_conv2d_family.tf2onnx.onnx"))
    assert result.returncode == 0, result.stderr
    assert "onnxruntime" not in result.stderr and "\x1b" not in result.stdout + result.stderr
