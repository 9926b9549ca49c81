"""The text report: a per-layer table, a totals line, the validation table, the findings and the verdict.

On a terminal it has colour; piped or written to a file it is the same text with no escape codes.  Nodes that only
compute constants are left out of the table unless asked for (``all_nodes``).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import io
from collections import defaultdict
from collections.abc import Iterator, Sequence

from rich.console import Console
from rich.text import Span, Text

from inspector.model.common import ConvLayer, DenseLayer, Layer, Shape
from inspector.model.findings import Finding, plural
from inspector.model.input_shapes import is_fixed
from inspector.report.console import make_console, show, without_trailing_spaces
from inspector.report.explain import dims, explain_layer, filters_summary
from inspector.report.filters_text import filter_lines, render_stats
from inspector.report.findings_text import LISTED, SEVERITY_MARK, SEVERITY_STYLE, collapsed, render_findings, verdict
from inspector.report.model_report import Report
from inspector.report.plain_table import Cell, Column, Line, print_lines, table_lines
from inspector.report.validation_text import render_validation
from inspector.report.visible import visible

PARAMETER_CHECKS = frozenset({"params", "groups", "kernel", "channels", "bias"})
"""Checks about the stored parameters: an error in one of them marks the params cell ✘."""
COLUMNS = (
    *(Column(heading) for heading in ("layer", "op", "input → output", "kernel", "stride", "dilation", "pads")),
    Column("groups"),
    Column("filters out × (in/g × k)"),
    Column("params", right=True),
    Column("MACs", right=True),
)


def _number(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _macs(layer: Layer) -> str:
    """A layer's MACs; ``?`` for a conv or dense layer whose shapes the file leaves open."""
    macs = layer.macs
    if macs is None:
        return "?" if isinstance(layer, ConvLayer | DenseLayer) else ""
    return f"{macs:,}"


def _params_cell(layer: Layer, failed: bool) -> Text | str:
    expected, params = layer.expected_params, layer.params
    if expected is None:
        return _number(params) if params else ""
    count = f"{params:,} "
    if expected == params and not failed:
        return Text(f"{count}✔", spans=[Span(len(count), len(count) + 1, "green")])
    return Text(f"{count}✘ (expected {expected:,})", spans=[Span(len(count), len(count) + 1, "bold red")])


def _dims(values: Shape | None, unknown: str = "?") -> str:
    """``dims``, each distinct tuple written once (a big model repeats a few shapes)."""
    return _written(values, unknown) if values is None or type(values) is tuple else dims(values, unknown)


_written = functools.lru_cache(maxsize=4096)(dims)


def _pads(pads: tuple[int, ...] | None) -> str:
    return "none" if pads is not None and not any(pads) else ",".join(map(str, pads or "?"))


def _row(layer: Layer, failed: bool, params_failed: bool) -> list[Cell]:
    shapes = f"{_dims(layer.input_shape, '—')} → {_dims(layer.output_shape)}"
    name = Text(visible(layer.name), style="bold red") if failed else layer.name
    if isinstance(layer, ConvLayer):
        return [
            name,
            layer.source_op,
            shapes,
            _dims(layer.kernel_shape),
            _dims(layer.strides),
            _dims(layer.dilations),
            _pads(layer.pads),
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


def layer_table(report: Report, *, all_nodes: bool = False, styled: bool = True) -> list[Line]:
    """One line per layer (a heading and a rule first): shapes, conv attributes, filters, verified params, MACs.

    Nodes that only compute constants are left out unless ``all_nodes``; lines have no colour unless ``styled``.
    """
    errors: dict[str, list[str]] = defaultdict(list)
    for finding in report.findings:
        if finding.severity == "error" and finding.layer is not None:
            errors[finding.layer].append(finding.check)
    none: list[str] = []
    rows = (
        _row(layer, bool(checks), any(check in PARAMETER_CHECKS for check in checks))
        for layer in report.model.layers
        if all_nodes or not layer.constant
        for checks in [errors.get(layer.name, none)]
    )
    return table_lines(COLUMNS, rows, styled=styled)


def totals_line(report: Report, *, all_nodes: bool = False) -> str:
    """``Total params 18,816 (trainable 18,816, non-trainable 0) · 2 conv layers · MACs 10,811,520 per sample``.

    Nodes that only compute constants are not layers: they count apart, and the line says when the table leaves
    them out.
    """
    model = report.model
    layers = [layer for layer in model.layers if not layer.constant]
    sizes = [(layer, layer.macs) for layer in layers]
    macs = [count for _, count in sizes if count is not None]
    open_size = sum(1 for layer, count in sizes if count is None and isinstance(layer, ConvLayer | DenseLayer))
    trainable, fixed = model.trainable_params, model.non_trainable_params  # every weight is one or the other
    text = (
        f"Total params {trainable + fixed:,} (trainable {trainable:,}, "
        f"non-trainable {fixed:,}) · {plural(len(model.conv_layers), 'conv layer')}"
    )
    if open_size:
        inputs_open = any(not all(is_fixed(d) for d in (t.shape or ("?",))[1:]) for t in model.inputs)
        hint = "; give the input's open dims with --input-shape" if inputs_open else ""
        text += f" · MACs at least {sum(macs):,} per sample ({plural(open_size, 'layer')} of unknown size{hint})"
    elif macs:
        text += f" · MACs {sum(macs):,} per sample"
    constants = len(model.layers) - len(layers)
    if constants:
        shown = "" if all_nodes else ", not listed (--all-nodes lists them)"
        text += f" · {plural(constants, 'node')} computing constants{shown}"
    return text


def _layer_findings(console: Console, findings: Sequence[Finding]) -> None:
    """One layer's findings under its explanation, one line per kind."""
    for finding, message in collapsed(findings):
        show(console, f"  {SEVERITY_MARK[finding.severity]} {message}", SEVERITY_STYLE[finding.severity])


def render_report(
    console: Console,
    report: Report,
    *,
    layer: str | None = None,
    filters: Sequence[tuple[str, int]] = (),
    all_nodes: bool = False,
    findings: str = "all",
) -> None:
    """The whole text report; or one layer's explanation and statistics, and chosen filters ``(layer, channel)``.

    ``all_nodes`` lists the nodes that only compute constants too, ``findings`` (``all``, ``warnings``, ``errors``)
    chooses the findings listed.  It ends with the verdict line.
    """
    model = report.model
    show(console, f"{model.path}  ({model.format}, producer {model.producer})", "bold")
    boundary = ", ".join(f"{t.name} {dims(t.shape)} {t.dtype}" for t in model.inputs)
    show(console, f"inputs: {boundary or 'none'}")
    shown: list[Finding] = []
    if layer is not None:
        chosen = model[layer]
        for line in explain_layer(chosen):
            show(console, line)
        shown = [f for f in report.layer_findings(chosen) if f.severity in LISTED[findings]]
        _layer_findings(console, shown)
        if isinstance(chosen, ConvLayer):
            render_stats(console, chosen)
    for name, channel in filters:
        for line in filter_lines(model[name], channel, width=min(console.width, 120)):  # type: ignore[arg-type]
            show(console, line)
    if layer is not None or filters:
        console.print(verdict(report, len(shown)))
        return
    print_lines(console, layer_table(report, all_nodes=all_nodes, styled=console.color_system is not None))
    show(console, totals_line(report, all_nodes=all_nodes))
    if report.validation is not None:
        render_validation(console, report.validation)
    render_findings(console, report, findings)


def render_text(
    reports: Sequence[Report],
    *,
    terminal: bool = False,
    layer: str | None = None,
    filters: Sequence[tuple[str, int]] = (),
    all_nodes: bool = False,
    findings: str = "all",
) -> str:
    """The text reports of ``reports``, a blank line apart (colour codes when ``terminal``); no line ends in spaces."""
    buffer = io.StringIO()
    console = make_console(buffer, terminal=terminal)
    with _collector_paused():
        for index, report in enumerate(reports):
            if index:
                console.print()
            render_report(console, report, layer=layer, filters=filters, all_nodes=all_nodes, findings=findings)
    return without_trailing_spaces(buffer.getvalue())


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector paused: a table of 12,000 rows allocates cells by the hundred thousand, none in a
    cycle, and each collection would walk the whole model again (40% of the rendering time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
