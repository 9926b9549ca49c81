"""Hostile files through the ``inspect`` command, plain and with ``--validate``, each run in a child process whose
address space is capped at 1 GiB and which must answer within 10 s: the exit code and fragment its case states, one
line on stderr for a refusal, never a traceback.

The cases are the corpus cases that state a ``validate`` outcome: files whose sizes, names or paths are built to
make a run spend what it should not (symlink loops, pipes, dims whose product overflows or vanishes, constants
folded through ops that hide their shapes, inputs declared huge) or print what it should not (names that would
drive the terminal: no raw control character may reach stdout or stderr).
"""

from __future__ import annotations

import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.case import Case, said
from tests.hostile.corpus import all_cases
from tests.hostile.outcome import EXIT_CODES, LOAD_ERROR

ADDRESS_SPACE_MB = 1024
"""Address space of each run: a run that would allocate past it fails instead, and the test with it."""
SECONDS = 10
DRIVES_THE_TERMINAL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
"""Characters a terminal acts on or that reorder or hide text: none may reach the output raw."""
CASES = [item for item in all_cases() if item.validate and not item.known_bug]


def _cap_address_space() -> None:
    limit = ADDRESS_SPACE_MB << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_every_round_two_class_is_in_the_corpus():
    prefixes = ("symlink/", "special/", "name/", "onnx/external/symlink", "onnx/folded/shape-through-")
    assert all(any(item.name.startswith(prefix) for item in CASES) for prefix in prefixes)
    assert any("declared-huge" in item.name for item in CASES)
    assert any(item.name.startswith("onnx/names/") for item in CASES)


@pytest.mark.parametrize("mode", ["plain", "validate"])
@pytest.mark.parametrize("item", CASES, ids=[item.name for item in CASES])
def test_case_through_the_command_under_a_memory_cap(item: Case, mode: str, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    path = item.build(folder)
    validating = mode == "validate"
    expected = item.validate if validating else item.expected
    # a refusal states its line; a report's own fragment is checked through the API (test_hostile_corpus.py)
    match = (item.validate_match or item.match) if validating else item.match if expected == LOAD_ERROR else ""
    result = subprocess.run(
        [sys.executable, "-m", "inspector", str(path), "--quiet", *(["--validate"] if validating else [])],
        capture_output=True,
        text=True,
        timeout=SECONDS,
        preexec_fn=_cap_address_space,
        check=False,
    )
    answer = said(result.stderr if expected == LOAD_ERROR else result.stdout, path, tmp_path)
    assert result.returncode == EXIT_CODES[expected], f"{item.name} ({mode}): exit {result.returncode}: {answer}"
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    if expected == LOAD_ERROR:
        assert result.stderr.count("\n") == 1 and result.stdout == "", result.stderr
    assert not DRIVES_THE_TERMINAL.search(result.stdout + result.stderr), f"{item.name} ({mode}): a raw control"
    assert match in answer, f"{item.name} ({mode}): {answer!r} lacks {match!r}"


def test_the_cap_is_real(tmp_path):
    """A run that needs more than the cap fails under it (so a passing case stayed below it)."""
    grab = f"bytearray({ADDRESS_SPACE_MB} << 20)"
    result = subprocess.run(
        [sys.executable, "-c", grab], capture_output=True, timeout=SECONDS, preexec_fn=_cap_address_space, check=False
    )
    assert result.returncode != 0 and b"MemoryError" in result.stderr


def test_a_sample_validates_under_the_cap():
    sample = Path(__file__).parent.parent / "samples" / "seed.onnx"
    result = subprocess.run(
        [sys.executable, "-m", "inspector", str(sample), "--validate", "--quiet"],
        capture_output=True,
        text=True,
        timeout=SECONDS,
        preexec_fn=_cap_address_space,
        check=False,
    )
    assert result.returncode == 0, result.stderr
