"""A corpus case: a name, a builder that writes the file into an empty folder, and the outcomes allowed."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import SAMPLES
from tests.hostile.outcome import LOAD_ERROR, Examined, examine, examine_capped

SAMPLE_FILES = tuple(sorted(p for p in SAMPLES.rglob("*") if p.suffix in (".onnx", ".h5", ".keras")))
"""Every sample model (ONNX and Keras), the raw material of truncations, flips and the fuzzer."""

Builder = Callable[[Path], Path]
"""Writes a case into the empty folder it is given (whose parent is private to the case) and returns the
path to inspect."""


@dataclass(frozen=True, slots=True)
class Case:
    """One hostile file and what must happen to it.

    ``match`` is a regular expression the error (or, for a report, one of its findings) must contain; ``lazy``
    one that an error reading a weight after a successful load must contain.  ``known_bug`` names a bug outside
    the loaders that still breaks the case (the test is then a strict xfail).  ``capped`` says why the case runs in
    a child process with a capped address space (a C library allocating gigabytes before any check can run).
    """

    name: str
    build: Builder
    expected: frozenset[str]
    match: str = ""
    lazy: str = ""
    known_bug: str = ""
    capped: str = ""


def case(name: str, build: Builder, expected: str | frozenset[str], match: str = "", **details: str) -> Case:
    """A ``Case`` whose ``expected`` may be one outcome; ``details``: ``lazy``, ``known_bug``, ``capped``."""
    return Case(name, build, frozenset({expected}) if isinstance(expected, str) else expected, match, **details)


def examine_clean(path: Path, capped: bool = False) -> Examined:
    """``examine`` a file (in a capped child process if asked) and check that an error names it."""
    result = examine_capped(path) if capped else examine(path)
    if result.outcome == LOAD_ERROR:
        assert path.name in result.message, f"the error does not name the file: {result.message}"
    return result


def run_case(item: Case, folder: Path) -> Examined:
    """Build ``item`` in ``folder``, examine it and check the outcome; returns what happened."""
    result = examine_clean(item.build(folder), capped=bool(item.capped))
    assert result.outcome in item.expected, f"{item.name}: {result.outcome} ({result.message})"
    if item.match:
        assert re.search(item.match, result.message), f"{item.name}: {result.message!r} lacks {item.match!r}"
    if item.lazy:
        assert any(re.search(item.lazy, e) for e in result.lazy_errors), f"{item.name}: {result.lazy_errors}"
    return result
