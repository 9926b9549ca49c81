"""The terminal report: a per-layer table, a totals line, the validation table and the findings.

On a terminal it is a ``rich`` table with colour; piped or written to a file it is the same table as plain
text, with no escape codes.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from inspector.model.common import ConvLayer, DenseLayer, Layer
from inspector.model.input_shapes import is_fixed
from inspector.report.explain import dims, explain_layer, filters_summary
from inspector.report.filters_text import filter_lines, render_stats
from inspector.report.model_report import Report
from inspector.report.validation_text import render_validation

PARAMETER_CHECKS = frozenset({"params", "groups", "kernel", "channels", "bias"})
"""Checks about the stored parameters: an error in one of them marks the params cell ✘."""
_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_SEVERITY_MARK = {"error": "✘", "warning": "!", "info": "i"}


def _number(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _macs(layer: Layer) -> str:
    """A layer's MACs; ``?`` for a conv or dense layer whose shapes the file leaves open."""
    if layer.macs is None:
        return "?" if isinstance(layer, ConvLayer | DenseLayer) else ""
    return f"{layer.macs:,}"


def _params_cell(layer: Layer, failed: bool) -> Text:
    if layer.expected_params is None:
        return Text(_number(layer.params) if layer.params else "")
    if layer.expected_params == layer.params and not failed:
        return Text.assemble(f"{layer.params:,} ", ("✔", "green"))
    return Text.assemble(f"{layer.params:,} ", ("✘", "bold red"), f" (expected {layer.expected_params:,})")


def _row(layer: Layer, failed: bool, params_failed: bool) -> list[Text | str]:
    shapes = f"{dims(layer.input_shape, '—')} → {dims(layer.output_shape)}"
    name = Text(layer.name, style="bold red" if failed else "")
    if isinstance(layer, ConvLayer):
        return [
            name,
            layer.source_op,
            shapes,
            dims(layer.kernel_shape),
            dims(layer.strides),
            dims(layer.dilations),
            "none" if layer.pads is not None and not any(layer.pads) else ",".join(map(str, layer.pads or "?")),
            str(layer.groups),
            filters_summary(layer),
            _params_cell(layer, params_failed),
            _macs(layer),
        ]
    filters = f"{layer.out_features} × ({layer.in_features})" if isinstance(layer, DenseLayer) else ""
    return [
        name,
        layer.source_op,
        shapes,
        "",
        "",
        "",
        "",
        "",
        filters,
        _params_cell(layer, params_failed),
        _macs(layer),
    ]


def layer_table(report: Report) -> Table:
    """One row per layer: shapes, conv attributes, filters, verified params, MACs."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for heading in ("layer", "op", "input → output", "kernel", "stride", "dilation", "pads", "groups"):
        table.add_column(heading, no_wrap=heading != "input → output")
    table.add_column("filters out × (in/g × k)", no_wrap=True)
    table.add_column("params", justify="right", no_wrap=True)
    table.add_column("MACs", justify="right", no_wrap=True)
    for layer in report.model.layers:
        errors = [f.check for f in report.layer_findings(layer) if f.severity == "error"]
        table.add_row(*_row(layer, bool(errors), any(check in PARAMETER_CHECKS for check in errors)))
    return table


def totals_line(report: Report) -> str:
    """``Total params 18,816 (trainable 18,816, non-trainable 0) · 2 conv layers · MACs 10,811,520 per sample``."""
    model = report.model
    macs = [layer.macs for layer in model.layers if layer.macs is not None]
    open_size = sum(1 for layer in model.layers if _macs(layer) == "?")
    text = (
        f"Total params {model.total_params:,} (trainable {model.trainable_params:,}, "
        f"non-trainable {model.non_trainable_params:,}) · {len(model.conv_layers)} conv layers"
    )
    if open_size:
        inputs_open = any(not all(is_fixed(d) for d in (t.shape or ("?",))[1:]) for t in model.inputs)
        hint = "; give the input's open dims with --input-shape" if inputs_open else ""
        layers = f"{open_size} layer{'s' if open_size != 1 else ''}"
        text += f" · MACs at least {sum(macs):,} per sample ({layers} of unknown size{hint})"
    elif macs:
        text += f" · MACs {sum(macs):,} per sample"
    return text


def render_findings(console: Console, report: Report) -> None:
    """Findings, one line each, errors first within each layer."""
    if not report.findings:
        console.print(Text("✔ all checks hold", style="green"))
        return
    for finding in report.findings:
        where = f"{finding.layer}: " if finding.layer else ""
        console.print(
            Text.assemble(
                (f"{_SEVERITY_MARK[finding.severity]} {finding.severity:<7}", _SEVERITY_STYLE[finding.severity]),
                f" [{finding.check}] {where}{finding.message}",
            )
        )


def render_report(
    console: Console, report: Report, *, layer: str | None = None, filters: Sequence[tuple[str, int]] = ()
) -> None:
    """The whole text report; or one layer's explanation and statistics, and chosen filters ``(layer, channel)``."""
    model = report.model
    console.print(Text(f"{model.path}  ({model.format}, producer {model.producer})", style="bold"))
    boundary = ", ".join(f"{t.name} {dims(t.shape)} {t.dtype}" for t in model.inputs)
    console.print(f"inputs: {boundary or 'none'}")
    if layer is not None:
        chosen = model[layer]
        for line in explain_layer(chosen):
            console.print(line, markup=False)
        for finding in report.layer_findings(chosen):
            console.print(
                Text(f"  {_SEVERITY_MARK[finding.severity]} {finding.message}", style=_SEVERITY_STYLE[finding.severity])
            )
        if isinstance(chosen, ConvLayer):
            render_stats(console, chosen)
    for name, channel in filters:
        for line in filter_lines(model[name], channel, width=min(console.width, 120)):  # type: ignore[arg-type]
            console.print(line, markup=False)
    if layer is not None or filters:
        return
    console.print(layer_table(report))
    console.print(totals_line(report))
    if report.validation is not None:
        render_validation(console, report.validation)
    render_findings(console, report)
