"""conv-inspector: inspect convolutional models layer by layer.

>>> import inspector
>>> model = inspector.load("samples/seed.onnx")
>>> model["conv2"].expected_params
18496
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pluggy

from inspector.errors import (
    ConvolutionError,
    FilterError,
    InspectorError,
    LoadError,
    PluginError,
    UnsupportedModelError,
    ValidationError,
)
from inspector.hookspecs import hookimpl
from inspector.model.common import ConvLayer, DenseLayer, Layer, Model, TensorInfo, Weight
from inspector.model.findings import Finding
from inspector.options import Options
from inspector.plugin_manager import analyze_model, get_plugin_manager, load_model
from inspector.report.model_report import Report, inspect_model
from inspector.validation.options import ValidationOptions
from inspector.validation.result import ValidationResult
from inspector.version import __version__

__all__ = [
    "ConvLayer",
    "ConvolutionError",
    "DenseLayer",
    "FilterError",
    "Finding",
    "InspectorError",
    "Layer",
    "LoadError",
    "Model",
    "Options",
    "PluginError",
    "Report",
    "TensorInfo",
    "UnsupportedModelError",
    "ValidationError",
    "ValidationOptions",
    "ValidationResult",
    "Weight",
    "__version__",
    "analyze",
    "diff",
    "get_plugin_manager",
    "hookimpl",
    "inspect_model",
    "load",
    "validate",
    "validation_text",
]


def load(
    path: str | Path,
    *,
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
    plugin_manager: pluggy.PluginManager | None = None,
    options: Options | None = None,
) -> Model:
    """Read a model file (ONNX, Keras) into the common model.

    Parameters
    ----------
    path
        The model file.
    input_shapes
        Sizes for input dims the file leaves open, by input name (``{"x": (1, 3, 640, 640)}``, in the file's own
        layout); layer shapes and MACs follow them.  Each name must be an input of the model.
    plugin_manager
        A manager from ``get_plugin_manager()``; a new one by default.
    options
        Settings handed to the loaders.

    Raises
    ------
    InspectorError
        ``LoadError`` for a missing or broken file, ``UnsupportedModelError`` when no loader reads it,
        ``ValidationError`` for an input shape that names no input or contradicts a dim the file fixes.
    """
    return load_model(path, plugin_manager, options, input_shapes=input_shapes)


def analyze(
    model: Model, *, plugin_manager: pluggy.PluginManager | None = None, options: Options | None = None
) -> list[Finding]:
    """Run every analyzer plugin on ``model`` and return their findings (including the loader's notes)."""
    return analyze_model(model, plugin_manager, options)


def validate(
    model_or_path: Model | str | Path, options: ValidationOptions | None = None, **settings: object
) -> ValidationResult:
    """Rerun every conv layer with the NumPy engine and compare it with onnxruntime, down to the output channel.

    ``settings`` are ``ValidationOptions`` fields (``seed=1``, ``atol=1e-4``, ``layer_atol={"conv1": 1e-3}``),
    ``progress`` and ``plugin_manager``; see :func:`inspector.validation.run.validate`.  For example
    ``inspector.validate("samples/seed.onnx").passed`` is True, and ``result["conv2"].comparison.worst_channel``
    names the output channel that came closest to its tolerance.
    """
    from inspector.validation.run import validate as run_validation  # onnxruntime is imported only when validating

    return run_validation(model_or_path, options, **settings)  # type: ignore[arg-type]


def validation_text(result: ValidationResult) -> str:
    """The per-layer validation table of ``result`` as plain text, headed by the model's path."""
    from inspector.report.validation_text import validation_text as render  # rich only when rendering

    return render(result)


def diff(a: Model | str | Path, b: Model | str | Path, **settings: object):
    """Compare model ``b`` with model ``a`` filter by filter, and their conv outputs where both can run.

    ``settings``: ``seed`` (of the random input, default 0), ``outputs`` (False: weights only),
    ``plugin_manager``.  Returns a :class:`inspector.validation.model_diff.DiffResult`: ``.agrees``, ``.layers``
    (each with ``.weights.filters`` and ``.output``), ``.only_a``/``.only_b``; see ``inspect diff``.
    """
    from inspector.validation.model_diff import diff as run_diff  # onnxruntime only when comparing

    return run_diff(a, b, **settings)  # type: ignore[arg-type]
