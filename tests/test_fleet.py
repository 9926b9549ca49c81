"""Many models at once: ``inspect FOLDER`` or ``inspect 'GLOB'``, and ``pytest --inspect-models FOLDER -n 2``.

The models are built here with onnx.helper (chains of 3×3 convs), so how many conv layers each has is known without
the tool.  The pytest runs are subprocesses, as a user runs them, whose validations are recorded by a conftest.py
that wraps the validation function and appends ``<worker> <model>`` to a file: a model validated on two workers
shows there twice.
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector.cli.main import main
from tests.conftest import report_json

CONVS = {"a.onnx": 3, "b.onnx": 4, "sub/c.onnx": 3, "sub/deeper/d.onnx": 5}
"""The fleet: each model's path under models/ and its number of conv layers."""


def conv_chain(path: Path, convs: int, seed: int, channels: int = 4) -> Path:
    """A chain of ``convs`` padded 3×3 convs named conv0, conv1… on a 1×channels×8×8 input."""
    rng = np.random.default_rng(seed)
    nodes, weights, previous = [], [], "x"
    for index in range(convs):
        weight = rng.standard_normal((channels, channels, 3, 3)).astype(np.float32)
        weights.append(numpy_helper.from_array(weight, f"w{index}"))
        nodes.append(
            helper.make_node("Conv", [previous, f"w{index}"], [f"y{index}"], name=f"conv{index}", pads=[1, 1, 1, 1])
        )
        previous = f"y{index}"
    graph = helper.make_graph(
        nodes,
        path.stem,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, 8, 8])],
        [helper.make_tensor_value_info(previous, TensorProto.FLOAT, None)],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


@pytest.fixture
def fleet(tmp_path) -> Path:
    """models/ with the fleet, plus what a folder must not stand for: hidden files and folders, other files."""
    models = tmp_path / "models"
    for seed, (name, convs) in enumerate(CONVS.items()):
        conv_chain(models / name, convs, seed)
    conv_chain(models / ".cache" / "hidden.onnx", 2, 7)
    conv_chain(models / "sub" / "._a.onnx", 2, 8)  # what macOS leaves beside a file
    (models / "notes.txt").write_text("not a model")
    return tmp_path


# ---------------------------------------------------------------------------------------------------------------
# inspect FOLDER and inspect 'GLOB'


def _inspect(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _paths(document) -> list[str]:
    return [report["model"]["path"] for report in (document if isinstance(document, list) else [document])]


def test_a_folder_is_every_model_file_under_it_sorted(fleet, capsys):
    code, out, _ = _inspect(capsys, str(fleet / "models"), "--format", "json")
    assert code == 0
    assert _paths(report_json(out)) == [str(fleet / "models" / name) for name in CONVS]


def test_a_folder_reports_exactly_as_its_files_listed(fleet, capsys, monkeypatch):
    monkeypatch.chdir(fleet)
    conv_chain(fleet / "models" / "sub" / "wide.onnx", 2, 9, channels=6)
    broken = fleet / "models" / "sub" / "zz_broken.onnx"
    broken.write_bytes(b"\x08\x01not a model")  # unreadable: exit 2 for it, the others still reported
    listed = ["models/a.onnx", "models/b.onnx", "models/sub/c.onnx", "models/sub/deeper/d.onnx"]
    listed += ["models/sub/wide.onnx", "models/sub/zz_broken.onnx"]
    for flags in ([], ["--format", "json"]):
        assert _inspect(capsys, "models", *flags) == _inspect(capsys, *listed, *flags)
    code, out, err = _inspect(capsys, "models", "--format", "json")
    assert code == 2 and err.count("\n") == 1 and "zz_broken.onnx" in err
    assert len(_paths(report_json(out))) == 5


def test_a_folder_validates_and_writes_junit_as_its_files_listed(fleet, capsys, monkeypatch):
    monkeypatch.chdir(fleet)
    suites = []
    for models in (["models"], [f"models/{name}" for name in CONVS]):
        code, _, _ = _inspect(capsys, *models, "--validate", "--junit", "fleet.xml")
        assert code == 0
        root = ET.parse(fleet / "fleet.xml").getroot()
        suites.append([(s.get("name"), [c.get("name") for c in s.iter("testcase")]) for s in root.iter("testsuite")])
    assert suites[0] == suites[1]
    assert [len(cases) for _, cases in suites[0]] == list(CONVS.values())


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("models/*.onnx", ["a.onnx", "b.onnx"]),
        ("models/**/*.onnx", list(CONVS)),
        ("models/s*", ["sub/c.onnx", "sub/deeper/d.onnx"]),  # a folder it matches stands for its models
        ("models/**", list(CONVS)),  # each model once, though matched as a file and under its folders
        ("models/sub/?.onnx", ["sub/c.onnx"]),
    ],
)
def test_a_glob_expands_to_the_model_files_it_matches(fleet, capsys, monkeypatch, pattern, expected):
    monkeypatch.chdir(fleet)
    code, out, _ = _inspect(capsys, pattern, "--format", "json")
    assert code == 0
    assert _paths(report_json(out)) == [f"models/{name}" for name in expected]


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("empty", "empty: is a directory, not a regular file"),
        ("models/*.h5", "models/*.h5: no such file"),
        ("models/*.txt", "models/*.txt: no such file"),
        ("elsewhere/**/*.onnx", "elsewhere/**/*.onnx: no such file"),
    ],
)
def test_a_folder_or_glob_with_no_model_is_one_line_exit_2(fleet, capsys, monkeypatch, argument, message):
    """As a path that is no model: the loader's one line, exit 2, and the other models still reported."""
    monkeypatch.chdir(fleet)
    (fleet / "empty" / ".hidden").mkdir(parents=True)
    conv_chain(fleet / "empty" / ".hidden" / "m.onnx", 1, 0)
    code, out, err = _inspect(capsys, "models/a.onnx", argument, "--format", "json")
    assert (code, err) == (2, f"inspect: error: {message}\n")
    assert _paths(report_json(out)) == ["models/a.onnx"]


def test_a_file_named_itself_is_read_whatever_its_name(fleet, capsys):
    named = fleet / "models" / "a.model"
    named.write_bytes((fleet / "models" / "a.onnx").read_bytes())
    code, out, _ = _inspect(capsys, str(named), "--format", "json")
    assert code == 0 and _paths(report_json(out)) == [str(named)]
    literal = fleet / "models" / "b[1].onnx"  # a name with pattern characters is a file when it exists
    literal.write_bytes((fleet / "models" / "b.onnx").read_bytes())
    code, out, _ = _inspect(capsys, str(literal), "--format", "json")
    assert code == 0 and _paths(report_json(out)) == [str(literal)]


# ---------------------------------------------------------------------------------------------------------------
# pytest --inspect-models FOLDER -n 2: one worker per model, each model validated once

RECORDER = """
import os

import inspector.validation.run as run

_validate = run.validate


def _recorded(model, *args, **kwargs):
    with open(os.environ["FLEET_LOG"], "a") as log:
        log.write(f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')} {model.path}\\n")
    return _validate(model, *args, **kwargs)


run.validate = _recorded
"""

PLAIN_TESTS = """
import pytest


@pytest.mark.parametrize("n", range(6))
def test_plain(n):
    pass


@pytest.mark.xdist_group("pair")
@pytest.mark.parametrize("n", range(3))
def test_grouped(n):
    pass
"""

RESULT_LINE = re.compile(r"^\[(gw\d+)\] \[\s*\d+%\] (\w+) (\S+)::(\S+)", re.M)


def pytest_fleet(folder: Path, *args: str) -> tuple[subprocess.CompletedProcess, list[tuple[str, str]]]:
    """``pytest -v ARGS`` in ``folder``; and the validations recorded, ``(worker, model path)`` each."""
    (folder / "conftest.py").write_text(RECORDER)
    log = folder / "validations.log"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        env={**os.environ, "FLEET_LOG": str(log)},
    )
    validations = [tuple(line.split(" ", 1)) for line in log.read_text().splitlines()] if log.exists() else []
    return result, validations  # type: ignore[return-value]


@pytest.mark.parametrize("dist", [[], ["--dist", "load"], ["--dist", "loadgroup"]], ids=["default", "load", "group"])
def test_each_model_is_validated_once_on_one_worker(fleet, dist):
    (fleet / "test_plain.py").write_text(PLAIN_TESTS)
    result, validations = pytest_fleet(fleet, "--inspect-models", "models", "test_plain.py", "-n", "2", *dist)
    assert result.returncode == 0, result.stdout + result.stderr
    models = [str(fleet / "models" / name) for name in CONVS]
    assert sorted(path for _, path in validations) == models, "every model validated exactly once"
    assert {worker for worker, _ in validations} == {"gw0", "gw1"}, "the models are spread over both workers"

    ran = RESULT_LINE.findall(result.stdout)
    assert len(ran) == sum(CONVS.values()) + 9, result.stdout
    workers = collections.defaultdict(set)
    for worker, outcome, file, layer in ran:
        assert outcome == "PASSED", (file, layer)
        workers[file].add(worker)
    for name, convs in CONVS.items():
        items = [layer for _, _, file, layer in ran if file == f"models/{name}"]
        assert sorted(items) == [f"conv{i}" for i in range(convs)]
        assert len(workers[f"models/{name}"]) == 1, f"{name}'s layers ran on {sorted(workers[f'models/{name}'])}"
        assert workers[f"models/{name}"] == {w for w, path in validations if path.endswith(name)}
    grouped = [(worker, test) for worker, _, _, test in ran if test.startswith("test_grouped")]
    if "loadgroup" in dist and all(test.endswith("@pair") for _, test in grouped):
        # the other tests keep their xdist_group wherever xdist applies it (pytest 9 with xdist 3.8 does not: it
        # drops the group of every test, with or without this plugin)
        assert len({worker for worker, _ in grouped}) == 1


def test_tests_that_are_not_models_keep_their_xdist_group(tmp_path):
    """What xdist's loadgroup does with a grouped test's node id (``…@pair``) this scheduler does too; a model
    file's items share its path; under ``load`` every other test is its own unit."""
    from inspector.testing.model_scheduling import ModelScheduling

    scheduler = object.__new__(ModelScheduling)
    scheduler.config = type("Config", (), {"rootpath": tmp_path})()
    scheduler.claims = lambda path: path.suffix == ".onnx"
    for groups, grouped in ((True, "pair"), (False, "test_plain.py::test_grouped[0]@pair")):
        scheduler.groups = groups
        assert scheduler._split_scope("test_plain.py::test_grouped[0]@pair") == grouped
        assert scheduler._split_scope("models/a.onnx::conv2") == "models/a.onnx"
        assert scheduler._split_scope("test_plain.py::test_plain[1]") == "test_plain.py::test_plain[1]"
