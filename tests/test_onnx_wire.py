"""The weightless model of an ONNX file: inline weights become references into the file, everything else stays."""

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import inspector
from inspector.plugins.onnx.wire import INLINE_BYTES, weightless_model
from inspector.validation.inputs import random_array

RNG = np.random.default_rng(7)
W = RNG.standard_normal((16, 8, 3, 3)).astype(np.float32)  # 4,608 bytes: past INLINE_BYTES
B = RNG.standard_normal(16).astype(np.float32)  # small: stays inline
SCALE = RNG.standard_normal((1, 16, 1, 1)).astype(np.float32)


def _model(path: Path) -> Path:
    """A conv whose weight is raw bytes, a Mul by a big ``float_data`` tensor, and an ``If`` with a ``Constant``."""
    w = numpy_helper.from_array(W, "w")
    w.data_location = TensorProto.DEFAULT  # written out explicitly: still inline
    # float_data (packed) instead of raw_data
    mul = helper.make_tensor("scale", TensorProto.FLOAT, SCALE.shape, SCALE.ravel().tolist())
    big_mul = helper.make_tensor(
        "big", TensorProto.FLOAT, (1, 16, 12, 12), np.linspace(-1, 1, 16 * 144, dtype=np.float32).tolist()
    )
    then_graph = helper.make_graph(
        [helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(np.float32(2.0), "k_value"))],
        "then",
        [],
        [helper.make_tensor_value_info("k", TensorProto.FLOAT, [])],
    )
    else_graph = helper.make_graph(
        [helper.make_node("Constant", [], ["k2"], value=numpy_helper.from_array(np.float32(3.0), "k2_value"))],
        "else",
        [],
        [helper.make_tensor_value_info("k2", TensorProto.FLOAT, [])],
    )
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["y", "scale"], ["m"]),
        helper.make_node("Add", ["m", "big"], ["a"]),
        helper.make_node("If", ["flag"], ["k_out"], then_branch=then_graph, else_branch=else_graph),
        helper.make_node("Mul", ["a", "k_out"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 12, 12]),
            helper.make_tensor_value_info("flag", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 16, 12, 12])],
        [w, numpy_helper.from_array(B, "b"), mul, big_mul],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)
    onnx.save_model(model, path)
    return path


def _run(model: str | bytes, folder: Path | None = None) -> np.ndarray:
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if folder is not None:
        options.add_session_config_entry("session.model_external_initializers_file_folder_path", str(folder))
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    x = np.linspace(-2, 2, 8 * 144, dtype=np.float32).reshape(1, 8, 12, 12)
    return session.run(None, {"x": x, "flag": np.array(True)})[0]


def test_big_inline_weights_become_references_into_the_file(tmp_path):
    path = _model(tmp_path / "m.onnx")
    light, moved = weightless_model(path)
    assert moved == {"w", "big"}
    assert len(light) < path.stat().st_size - INLINE_BYTES
    graph = onnx.ModelProto.FromString(light).graph
    tensors = {tensor.name: tensor for tensor in graph.initializer}
    assert tensors["b"].data_location == TensorProto.DEFAULT and tensors["b"].HasField("raw_data")
    assert len(tensors["scale"].float_data) == 16  # small float_data stays too
    content = path.read_bytes()
    for name, expected in (("w", W), ("big", np.linspace(-1, 1, 16 * 144, dtype=np.float32))):
        tensor = tensors[name]
        assert tensor.data_location == TensorProto.EXTERNAL
        assert not tensor.HasField("raw_data") and not tensor.float_data
        info = {entry.key: entry.value for entry in tensor.external_data}
        assert info["location"] == "m.onnx"
        stored = content[int(info["offset"]) : int(info["offset"]) + int(info["length"])]
        np.testing.assert_array_equal(np.frombuffer(stored, "<f4"), expected.ravel())
        assert list(tensor.dims) == list(expected.shape if name == "w" else (1, 16, 12, 12))


def test_names_nodes_and_subgraphs_are_kept(tmp_path):
    path = _model(tmp_path / "m.onnx")
    original = onnx.load_model(path).graph
    graph = onnx.ModelProto.FromString(weightless_model(path)[0]).graph
    assert [n.output for n in graph.node] == [n.output for n in original.node]
    assert graph.node[3] == original.node[3]  # the If node and its Constant bodies, byte for byte
    assert [v.name for v in graph.input] == ["x", "flag"] and [v.name for v in graph.output] == ["out"]


def test_onnxruntime_computes_the_same_from_the_references(tmp_path):
    path = _model(tmp_path / "m.onnx")
    expected = _run(str(path))
    np.testing.assert_allclose(_run(weightless_model(path)[0], tmp_path), expected, rtol=1e-6, atol=1e-6)


def test_external_data_is_left_as_it_is(tmp_path):
    model = onnx.load_model(_model(tmp_path / "m.onnx"))
    onnx.save_model(model, tmp_path / "e.onnx", save_as_external_data=True, location="e.data", size_threshold=0)
    original = onnx.load_model(tmp_path / "e.onnx", load_external_data=False).graph
    light, moved = weightless_model(tmp_path / "e.onnx")
    graph = onnx.ModelProto.FromString(light).graph
    assert moved == {"big"}  # onnx leaves float_data inline
    external = [tensor for tensor in original.initializer if tensor.data_location == TensorProto.EXTERNAL]
    assert [tensor.name for tensor in external] == ["w", "b"]
    assert list(graph.initializer)[:2] == external


@pytest.mark.parametrize("content", [b"", b"\x0f\x01", b"\x3a\xff\xff\xff\x0f", b"\x80"])
def test_bytes_that_are_no_protobuf_raise_value_error(tmp_path, content):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(ValueError):
        weightless_model(path)[0]


def test_a_model_reached_through_a_symbolic_link_is_captured(tmp_path):
    """onnxruntime refuses data that resolves outside its folder: the references name the file itself."""
    (tmp_path / "real").mkdir()
    (tmp_path / "links").mkdir()
    real = _model(tmp_path / "real" / "m.onnx")
    link = tmp_path / "links" / "linked.onnx"
    link.symlink_to(real)
    result = inspector.validate(link)
    assert result.passed and result.capture_runs == 1
    assert [layer.mode for layer in result.layers] == ["captured"]


@pytest.mark.parametrize("dtype", [np.bool_, np.float32, np.int8])
def test_random_inputs_of_no_dims_are_arrays(dtype):
    """onnxruntime takes arrays, not NumPy scalars, for inputs of shape () (the model above has a bool one)."""
    value = random_array((), np.dtype(dtype), np.random.default_rng(0))
    assert isinstance(value, np.ndarray) and value.shape == () and value.dtype == dtype
