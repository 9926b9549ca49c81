"""The HTML page itself: what it says of each model (summary, layer table, findings, validation, conv sections),
rendered by Jinja2 from ``templates/report.html.j2`` with autoescape on, so no name from a file can inject markup."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jinja2
import markupsafe

from inspector.model.common import ConvLayer, DenseLayer, Layer
from inspector.model.findings import plural
from inspector.report.explain import dims, filters_summary
from inspector.report.findings_text import collapsed, counts, verdict
from inspector.report.html_charts import error_chart
from inspector.report.html_images import GAP, NON_FINITE, STOPS, hex_colour
from inspector.report.html_layer import MARKS, conv_section, validation_entry
from inspector.report.model_report import Report
from inspector.report.validation_text import inputs_line, runtime_line
from inspector.report.visible import visible
from inspector.validation.result import ValidationResult
from inspector.version import __version__

TEMPLATE = "report.html.j2"


def _shown(value: object) -> object:
    """Every text the template prints, with control characters made visible (names, dims, messages from the file);
    markup the page builds itself (``Markup``) is printed as it is."""
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return visible(value)
    return value


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("inspector.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_shown,
    )
    environment.filters["visible"] = visible
    environment.filters["number"] = lambda value: "" if value is None else f"{value:,}"
    environment.filters["sci"] = lambda value: f"{value:.3g}"
    return environment


def _shape(layer: Layer) -> str:
    return f"{dims(layer.input_shape, '—')} → {dims(layer.output_shape)}"


def _row(layer: Layer, index: int, anchors: dict[str, str], report: Report) -> dict[str, Any]:
    """One row of the layer table: cells as shown, numbers to sort by."""
    conv = layer if isinstance(layer, ConvLayer) else None
    findings = report.layer_findings(layer)
    validated = report.validation.get(layer.name) if report.validation is not None else None
    expected, params = layer.expected_params, layer.params
    return {
        "index": index,
        "name": layer.name,
        "href": anchors.get(layer.name, ""),
        "op": layer.source_op,
        "shapes": _shape(layer),
        "kernel": dims(conv.kernel_shape) if conv else "",
        "stride": dims(conv.strides) if conv else "",
        "dilation": dims(conv.dilations) if conv else "",
        "groups": conv.groups if conv else None,
        "filters": filters_summary(conv) if conv else "",
        "params": params,
        "params_ok": expected is None or expected == params,
        "expected": expected,
        "macs": layer.macs,
        "findings": len(findings),
        "worst": min((f.severity for f in findings), key=("error", "warning", "info").index, default=""),
        "validation": validated.status if validated is not None else "",
    }


def _summary(report: Report) -> dict[str, Any]:
    model = report.model
    conv = model.conv_layers
    macs = [layer.macs for layer in model.layers if isinstance(layer, ConvLayer | DenseLayer) and not layer.constant]
    known = [m for m in macs if m is not None]
    return {
        "path": model.path,
        "format": model.format,
        "producer": model.producer,
        "inputs": [(t.name, dims(t.shape), t.dtype) for t in model.inputs],
        "outputs": [(t.name, dims(t.shape), t.dtype) for t in model.outputs],
        "layers": sum(not layer.constant for layer in model.layers),
        "constants": sum(layer.constant for layer in model.layers),
        "conv_layers": len(conv),
        "params": model.total_params,
        "trainable": model.trainable_params,
        "non_trainable": model.non_trainable_params,
        "macs": f"{sum(known):,}" + (" (some layers unknown)" if len(known) < len(macs) else ""),
        "verdict": verdict(report, len(report.findings)).plain,
        "passed": report.passed,
        "counts": counts(report.findings),
    }


def _validation(result: ValidationResult, anchors: dict[str, str]) -> dict[str, Any]:
    """The validation part: how it ran, the error chart and one row per conv layer."""
    rows = [
        (anchors.get(layer.name, ""), layer.name, layer.status, c.max_abs_error, c.atol)
        for layer in result.layers
        if (c := layer.comparison) is not None
    ]
    return {
        "passed": result.passed,
        "summary": f"{result.count('passed'):,} of {plural(len(result.layers), 'conv layer')} match onnxruntime"
        + "".join(
            f", {result.count(status):,} {status}" for status in ("failed", "error", "skipped") if result.count(status)
        ),
        "inputs": inputs_line(result),
        "runtime": runtime_line(result) if result.runtime else "",
        "notes": list(result.notes),
        "chart": error_chart(rows),
        "layers": [
            {"name": layer.name, "href": anchors.get(layer.name, ""), **validation_entry(layer)}
            for layer in result.layers
        ],
    }


def _model(report: Report, prefix: str, read_weights: bool) -> dict[str, Any]:
    """Everything the page shows of one model; anchors start with ``prefix``."""
    model = report.model
    layers = [layer for layer in model.layers if not layer.constant]
    sections = {layer.name: f"{prefix}layer-{i}" for i, layer in enumerate(layers) if isinstance(layer, ConvLayer)}
    rows = {layer.name: f"{prefix}row-{i}" for i, layer in enumerate(layers)}
    anchors = {**rows, **sections}
    validation = report.validation
    return {
        "prefix": prefix,
        "summary": _summary(report),
        "rows": [{**_row(layer, i, anchors, report), "row_id": rows[layer.name]} for i, layer in enumerate(layers)],
        "findings": [
            (finding, message, anchors.get(finding.layer or "", "")) for finding, message in collapsed(report.findings)
        ],
        "validation": None if validation is None else _validation(validation, anchors),
        "sections": [
            conv_section(
                layer,
                sections[layer.name],
                report.layer_findings(layer),
                None if validation is None else validation.get(layer.name),
                read_weights=read_weights,
            )
            for layer in layers
            if isinstance(layer, ConvLayer)
        ],
    }


def render_page(reports: Sequence[Report], *, read_weights: bool = True) -> str:
    """The whole page for ``reports`` (one model after another), as text."""
    template = _environment().get_template(TEMPLATE)
    return template.render(
        version=__version__,
        models=[_model(report, f"m{k}-", read_weights) for k, report in enumerate(reports)],
        stops=[(f"{50 * (fraction + 1):g}%", hex_colour(colour)) for fraction, colour in STOPS],
        gap=hex_colour(GAP),
        non_finite=hex_colour(NON_FINITE),
        marks=MARKS,
    )
