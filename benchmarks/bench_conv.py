"""Speed and memory of the NumPy convolution engine next to onnxruntime and ``onnx.reference``.

Run ``python benchmarks/bench_conv.py`` (about 20 s on 2 cores).  Each case runs, in this one process, the engine and a
one-node onnxruntime model, first both pinned to one thread and then both at the machine's thread count;
engine and onnxruntime calls alternate so that load from elsewhere hits both alike.  ``onnx.reference`` runs
once per case (it is slow).  The engine's threads are NumPy's BLAS threads: they are set through threadpoolctl
when it is installed, else through the OpenBLAS bundled in the NumPy wheel (``ctypes``), else not at all (the
header says so; then set ``OPENBLAS_NUM_THREADS`` before starting).

Columns: ``GFLOP`` of the case (2 per multiply-add), median times in ms, engine GFLOP/s, ``eng/ort`` (lower
is better, 1 = as fast as onnxruntime), ``ref/eng`` (how many times the engine beats ``onnx.reference``),
and the engine's peak extra memory (tracemalloc peak during the call minus its output) in MB and as a
multiple of input + output bytes.
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from inspector.engine.numpy_conv import conv, conv_transpose
from inspector.engine.workspace import release


@dataclass
class Case:
    name: str
    op: str  # "Conv" or "ConvTranspose"
    x_shape: tuple[int, ...]
    w_shape: tuple[int, ...]
    attributes: dict = field(default_factory=dict)

    def operands(self) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(0)
        return (
            rng.standard_normal(self.x_shape, dtype=np.float32),
            rng.standard_normal(self.w_shape, dtype=np.float32),
        )

    def engine_call(self, x: np.ndarray, w: np.ndarray) -> Callable[[], np.ndarray]:
        args = {key: value for key, value in self.attributes.items() if key != "group"}
        args["groups"] = self.attributes.get("group", 1)
        function = conv if self.op == "Conv" else conv_transpose
        return lambda: function(x, w, **args)

    def gflop(self, y: np.ndarray) -> float:
        """2 * multiply-adds: Conv counts per output, ConvTranspose per input element."""
        if self.op == "Conv":
            return 2 * y.size * int(np.prod(self.w_shape[1:])) / 1e9
        return 2 * int(np.prod(self.x_shape)) * int(np.prod(self.w_shape[1:])) / 1e9


def _2d(k: int, *, stride: int = 1, dilation: int = 1, group: int = 1, pad: int = 0) -> dict:
    return {"strides": [stride] * 2, "dilations": [dilation] * 2, "pads": [pad] * 4, "group": group}


CASES = [
    Case("conv 3x3 64->64 56x56", "Conv", (1, 64, 56, 56), (64, 64, 3, 3), _2d(3, pad=1)),
    Case("stem 7x7/2 3->64 224x224", "Conv", (1, 3, 224, 224), (64, 3, 7, 7), _2d(7, stride=2, pad=3)),
    Case("pointwise 1x1 256->64 56x56", "Conv", (1, 256, 56, 56), (64, 256, 1, 1), _2d(1)),
    Case("depthwise 3x3 C=32 112x112", "Conv", (1, 32, 112, 112), (32, 1, 3, 3), _2d(3, group=32, pad=1)),
    Case("depthwise x2 3x3 32->64 112x112", "Conv", (1, 32, 112, 112), (64, 1, 3, 3), _2d(3, group=32, pad=1)),
    Case("dilated 3x3 d=2 64->64 56x56", "Conv", (1, 64, 56, 56), (64, 64, 3, 3), _2d(3, dilation=2, pad=2)),
    Case("grouped 3x3 g=8 64->64 56x56", "Conv", (1, 64, 56, 56), (64, 8, 3, 3), _2d(3, group=8, pad=1)),
    Case(
        "3-D 3x3x3 32->32 8x28x28",
        "Conv",
        (1, 32, 8, 28, 28),
        (32, 32, 3, 3, 3),
        {"strides": [1] * 3, "dilations": [1] * 3, "pads": [1] * 6, "group": 1},
    ),
    Case("transpose 4x4/2 64->32 56->112", "ConvTranspose", (1, 64, 56, 56), (64, 32, 4, 4), _2d(4, stride=2, pad=1)),
    Case("batch 8 conv 3x3 64->64 56x56", "Conv", (8, 64, 56, 56), (64, 64, 3, 3), _2d(3, pad=1)),
]


def one_node_model(case: Case, x: np.ndarray, w: np.ndarray) -> bytes:
    node = helper.make_node(case.op, ["x", "w"], ["y"], **case.attributes)
    graph = helper.make_graph(
        [node],
        "bench",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape),
            helper.make_tensor_value_info("w", TensorProto.FLOAT, w.shape),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10).SerializeToString()


def onnxruntime_call(model: bytes, x: np.ndarray, w: np.ndarray, threads: int) -> Callable[[], np.ndarray]:
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    return lambda: session.run(None, {"x": x, "w": w})[0]


class BlasThreads:
    """Set the thread count of NumPy's BLAS: threadpoolctl if present, else the OpenBLAS bundled with NumPy."""

    def __init__(self) -> None:
        self.how = "not controlled"
        self._set: Callable[[int], object] | None = None
        try:
            from threadpoolctl import threadpool_limits  # optional, not a dependency

            self._set = lambda n: threadpool_limits(n, user_api="blas")
            self.how = "threadpoolctl"
            return
        except ImportError:
            pass
        libs = Path(np.__file__).parent.parent / "numpy.libs"
        for path in sorted(glob.glob(str(libs / "*openblas*"))):
            library = ctypes.CDLL(path)
            for symbol in (
                "scipy_openblas_set_num_threads64_",
                "scipy_openblas_set_num_threads",
                "openblas_set_num_threads",
            ):
                setter = getattr(library, symbol, None)
                if setter is not None:
                    self._set = lambda n, setter=setter: setter(ctypes.c_int(n))
                    self.how = f"ctypes {Path(path).name}:{symbol}"
                    return

    def set(self, threads: int) -> None:
        if self._set is not None:
            self._set(threads)


def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def alternate(first: Callable[[], object], second: Callable[[], object], budget: float) -> tuple[float, float]:
    """Median seconds of two functions run alternately (after a warm-up) for about ``budget`` seconds."""
    first(), second()
    a, b = [timed(first)], [timed(second)]
    rounds = int(min(50, max(5, budget / (a[0] + b[0]))))
    for _ in range(rounds):
        a.append(timed(first))
        b.append(timed(second))
    return statistics.median(a), statistics.median(b)


def matmul_peak() -> float:
    """float32 GFLOP/s of a 1024^3 matmul (best of a few)."""
    a = np.random.default_rng(0).standard_normal((1024, 1024), dtype=np.float32)
    a @ a
    best = min(timed(lambda: a @ a) for _ in range(5))
    return 2 * 1024**3 / best / 1e9


def extra_memory(call: Callable[[], np.ndarray]) -> float:
    """Peak bytes the call allocates beyond its output, its reusable scratch buffers included."""
    release()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        y = call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - before - y.nbytes


def run(threads: int, blas: BlasThreads, budget: float, with_reference: bool) -> None:
    blas.set(threads)
    print(f"\n== {threads} thread(s): float32 matmul peak {matmul_peak():.0f} GFLOP/s ==")
    header = (
        f"{'case':34s} {'GFLOP':>6s} {'engine':>8s} {'GFLOP/s':>8s} {'ort':>8s} {'eng/ort':>7s} "
        f"{'ref':>9s} {'ref/eng':>7s} {'extra MB':>8s} {'x(in+out)':>9s}"
    )
    print(header)
    ratios, reference_ratios, memory_ratios = [], [], []
    for case in CASES:
        x, w = case.operands()
        model = one_node_model(case, x, w)
        engine = case.engine_call(x, w)
        runtime = onnxruntime_call(model, x, w, threads)
        y = runtime()
        np.testing.assert_allclose(engine(), y, rtol=1e-3, atol=1e-3)
        t_engine, t_ort = alternate(engine, runtime, budget)
        ratios.append(t_engine / t_ort)
        if with_reference:
            reference = ReferenceEvaluator(model)
            t_ref = timed(lambda reference=reference, x=x, w=w: reference.run(None, {"x": x, "w": w}))
            reference_ratios.append(t_ref / t_engine)
            ref_text, ref_ratio = f"{t_ref * 1e3:9.1f}", f"{t_ref / t_engine:7.1f}"
        else:
            ref_text, ref_ratio = f"{'-':>9s}", f"{'-':>7s}"
        extra = extra_memory(engine)
        memory_ratios.append(extra / (x.nbytes + y.nbytes))
        gflop = case.gflop(y)
        print(
            f"{case.name:34s} {gflop:6.3f} {t_engine * 1e3:8.2f} {gflop / t_engine:8.1f} {t_ort * 1e3:8.2f} "
            f"{t_engine / t_ort:7.2f} {ref_text} {ref_ratio} {extra / 1e6:8.2f} {memory_ratios[-1]:9.2f}"
        )
    summary = f"eng/ort median {statistics.median(ratios):.2f}, worst {max(ratios):.2f}"
    if reference_ratios:
        summary += f"; ref/eng at least {min(reference_ratios):.1f}"
    print(f"{summary}; extra memory at most {max(memory_ratios):.2f} x (input + output)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=0.5, help="seconds of alternating runs per case")
    parser.add_argument("--no-reference", action="store_true", help="skip onnx.reference")
    args = parser.parse_args()
    blas = BlasThreads()
    cores = os.cpu_count() or 1
    print(f"numpy {np.__version__}, onnxruntime {ort.__version__}, {cores} cores; engine BLAS threads: {blas.how}")
    for threads in sorted({1, cores}):
        run(threads, blas, args.budget, not args.no_reference)


if __name__ == "__main__":
    main()
