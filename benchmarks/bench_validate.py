"""Time and memory of ``inspect --validate`` next to one plain onnxruntime load and run of the same model.

Run ``python benchmarks/bench_validate.py`` (about a minute on 2 cores; add ``--big`` for the 2.57 GB model with
external data of :mod:`build_big_model`, 3 more minutes and 2.6 GB of disk).  It writes a ResNet-50-sized model with
random weights (:mod:`build_resnet50`) into a temporary folder, unless ``--model`` names models, then alternates,
``--repeat`` times, two fresh processes per model:

* ``inspect --validate MODEL --format json`` (load, analyze, capture run(s) in onnxruntime, NumPy reruns, compare);
* ``python -c`` that imports onnxruntime, creates a session for MODEL (spinning off, as the tool's sessions)
  and runs it once on a random input.

Each process's wall time and peak resident memory (``ru_maxrss`` from ``wait4``) are measured from outside; the
median and best times and the ratios ``validate / onnxruntime`` are printed (target: at most 2.5 in time, 1.5 in
memory; the best times are the steadier figure on a machine with other load).  The last lines split the
validation of one run into loading and validating.

Linux keeps a process's peak resident memory across ``exec``, so a child forked from a large parent reports at
least the parent's size.  This script therefore stays small: the model is built, and the in-process split is
measured, in child processes too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

BASELINE = """
import sys
import numpy as np
import onnxruntime as ort
options = ort.SessionOptions()
options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # as every session of the tool
session = ort.InferenceSession(sys.argv[1], options, providers=["CPUExecutionProvider"])
feed = {}
for tensor in session.get_inputs():
    shape = [d if isinstance(d, int) else 1 for d in tensor.shape]
    feed[tensor.name] = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
session.run(None, feed)
"""


def measure(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one process running ``command``."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = process.stderr.read().decode() if process.stderr else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}): {stderr}")
    return elapsed, usage.ru_maxrss / 1024


SPLIT = """
import sys, time
start = time.perf_counter()
import inspector
imported = time.perf_counter()
loaded = inspector.load(sys.argv[1])
inspector.analyze(loaded)
loaded_at = time.perf_counter()
result = inspector.validate(loaded)
done = time.perf_counter()
if not result.passed:
    raise SystemExit(inspector.validation_text(result))
print(f"in process: import {imported - start:.2f} s, load + analyze {loaded_at - imported:.2f} s, "
      f"validate {done - loaded_at:.2f} s")
"""


def folder_size_mb(model: Path) -> float:
    """The model's size with its external data (every file of its folder that the model's name starts)."""
    return sum(f.stat().st_size for f in model.parent.glob(model.name + "*")) / 1e6


def compare(model: Path, repeat: int) -> None:
    """Print validate and onnxruntime side by side for ``model``, ``repeat`` alternating runs each."""
    inspect = [sys.executable, "-m", "inspector", "--validate", str(model), "--format", "json", "--quiet"]
    baseline = [sys.executable, "-c", BASELINE, str(model)]
    validate_runs, baseline_runs = [], []
    for _ in range(repeat):
        validate_runs.append(measure(inspect))
        baseline_runs.append(measure(baseline))
    split = subprocess.run([sys.executable, "-c", SPLIT, str(model)], capture_output=True, text=True, check=True)
    v_mem = max(m for _, m in validate_runs)
    b_mem = max(m for _, m in baseline_runs)
    print(f"model {model.name} ({folder_size_mb(model):,.0f} MB), {os.cpu_count()} cores, {repeat} runs each")
    print(f"{'':28}{'median s':>10}{'best s':>8}{'peak MB':>9}")
    for label, runs, memory in (
        ("inspect --validate", validate_runs, v_mem),
        ("onnxruntime load + run", baseline_runs, b_mem),
    ):
        times = [t for t, _ in runs]
        print(f"{label:28}{statistics.median(times):10.2f}{min(times):8.2f}{memory:9.0f}")
    median_ratio = statistics.median(t for t, _ in validate_runs) / statistics.median(t for t, _ in baseline_runs)
    best_ratio = min(t for t, _ in validate_runs) / min(t for t, _ in baseline_runs)
    print(
        f"ratio validate / onnxruntime: {median_ratio:.2f}x median, {best_ratio:.2f}x best (target <= 2.5); "
        f"{v_mem / b_mem:.2f}x peak memory (target <= 1.5)"
    )
    print(split.stdout.strip(), end="\n\n", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append", help="an ONNX model (repeatable; default: built here)")
    parser.add_argument(
        "--big", action="store_true", help="also build and measure the 2.57 GB external-data model (build_big_model)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        models = arguments.model or []
        if not models:
            models.append(Path(folder) / "resnet50.onnx")
            subprocess.run([sys.executable, str(HERE / "build_resnet50.py"), str(models[-1])], check=True)
        if arguments.big:
            models.append(Path(folder) / "big" / "big.onnx")
            models[-1].parent.mkdir()
            subprocess.run([sys.executable, str(HERE / "build_big_model.py"), str(models[-1])], check=True)
        for model in models:
            compare(model, arguments.repeat)


if __name__ == "__main__":
    main()
