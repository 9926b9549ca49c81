"""``inspect --validate`` writes nothing but what it is asked to: no file under HOME or the working directory.

onnxruntime 1.32 writes a telemetry device id and event database under ``~/.cache/Microsoft/DeveloperTools`` when
it is imported, unless ``ORT_DISABLE_TELEMETRY`` is set (:mod:`inspector.validation.runtime` sets it).  Each run
here has HOME on an empty scratch folder (``XDG_CACHE_HOME`` and ``ORT_DISABLE_TELEMETRY`` unset) and its working
directory on another; both folders are made read-only (0o555), which binds a user other than root, and afterwards
every file under them is listed.  Root ignores the mode bits, so the listing is the proof; a HOME below a regular
file, which nobody can create anything in, shows that a run does not need a writable HOME either.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "seed.onnx"


def _run(args: list[str], home: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "ORT_DISABLE_TELEMETRY")}
    env["HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "inspector", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def _files(*folders: Path) -> list[str]:
    return sorted(str(path) for folder in folders for path in folder.rglob("*"))


@pytest.mark.parametrize(
    "extra, written",
    [
        ([], []),
        (["--junit", "r.xml", "--format", "json", "-o", "out.json"], ["out.json", "r.xml"]),
    ],
    ids=["plain", "junit-and-json"],
)
def test_validate_writes_only_what_is_asked(tmp_path, extra, written):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    home.chmod(0o555)
    if not written:
        work.chmod(0o555)
    try:
        result = _run(["--validate", str(SAMPLE), *extra], home, work)
    finally:
        home.chmod(0o755)
        work.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert _files(home) == []
    assert _files(work) == [str(work / name) for name in written]


def test_validate_runs_with_a_home_nothing_can_be_written_in(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    work = tmp_path / "work"
    work.mkdir()
    result = _run(["--validate", str(SAMPLE)], blocker / "home", work)
    assert result.returncode == 0, result.stderr
    assert "validation passed" in result.stdout
    assert _files(work) == []
