"""The ``inspect`` command on hostile files, in subprocesses: exit codes, one line on stderr and no traceback,
``--output`` untouched on failure, bounded memory for files claiming terabytes, and ``--timeout``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from inspector.cli.main import one_line
from tests.conftest import SAMPLES, report_json
from tests.hostile.case import Case, said
from tests.hostile.corpus import all_cases
from tests.hostile.outcome import CHECK_FAILS, LOAD_ERROR, OK, OK_WITH_WARNING, cap_address_space

CORPUS = {item.name: item for item in all_cases()}
UNTOUCHED = "a previous report\n"
PROBE = (
    "import resource, sys\n"
    "from inspector.cli.main import main\n"
    "code = main(sys.argv[1:])\n"
    "print(f'peak_rss_kb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}')\n"
    "sys.exit(code)\n"
)
"""The CLI, then its peak memory on the last line of stdout."""
HUGE = [
    name for name, item in CORPUS.items() if re.search(r"terabyte|GiB", name) and not (item.capped or item.known_bug)
]
CAPPED = [name for name, item in CORPUS.items() if item.capped]
DRAWN_SLOWLY = {"onnx/graph/12000-nodes-one-name"}
"""rich draws some 1,600 table rows a second: this 12,000-layer table takes 7 s as text (JSON is quick)."""
ONE_EACH = ["onnx/attribute/group-zero", "onnx/external/valid", "keras/lambda/h5-bytecode-that-writes-a-file"]


def _build(item: Case, root: Path, index: int) -> Path:
    folder = root / f"case{index}" / "model"
    folder.mkdir(parents=True)
    return item.build(folder)


def _case_root(path: Path) -> Path:
    """The folder ``_build`` made for a case (``case<i>``), holding its ``model`` folder."""
    return path.parent.parent if path.parent.name == "model" else path.parent


def _document_text(document: dict) -> str:
    """A report of ``--format json`` in the words of ``outcome.report_text``."""
    layers = document["layers"]
    conv = sum(layer["kernel_shape"] is not None for layer in layers)
    lines = [f"{len(layers)} layers ({conv} conv), {document['params']['total']:,} params"]
    for finding in document["findings"]:
        where = f"{finding['layer']}: " if finding["layer"] else ""
        lines.append(f"{finding['severity']} [{finding['check']}] {where}{finding['message']}")
    return "\n".join(lines)


def _document_outcome(document: dict) -> str:
    severities = {finding["severity"] for finding in document["findings"]}
    return CHECK_FAILS if "error" in severities else OK_WITH_WARNING if "warning" in severities else OK


def _inspect(*args: str, program: tuple[str, ...] = ("-m", "inspector"), **options) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *program, *args], capture_output=True, text=True, timeout=300, **options)


def _target(root: Path) -> Path:
    target = root / "report.txt"
    target.write_text(UNTOUCHED)
    return target


def test_every_unreadable_case_is_one_line_exit_2_and_writes_nothing(tmp_path):
    """All cases that must be refused, in one run: one error line each, naming its file and saying its fragment."""
    refused = [item for item in CORPUS.values() if item.expected == LOAD_ERROR and not (item.known_bug or item.capped)]
    paths = [_build(item, tmp_path, index) for index, item in enumerate(refused)]
    target = _target(tmp_path)
    result = _inspect(*map(str, paths), "--output", str(target))
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert len(lines) == len(refused) and all(line.startswith("inspect: error: ") for line in lines)
    for item, path in zip(refused, paths, strict=True):
        named = [line for line in lines if one_line(path) + ":" in line]
        assert len(named) == 1, item.name
        assert item.match in said(named[0], Path(one_line(path)), _case_root(path)), (item.name, named[0])
    assert target.read_text() == UNTOUCHED


@pytest.mark.parametrize("form", ["text", "json"])
def test_every_readable_case_renders(tmp_path, form):
    """All cases that give a report, in one run: the report renders (no internal error), as text and as JSON, and
    each JSON report has its case's outcome and fragment."""
    readable = [
        item
        for item in CORPUS.values()
        if item.expected != LOAD_ERROR and not item.known_bug and (form == "json" or item.name not in DRAWN_SLOWLY)
    ]
    paths = [_build(item, tmp_path, index) for index, item in enumerate(readable)]
    result = _inspect(*map(str, paths), "--format", form)
    worst = max(item.exit_code for item in readable)
    assert result.returncode == worst and "Traceback" not in result.stderr, result.stderr[-2000:]
    if form == "json":
        documents = report_json(result.stdout)
        assert len(documents) == len(readable)
        for item, path, document in zip(readable, paths, documents, strict=True):
            text = said(_document_text(document), path, _case_root(path))
            assert (_document_outcome(document), item.match in text) == (item.expected, True), (item.name, text)


@pytest.mark.parametrize("name", ONE_EACH)
def test_exit_code_follows_the_outcome(tmp_path, name):
    item = CORPUS[name]
    path = _build(item, tmp_path, 0)
    target = tmp_path / "report.json"
    result = _inspect(str(path), "--format", "json", "--output", str(target))
    assert result.returncode == item.exit_code, result.stderr
    assert "Traceback" not in result.stderr
    report_json(target.read_text())


def test_debug_shows_the_traceback_of_a_refused_file(tmp_path):
    path = _build(CORPUS["onnx/external/dotdot"], tmp_path, 0)
    quiet, debug = _inspect(str(path)), _inspect(str(path), "--debug")
    assert quiet.returncode == debug.returncode == 2
    assert "Traceback" in debug.stderr and "leaves the model's folder" in debug.stderr.splitlines()[-1]


@pytest.fixture(scope="module")
def baseline_kb() -> int:
    """The CLI's peak memory on a small sample."""
    return _peak_kb(_inspect(str(SAMPLES / "seed.onnx"), program=("-c", PROBE)))


@pytest.mark.parametrize("name", HUGE)
def test_files_claiming_huge_sizes_stay_small_in_memory(tmp_path, baseline_kb, name):
    item = CORPUS[name]
    result = _inspect(str(_build(item, tmp_path, 0)), program=("-c", PROBE))
    assert result.returncode == item.exit_code, result.stderr
    assert _peak_kb(result) - baseline_kb < 150 * 1024


def _peak_kb(result: subprocess.CompletedProcess) -> int:
    return int(result.stdout.strip().splitlines()[-1].removeprefix("peak_rss_kb="))


@pytest.mark.parametrize("name", CAPPED)
def test_under_a_memory_limit_a_huge_allocation_in_hdf5_is_a_one_line_refusal(tmp_path, name):
    path = _build(CORPUS[name], tmp_path, 0)
    result = _inspect(str(path), "--timeout", "60", preexec_fn=cap_address_space)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_timeout_ends_a_run_that_gives_no_answer_with_exit_2(tmp_path):
    path = _build(CORPUS["onnx/external/valid"], tmp_path, 0)
    result = _inspect(str(path), "--timeout", "0.001")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "no answer within 0.001 s" in result.stderr and str(path) in result.stderr


def test_timeout_passes_a_prompt_answer_through(tmp_path):
    path = _build(CORPUS["onnx/attribute/group-zero"], tmp_path, 0)
    result = _inspect(str(path), "--timeout", "60")
    assert result.returncode == 1 and "group must be at least 1" in result.stdout
