"""Shared fixtures: the samples folder, a fresh plugin manager per test, and the JSON report checked on its schema."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import onnx
import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from onnx import helper

import inspector
from inspector.report.json_report import schema

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

if os.environ.get("INSPECTOR_TEST_INSTALLED") and Path(inspector.__file__).resolve().is_relative_to(SAMPLES.parent):
    raise RuntimeError(f"INSPECTOR_TEST_INSTALLED: the tests import {inspector.__file__}, not the installed package")


@pytest.fixture
def manager():
    """A fresh plugin manager (built-ins only, no installed plugins)."""
    return inspector.get_plugin_manager(load_entry_points=False)


@pytest.fixture
def load(manager):
    """Load a model with the fresh manager."""

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


@functools.cache
def _report_validator(part: str | None) -> Draft202012Validator:
    whole = schema()
    if part is None:
        return Draft202012Validator(whole)
    for key in ("if", "then", "else"):
        del whole[key]
    return Draft202012Validator({**whole, "$ref": f"#/$defs/{part}"})


def _no_constant(name: str) -> None:
    raise AssertionError(f"the JSON report holds {name}, which is not JSON (NaN and Inf must be written as null)")


def report_json(document: str | dict | list, part: str | None = None) -> Any:
    """The JSON report ``document`` parsed, once checked to be strict JSON that follows the shipped schema.

    ``document`` is the text ``inspect --format json`` printed, or what a function of
    ``inspector.report.json_report`` returned; ``part`` names one object of the schema's ``$defs``
    (``"validation"``, ``"layer_validation"``…) for a part of the document.  Fails naming the violations (of a
    ``oneOf``, the likeliest branch's).
    """
    text = document if isinstance(document, str) else json.dumps(document, allow_nan=False)
    parsed = json.loads(text, parse_constant=_no_constant)
    errors = [best_match([error]) for error in _report_validator(part).iter_errors(parsed)]  # oneOf: which branch
    assert not errors, "the JSON report breaks its schema:\n" + "\n".join(
        f"  {error.json_path}: {error.message[:300]}" for error in sorted(errors, key=lambda e: e.json_path)[:20]
    )
    return parsed
