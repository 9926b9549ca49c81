"""What the corpus cannot see from an outcome alone: code in a file never runs, a zip writes nothing, nesting is
refused before shape inference recurses, and the linear-time rewrites keep the old orders and names."""

from __future__ import annotations

import base64
import marshal
import types
from pathlib import Path

import onnx
import onnx.numpy_helper
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import inspector
from inspector.errors import LoadError
from inspector.plugins.keras import hdf5_heaps
from inspector.plugins.keras.config import read_graph
from inspector.plugins.keras.hdf5_heaps import broken_heap_in_file
from inspector.plugins.keras.pass_order import PassOrder
from inspector.plugins.onnx import load_onnx
from inspector.plugins.onnx.tensors import tensor_reader
from tests.hostile.case import SAMPLE_FILES
from tests.hostile.corpus import all_cases
from tests.hostile.corpus_keras_zip import MARKER, planted_code
from tests.hostile.onnx_wire import nested_if_model

CORPUS = {item.name: item for item in all_cases()}


def _build(name: str, tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    return CORPUS[name].build(folder)


@pytest.mark.parametrize(
    "name", ["keras/lambda/h5-bytecode-that-writes-a-file", "keras/lambda/keras-bytecode-that-writes-a-file"]
)
def test_lambda_bytecode_is_never_run(tmp_path, name):
    report = inspector.inspect_model(_build(name, tmp_path))
    assert any("never run" in f.message for f in report.findings)
    assert not (tmp_path / MARKER).exists()


def test_the_planted_bytecode_would_write_its_marker_if_run(tmp_path):
    """The Lambda test means something: the same bytecode, run on purpose here, writes the marker."""
    code = marshal.loads(base64.decodebytes(planted_code(tmp_path / MARKER).encode()))
    assert types.FunctionType(code, {})(7) == 7
    assert (tmp_path / MARKER).read_text() == "ran"


def test_zip_member_names_leaving_the_folder_write_nothing(tmp_path):
    path = _build("keras/zip/member-names-leave-the-folder", tmp_path)
    before = sorted(p for p in tmp_path.rglob("*"))
    model = inspector.load(path)
    assert model.total_params and sorted(p for p in tmp_path.rglob("*")) == before
    assert not Path("/tmp/evil.json").exists()


def test_nesting_is_refused_before_shape_inference(tmp_path, monkeypatch):
    """Shape inference is C++ and recursive: the nesting check runs first (here with a lowered limit)."""
    path = tmp_path / "deep.onnx"
    path.write_bytes(nested_if_model(12))
    monkeypatch.setattr(load_onnx, "MAX_NESTING", 8)
    monkeypatch.setattr(onnx.shape_inference, "infer_shapes", pytest.fail)
    with pytest.raises(LoadError, match="nested deeper than 8 levels"):
        inspector.load(path)


def test_a_config_nested_past_the_recursion_limit_is_a_load_error():
    tensor: object = {"class_name": "__keras_tensor__", "config": {"keras_history": ["a", 0, 0]}}
    for _ in range(5000):
        tensor = [tensor]
    root = {
        "class_name": "Functional",
        "config": {
            "layers": [
                {"class_name": "InputLayer", "name": "a", "config": {}},
                {"class_name": "ReLU", "name": "r", "config": {}, "inbound_nodes": [{"args": tensor}]},
            ],
            "input_layers": [["a", 0, 0]],
            "output_layers": [["r", 0, 0]],
        },
    }
    with pytest.raises(LoadError, match="malformed"):
        read_graph(root, "deep.h5")


@pytest.mark.parametrize("shift", range(-8, 9))
def test_a_broken_heap_is_found_across_a_chunk_boundary(tmp_path, monkeypatch, shift):
    """The file is searched a chunk at a time: a collection whose signature straddles or touches a chunk boundary
    is found, at its offset.  HDF5 would loop on this one: its first object has size 0."""
    collection = b"GCOL\x01\x00\x00\x00" + (4096).to_bytes(8, "little") + bytes(4096 - 16)
    at = 64 + shift
    path = tmp_path / "heap.bin"
    path.write_bytes(bytes(at) + collection)
    monkeypatch.setattr(hdf5_heaps, "CHUNK_BYTES", 64)
    assert hdf5_heaps.broken_heap_in_file(path) == at
    assert hdf5_heaps.broken_heap_in_file(path, 3) == at - 3
    assert hdf5_heaps.broken_heap_in_file(path, 0, at + 7) is None


def test_no_sample_has_a_global_heap_hdf5_would_loop_on():
    for sample in SAMPLE_FILES:
        if sample.suffix in (".h5", ".keras"):
            assert broken_heap_in_file(sample) is None, sample.name


def _passes(needs: list[set[int]], outputs: list[int]) -> list[int]:
    """The order repeated file-order passes give (the loader's old algorithm)."""
    available, order, pending = set(), [], list(range(len(needs)))
    while pending:
        waiting = []
        for item in pending:
            if needs[item] <= available:
                order.append(item)
                available.add(outputs[item])
            else:
                waiting.append(item)
        if len(waiting) == len(pending):
            break
        pending = waiting
    return order


@settings(max_examples=200, derandomize=True, database=None)
@given(st.lists(st.sets(st.integers(0, 11), max_size=3), max_size=12), st.randoms(use_true_random=False))
def test_pass_order_equals_repeated_passes(needs, random):
    outputs = list(range(len(needs)))
    random.shuffle(outputs)
    order = PassOrder(needs, ())
    handed = []
    for item in order:
        handed.append(item)
        order.provide(outputs[item])
    assert handed == _passes(needs, outputs)
    assert sorted(order.stuck()) == sorted(set(range(len(needs))) - set(handed))


def test_unique_layer_names_are_those_of_before():
    taken: dict[str, int] = {}
    names = [load_onnx._unique(n, taken) for n in ["conv", "conv", "conv_1", "conv", "conv_2", "relu", "conv"]]
    assert names == ["conv", "conv_1", "conv_1_1", "conv_2", "conv_2_1", "relu", "conv_3"]


@pytest.mark.parametrize("element", [onnx.TensorProto.INT4, onnx.TensorProto.UINT4])
def test_four_bit_tensors_are_counted_two_to_a_stored_value(element):
    typed = onnx.helper.make_tensor("t", element, [5], [1, 2, 3, 4, 5])
    raw = onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(typed), "t")
    for tensor in (typed, raw):
        shape, _, read = tensor_reader(tensor, Path("."), "four.onnx")
        assert shape == (5,) and read().tolist() == [1, 2, 3, 4, 5]
