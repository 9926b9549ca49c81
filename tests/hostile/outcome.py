"""What a hostile file must get: a ``Report`` or an ``InspectorError``, within a time and memory bound.

``examine`` inspects a file as the Python API does (analyzers re-raising), then reads every weight's array:
anything but an ``InspectorError`` propagates, and is a bug.
"""

from __future__ import annotations

import faulthandler
import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import inspector
from inspector.errors import InspectorError
from inspector.model.common import Model
from inspector.options import Options
from inspector.report.model_report import Report

LOAD_ERROR = "load_error"
"""An ``InspectorError``: the CLI exits 2 with one line."""
CHECK_FAILS = "check_fails"
"""A report with an error finding: exit 1."""
OK = "ok"
"""A report with neither errors nor warnings: exit 0."""
OK_WITH_WARNING = "ok_with_warning"
"""A report with warnings and no errors: exit 0."""
EXIT_CODES = {LOAD_ERROR: 2, CHECK_FAILS: 1, OK: 0, OK_WITH_WARNING: 0}
"""The exit code of ``inspect`` for each outcome; every case states exactly one outcome."""

SECONDS = 5.0
"""Longest a file may take; a hang in C code is ended by faulthandler after ``HARD_STOP`` times this."""
HARD_STOP = 6
RSS_GROWTH_MB = 256
"""Largest rise of the process's peak memory while one file is examined."""
CAPPED_ADDRESS_SPACE_MB = 2048
"""Address space of the child process ``examine_capped`` runs in: a C library's huge allocation fails in it."""
_CHILD = (
    "import json, sys\n"
    "from pathlib import Path\n"
    "from tests.hostile.outcome import examine\n"
    "result = examine(Path(sys.argv[1]))\n"
    "print(json.dumps([result.outcome, result.message, list(result.lazy_errors)]))\n"
)


class TooSlow(BaseException):
    """A file took longer than ``SECONDS`` (a ``BaseException`` so no ``except Exception`` hides it)."""


@dataclass(frozen=True, slots=True)
class Examined:
    """The outcome, its text, and the errors reading weights after a successful load.

    The text of an ``InspectorError`` is its message (the CLI's error line); that of a report is ``report_text``.
    """

    outcome: str
    message: str
    lazy_errors: tuple[str, ...] = ()


@contextmanager
def time_limit(seconds: float = SECONDS) -> Iterator[None]:
    """Raise ``TooSlow`` after ``seconds``; kill the process (with tracebacks) should C code never return."""

    def expire(signum: int, frame: object) -> None:
        raise TooSlow(f"took longer than {seconds}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    faulthandler.dump_traceback_later(seconds * HARD_STOP, exit=True)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        faulthandler.cancel_dump_traceback_later()


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _classify(report: Report) -> str:
    if report.errors:
        return CHECK_FAILS
    return OK_WITH_WARNING if any(f.severity == "warning" for f in report.findings) else OK


def report_text(report: Report) -> str:
    """A report in short: ``<n> layers (<c> conv), <p> params``, then each finding as the text report prints it,
    ``<severity> [<check>] <layer>: <message>``."""
    model = report.model
    lines = [f"{len(model.layers)} layers ({len(model.conv_layers)} conv), {model.total_params:,} params"]
    for finding in report.findings:
        where = f"{finding.layer}: " if finding.layer else ""
        lines.append(f"{finding.severity} [{finding.check}] {where}{finding.message}")
    return "\n".join(lines)


def _read_weights(model: Model) -> tuple[str, ...]:
    """Read every weight's canonical array; return the ``InspectorError`` messages this raised."""
    errors = []
    for layer in model.layers:
        for weight in layer.weights.values():
            try:
                weight.array  # noqa: B018 (the read is the point)
            except InspectorError as error:
                errors.append(str(error))
    return tuple(errors)


def examine(path: Path) -> Examined:
    """Inspect ``path`` and read its weights, within ``SECONDS`` and ``RSS_GROWTH_MB``."""
    manager = inspector.get_plugin_manager(load_entry_points=False)
    before = peak_rss_mb()
    with time_limit():
        try:
            report = inspector.inspect_model(path, plugin_manager=manager, options=Options(raise_errors=True))
        except InspectorError as error:
            result = Examined(LOAD_ERROR, str(error))
        else:
            result = Examined(_classify(report), report_text(report), _read_weights(report.model))
    growth = peak_rss_mb() - before
    assert growth < RSS_GROWTH_MB, f"{path.name}: peak memory rose by {growth:.0f} MiB"
    return result


def cap_address_space() -> None:
    """Cap this process's address space at ``CAPPED_ADDRESS_SPACE_MB`` (a ``preexec_fn``)."""
    limit = CAPPED_ADDRESS_SPACE_MB << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def examine_capped(path: Path) -> Examined:
    """``examine`` in a child process whose address space is capped (for cases where the HDF5 library itself
    allocates gigabytes from a corrupt length before it reads anything)."""
    root = Path(__file__).resolve().parents[2]
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=SECONDS * HARD_STOP,
        cwd=root,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
        preexec_fn=cap_address_space,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    outcome, message, lazy = json.loads(child.stdout.splitlines()[-1])
    return Examined(outcome, message, tuple(lazy))
