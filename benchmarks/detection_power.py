"""Detection power of validation: the smallest change of one filter that ``inspector.validate`` catches.

Run ``python benchmarks/detection_power.py`` (about a minute on 2 cores; ``--seeds`` and ``--filters`` choose the
cases).  For each seed it builds one conv, ``3×3, 512 → 64, pads 1, no bias``, with weights ``N(0, 0.05²)`` and a
standard-normal input ``1×512×14×14`` (given to validation as an ``.npz``), and writes it to a temporary
folder.  For each chosen filter ``c`` and scale ``s`` it writes a copy of the model with filter ``c`` multiplied
by ``1 + s`` and validates the *original* model's common model (``inspector.load``: the engine computes with the
original weights) while onnxruntime runs the copy (``dataclasses.replace(model, path=copy)``): a runtime that
gets one filter wrong by a relative ``s``.

``s`` is bisected on a log scale between ``--low`` (must pass) and ``--high`` (must be caught) until the two
are within a factor ``1 + --precision``.  The table shows, per seed and filter, the largest ``s`` let through
and the smallest caught, and ``predicted``: the ``s`` at which the first element of channel ``c`` would leave
its allowance, ``min(allowed / |y|)`` over the channel's elements, from the float64 output ``y`` computed
here (apart from the tool's engine) and the per-element allowance of the layer's rounding bound; a caught
``s`` should match it to within onnxruntime's own rounding error, which is far smaller.  A caught ``s`` that
fails any other channel than ``c`` is printed as a warning.  The last lines give the overall smallest ``s``
caught and the largest let through, the tolerance rule and ``lambda`` validation used for the layer, and how
close the unchanged model's largest error (onnxruntime's output, run here, against float64 products computed
here) comes to its allowance: how much of the allowance onnxruntime's own rounding uses, the rest being room
a fault can hide in.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import inspector
from inspector.validation.rounding import RoundingBound

IR_VERSION = 8
OPSET = 17
IN_CHANNELS = 512
FILTERS = 64
SIZE = 14
WEIGHT_STD = 0.05


def write_conv(path: Path, weight: np.ndarray) -> Path:
    """The one-conv model (3×3, pads 1, no bias) with ``weight`` embedded."""
    node = helper.make_node("Conv", ["image", "W"], ["output"], name="conv", kernel_shape=[3, 3], pads=[1] * 4)
    graph = helper.make_graph(
        [node],
        "detection_power",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, IN_CHANNELS, SIZE, SIZE])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, FILTERS, SIZE, SIZE])],
        initializer=[numpy_helper.from_array(weight, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION  # onnxruntime 1.32 refuses the IR version newer onnx writes by default
    onnx.save(model, path)
    return path


def products(x: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The output (``F×H×W``) and its magnitude ``conv(|x|, |w|)``, in float64 (computed here, apart from the
    tool's engine)."""
    padded = np.pad(x[0].astype(np.float64), ((0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))  # C, H, W, 3, 3
    w = weight.astype(np.float64)
    return np.einsum("chwij,fcij->fhw", windows, w), np.einsum("chwij,fcij->fhw", np.abs(windows), np.abs(w))


class Case:
    """One seed's model and input, validated against copies with one filter scaled."""

    def __init__(self, folder: Path, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.folder = folder
        self.weight = rng.normal(0.0, WEIGHT_STD, (FILTERS, IN_CHANNELS, 3, 3)).astype(np.float32)
        self.x = rng.standard_normal((1, IN_CHANNELS, SIZE, SIZE)).astype(np.float32)
        self.inputs = folder / "inputs.npz"
        np.savez(self.inputs, image=self.x)
        self.model = inspector.load(write_conv(folder / "original.onnx", self.weight))
        self.bound: RoundingBound | None = None
        self.runs = 0

    def caught(self, channel: int, s: float) -> tuple[bool, tuple[int, ...]]:
        """Whether validation fails when onnxruntime's filter ``channel`` is ``1 + s`` times the model's, and
        the failed channels."""
        weight = self.weight.copy()
        weight[channel] *= np.float32(1 + s)
        copy = write_conv(self.folder / "scaled.onnx", weight)
        result = inspector.validate(dataclasses.replace(self.model, path=str(copy)), inputs=self.inputs)
        self.runs += 1
        layer = result["conv"]
        if layer.comparison is None:
            raise SystemExit(f"validation did not compare the layer: {layer.message}")
        self.bound = layer.comparison.bound
        return layer.status == "failed", layer.comparison.failed_channels

    def predicted(self, channel: int) -> float:
        """The ``s`` at which the first element of ``channel`` leaves its allowance (``allowed / |y|``, least)."""
        if self.bound is None:
            self.caught(channel, 0.0)
        assert self.bound is not None
        y, magnitude = products(self.x, self.weight[channel : channel + 1])
        allowed = self.bound.allowed(magnitude, y)
        return float(np.min(allowed / np.maximum(np.abs(y), np.finfo(np.float64).tiny)))

    def headroom(self) -> float:
        """The unchanged model's largest error as a fraction of its allowance: onnxruntime's output (run here)
        against the float64 products."""
        assert self.bound is not None
        session = ort.InferenceSession(str(self.model.path), providers=["CPUExecutionProvider"])
        (actual,) = session.run(["output"], {"image": self.x})
        y, magnitude = products(self.x, self.weight)
        return float(np.max(np.abs(actual[0] - y) / self.bound.allowed(magnitude, y)))


@dataclasses.dataclass
class Threshold:
    seed: int
    channel: int
    passed: float
    caught: float
    predicted: float
    warnings: list[str]


def bisect(case: Case, seed: int, channel: int, low: float, high: float, precision: float) -> Threshold:
    """The largest ``s`` let through and the smallest caught, within a factor ``1 + precision``."""
    warnings = []
    for s, expected in ((low, False), (high, True)):
        caught, channels = case.caught(channel, s)
        if caught != expected:
            raise SystemExit(f"seed {seed} filter {channel}: s = {s:g} is {'' if caught else 'not '}caught")
    while high / low > 1 + precision:
        middle = math.sqrt(low * high)
        caught, channels = case.caught(channel, middle)
        if caught and channels != (channel,):
            warnings.append(f"s = {middle:.3g}: failed channels {channels}, not ({channel},)")
        if caught:
            high = middle
        else:
            low = middle
    return Threshold(seed, channel, low, high, case.predicted(channel), warnings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--filters", type=int, nargs="+", default=[0, 17])
    parser.add_argument("--low", type=float, default=1e-8, help="a scale validation must let through")
    parser.add_argument("--high", type=float, default=1e-1, help="a scale validation must catch")
    parser.add_argument("--precision", type=float, default=0.01, help="stop when high / low <= 1 + this")
    arguments = parser.parse_args()
    if not all(0 <= c < FILTERS for c in arguments.filters):
        parser.error(f"filters are 0 to {FILTERS - 1}")
    start = time.perf_counter()
    thresholds: list[Threshold] = []
    bound: RoundingBound | None = None
    headrooms: list[float] = []
    runs = 0
    print(
        f"conv 3×3, {IN_CHANNELS} → {FILTERS}, pads 1, no bias; input 1×{IN_CHANNELS}×{SIZE}×{SIZE} N(0, 1), "
        f"weights N(0, {WEIGHT_STD}²); filter × (1 + s)"
    )
    print(f"{'seed':>4}{'filter':>8}{'largest passed':>16}{'smallest caught':>17}{'predicted':>11}{'caught/pred':>13}")
    for seed in arguments.seeds:
        with tempfile.TemporaryDirectory() as folder:
            case = Case(Path(folder), seed)
            for channel in arguments.filters:
                t = bisect(case, seed, channel, arguments.low, arguments.high, arguments.precision)
                thresholds.append(t)
                print(
                    f"{t.seed:>4}{t.channel:>8}{t.passed:>16.3e}{t.caught:>17.3e}{t.predicted:>11.3e}"
                    f"{t.caught / t.predicted:>13.3f}"
                )
                for warning in t.warnings:
                    print(f"    warning: {warning}")
            bound = case.bound
            runs += case.runs
            headrooms.append(case.headroom())
    min_caught = min(t.caught for t in thresholds)
    max_passed = max(t.passed for t in thresholds)
    print(f"smallest s caught: {min_caught:.3e}; largest s let through: {max_passed:.3e}")
    if max_passed > min_caught:
        print("  (the ranges overlap: whether a change is caught depends on the seed and the filter)")
    if bound is not None:
        lam = "none" if bound.lam is None else f"{bound.lam:.3f}"
        print(
            f"tolerance: {bound.rule} rule, {bound.describe()}, lambda {lam}, coefficient {bound.coefficient:.3e} "
            f"({bound.coefficient / 2.0**-24:.0f} u, u = 2^-24, accumulation {bound.accumulation})"
        )
    print(
        f"unchanged models: onnxruntime's largest error is {max(headrooms):.2e} of its allowance "
        f"(largest over the seeds; 1 would fail)"
    )
    print(f"{runs} validations in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
