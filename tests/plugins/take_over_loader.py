"""A tiny test plugin: a loader that claims every ``.onnx`` file before the built-in one."""

from __future__ import annotations

import inspector


@inspector.hookimpl
def load_model(path, options):
    return inspector.Model(path=str(path), format="onnx", producer="take-over plugin", inputs=(), outputs=(), layers=())
