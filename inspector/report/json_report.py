"""The JSON report: every object of the document, built here and nowhere else, and the JSON Schema it follows.

The document is one report object per model (a list of them for several models).  Its JSON Schema (draft 2020-12)
ships beside this module as ``schema.json`` and is printed by ``inspect --schema``; ``schema_version`` changes
whenever a field changes meaning or goes away.  NaN and Inf, which JSON cannot hold, are written as ``null``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np

from inspector.errors import FilterError
from inspector.model.common import ConvLayer, DenseLayer, Layer, Shape
from inspector.model.filter_stats import COLUMNS, filter_stats
from inspector.model.findings import Finding
from inspector.model.slicing import checked_weight
from inspector.report.explain import explain_layer
from inspector.report.filters_text import filter_bias
from inspector.report.model_report import Report
from inspector.validation.result import LayerValidation, ValidationResult
from inspector.validation.rounding import RoundingBound, float_format

SCHEMA_VERSION = 1
SCHEMA_FILE = "schema.json"
"""The JSON Schema of the document, package data of :mod:`inspector.report`."""


def schema_text() -> str:
    """The JSON Schema of the report, as shipped in the package."""
    return resources.files("inspector.report").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


def schema() -> dict[str, Any]:
    """The JSON Schema of the report, parsed."""
    return json.loads(schema_text())


def finite_number(value: float) -> float | None:
    """A float for JSON: ``None`` for inf and NaN."""
    return value if math.isfinite(value) else None


def _shape(shape: Shape | None) -> list[int | str] | None:
    return None if shape is None else list(shape)


def _tensor(name: str, shape: Shape | None, dtype: str) -> dict[str, Any]:
    return {"name": name, "shape": _shape(shape), "dtype": dtype}


def _optional(values: tuple[int, ...] | None) -> list[int] | None:
    return None if values is None else list(values)


def finding_dict(finding: Finding) -> dict[str, Any]:
    """One finding; ``data`` is the analyzer's own, free-form."""
    return {
        "severity": finding.severity,
        "check": finding.check,
        "layer": finding.layer,
        "message": finding.message,
        "data": dict(finding.data),
    }


def layer_dict(layer: Layer, findings: Sequence[Finding] = ()) -> dict[str, Any]:
    """One layer's entry; conv-only fields are ``null`` for other layers, ``passed`` is False on an error finding."""
    conv = layer if isinstance(layer, ConvLayer) else None
    main = conv.weight if conv else layer.weight if isinstance(layer, DenseLayer) else None
    return {
        "name": layer.name,
        "kind": layer.kind,
        "source_op": layer.source_op,
        "source_layer": layer.source_layer,
        "constant": layer.constant,
        "outputs": list(layer.outputs),
        "input_shape": _shape(layer.input_shape),
        "output_shape": _shape(layer.output_shape),
        "in_channels": conv.in_channels if conv else None,
        "out_channels": conv.out_channels if conv else None,
        "groups": conv.groups if conv else None,
        "kernel_shape": list(conv.kernel_shape) if conv else None,
        "strides": _optional(conv.strides) if conv else None,
        "dilations": _optional(conv.dilations) if conv else None,
        "pads": _optional(conv.pads) if conv else None,
        "output_padding": _optional(conv.output_padding) if conv else None,
        "activation": layer.activation,
        "weight_shape": list(main.shape) if main else None,
        "native_weight_shape": list(main.native_shape) if main else None,
        "native_layout": main.native_layout if main else None,
        "weights": {
            role: {"source": w.source, "shape": list(w.native_shape), "dtype": w.dtype, "trainable": w.trainable}
            for role, w in layer.weights.items()
        },
        "params": {"expected": layer.expected_params, "stored": layer.params},
        "macs": layer.macs,
        "passed": not any(f.severity == "error" for f in findings),
    }


def bound_dict(bound: RoundingBound) -> dict[str, Any]:
    """How a layer's default tolerance was derived (its ``bound`` object)."""
    return {
        "rule": bound.rule,
        "terms": bound.terms,
        "lambda": bound.lam,
        "accumulation": bound.accumulation,
        "unit_roundoff": float_format(bound.accumulation).unit_roundoff,
        "coefficient": bound.coefficient,
        "false_alarm_probability": bound.false_alarm_probability,
    }


def layer_validation_dict(layer: LayerValidation) -> dict[str, Any]:
    """One layer's entry in the ``validation`` section; comparison fields are ``null`` when none was made."""
    c = layer.comparison
    return {
        "name": layer.name,
        "outputs": list(layer.outputs),
        "status": layer.status,
        "passed": layer.passed,
        "mode": layer.mode,
        "providers": list(layer.providers),
        "placeholder_input": layer.placeholder,
        "input_shape": _optional(layer.input_shape),
        "max_abs_error": None if c is None else finite_number(c.max_abs_error),
        "max_rel_error": None if c is None else finite_number(c.max_rel_error),
        "atol": None if c is None else finite_number(c.atol),
        "rtol": None if c is None else c.rtol,
        "tolerance": None if c is None else c.rule,
        "bound": None if c is None or c.bound is None else bound_dict(c.bound),
        "tolerance_used": None if c is None else finite_number(c.tolerance_used),
        "worst_index": None if c is None else _optional(c.worst_index),
        "worst_channel": None if c is None else c.worst_channel,
        "failed_channels": None if c is None else list(c.failed_channels),
        "violations": None if c is None else c.violations,
        "elements": None if c is None else c.elements,
        "skipped_reason": layer.reason if layer.status == "skipped" else None,
        "message": layer.message,
    }


def validation_dict(result: ValidationResult) -> dict[str, Any]:
    """The ``validation`` section: the inputs, how onnxruntime ran, notes, and each conv layer's verdict."""
    return {
        "passed": result.passed,
        "inputs": dict(result.inputs),
        "capture_runs": result.capture_runs,
        "runtime": dict(result.runtime),
        "notes": list(result.notes),
        "layers": [layer_validation_dict(layer) for layer in result.layers],
    }


def report_dict(report: Report) -> dict[str, Any]:
    """The report object of one model (``validation`` is ``null`` when the model was not validated)."""
    model = report.model
    by_layer: dict[str | None, list[Finding]] = {}
    for finding in report.findings:
        by_layer.setdefault(finding.layer, []).append(finding)
    return {
        "schema_version": SCHEMA_VERSION,
        "model": {
            "path": model.path,
            "format": model.format,
            "producer": model.producer,
            "inputs": [_tensor(t.name, t.shape, t.dtype) for t in model.inputs],
            "outputs": [_tensor(t.name, t.shape, t.dtype) for t in model.outputs],
        },
        "layers": [layer_dict(layer, by_layer.get(layer.name, ())) for layer in model.layers],
        "params": {
            "total": model.total_params,
            "trainable": model.trainable_params,
            "non_trainable": model.non_trainable_params,
        },
        "findings": [finding_dict(f) for f in report.findings],
        "validation": None if report.validation is None else validation_dict(report.validation),
    }


def filter_dict(layer: ConvLayer, o: int) -> dict[str, Any]:
    """Filter ``o`` of ``layer``: values (canonical), shape, native index, input maps, bias."""
    values = layer.filter(o)
    weight = checked_weight(layer)
    bias = filter_bias(layer, o)
    return {
        "layer": layer.name,
        "channel": o,
        "shape": list(values.shape),
        "values": json_ready(values),
        "native_index": layer.filter_index(o),
        "native_shape": list(layer.filter(o, layout="native").shape),
        "native_layout": weight.native_layout,
        "source": weight.source,
        "input_channels": list(layer.input_channels(o)),
        "bias": None if bias is None else json_ready(bias[1]),
    }


def stats_records(layer: ConvLayer) -> list[dict[str, Any]] | None:
    """The per-filter statistics of ``layer``, one record per output channel; ``None`` when it cannot be sliced."""
    try:
        stats = filter_stats(layer)
    except FilterError:
        return None
    columns = [json_ready(getattr(stats, name)) for name in COLUMNS]
    return [
        {"channel": channel, **dict(zip(COLUMNS, row, strict=True))}
        for channel, row in enumerate(zip(*columns, strict=True))
    ]


def json_ready(array: np.ndarray) -> Any:
    """``array`` as nested lists of Python numbers, NaN and Inf as ``None`` (JSON has no such numbers)."""
    values = np.asarray(array)
    ready = values.astype(object)
    ready[~np.isfinite(values)] = None
    return ready.tolist()


def explanation_dict(layer: Layer) -> dict[str, Any]:
    """``--layer NAME``'s ``explanation``: the layer's entry, its plain-words ``text`` and ``filter_stats``."""
    stats = stats_records(layer) if isinstance(layer, ConvLayer) else None
    return {**layer_dict(layer), "text": explain_layer(layer), "filter_stats": stats}


def json_document(
    reports: Sequence[Report], *, layer: str | None = None, filters: Sequence[tuple[str, int]] = ()
) -> dict[str, Any] | list[dict[str, Any]]:
    """The whole document: one report object, or a list for several reports.

    ``layer`` adds ``explanation`` (``--layer``), ``filters`` the ``filters`` list (``--filter NAME:N``, each a conv
    layer of every report's model).
    """
    documents = []
    for report in reports:
        document = report_dict(report)
        if layer is not None:
            document["explanation"] = explanation_dict(report.model[layer])
        if filters:
            document["filters"] = [filter_dict(report.model[name], o) for name, o in filters]  # type: ignore[arg-type]
        documents.append(document)
    return documents[0] if len(documents) == 1 else documents


def render_json(reports: Sequence[Report], *, layer: str | None = None, filters: Sequence[tuple[str, int]] = ()) -> str:
    """:func:`json_document` as text, indented, ending in a newline."""
    return json.dumps(json_document(reports, layer=layer, filters=filters), indent=2) + "\n"
