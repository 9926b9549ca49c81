"""Shared fixtures: the samples folder and a fresh plugin manager per test."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import helper

import inspector

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture
def manager():
    """A fresh plugin manager (built-ins only, no installed plugins)."""
    return inspector.get_plugin_manager(load_entry_points=False)


@pytest.fixture
def load(manager):
    """Load a model with the fresh manager, re-raising analyzer errors."""

    def _load(path):
        return inspector.load(path, plugin_manager=manager)

    return _load


def save_model(path: Path, nodes, inputs, outputs, initializers=(), opset: int = 17) -> Path:
    """Write a small ONNX model built with onnx.helper (IR version 8, which onnxruntime reads)."""
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, path)
    return path
