"""Filters for people: one filter's values and whereabouts, and a layer's per-filter statistics table.

The same facts for programs are in :mod:`inspector.report.json_report`.
"""

from __future__ import annotations

import numpy as np
from rich.console import Console

from inspector.errors import FilterError
from inspector.model.common import ConvLayer
from inspector.model.filter_stats import COLUMNS, FilterStats, filter_stats
from inspector.model.findings import noun
from inspector.model.slicing import checked_weight
from inspector.report.console import show
from inspector.report.explain import dims
from inspector.report.plain_table import Column, Line, print_lines, table_lines

_CELLS = {
    "l1": ("L1", "{:.4g}"),
    "l2": ("L2", "{:.4g}"),
    "min": ("min", "{:.4g}"),
    "max": ("max", "{:.4g}"),
    "mean": ("mean", "{:.4g}"),
    "zero_fraction": ("zeros", "{:.1%}"),
}
"""Each statistic's column heading and cell format, in ``COLUMNS`` order."""


def _maps(reads: range) -> str:
    return f"{reads.start}…{reads.stop - 1}" if len(reads) > 1 else str(reads.start)


def filter_bias(layer: ConvLayer, o: int) -> tuple[str, np.ndarray] | None:
    """``("B[5]", value)``: where output channel ``o``'s bias sits and its value, when the layer has one."""
    bias = layer.bias
    if bias is None or bias.shape != (layer.out_channels,):
        return None
    return f"{bias.role}[{o}]", bias.array[o]


def filter_lines(layer: ConvLayer, o: int, *, width: int = 120) -> list[str]:
    """Filter ``o`` of ``layer``: what it reads, where the file keeps it, its bias and its values (canonical)."""
    values = layer.filter(o)
    reads = layer.input_channels(o)
    weight = checked_weight(layer)
    lines = [
        f"{layer.name} filter {o} (output map {o}): reads input {noun(len(reads), 'map')} {_maps(reads)}, "
        f"one {dims(layer.kernel_shape)} kernel F_i,{o} each",
        f"  in the file: {layer.filter_index(o)} of {weight.source} "
        f"(stored {dims(weight.native_shape)}, {weight.native_layout or 'as is'})",
    ]
    bias = filter_bias(layer, o)
    if bias is not None:
        lines.append(f"  bias: {bias[0]} = {bias[1]!s}")
    lines.append(f"  values, canonical {dims(values.shape)} (the kernel of input map {reads.start} first):")
    lines += np.array2string(values, threshold=values.size + 1, max_line_width=width).splitlines()
    return lines


def stats_table(layer: ConvLayer, stats: FilterStats) -> list[Line]:
    """Its title, then one line per output channel: the input maps its filter reads and its statistics."""
    columns = [Column(heading, right=True) for heading in ("channel", "reads", *(_CELLS[name][0] for name in COLUMNS))]
    rows = (
        [str(o), _maps(layer.input_channels(o)), *(_CELLS[name][1].format(getattr(stats, name)[o]) for name in COLUMNS)]
        for o in range(layer.out_channels)
    )
    return [Line("  per-filter statistics"), *table_lines(columns, rows, indent=2)]


def render_stats(console: Console, layer: ConvLayer) -> None:
    """The per-filter statistics table of ``layer``, or a line saying why there is none."""
    try:
        stats = filter_stats(layer)
    except FilterError as error:
        show(console, f"  per-filter statistics unavailable: {error}")
        return
    print_lines(console, stats_table(layer, stats))
