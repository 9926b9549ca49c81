"""The progress bar: drawn on stderr when it is a terminal, per layer, for inspecting and validating; never with
--quiet or when stderr is not a terminal; never mixed into the report."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import inspector
from tests.conftest import SAMPLES

SEED = str(SAMPLES / "seed.onnx")


def _run(*arguments: str, terminal: bool) -> tuple[str, str]:
    """stdout and stderr of ``inspect ARGUMENTS``, stderr a pseudo-terminal when ``terminal``."""
    command = [sys.executable, "-c", "from inspector.cli.main import main; raise SystemExit(main())", *arguments]
    if not terminal:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        return done.stdout, done.stderr
    leader, follower = pty.openpty()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    stdout = process.communicate()[0].decode()
    os.close(leader)
    return stdout, b"".join(chunks).decode(errors="replace")


def test_a_terminal_sees_each_phase_and_layer_and_the_report_stays_on_stdout():
    stdout, stderr = _run("--validate", SEED, terminal=True)
    assert f"inspecting {SEED}" in stderr and f"validating {SEED}: conv2" in stderr and "2/2" in stderr
    assert "all checks hold" in stdout and "all checks hold" not in stderr


def test_quiet_or_a_pipe_draws_nothing():
    for arguments, terminal in ((("--validate", "--quiet", SEED), True), (("--validate", SEED), False)):
        stdout, stderr = _run(*arguments, terminal=terminal)
        assert stderr == "" and "all checks hold" in stdout


def test_the_filter_analyzer_reports_each_layer_it_finishes():
    seen: list[tuple[str, int, int]] = []
    with inspector.load(SEED) as model:
        inspector.analyze(model, options=inspector.Options(progress=lambda *step: seen.append(step)))
    assert seen == [("conv1", 1, 2), ("conv2", 2, 2)]
