"""Wall time of ``inspect MODEL`` (the text report, piped) on a model of 12,000 layers.

Run ``python benchmarks/bench_text.py`` (a few seconds).  It writes a chain of ``--layers`` small nodes (by default
12,000: a 3×3 Conv with its own tiny weight and bias, then a Relu, and so on) with onnx.helper into a temporary
folder, unless ``--model`` names one, then runs ``inspect MODEL`` in a fresh process ``--repeat`` times, output to
a pipe as in a CI log, and prints the median and best wall times (target: at most 2 s) and the report's line count.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CHANNELS = 2
SIZE = 8


def build_chain(path: Path, layers: int) -> None:
    """A chain of ``layers`` nodes, Conv and Relu in turn, on a 1×2×8×8 input; tiny weights, ``ir_version=10``."""
    rng = np.random.default_rng(0)
    nodes, initializers = [], []
    previous = "x"
    for index in range(layers):
        output = f"t{index}"
        if index % 2 == 0:
            weight = rng.standard_normal((CHANNELS, CHANNELS, 3, 3)).astype(np.float32)
            bias = rng.standard_normal(CHANNELS).astype(np.float32)
            initializers += [numpy_helper.from_array(weight, f"w{index}"), numpy_helper.from_array(bias, f"b{index}")]
            nodes.append(
                helper.make_node(
                    "Conv", [previous, f"w{index}", f"b{index}"], [output], name=f"conv{index}", pads=[1] * 4
                )
            )
        else:
            nodes.append(helper.make_node("Relu", [previous], [output], name=f"relu{index}"))
        previous = output
    shape = [1, CHANNELS, SIZE, SIZE]
    graph = helper.make_graph(
        nodes,
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(previous, TensorProto.FLOAT, shape)],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)
    onnx.save(model, str(path))


def time_inspect(model: Path) -> tuple[float, int]:
    """Wall seconds of one ``inspect MODEL`` process writing to a pipe, and the number of lines it printed."""
    command = [sys.executable, "-m", "inspector", str(model)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr}")
    return elapsed, done.stdout.count("\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=12_000, help="nodes in the chain (default 12,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of inspect (default 3)")
    parser.add_argument("--model", type=Path, help="time this model instead of building the chain")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        model = arguments.model
        if model is None:
            model = Path(folder) / "chain.onnx"
            build_chain(model, arguments.layers)
        runs = [time_inspect(model) for _ in range(arguments.repeat)]
    times = [seconds for seconds, _ in runs]
    print(f"model: {arguments.model or f'a chain of {arguments.layers:,} Conv/Relu nodes'}")
    print(
        f"inspect MODEL (text, piped): median {statistics.median(times):.2f} s, best {min(times):.2f} s "
        f"over {len(times)} runs (target ≤ 2 s); {runs[0][1]:,} lines"
    )


if __name__ == "__main__":
    main()
