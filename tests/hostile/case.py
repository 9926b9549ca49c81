"""A corpus case: a name, a builder that writes the file into an empty folder, and the one answer it must get."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import SAMPLES
from tests.hostile.outcome import EXIT_CODES, LOAD_ERROR, Examined, examine, examine_capped

SAMPLE_FILES = tuple(sorted(p for p in SAMPLES.rglob("*") if p.suffix in (".onnx", ".h5", ".keras")))
"""Every sample model (ONNX and Keras), the raw material of truncations, flips and the fuzzer."""

Builder = Callable[[Path], Path]
"""Writes a case into the empty folder it is given (whose parent is private to the case) and returns the
path to inspect."""

SHORTEST_FRAGMENT = 4
"""Characters (not counting spaces) a ``match`` needs, so that it says something about the answer."""


@dataclass(frozen=True, slots=True)
class Case:
    """One hostile file and the one answer it must get.

    ``expected`` is one outcome (``LOAD_ERROR``, ``CHECK_FAILS``, ``OK`` or ``OK_WITH_WARNING``), and so one exit
    code of ``inspect`` (``exit_code``).  ``match`` is a fragment (plain text, not a pattern) the answer must contain,
    the case's own paths left out (see ``said``): for an error, part of its one line; for a report, part of
    ``outcome.report_text`` (the line ``<n> layers (<c> conv), <p> params`` or a finding
    ``<severity> [<check>] <layer>: <message>``).  ``lazy`` is a fragment one error reading a weight after a
    successful load must contain.  ``known_bug`` says what the tool does wrong today (the case states the right
    answer and its test is a strict xfail).  ``capped`` says why the case runs in a child process with a capped
    address space (a C library allocating gigabytes before any check can run).  ``validate``, when given, is the
    outcome of ``inspect --validate`` on the file, and ``validate_match`` a fragment of its answer (``match`` when
    empty): such a case also runs through the CLI, plain and with ``--validate``, under an address-space limit
    (``tests/test_hostile_validate.py``).
    """

    name: str
    build: Builder
    expected: str
    match: str
    lazy: str = ""
    known_bug: str = ""
    capped: str = ""
    validate: str = ""
    validate_match: str = ""

    def __post_init__(self) -> None:
        if self.expected not in EXIT_CODES:
            raise ValueError(f"{self.name}: expected must be one outcome of {sorted(EXIT_CODES)}: {self.expected!r}")
        if self.validate and self.validate not in EXIT_CODES:
            raise ValueError(f"{self.name}: validate must be one outcome of {sorted(EXIT_CODES)}: {self.validate!r}")
        if (
            self.validate
            and self.validate != LOAD_ERROR
            and len(self.validate_match.replace(" ", "")) < SHORTEST_FRAGMENT
        ):
            raise ValueError(f"{self.name}: a report under --validate must state a fragment of it (validate_match)")
        if len(self.match.replace(" ", "")) < SHORTEST_FRAGMENT:
            raise ValueError(f"{self.name}: match must state a fragment of the answer's text: {self.match!r}")

    @property
    def exit_code(self) -> int:
        """The exit code ``inspect`` must give this file alone."""
        return EXIT_CODES[self.expected]


def case(name: str, build: Builder, expected: str, match: str, **details: str) -> Case:
    """A ``Case``; ``details``: ``lazy``, ``known_bug``, ``capped``, ``validate``, ``validate_match``."""
    return Case(name, build, expected, match, **details)


def said(text: str, path: Path, root: Path) -> str:
    """``text`` with the model's path and the case's folder ``root`` written as ``<model>`` and ``<case>``: a
    fragment must be matched by what the tool says, not by the case's name in a temporary folder's."""
    return text.replace(str(path), "<model>").replace(str(root), "<case>")


def examine_clean(path: Path, capped: bool = False) -> Examined:
    """``examine`` a file (in a capped child process if asked) and check that an error names it."""
    result = examine_capped(path) if capped else examine(path)
    if result.outcome == LOAD_ERROR:
        assert path.name in result.message, f"the error does not name the file: {result.message}"
    return result


def run_case(item: Case, folder: Path) -> Examined:
    """Build ``item`` in ``folder``, examine it and check the outcome and the fragment; returns what happened."""
    path = item.build(folder)
    result = examine_clean(path, capped=bool(item.capped))
    text = said(result.message, path, folder.parent)
    assert result.outcome == item.expected, f"{item.name}: {result.outcome}, not {item.expected}: {text}"
    assert item.match in text, f"{item.name}: {text!r} lacks {item.match!r}"
    if item.lazy:
        assert any(item.lazy in e for e in result.lazy_errors), f"{item.name}: {result.lazy_errors}"
    return result
