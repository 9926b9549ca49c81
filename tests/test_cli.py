"""The ``inspect`` command as a user runs it: exit codes, plain text when piped, JSON, files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from inspector.cli.main import main
from tests.conftest import SAMPLES, report_json


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "inspector", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("content", [b"", b"\x08\x01not a model at all"])
def test_bad_file_is_one_line_and_exit_2(tmp_path, content):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(content)
    result = run(str(bad))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "bad.onnx" in result.stderr and "Traceback" not in result.stderr


def test_missing_file_and_directory_exit_2(tmp_path):
    assert run(str(tmp_path / "nope.onnx")).returncode == 2
    assert run(str(tmp_path)).returncode == 2


def test_unknown_layer_is_a_usage_error():
    result = run(str(SAMPLES / "seed.onnx"), "--layer", "conv9")
    assert result.returncode == 2 and "conv9" in result.stderr


def test_json_report_of_a_grouped_conv(tmp_path):
    out = tmp_path / "report.json"
    assert main([str(SAMPLES / "grouped.onnx"), "--format", "json", "--output", str(out)]) == 0
    document = report_json(out.read_text())
    assert document["schema_version"] == 1 and document["validation"] is None
    layer = document["layers"][0]
    assert layer["params"] == {"expected": 304, "stored": 304}
    assert layer["groups"] == 4 and layer["weight_shape"] == [16, 2, 3, 3]
    assert document["params"] == {"total": 304, "trainable": 304, "non_trainable": 0}


def test_json_keeps_symbolic_dims_as_strings(capsys):
    assert main([str(SAMPLES / "seed.onnx"), "--format", "json"]) == 0
    document = report_json(capsys.readouterr().out)
    assert document["model"]["inputs"][0]["shape"] == ["N", 1, 28, 28]


def test_json_is_deterministic(capsys):
    main([str(SAMPLES / "classifier.onnx"), "--format", "json"])
    first = capsys.readouterr().out
    main([str(SAMPLES / "classifier.onnx"), "--format", "json"])
    assert capsys.readouterr().out == first


def test_several_models_worst_exit_code_wins(capsys):
    code = main([str(SAMPLES / "seed.onnx"), str(SAMPLES / "broken_grouped.onnx"), "--format", "json"])
    assert code == 1
    assert [d["model"]["path"].rsplit("/", 1)[-1] for d in report_json(capsys.readouterr().out)] == [
        "seed.onnx",
        "broken_grouped.onnx",
    ]


def test_nothing_written_when_the_model_cannot_be_read(tmp_path):
    out = tmp_path / "report.json"
    assert main([str(tmp_path / "missing.onnx"), "--format", "json", "--output", str(out)]) == 2
    assert not out.exists()


def test_plugins_listing():
    result = run("plugins", "--json")
    assert result.returncode == 0
    names = [entry["name"] for entry in json.loads(result.stdout)]
    assert names == sorted(names) and {"load_onnx", "capture_onnx", "analyze_params"} <= set(names)
