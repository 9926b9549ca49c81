"""Property tests: random valid Conv / ConvTranspose attributes, engine against onnxruntime one-node models.

An element passes when ``|engine - ort| <= 2 * gamma_n * (conv(|x|, |w|) + |b|)``: each side sums ``n`` terms in
float32 (or the engine in float64), so each lies within the worst-case rounding bound ``gamma_n = n*u / (1 - n*u)``
of the exact sum in any order (plus, for float16 inputs, the rounding of the engine's result to float16).  That
holds by argument on any CPU, whatever kernels onnxruntime picks.
The block budgets are sometimes shrunk to a few bytes so that the tiny random cases still cross block borders (and
tiny depthwise cases then take the engine's tap-by-tap road).
"""

from __future__ import annotations

import contextlib
from unittest import mock

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

from inspector.engine import flat_correlation
from inspector.engine.numpy_conv import conv, conv_integer, conv_magnitude, conv_transpose, conv_transpose_magnitude
from inspector.model.padding import conv_pads, conv_transpose_pads

U32, TINY32 = 2.0**-24, 2.0**-126
U16, TINY16 = 2.0**-11, 2.0**-14
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run_onnxruntime(op_type: str, inputs: dict[str, np.ndarray], **attributes) -> np.ndarray:
    """One-node model run by onnxruntime on one non-spinning thread."""
    node = helper.make_node(op_type, list(inputs), ["y"], **attributes)
    output_type = TensorProto.INT32 if op_type == "ConvInteger" else TensorProto.FLOAT
    graph = helper.make_graph(
        [node],
        "one_node",
        [
            helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
            for n, a in inputs.items()
        ],
        [helper.make_tensor_value_info("y", output_type, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, inputs)[0]


def run_float32(op_type: str, inputs: list[np.ndarray], **attributes) -> np.ndarray:
    """``run_onnxruntime`` on float32 copies of x, w and the optional bias."""
    named = {name: a.astype(np.float32) for name, a in zip(["x", "w", "b"], inputs, strict=False)}
    return run_onnxruntime(op_type, named, **attributes)


@st.composite
def conv_cases(draw: st.DrawFn, transpose: bool) -> dict:
    """Channel counts, geometry, auto_pad and dtype of one valid convolution."""
    rank = draw(st.integers(1, 3))
    small = 2 if rank == 3 else 3
    groups = draw(st.integers(1, 3))
    depthwise = draw(st.booleans())
    in_per_group = 1 if depthwise else draw(st.integers(1, 3))
    out_per_group = draw(st.integers(1, 3))
    kernel = draw(st.lists(st.integers(1, small), min_size=rank, max_size=rank))
    strides = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    auto_pad = draw(st.sampled_from(["NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    # onnxruntime rejects dilations with SAME_* padding
    dilations = draw(st.lists(st.integers(1, 1 if auto_pad.startswith("SAME") else 3), min_size=rank, max_size=rank))
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilations, strict=True)]
    pads = [draw(st.integers(0, min(2, span - 1))) for span in spans * 2]
    case = {
        "rank": rank,
        "batch": draw(st.integers(1, 2)),
        "groups": groups,
        "channels": groups * in_per_group,
        "out_channels": groups * out_per_group,
        "kernel": kernel,
        "strides": strides,
        "dilations": dilations,
        "pads": pads,
        "auto_pad": auto_pad,
        "bias": draw(st.booleans()),
        "dtype": draw(st.sampled_from([np.float32, np.float32, np.float16])),
        "accumulate": draw(st.sampled_from([None, "float64"])),
        "seed": draw(st.integers(0, 2**32 - 1)),
        "block_bytes": draw(st.sampled_from([None, 1, 96, 1024])),
    }
    if transpose:
        case["spatial"] = draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank))
        case["output_padding"] = [draw(st.integers(0, s - 1)) for s in strides]  # onnxruntime: < stride
        case["use_output_shape"] = case["auto_pad"] == "NOTSET" and draw(st.booleans())
    else:
        outputs = draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank))
        extra = [draw(st.integers(0, s - 1)) for s in strides]
        case["spatial"] = [
            max(1, (o - 1) * s + span + e - pb - pe, span)
            for o, s, span, e, pb, pe in zip(outputs, strides, spans, extra, pads[:rank], pads[rank:], strict=True)
        ]
    return case


def _block_budget(case: dict) -> contextlib.AbstractContextManager:
    """Shrink the engine's block budgets so that tiny cases still run through many blocks on every axis, and let
    tiny depthwise cases take the tap-by-tap road (by default only images of ``DIRECT_MIN_SPAN`` positions do)."""
    if case["block_bytes"] is None:
        return contextlib.nullcontext()
    stack = contextlib.ExitStack()
    for name in ("COLUMN_BUDGET_BYTES", "DEPTHWISE_BLOCK_BYTES"):
        stack.enter_context(mock.patch.object(flat_correlation, name, case["block_bytes"]))
    stack.enter_context(mock.patch.object(flat_correlation, "DIRECT_MIN_SPAN", 1))
    return stack


def _operands(case: dict, weight_shape: tuple[int, ...]) -> list[np.ndarray]:
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["batch"], case["channels"], *case["spatial"]))
    w = rng.standard_normal(weight_shape)
    inputs = [x, w, rng.standard_normal(case["out_channels"])] if case["bias"] else [x, w]
    return [a.astype(case["dtype"]) for a in inputs]


def _terms(inputs: list[np.ndarray], inputs_per_group: int) -> int:
    """Terms one output element sums: products over a group's input channels and the kernel, and the bias."""
    return inputs_per_group * int(np.prod(inputs[1].shape[2:])) + (len(inputs) == 3)


def _assert_within_bound(got: np.ndarray, want: np.ndarray, magnitude: np.ndarray, terms: int) -> None:
    """Both sides within ``gamma_n * magnitude`` (and underflow) of the exact sum; float16 results rounded once more."""
    assert got.shape == want.shape
    gamma = terms * U32 / (1 - terms * U32)
    bound = 2 * (gamma * magnitude + terms * TINY32)
    if got.dtype == np.float16:
        bound += U16 * (np.abs(want) + bound) + TINY16
    excess = np.abs(got.astype(np.float64) - want) - bound
    assert (excess <= 0).all(), f"max excess {excess.max():.3g} over the bound"


@SETTINGS
@given(conv_cases(transpose=False))
def test_conv_matches_onnxruntime(case: dict) -> None:
    inputs = _operands(case, (case["out_channels"], case["channels"] // case["groups"], *case["kernel"]))
    attributes = {"strides": case["strides"], "dilations": case["dilations"], "group": case["groups"]}
    if case["auto_pad"] == "NOTSET":
        attributes["pads"] = pads = case["pads"]
    else:
        attributes["auto_pad"] = case["auto_pad"]
        pads = conv_pads(case["auto_pad"], case["spatial"], case["kernel"], case["strides"], case["dilations"])
    want = run_float32("Conv", inputs, **attributes)
    engine_args = {
        "strides": case["strides"],
        "dilations": case["dilations"],
        "pads": pads,
        "groups": case["groups"],
    }
    with _block_budget(case):
        got = conv(*inputs, **engine_args, accumulate=case["accumulate"])
    assert got.dtype == (np.float64 if case["accumulate"] else case["dtype"])
    magnitude = conv_magnitude(*inputs, **engine_args, accumulate="float64")
    _assert_within_bound(got, want, magnitude, _terms(inputs, case["channels"] // case["groups"]))


@SETTINGS
@given(conv_cases(transpose=True))
def test_conv_transpose_matches_onnxruntime(case: dict) -> None:
    groups = case["groups"]
    inputs = _operands(case, (case["channels"], case["out_channels"] // groups, *case["kernel"]))
    attributes = {
        "strides": case["strides"],
        "dilations": case["dilations"],
        "group": groups,
        "output_padding": case["output_padding"],
    }
    engine_args = {**attributes}
    engine_args["groups"] = engine_args.pop("group")
    natural = [
        s * (n - 1) + op + (k - 1) * d + 1
        for n, s, op, k, d in zip(
            case["spatial"], case["strides"], case["output_padding"], case["kernel"], case["dilations"], strict=True
        )
    ]
    if case["use_output_shape"]:
        attributes["output_shape"] = engine_args["output_shape"] = [
            max(1, n - p) for n, p in zip(natural, case["pads"][: case["rank"]], strict=True)
        ]
    elif case["auto_pad"] == "NOTSET":
        rank = case["rank"]
        pads = [min(b, (n - 1) // 2) for b, n in zip(case["pads"], natural * 2, strict=True)]
        attributes["pads"] = engine_args["pads"] = pads[:rank] + pads[rank:]
    else:
        attributes["auto_pad"] = case["auto_pad"]
        engine_args["pads"] = conv_transpose_pads(
            case["auto_pad"],
            case["spatial"],
            case["kernel"],
            case["strides"],
            case["dilations"],
            case["output_padding"],
        )
    want = run_float32("ConvTranspose", inputs, **attributes)
    with _block_budget(case):
        got = conv_transpose(*inputs, **engine_args, accumulate=case["accumulate"])
    magnitude = conv_transpose_magnitude(*inputs, **engine_args, accumulate="float64")
    _assert_within_bound(got, want, magnitude, _terms(inputs, case["channels"] // groups))


@SETTINGS
@given(conv_cases(transpose=False), st.integers(0, 255), st.integers(0, 255))
def test_conv_integer_matches_onnxruntime_exactly(case: dict, x_zero: int, w_zero: int) -> None:
    rng = np.random.default_rng(case["seed"])
    x = rng.integers(0, 256, (case["batch"], case["channels"], *case["spatial"]), dtype=np.uint8)
    w = rng.integers(
        0, 256, (case["out_channels"], case["channels"] // case["groups"], *case["kernel"]), dtype=np.uint8
    )
    zero_points = {"x_zero_point": np.array(x_zero, np.uint8), "w_zero_point": np.array(w_zero, np.uint8)}
    geometry = {"strides": case["strides"], "dilations": case["dilations"], "pads": case["pads"]}
    want = run_onnxruntime("ConvInteger", {"x": x, "w": w, **zero_points}, group=case["groups"], **geometry)
    got = conv_integer(x, w, *zero_points.values(), groups=case["groups"], **geometry)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, want)


def test_many_blocks_at_the_default_budget_match_onnxruntime() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 16, 70, 90), dtype=np.float32)
    w = rng.standard_normal((24, 8, 3, 3), dtype=np.float32)
    attributes = {"strides": [1, 2], "dilations": [2, 1], "pads": [2, 1, 0, 1]}
    want = run_float32("Conv", [x, w], group=2, **attributes)
    got = conv(x, w, groups=2, **attributes)
    magnitude = conv_magnitude(x, w, groups=2, accumulate="float64", **attributes)
    _assert_within_bound(got, want, magnitude, _terms([x, w], 8))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_default_result_dtype_is_the_input_dtype(dtype: type) -> None:
    x = np.ones((1, 2, 5, 5), dtype)
    w = np.ones((3, 2, 3, 3), dtype)
    assert conv(x, w).dtype == dtype
    assert conv_transpose(x, np.ones((2, 3, 3, 3), dtype)).dtype == dtype
