"""ONNX tensors that lie: external data leaving the folder or shorter than declared, dims claiming terabytes,
and constants whose computation would be huge, deep or impossible."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.hostile.case import Case, case
from tests.hostile.onnx_build import conv_file, external, graph_file, weight, with_dims
from tests.hostile.outcome import CHECK_FAILS, LOAD_ERROR, OK, OK_WITH_WARNING

TERA = [1 << 20, 1 << 20, 3, 3]
"""Dims of a float32 weight of 36 TiB."""
WEIGHT_BYTES = 4 * 2 * 3 * 3 * 4
ONE_CONV = "1 layers (1 conv), 72 params"
"""The report's summary of ``conv_file``: its one Conv and the 72 values of its weight."""
ONE_CONV_VALIDATED = "validation passed: 1 of 1 conv layer matches onnxruntime"


def _outside(folder: Path, size: int = WEIGHT_BYTES) -> Path:
    """A file beside the model's folder, which no model may read."""
    path = folder.parent / "outside.bin"
    path.write_bytes(np.ones(size // 4, "<f4").tobytes())
    return path


def _external_case(location: str, prepare=None, **fields: str):
    def build(folder: Path) -> Path:
        _outside(folder)
        if prepare is not None:
            prepare(folder)
        return conv_file(folder, w=external(weight(), location, **fields))

    return build


def _link(name: str, target: str):
    def prepare(folder: Path) -> None:
        (folder / name).symlink_to(folder.parent / "outside.bin" if target == "outside" else target)

    return prepare


def _link_folder(folder: Path) -> None:
    outside = folder.parent / "elsewhere"
    outside.mkdir()
    (outside / "w.bin").write_bytes(b"\0" * WEIGHT_BYTES)
    (folder / "sub").symlink_to(outside)


def _inside(size: int):
    def prepare(folder: Path) -> None:
        (folder / "w.bin").write_bytes(np.arange(1, size // 4 + 1, dtype="<f4").tobytes())

    return prepare


def _chain(length: int):
    """``link0.bin`` → ``link1.bin`` → … → ``w.bin`` (the weight's bytes), all in the model's folder."""

    def prepare(folder: Path) -> None:
        _inside(WEIGHT_BYTES)(folder)
        for index in range(length):
            target = "w.bin" if index == length - 1 else f"link{index + 1}.bin"
            (folder / f"link{index}.bin").symlink_to(target)

    return prepare


def _fifo(folder: Path) -> None:
    os.mkfifo(folder / "pipe.bin")


def _subfolder(folder: Path) -> None:
    (folder / "sub").mkdir()


def _external_cases() -> list[Case]:
    escapes = {
        "dotdot": ("../outside.bin", None, "leaves the model's folder"),
        "dotdot-nested": ("sub/../../outside.bin", _subfolder, "leaves the model's folder"),
        "backslash": ("..\\outside.bin", None, "leaves the model's folder"),
        "absolute-dev-zero": ("/dev/zero", None, "absolute"),
        "symlink-file": ("link.bin", _link("link.bin", "outside"), "resolves outside"),
        "symlink-folder": ("sub/w.bin", _link_folder, "resolves outside"),
        "symlink-dev-zero": ("zero.bin", _link("zero.bin", "/dev/zero"), "resolves outside"),
        "fifo": ("pipe.bin", _fifo, "not a regular file"),
        "symlink-loop": ("loop.bin", _link("loop.bin", "loop.bin"), "too many levels of symbolic links"),
        "symlink-chain-50": ("link0.bin", _chain(50), "too many levels of symbolic links"),
        "name-too-long": ("w" * 300 + ".bin", None, "the name is too long for the file system"),
        "through-a-file": ("w.bin/more.bin", _inside(WEIGHT_BYTES), "a part of the path is not a folder"),
        "folder": ("sub", _subfolder, "not a regular file"),
        "missing": ("nothing.bin", None, "external data file 'nothing.bin': no such file"),
        "empty-location": ("", None, "has no location"),
    }
    cases = [
        case(f"onnx/external/{name}", _external_case(location, prepare), LOAD_ERROR, match, validate=LOAD_ERROR)
        for name, (location, prepare, match) in escapes.items()
    ]
    cases.append(case("onnx/external/absolute", _absolute, LOAD_ERROR, "absolute"))
    lengths = {
        "shorter-than-declared": ({"length": str(WEIGHT_BYTES)}, WEIGHT_BYTES // 2, "claims bytes"),
        "file-shorter-than-shape": ({}, WEIGHT_BYTES // 2, "holds 144 bytes"),
        "negative-offset": ({"offset": "-8"}, WEIGHT_BYTES, "claims bytes"),
        "huge-offset": ({"offset": str(1 << 70)}, WEIGHT_BYTES, "claims bytes"),
        "bad-offset": ({"offset": "eight"}, WEIGHT_BYTES, "bad offset"),
        "negative-length": ({"length": "-1"}, WEIGHT_BYTES, "claims bytes"),
    }
    cases += [
        case(f"onnx/external/{name}", _external_case("w.bin", _inside(size), **fields), LOAD_ERROR, match)
        for name, (fields, size, match) in lengths.items()
    ]
    cases.append(case("onnx/external/valid", _external_case("w.bin", _inside(WEIGHT_BYTES)), OK, ONE_CONV))
    cases.append(
        case(
            "onnx/external/symlink-chain-10",
            _external_case("link0.bin", _chain(10)),
            OK,
            ONE_CONV,
            validate=OK,
            validate_match=ONE_CONV_VALIDATED,
        )
    )
    cases.append(
        case("onnx/external/terabyte-dims", _external_terabytes, LOAD_ERROR, "shape [1048576, 1048576, 3, 3] needs")
    )
    cases.append(
        case("onnx/external/constant-node-escape", _external_constant, LOAD_ERROR, "leaves the model's folder")
    )
    return cases


def _absolute(folder: Path) -> Path:
    return conv_file(folder, w=external(weight(), str(_outside(folder))))


def _external_terabytes(folder: Path) -> Path:
    (folder / "w.bin").write_bytes(b"\0" * WEIGHT_BYTES)
    return conv_file(folder, w=external(with_dims(weight(), TERA), "w.bin"))


def _external_constant(folder: Path) -> Path:
    _outside(folder)
    node = helper.make_node("Constant", [], ["w"], name="w_const", value=external(weight(), "../outside.bin"))
    return conv_file(folder, extra_nodes=[node], computed=True)


def _constant_of_shape(shape: list[int]):
    def build(folder: Path) -> Path:
        dims = numpy_helper.from_array(np.array(shape, np.int64), "w_shape")
        node = helper.make_node("ConstantOfShape", ["w_shape"], ["w"], name="w_fill")
        return conv_file(folder, extra_nodes=[node], initializers=[dims], computed=True)

    return build


def _hidden_shape(op: str):
    """A weight ``ConstantOfShape(op(...))`` of 4×3×10000×10000 float32 (4,577.6 MiB), its shape passed through
    ``op``, which shape inference does not see through: ``Abs``, ``Max``, ``Where`` (folded: the budget must
    decide from the values) or ``Loop`` (never folded: computed at run time)."""
    big = np.array([4, 3, 10000, 10000], np.int64)
    feeds = {
        "Abs": [-big],
        "Max": [big, np.ones(4, np.int64)],
        "Where": [np.array([True, False, True, False]), big, big],
    }

    def build(folder: Path) -> Path:
        if op == "Loop":
            body = helper.make_graph(
                [helper.make_node("Identity", ["carried"], ["carried_out"])],
                "body",
                [
                    helper.make_tensor_value_info("i", TensorProto.INT64, []),
                    helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
                    helper.make_tensor_value_info("carried", TensorProto.INT64, None),
                ],
                [
                    helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
                    helper.make_tensor_value_info("carried_out", TensorProto.INT64, None),
                ],
            )
            initializers = [numpy_helper.from_array(np.array(1, np.int64), "trips"), numpy_helper.from_array(big, "s0")]
            nodes = [helper.make_node("Loop", ["trips", "", "s0"], ["w_shape"], name="w_loop", body=body)]
        else:
            names = [f"s{i}" for i in range(len(feeds[op]))]
            initializers = [numpy_helper.from_array(value, name) for value, name in zip(feeds[op], names, strict=True)]
            nodes = [helper.make_node(op, names, ["w_shape"], name="w_shape_op")]
        nodes.append(helper.make_node("ConstantOfShape", ["w_shape"], ["w"], name="w_fill"))
        return conv_file(folder, extra_nodes=nodes, initializers=initializers, computed=True)

    return build


def _huge_zero(folder: Path) -> Path:
    """A weight ``ConstantOfShape([0, 3, 2**62, 2**62])``: no element at all, dims whose product overflows int64."""
    dims = numpy_helper.from_array(np.array([0, 3, 1 << 62, 1 << 62], np.int64), "w_shape")
    node = helper.make_node("ConstantOfShape", ["w_shape"], ["w"], name="w_fill")
    return conv_file(folder, extra_nodes=[node], initializers=[dims], computed=True)


def _tile_then_slice(folder: Path) -> Path:
    """A weight sliced from ``Tile(ones(1), [10**8])``: 72 values, made from a 381.5 MiB intermediate tensor."""
    nodes = [
        helper.make_node("Tile", ["one", "repeats"], ["tiled"], name="tiled"),
        helper.make_node("Slice", ["tiled", "begin", "end"], ["flat"], name="flat"),
        helper.make_node("Reshape", ["flat", "w_shape"], ["w"], name="w_reshape"),
    ]
    initializers = [
        numpy_helper.from_array(np.ones(1, np.float32), "one"),
        *(numpy_helper.from_array(np.array(v, np.int64), n) for n, v in _TILE_SLICE.items()),
    ]
    return conv_file(folder, extra_nodes=nodes, initializers=initializers, computed=True)


_TILE_SLICE = {"repeats": [10**8], "begin": [0], "end": [72], "w_shape": [4, 2, 3, 3]}


def _long_input_sliced(folder: Path) -> Path:
    """A weight sliced from a graph input declared 1-D of 10**8 floats (ONNX's data propagation would expand it)."""
    nodes = [
        helper.make_node("Slice", ["v", "begin", "end"], ["flat"], name="flat"),
        helper.make_node("Reshape", ["flat", "w_shape"], ["w"], name="w_reshape"),
    ]
    initializers = [numpy_helper.from_array(np.array(_TILE_SLICE[n], np.int64), n) for n in ("begin", "end", "w_shape")]
    path = conv_file(folder, extra_nodes=nodes, initializers=initializers, computed=True)
    model = onnx.load(path)
    model.graph.input.append(helper.make_tensor_value_info("v", TensorProto.FLOAT, [10**8]))
    onnx.save(model, path)
    return path


def _identity_chain(length: int):
    def build(folder: Path) -> Path:
        names = ["w0", *(f"w{i}" for i in range(1, length)), "w"]
        nodes = [
            helper.make_node("Identity", [a], [b], name=f"id{i}") for i, (a, b) in enumerate(itertools.pairwise(names))
        ]
        return conv_file(folder, extra_nodes=nodes, initializers=[weight(name="w0")], computed=True)

    return build


def _folded_external(location: str):
    """The weight is ``Identity`` of a ``Constant`` whose value is external data at ``location``."""

    def build(folder: Path) -> Path:
        _outside(folder)
        _inside(WEIGHT_BYTES)(folder)
        value = helper.make_node("Constant", [], ["stored"], name="stored", value=external(weight(), location))
        node = helper.make_node("Identity", ["stored"], ["w"], name="w_copy")
        return conv_file(folder, extra_nodes=[value, node], computed=True)

    return build


def _folded_matmul(folder: Path) -> Path:
    """The weight is a product of two constants: costly to compute, so not folded while loading."""
    left = numpy_helper.from_array(np.ones((8, 9), np.float32), "left")
    right = numpy_helper.from_array(np.ones((9, 9), np.float32), "right")
    shape = numpy_helper.from_array(np.array([4, 2, 3, 3], np.int64), "w_shape")
    nodes = [
        helper.make_node("MatMul", ["left", "right"], ["product"], name="product"),
        helper.make_node("Reshape", ["product", "w_shape"], ["w"], name="w_reshape"),
    ]
    return conv_file(folder, extra_nodes=nodes, initializers=[left, right, shape], computed=True)


def _impossible_reshape(folder: Path) -> Path:
    flat = numpy_helper.from_array(np.ones(5, np.float32), "flat")
    shape = numpy_helper.from_array(np.array([4, 2, 3, 3], np.int64), "w_shape")
    node = helper.make_node("Reshape", ["flat", "w_shape"], ["w"], name="w_reshape")
    return conv_file(folder, extra_nodes=[node], initializers=[flat, shape], computed=True)


def _qlinear_scale(folder: Path) -> Path:
    """A QLinearConv whose per-channel weight scale has 3 values for 4 output channels."""
    tensors = [
        numpy_helper.from_array(np.ones((4, 2, 3, 3), np.int8), "qw"),
        numpy_helper.from_array(np.full(3, 0.1, np.float32), "w_scale"),
        numpy_helper.from_array(np.zeros(3, np.int8), "w_zero"),
        numpy_helper.from_array(np.array(0.1, np.float32), "x_scale"),
        numpy_helper.from_array(np.array(0, np.int8), "x_zero"),
        numpy_helper.from_array(np.array(0.1, np.float32), "y_scale"),
        numpy_helper.from_array(np.array(0, np.int8), "y_zero"),
    ]
    quantize = helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zero"], ["xq"], name="quantize")
    inputs = ["xq", "x_scale", "x_zero", "qw", "w_scale", "w_zero", "y_scale", "y_zero"]
    conv = helper.make_node("QLinearConv", inputs, ["yq"], name="qconv")
    dequantize = helper.make_node("DequantizeLinear", ["yq", "y_scale", "y_zero"], ["y"], name="dequantize")
    return graph_file(folder, [quantize, conv, dequantize], tensors)


def _emptied(tensor: TensorProto) -> TensorProto:
    tensor.raw_data = b""
    return tensor


def _tensor_case(name: str, tensor: TensorProto, match: str) -> Case:
    return case(f"onnx/tensor/{name}", lambda folder: conv_file(folder, w=tensor), LOAD_ERROR, match)


def _typed(dims: list[int], values: list[float]) -> TensorProto:
    return with_dims(helper.make_tensor("w", TensorProto.FLOAT, [len(values)], values), dims)


def _constant_node_terabytes(folder: Path) -> Path:
    node = helper.make_node("Constant", [], ["w"], name="w_const", value=with_dims(weight(), TERA))
    return conv_file(folder, extra_nodes=[node], computed=True)


def _retyped(data_type: int) -> TensorProto:
    tensor = weight()
    tensor.data_type = data_type
    return tensor


def _values_in_the_wrong_field() -> TensorProto:
    tensor = helper.make_tensor("w", TensorProto.FLOAT, [4, 2, 3, 3], [0.5] * 72)
    tensor.ClearField("float_data")
    tensor.int64_data.extend([1] * 72)
    return tensor


def _tensor_cases() -> list[Case]:
    strings = helper.make_tensor("w", TensorProto.STRING, [4, 2, 3, 3], [b"x"] * 72)
    return [
        _tensor_case("terabyte-raw", with_dims(weight(), TERA), "declares shape"),
        _tensor_case("terabyte-typed", _typed(TERA, [0.5] * 8), "declares shape"),
        _tensor_case("overflowing-dims", with_dims(weight(), [1 << 62] * 4), "declares shape"),
        _tensor_case("negative-dim", with_dims(weight(), [4, -2, 3, 3]), "negative dimension"),
        _tensor_case(
            "no-element-huge-dims",
            with_dims(_emptied(weight()), [0, 3, 1 << 62, 1 << 62]),
            "of shape [0, 3, 4611686018427387904, 4611686018427387904] has no element, but its other dims are too "
            "large for NumPy",
        ),
        _tensor_case("string-weight", strings, "string tensors"),
        _tensor_case("values-in-the-wrong-field", _values_in_the_wrong_field(), "float_data holds 0"),
        _tensor_case("unknown-element-type", _retyped(99), "not supported"),
        _tensor_case("undefined-element-type", _retyped(TensorProto.UNDEFINED), "not supported"),
        case("onnx/tensor/constant-node-terabytes", _constant_node_terabytes, LOAD_ERROR, "declares shape"),
        case(
            "onnx/folded/constant-of-shape-terabytes",
            _constant_of_shape(TERA),
            CHECK_FAILS,
            "error [params] conv: attributes promise 18,874,368 parameters",
            lazy="of shape [1048576, 1048576, 3, 3] needs 37,748,736 MiB, past the limit of 256 MiB (--max-fold-mb",
            validate=LOAD_ERROR,
            validate_match="recomputing it in NumPy (input [1, 2, 8, 8], output [1, 1048576, 6, 6]) needs",
        ),
        case(
            "onnx/folded/constant-of-shape-1GiB",
            _constant_of_shape([1 << 23, 2, 3, 3]),
            LOAD_ERROR,
            "tensor 'w' (ConstantOfShape) of shape [8388608, 2, 3, 3] needs 576 MiB, past the limit of 256 MiB",
            validate=LOAD_ERROR,
        ),
        case(
            "onnx/folded/constant-of-shape-negative",
            _constant_of_shape([4, -2, 3, 3]),
            LOAD_ERROR,
            "node 'w_fill' (ConstantOfShape): shape input tensor must have non-negative elements",
            validate=LOAD_ERROR,
        ),
        case("onnx/folded/constant-external-in-folder", _folded_external("w.bin"), OK, "3 layers (1 conv), 72 params"),
        case(
            "onnx/folded/constant-external-escape",
            _folded_external("../outside.bin"),
            LOAD_ERROR,
            "location '../outside.bin' leaves the model's folder",
        ),
        case(
            "onnx/folded/matmul-is-not-folded",
            _folded_matmul,
            OK_WITH_WARNING,
            "warning [params] conv: weight is computed at run time",
        ),
        *(
            case(
                f"onnx/folded/shape-through-{op.lower()}",
                _hidden_shape(op),
                LOAD_ERROR,
                "tensor 'w' (ConstantOfShape) of shape [4, 3, 10000, 10000] needs 4,577.6 MiB, past the limit of "
                "256 MiB (--max-fold-mb raises it)",
                validate=LOAD_ERROR,
            )
            for op in ("Abs", "Max", "Where")
        ),
        case(
            "onnx/folded/shape-through-loop",
            _hidden_shape("Loop"),
            OK_WITH_WARNING,
            "warning [params] conv: weight is computed at run time ('w'), of a shape known only then",
            validate=OK_WITH_WARNING,
            validate_match="weight is computed at run time ('w'), of a shape known only then",
        ),
        case(
            "onnx/folded/huge-dims-no-elements",
            _huge_zero,
            CHECK_FAILS,
            "kernel spans 4,611,686,018,427,387,904 inputs (kernel 4,611,686,018,427,387,904, dilation 1) but the "
            "padded input holds 8",
            validate=LOAD_ERROR,
            validate_match="of shape [0, 3, 4611686018427387904, 4611686018427387904] has no element",
        ),
        case(
            "onnx/folded/tile-then-slice",
            _tile_then_slice,
            LOAD_ERROR,
            "tensor 'tiled' (Tile) of shape [100000000] needs 381.5 MiB, past the limit of 256 MiB (--max-fold-mb",
            validate=LOAD_ERROR,
        ),
        case(
            "onnx/graph/long-1d-input-sliced",
            _long_input_sliced,
            OK_WITH_WARNING,
            "warning [shape_inference] shapes inferred without data propagation, which would expand 100,000,002 "
            "values (limit 262,144; the most, tensor 'v')",
            validate=LOAD_ERROR,
            validate_match="validation input 'v' (float32) of shape [100000000] needs 381.5 MiB",
        ),
        case("onnx/folded/identity-chain-3000", _identity_chain(3000), OK, "3001 layers (1 conv), 72 params"),
        case("onnx/folded/impossible-reshape", _impossible_reshape, LOAD_ERROR, "cannot compute constant 'w'"),
        case("onnx/qlinear/scale-per-channel-mismatch", _qlinear_scale, LOAD_ERROR, "w_scale"),
    ]


def cases() -> list[Case]:
    """Every ONNX tensor and external-data case."""
    return [*_external_cases(), *_tensor_cases()]
