"""The pytest plugin: ``pytest --inspect-models PATH`` makes every conv layer a test; without it, nothing happens.

Each case runs pytest in a fresh folder (a subprocess, as a user would), on copies of the samples.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import inspector
from inspector.cli.model_paths import expand_models
from tests.conftest import SAMPLES

PLAIN_TEST = """
import sys

def test_plain():
    assert "inspector" not in sys.modules and "numpy" not in sys.modules
"""


def pytest_run(folder, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=folder,
        capture_output=True,
        text=True,
    )


@pytest.fixture
def repository(tmp_path):
    """A folder with the ONNX samples under models/ and one ordinary test file."""
    models = tmp_path / "models"
    models.mkdir()
    for sample in SAMPLES.glob("*.onnx"):
        shutil.copy(sample, models)
    (tmp_path / "test_plain.py").write_text(PLAIN_TEST)
    return tmp_path


def _outcomes(junit_path) -> dict[str, str]:
    """``nodeid-ish name → outcome`` from pytest's own JUnit XML."""
    outcomes = {}
    for case in ET.parse(junit_path).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = kinds[0] if kinds else "passed"
    return outcomes


def test_without_the_option_the_plugin_does_nothing(repository):
    result = pytest_run(repository)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout  # the model files are not collected, and nothing of inspector is imported


@pytest.mark.parametrize("workers", [[], ["-n", "2"]])
def test_every_conv_layer_of_the_samples_is_a_test(repository, workers):
    junit = repository / "pytest.xml"
    result = pytest_run(repository, "--inspect-models", "models", f"--junitxml={junit}", *workers)
    assert result.returncode == 1, result.stdout + result.stderr
    outcomes = _outcomes(junit)
    layers = {name: outcome for name, outcome in outcomes.items() if ".onnx" in name}
    assert len(layers) == sum(len(inspector.load(sample).conv_layers) for sample in SAMPLES.glob("*.onnx"))
    assert [name for name, outcome in layers.items() if outcome != "passed"] == [
        "models.broken_grouped.onnx::bad_grouped"
    ]
    assert outcomes["models.broken_grouped.onnx::ok"] == "passed"
    assert "models.conv_in_if.onnx::branch/then_branch/then_conv" in layers
    assert "bad_grouped (standalone, error): onnxruntime refuses the layer" in result.stdout


def test_a_single_model_file_and_an_unreadable_one(repository):
    (repository / "models" / "corrupt.onnx").write_bytes(b"\x08\x01not a model")
    result = pytest_run(repository, "--inspect-models", "models/seed.onnx", "--inspect-models", "models/corrupt.onnx")
    assert result.returncode == 2, result.stdout
    assert "corrupt.onnx: not a readable ONNX model" in result.stdout
    result = pytest_run(repository, "--inspect-models", "models/seed.onnx")
    assert result.returncode == 0 and "2 passed" in result.stdout


def test_missing_path_is_a_usage_error(repository):
    result = pytest_run(repository, "--inspect-models", "nowhere")
    assert result.returncode == 4 and "--inspect-models" in result.stderr


def test_a_folder_holds_the_model_files_inspect_takes(repository):
    models = repository / "models"
    for hidden in (models / ".cache" / "seed.onnx", models / "._seed.onnx"):  # a hidden folder, macOS' ._ files
        hidden.parent.mkdir(exist_ok=True)
        shutil.copy(SAMPLES / "seed.onnx", hidden)
    (models / "deep" / "er").mkdir(parents=True)
    shutil.copy(SAMPLES / "seed.onnx", models / "deep" / "er" / "Seed.ONNX")
    shutil.copy(SAMPLES / "seed.onnx", models / "seed.onnx.bak")
    result = pytest_run(repository, "--collect-only", "--inspect-models", "models")
    assert result.returncode == 0, result.stdout + result.stderr
    collected = sorted({line.split("::")[0] for line in result.stdout.splitlines() if "::" in line})
    expected = sorted([f"models/{sample.name}" for sample in SAMPLES.glob("*.onnx")] + ["models/deep/er/Seed.ONNX"])
    assert collected == expected
    assert sorted(str(Path(path).relative_to(repository)) for path in expand_models([str(models)])) == expected


def test_a_file_given_itself_is_collected_whatever_its_name(repository):
    shutil.copy(SAMPLES / "seed.onnx", repository / "seed.model")
    result = pytest_run(repository, "--inspect-models", "seed.model")
    assert result.returncode == 0 and "2 passed" in result.stdout, result.stdout


def test_a_layer_name_that_would_drive_the_terminal_is_shown_escaped(tmp_path):
    from tests.hostile.corpus_names import CLEAR, named_conv

    named_conv(tmp_path, node=f"conv{CLEAR}")
    junit = tmp_path / "pytest.xml"
    result = pytest_run(tmp_path, "--inspect-models", "model.onnx", "-vv", f"--junitxml={junit}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "\x1b" not in result.stdout + result.stderr
    assert "model.onnx::conv\\x1b[2J PASSED" in result.stdout
    assert list(_outcomes(junit).values()) == ["passed"]
