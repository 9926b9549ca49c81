"""Validation's memory limit (``--max-capture-mb``): every array a file makes validation allocate is sized first.

Each hostile model is built here with onnx.helper and validated by the CLI in a child process whose address space
is capped at 1 GiB, with a 10 s timeout: it must exit 2 with one line naming the file, the tensor, its size and
the flag.  Sizes expected are worked out by hand from the shapes (float32 tensors, the engine's float64 result).
The engine's own size estimates are checked against what tracemalloc sees it allocate.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import random
import re
import resource
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import inspector
from inspector.engine import numpy_conv, workspace
from inspector.engine.footprint import conv_bytes, conv_transpose_bytes
from inspector.errors import ConvolutionError
from inspector.validation.inputs import random_array
from inspector.validation.limits import standalone_output_shape
from inspector.validation.rerun import rerun_bytes

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
MIB = 2**20
ADDRESS_SPACE = 1 << 30
SECONDS = 10


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _validate(path: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inspector", "--validate", str(path), *flags],
        capture_output=True,
        text=True,
        timeout=SECONDS,
        preexec_fn=_cap,
        cwd=path.parent,
    )


def _model(path: Path, op: str, x_shape: list[int], weight: onnx.TensorProto, **attributes: object) -> Path:
    graph = helper.make_graph(
        [helper.make_node(op, ["x", weight.name], ["y"], name="c", **attributes)],
        path.stem,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    onnx.save(model, path)
    return path


def _ones(*shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ones(shape, np.float32), "W")


def _refused(result: subprocess.CompletedProcess, path: Path, *named: str) -> str:
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""  # no report: the run stopped
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("inspect: error: "), result.stderr
    for text in (path.name, *named):
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("side", [20000, 40000])
def test_a_huge_declared_input_is_refused_before_it_is_drawn(tmp_path, side):
    path = _model(tmp_path / f"input{side}.onnx", "Conv", [1, 3, side, side], _ones(4, 3, 3, 3))
    mib = 3 * side * side * 4 / MIB  # the float32 input fed to onnxruntime
    _refused(_validate(path), path, "input 'x'", f"[1, 3, {side}, {side}]", f"{mib:,.1f} MiB", "--max-capture-mb")


def test_a_weight_with_no_element_and_huge_dims_is_exit_2(tmp_path):
    weight = helper.make_tensor("W", TensorProto.FLOAT, [0, 3, 2**62, 2**62], [])
    path = _model(tmp_path / "vanishing.onnx", "Conv", [1, 3, 8, 8], weight, kernel_shape=[2**62, 2**62])
    _refused(_validate(path), path)


def test_an_output_made_huge_by_pads_is_refused_before_onnxruntime_runs(tmp_path):
    path = _model(tmp_path / "pads.onnx", "Conv", [1, 3, 8, 8], _ones(4, 3, 3, 3), pads=[2**40] * 4)
    side = 8 + 2 * 2**40 - 2  # (in + begin + end - kernel) / stride + 1
    _refused(_validate(path), path, "output 'y'", f"[1, 4, {side}, {side}]", "--max-capture-mb")


def test_a_transposed_conv_whose_stride_the_engine_would_loop_over_is_refused(tmp_path):
    path = _model(tmp_path / "stride.onnx", "ConvTranspose", [1, 1, 1, 1], _ones(1, 1, 1, 1), strides=[2**30] * 2)
    _refused(_validate(path), path, "layer 'c'", "recomputing it in NumPy", "--max-capture-mb")


def test_max_capture_mb_sets_the_limit(tmp_path):
    path = _model(tmp_path / "moderate.onnx", "Conv", [1, 3, 1200, 1200], _ones(4, 3, 3, 3))
    x, y = 3 * 1200 * 1200, 4 * 1198 * 1198  # elements of the input and of the output (valid 3x3)
    _refused(_validate(path, "--max-capture-mb", "8"), path, "input 'x'", f"{x * 4 / MIB:,.1f} MiB", "8 MiB")
    # the engine holds its float64 result while it computes the error scale: |x| and a float32 result
    least = (y * 8 + x * 4 + y * 4) / MIB
    assert (x + y) * 4 / MIB < 40 and 2 * 40 < least < 2 * 64 - 16  # 40 MiB holds the capture, not twice the rerun
    line = _refused(_validate(path, "--max-capture-mb", "40"), path, "recomputing it in NumPy", "2 × the limit, 80 MiB")
    needed = float(re.search(r"needs ([\d,.]+) MiB", line)[1].replace(",", ""))
    assert least <= needed <= least + 16
    passed = _validate(path, "--max-capture-mb", "64")
    assert passed.returncode == 0, passed.stderr
    assert "1 of 1 conv layer matches onnxruntime" in passed.stdout


def _peak(call) -> tuple[np.ndarray, int]:
    workspace.release()
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


CONVS = [
    # x shape, w shape, strides, dilations, pads, groups
    ((2, 3, 64, 64), (8, 3, 3, 3), (1, 1), (1, 1), (0, 0, 0, 0), 1),
    ((1, 16, 50, 70), (32, 16, 3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 1),
    ((1, 16, 50, 70), (16, 1, 3, 3), (1, 1), (2, 2), (2, 2, 2, 2), 16),
    ((1, 8, 30, 31), (12, 4, 3, 2), (1, 2), (1, 1), (0, 1, 2, 0), 2),
    ((1, 256, 8, 8), (512, 256, 3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1),
    ((1, 2, 6, 7, 8), (4, 2, 2, 3, 3), (1, 1, 2), (1, 1, 1), (0, 1, 1, 1, 0, 0), 1),
]


@pytest.mark.parametrize("x_shape, w_shape, strides, dilations, pads, groups", CONVS)
def test_conv_bytes_bound_what_the_engine_allocates(x_shape, w_shape, strides, dilations, pads, groups):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(x_shape).astype(np.float32), rng.standard_normal(w_shape).astype(np.float32)
    geometry = {"strides": strides, "dilations": dilations, "pads": pads, "groups": groups}
    for accumulate, absolute in ((np.float64, False), (np.float32, True)):
        function = numpy_conv.conv_magnitude if absolute else numpy_conv.conv
        _, peak = _peak(lambda: function(x, w, accumulate=accumulate, **geometry))  # noqa: B023
        dtypes = {"x_dtype": x.dtype, "w_dtype": w.dtype, "accumulate": accumulate, "absolute": absolute}
        bound = conv_bytes(x_shape, w_shape, **geometry, **dtypes) + (x.nbytes if absolute else 0)  # |x|
        assert peak <= bound, (accumulate, peak, bound)


TRANSPOSED = [
    # x shape, w shape, strides, dilations, pads, groups, output_padding, output_shape
    ((1, 8, 10, 10), (8, 4, 3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 1, (1, 1), None),
    ((2, 16, 12, 9), (16, 8, 3, 5), (3, 2), (2, 1), (0, 2, 1, 0), 1, (1, 0), None),
    ((1, 8, 10, 10), (8, 2, 4, 4), (2, 2), (1, 1), (1, 1, 1, 1), 2, (0, 0), None),
    ((1, 4, 7), (4, 3, 5), (4,), (3,), (2, 1), 1, (2,), None),
    ((1, 8, 10, 10), (8, 4, 3, 3), (2, 2), (1, 1), (0, 0, 0, 0), 1, (0, 0), (22, 23)),
]


@pytest.mark.parametrize("x_shape, w_shape, strides, dilations, pads, groups, padding, output", TRANSPOSED)
def test_conv_transpose_bytes_bound_what_the_engine_allocates(
    x_shape, w_shape, strides, dilations, pads, groups, padding, output
):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(x_shape).astype(np.float32), rng.standard_normal(w_shape).astype(np.float32)
    geometry = {"strides": strides, "dilations": dilations, "pads": pads, "groups": groups}
    geometry |= {"output_padding": padding, "output_shape": output}
    for accumulate in (np.float64, np.float32):
        _, peak = _peak(lambda: numpy_conv.conv_transpose(x, w, accumulate=accumulate, **geometry))  # noqa: B023
        assert peak <= conv_transpose_bytes(x_shape, w_shape, accumulate, **geometry)


def test_random_inputs_are_drawn_without_a_float64_copy():
    shape = (1, 3, 700, 700)
    array, peak = _peak(lambda: random_array(shape, np.dtype(np.float32), np.random.default_rng(7)))
    np.testing.assert_array_equal(array, np.random.default_rng(7).standard_normal(shape).astype(np.float32))
    assert peak < array.nbytes + 12 * MIB + MIB  # the array, and one block of float64 draws rounded to float32


def test_an_inputs_file_is_sized_from_its_headers_before_it_is_read(tmp_path):
    path = _model(tmp_path / "small.onnx", "Conv", [1, 3, "h", "w"], _ones(4, 3, 3, 3))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (1, 3, 9000, 9001)})
    with zipfile.ZipFile(tmp_path / "x.npz", "w") as archive:  # a header, and none of the 972 MB it announces
        archive.writestr("x.npy", header.getvalue())
    mib = 3 * 9000 * 9001 * 4 / MIB
    result = _validate(path, "--inputs", str(tmp_path / "x.npz"))
    _refused(result, path, "input 'x'", "[1, 3, 9000, 9001]", f"{mib:,.1f} MiB", "--max-capture-mb")


def test_sizing_a_hostile_geometry_raises_only_a_convolution_error():
    # strides, dilations, pads, groups and dims of every kind a file can hold: zero, negative, 2**62, wrong counts
    layers = [inspector.load(SAMPLES / "seed.onnx")["conv2"], inspector.load(SAMPLES / "conv_transpose.onnx")["up"]]
    rng = random.Random(0)
    values = [0, 1, 2, 3, -1, 7, 2**62]

    def some(count: int) -> tuple[int, ...]:
        return tuple(rng.choice(values) for _ in range(count))

    for _ in range(2000):
        layer = rng.choice(layers)
        attributes = {"strides": some(rng.choice([1, 2, 3])), "dilations": some(rng.choice([1, 2, 3]))}
        attributes |= {"pads": some(rng.choice([2, 4, 6])), "groups": rng.choice([0, 1, 2, -1])}
        if layer.kind == "conv_transpose":
            attributes["output_padding"] = some(rng.choice([1, 2, 3]))
        if rng.random() < 0.3:
            attributes |= {"pads": None, "auto_pad": rng.choice(["SAME_UPPER", "SAME_LOWER", "VALID", "NOTSET"])}
        hostile = dataclasses.replace(layer, **attributes)
        x, y = (1, rng.choice([0, 1, 8, 32]), *some(rng.choice([1, 2, 3]))), (1, rng.choice([0, 4, 64]), *some(2))
        w = tuple(rng.choice([0, 1, 3, 2**40]) for _ in range(rng.choice([3, 4])))
        with contextlib.suppress(ConvolutionError):
            assert rerun_bytes(hostile, x, np.dtype(np.float32), w, np.dtype(np.float32), y) >= 0
        standalone_output_shape(hostile, x)  # None where no conv has the geometry


def test_a_conv_with_no_input_channel_computes_its_bias():
    bias = np.array([1.5, -2.0, 0.25], np.float32)
    y = numpy_conv.conv(np.zeros((1, 0, 6, 5), np.float32), np.zeros((3, 0, 3, 3), np.float32), bias, pads=[1] * 4)
    np.testing.assert_array_equal(y, np.broadcast_to(bias.reshape(1, 3, 1, 1), (1, 3, 6, 5)))
    y = numpy_conv.conv_transpose(np.zeros((1, 0, 4, 4), np.float32), np.zeros((0, 3, 2, 2), np.float32), bias)
    np.testing.assert_array_equal(y, np.broadcast_to(bias.reshape(1, 3, 1, 1), (1, 3, 5, 5)))
