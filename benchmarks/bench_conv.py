"""Speed of the NumPy convolution engine's validation path next to onnxruntime as users run it, one thread each.

Run ``pip install -e '.[bench]'`` (adds threadpoolctl) and then ``python benchmarks/bench_conv.py`` (about a
minute).  Each case is a one-node ``Conv`` or ``ConvTranspose`` model with its weight and bias stored as
initializers, as every real model stores them (onnxruntime prepacks them at session creation), run with default
session options except ``intra_op_num_threads=1`` and spinning off.  The engine runs what validation runs (see
``inspector.validation.rerun``): ``conv(x, w, b, accumulate=float64)`` on the same float32 operands, summing in
float64 (the reference the rounding bound of ``inspector.validation.rounding`` assumes), with NumPy's BLAS held to
one thread by threadpoolctl.  Engine and onnxruntime calls alternate, so load from elsewhere hits both alike.

Columns: ``GFLOP`` of the case (2 per multiply-add), median times in ms, engine GFLOP/s, ``eng/ort`` (lower is
better, 1 = as fast as onnxruntime), ``floor``: the ratio a float64 engine running at the float64 matmul peak
of the header would reach (no float64 GEMM-based engine gets below it on this machine), ``f32/ort``: the same
engine summing in float32 (what validation's error scale ``conv(|x|, |w|)`` runs), and the engine's peak extra
memory (tracemalloc peak during the call minus its output) in MB.  The last line gives the median and worst
``eng/ort`` over the cases (targets: 1.4 and 3).
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from threadpoolctl import threadpool_info, threadpool_limits

from inspector.engine.numpy_conv import conv, conv_transpose
from inspector.engine.workspace import release


@dataclass
class Case:
    name: str
    op: str  # "Conv" or "ConvTranspose"
    x_shape: tuple[int, ...]
    w_shape: tuple[int, ...]
    attributes: dict = field(default_factory=dict)

    @property
    def out_channels(self) -> int:
        return self.w_shape[0] if self.op == "Conv" else self.w_shape[1] * self.attributes.get("group", 1)

    def operands(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(0)
        return (
            rng.standard_normal(self.x_shape, dtype=np.float32),
            rng.standard_normal(self.w_shape, dtype=np.float32),
            rng.standard_normal(self.out_channels, dtype=np.float32),
        )

    def engine_call(
        self, x: np.ndarray, w: np.ndarray, b: np.ndarray, accumulate: type = np.float64
    ) -> Callable[[], np.ndarray]:
        args = {key: value for key, value in self.attributes.items() if key != "group"}
        args["groups"] = self.attributes.get("group", 1)
        function = conv if self.op == "Conv" else conv_transpose
        return lambda: function(x, w, b, accumulate=accumulate, **args)

    def gflop(self, y: np.ndarray) -> float:
        """2 * multiply-adds: Conv counts per output, ConvTranspose per input element."""
        if self.op == "Conv":
            return 2 * y.size * int(np.prod(self.w_shape[1:])) / 1e9
        return 2 * int(np.prod(self.x_shape)) * int(np.prod(self.w_shape[1:])) / 1e9


def _nd(rank: int, *, stride: int = 1, dilation: int = 1, group: int = 1, pad: int = 0) -> dict:
    return {"strides": [stride] * rank, "dilations": [dilation] * rank, "pads": [pad] * 2 * rank, "group": group}


def _2d(**geometry: int) -> dict:
    return _nd(2, **geometry)


CASES = [
    Case("3x3 64->64 56x56 (ResNet stage 1)", "Conv", (1, 64, 56, 56), (64, 64, 3, 3), _2d(pad=1)),
    Case("3x3 128->128 28x28 (stage 2)", "Conv", (1, 128, 28, 28), (128, 128, 3, 3), _2d(pad=1)),
    Case("3x3 256->256 14x14 (stage 3)", "Conv", (1, 256, 14, 14), (256, 256, 3, 3), _2d(pad=1)),
    Case("3x3 512->512 7x7 (stage 4)", "Conv", (1, 512, 7, 7), (512, 512, 3, 3), _2d(pad=1)),
    Case("3x3/2 128->128 56->28", "Conv", (1, 128, 56, 56), (128, 128, 3, 3), _2d(stride=2, pad=1)),
    Case("3x3 32->32 224x224 (VGG-like)", "Conv", (1, 32, 224, 224), (32, 32, 3, 3), _2d(pad=1)),
    Case("7x7/2 3->64 224x224 (stem)", "Conv", (1, 3, 224, 224), (64, 3, 7, 7), _2d(stride=2, pad=3)),
    Case("1x1 256->64 56x56", "Conv", (1, 256, 56, 56), (64, 256, 1, 1), _2d()),
    Case("1x1 1024->256 14x14", "Conv", (1, 1024, 14, 14), (256, 1024, 1, 1), _2d()),
    Case("1x1/2 512->1024 28->14 (projection)", "Conv", (1, 512, 28, 28), (1024, 512, 1, 1), _2d(stride=2)),
    Case("depthwise 3x3 C=32 112x112", "Conv", (1, 32, 112, 112), (32, 1, 3, 3), _2d(group=32, pad=1)),
    Case("depthwise 3x3 C=144 56x56", "Conv", (1, 144, 56, 56), (144, 1, 3, 3), _2d(group=144, pad=1)),
    Case("depthwise 3x3/2 C=96 112->56", "Conv", (1, 96, 112, 112), (96, 1, 3, 3), _2d(stride=2, group=96, pad=1)),
    Case("depthwise 3x3 C=576 14x14", "Conv", (1, 576, 14, 14), (576, 1, 3, 3), _2d(group=576, pad=1)),
    Case("depthwise 5x5 C=240 28x28", "Conv", (1, 240, 28, 28), (240, 1, 5, 5), _2d(group=240, pad=2)),
    Case("depthwise x2 3x3 32->64 112x112", "Conv", (1, 32, 112, 112), (64, 1, 3, 3), _2d(group=32, pad=1)),
    Case("grouped 3x3 g=32 128->128 56x56", "Conv", (1, 128, 56, 56), (128, 4, 3, 3), _2d(group=32, pad=1)),
    Case("grouped 3x3 g=8 64->64 56x56", "Conv", (1, 64, 56, 56), (64, 8, 3, 3), _2d(group=8, pad=1)),
    Case("dilated 3x3 d=2 256->256 28x28", "Conv", (1, 256, 28, 28), (256, 256, 3, 3), _2d(dilation=2, pad=2)),
    Case("1-D k=3 256->256 L=1000", "Conv", (1, 256, 1000), (256, 256, 3), _nd(1, pad=1)),
    Case("3-D 3x3x3 32->32 8x28x28", "Conv", (1, 32, 8, 28, 28), (32, 32, 3, 3, 3), _nd(3, pad=1)),
    Case("transpose 4x4/2 64->32 56->112", "ConvTranspose", (1, 64, 56, 56), (64, 32, 4, 4), _2d(stride=2, pad=1)),
    Case("batch 8 3x3 64->64 56x56", "Conv", (8, 64, 56, 56), (64, 64, 3, 3), _2d(pad=1)),
]


def one_node_model(case: Case, w: np.ndarray, b: np.ndarray) -> bytes:
    """The case as a model: weight and bias are initializers, so onnxruntime may prepack them."""
    node = helper.make_node(case.op, ["x", "w", "b"], ["y"], **case.attributes)
    graph = helper.make_graph(
        [node],
        "bench",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, case.x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)
    return model.SerializeToString()


def onnxruntime_call(model: bytes, x: np.ndarray) -> Callable[[], np.ndarray]:
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    return lambda: session.run(None, {"x": x})[0]


def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def alternate(first: Callable[[], object], second: Callable[[], object], budget: float) -> tuple[float, float]:
    """Median seconds of two functions run alternately (after a warm-up), at least 5 times, for about ``budget``."""
    first(), second()
    a, b = [timed(first)], [timed(second)]
    rounds = int(min(100, max(5, budget / (a[0] + b[0]))))
    for _ in range(rounds):
        a.append(timed(first))
        b.append(timed(second))
    return statistics.median(a), statistics.median(b)


def matmul_peak(dtype: type) -> float:
    """GFLOP/s of a 1024^3 matmul in ``dtype`` (best of a few), on the BLAS threads in force."""
    a = np.random.default_rng(0).standard_normal((1024, 1024)).astype(dtype)
    out = np.empty_like(a)
    np.matmul(a, a, out=out)
    return 2 * 1024**3 / min(timed(lambda: np.matmul(a, a, out=out)) for _ in range(5)) / 1e9


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of alternating runs per case")
    parser.add_argument("--only", default="", help="run only the cases whose name contains this text")
    args = parser.parse_args()
    print(f"numpy {np.__version__}, onnxruntime {ort.__version__}; one thread each")
    for library in threadpool_info():
        print(
            f"numpy's BLAS: {library.get('internal_api')} {library.get('version')} ({library.get('architecture')}, "
            f"{library.get('threading_layer')}) {library.get('filepath')}"
        )
    with threadpool_limits(1, user_api="blas"):
        peak64 = matmul_peak(np.float64)
        print(f"1024^3 matmul: float32 {matmul_peak(np.float32):.0f} GFLOP/s, float64 {peak64:.0f} GFLOP/s")
        print(
            f"\n{'case':36s} {'GFLOP':>6s} {'engine ms':>9s} {'GFLOP/s':>7s} {'ort ms':>7s} {'eng/ort':>7s} "
            f"{'floor':>5s} {'f32/ort':>7s} {'extra MB':>8s}"
        )
        ratios, ratios32 = [], []
        for case in CASES:
            if args.only not in case.name:
                continue
            x, w, b = case.operands()
            engine, engine32 = case.engine_call(x, w, b), case.engine_call(x, w, b, np.float32)
            runtime = onnxruntime_call(one_node_model(case, w, b), x)
            y = runtime()
            np.testing.assert_allclose(engine(), y, rtol=1e-3, atol=1e-3)
            t_engine, t_ort = alternate(engine, runtime, args.budget)
            t_engine32, t_ort32 = alternate(engine32, runtime, args.budget / 2)
            ratios.append(t_engine / t_ort)
            ratios32.append(t_engine32 / t_ort32)
            gflop = case.gflop(y)
            print(
                f"{case.name:36s} {gflop:6.3f} {t_engine * 1e3:9.2f} {gflop / t_engine:7.1f} {t_ort * 1e3:7.2f} "
                f"{ratios[-1]:7.2f} {gflop / peak64 / t_ort:5.2f} {ratios32[-1]:7.2f} "
                f"{extra_memory(engine) / 1e6:8.2f}"
            )
    print(f"eng/ort over {len(ratios)} cases: median {statistics.median(ratios):.2f}, worst {max(ratios):.2f}")
    print(f"(float32 path: median {statistics.median(ratios32):.2f}, worst {max(ratios32):.2f})")


if __name__ == "__main__":
    main()
