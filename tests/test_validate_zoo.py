"""Every model bundled with the onnx wheel that has conv layers validates without a false alarm.

* The nine ``backend/test/data/light/light_*.onnx`` networks (AlexNet to DenseNet-121) pass entirely.
* The backend test models of Conv, ConvTranspose, ConvInteger and QLinearConv: the folders the wheel ships
  (``pytorch-converted/test_Conv*``, ``pytorch-operator/test_operator_conv*`` and, where the wheel has them,
  ``node/test_conv*``, ``node/test_convtranspose*``, ``node/test_basic_conv*``), and the node test cases onnx
  generates from ``onnx.backend.test.case.node`` (what ``backend-test-tools generate-data`` writes as
  ``node/<name>``; onnx 1.23's wheel ships no ``node`` folder).  Each runs on its ``test_data_set_0`` inputs
  and on seeded random ones.  Some use IR versions or features onnxruntime refuses: a layer may then be
  ``skipped`` or ``error`` with a message, but never ``failed``, and validation raises nothing but
  ``inspector.InspectorError``.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import numpy as np
import onnx
import onnx.backend.test.case.node as node_cases
import pytest
from onnx import numpy_helper

import inspector

DATA = Path(os.path.dirname(onnx.__file__)) / "backend" / "test" / "data"
LIGHT = sorted(DATA.glob("light/light_*.onnx"))
FOLDER_PATTERNS = (
    "node/test_conv*",
    "node/test_convtranspose*",
    "node/test_basic_conv*",
    "pytorch-converted/test_Conv*",
    "pytorch-converted/test_ConvTranspose*",
    "pytorch-operator/test_operator_conv*",
)
SHIPPED = {
    f"{folder.parent.name}/{folder.name}": folder
    for pattern in FOLDER_PATTERNS
    for folder in DATA.glob(pattern)
    if (folder / "model.onnx").is_file()
}

CONV_OPS = {"Conv", "ConvTranspose", "ConvInteger", "QLinearConv"}
GENERATORS = ("conv", "convtranspose", "convinteger", "qlinearconv", "causal_conv_with_state")


def _generated_cases() -> dict[str, object]:
    """onnx's node test cases whose graph has a conv, by ``node/<name>`` (defining a case module records them)."""
    for module in GENERATORS:
        try:
            importlib.import_module(f"{node_cases.__name__}.{module}")
        except ImportError:  # an onnx without that operator's cases
            continue
    return {
        f"node/{case.name}": case
        for case in node_cases._NodeTestCases
        if case.model is not None and CONV_OPS & {node.op_type for node in case.model.graph.node}
    }


GENERATED = {name: case for name, case in _generated_cases().items() if name not in SHIPPED}
BACKEND_MODELS = sorted({*SHIPPED, *GENERATED})


def write_generated(case, folder: Path) -> Path:
    """``case`` as ``backend-test-tools generate-data`` writes it: ``model.onnx`` and ``test_data_set_0``."""
    data_set = folder / "test_data_set_0"
    data_set.mkdir(parents=True)
    onnx.save(case.model, folder / "model.onnx")
    inputs, _ = case.data_sets[0]
    for index, (array, declared) in enumerate(zip(inputs, case.model.graph.input, strict=False)):
        tensor = array if isinstance(array, onnx.TensorProto) else numpy_helper.from_array(array, declared.name)
        (data_set / f"input_{index}.pb").write_bytes(tensor.SerializeToString())
    return folder


def inputs_npz(folder: Path, destination: Path) -> Path:
    """The folder's ``test_data_set_0/input_*.pb`` as an ``.npz`` named after the model's inputs, in order."""
    model = onnx.load(folder / "model.onnx", load_external_data=False)
    initializers = {tensor.name for tensor in model.graph.initializer}
    names = [value.name for value in model.graph.input if value.name not in initializers]
    files = sorted((folder / "test_data_set_0").glob("input_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
    arrays = {}
    for name, file in zip(names, files, strict=True):
        tensor = onnx.TensorProto()
        tensor.ParseFromString(file.read_bytes())
        arrays[tensor.name or name] = numpy_helper.to_array(tensor)
    np.savez(destination, **arrays)
    return destination


def test_the_zoo_is_there():
    assert len(LIGHT) == 9, [p.name for p in LIGHT]
    assert any(name.startswith("pytorch-converted/") for name in BACKEND_MODELS)
    assert {"node/test_basic_conv_with_padding", "node/test_convtranspose"} <= set(BACKEND_MODELS)


@pytest.mark.parametrize("path", LIGHT, ids=[p.stem for p in LIGHT])
def test_light_model_passes(path):
    result = inspector.validate(path, seed=0)
    assert result.layers, f"{path.name}: no conv layer found"
    failing = [f"{layer.name}: {layer.status}: {layer.message}" for layer in result.layers if layer.status != "passed"]
    assert not failing, f"{path.name}: " + "; ".join(failing)
    assert result.passed


@pytest.mark.parametrize("source", ["test_data_set_0", "random"])
@pytest.mark.parametrize("name", BACKEND_MODELS)
def test_backend_model_never_fails(tmp_path, name, source):
    folder = SHIPPED[name] if name in SHIPPED else write_generated(GENERATED[name], tmp_path / name.split("/")[1])
    settings = {"inputs": inputs_npz(folder, tmp_path / "inputs.npz")} if source != "random" else {"seed": 0}
    result = inspector.validate(folder / "model.onnx", **settings)  # every one of them loads and runs
    assert result.layers, f"{name}: no conv layer found"
    for layer in result.layers:
        assert layer.status in ("passed", "skipped", "error"), f"{name}, layer {layer.name}: {layer.message}"
        if layer.status != "passed":
            assert layer.message, f"{name}, layer {layer.name}: {layer.status} without a message"
