"""One conv layer's section of the HTML report: its filter grid, norm bars with marked filters, weight histogram,
findings and validation, read a layer's weights at a time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from inspector.errors import FilterError
from inspector.model.common import ConvLayer
from inspector.model.filter_stats import matrix_stats
from inspector.model.findings import Finding
from inspector.model.transient_reads import transient_reads
from inspector.report.explain import explain_layer
from inspector.report.html_charts import histogram, norm_bars, weight_counts
from inspector.report.html_images import MAX_INPUT_MAPS, MAX_OUTPUT_CHANNELS, filter_grid, symmetric_limit, zoom
from inspector.validation.result import LayerValidation

MARKS = (
    ("non_finite", "NaN or Inf"),
    ("dead", "dead (all zero)"),
    ("duplicate", "duplicate (equal to another filter bit for bit)"),
    ("range", "out of range (per-tensor int8 would crush it)"),
    ("failed", "failed validation"),
)


def _marked(findings: Sequence[Finding], validation: LayerValidation | None) -> dict[str, list[int]]:
    """The filters each analyzer finding (and a failed validation) names, by kind of mark."""
    marked: dict[str, list[int]] = {kind: [] for kind, _ in MARKS}
    for finding in findings:
        data = finding.data
        if finding.check == "non_finite":
            marked["non_finite"] += data.get("filter_channels", [])
        elif finding.check == "dead_filter":
            marked["dead"] += data.get("channels", [])
        elif finding.check == "duplicate_filter":
            marked["duplicate"] += [channel for part in data.get("sets", []) for channel in part]
        elif finding.check == "int8_range":
            marked["range"] += data.get("channels", [])
    if validation is not None and validation.comparison is not None:
        marked["failed"] += validation.comparison.failed_channels
    return {kind: sorted(set(channels)) for kind, channels in marked.items()}


def validation_entry(layer: LayerValidation) -> dict[str, Any]:
    """What the page says about one layer's validation."""
    comparison = layer.comparison
    entry: dict[str, Any] = {"status": layer.status, "mode": layer.mode or "", "message": layer.message}
    if comparison is not None:
        entry.update(
            max_abs_error=comparison.max_abs_error,
            max_rel_error=comparison.max_rel_error,
            tolerance=comparison.atol,
            rule=comparison.rule,
            tolerance_used=comparison.tolerance_used,
            worst_channel=comparison.worst_channel,
            failed_channels=list(comparison.failed_channels),
            failed_channel_count=comparison.failed_channel_count,
        )
    return entry


def _shown_rule(layer: ConvLayer, rows: int, columns: int) -> str:
    """What the grid shows of the layer, said as the rule that chose it."""
    per_group = layer.in_channels // max(layer.groups, 1)
    if rows == layer.out_channels and columns == per_group:
        return f"all {layer.out_channels:,} filters, each with all {per_group:,} of its input maps"
    return (
        f"filters 0…{rows - 1} of {layer.out_channels:,} and, of each, the first {columns:,} of the "
        f"{per_group:,} input maps it reads (a grid shows at most {MAX_OUTPUT_CHANNELS} filters × "
        f"{MAX_INPUT_MAPS} input maps; the norm bars and the histogram cover every filter)"
    )


def _pictures(layer: ConvLayer, matrix: np.ndarray, marked: dict[str, list[int]]) -> dict[str, Any]:
    """The grid, the norm bars and the histogram of a layer whose filters are the rows of ``matrix``."""
    stats = matrix_stats(matrix)
    largest = stats.max_abs[np.isfinite(stats.max_abs)]
    limit = symmetric_limit(float(largest.max()) if largest.size else 0.0)
    rows = min(layer.out_channels, MAX_OUTPUT_CHANNELS)
    per_group, columns = layer.filter_shape[0], min(layer.filter_shape[0], MAX_INPUT_MAPS)
    kernels = np.asarray(matrix[:rows]).reshape(rows, per_group, *layer.kernel_shape)[:, :columns]
    grid = filter_grid(kernels, limit)
    scale = zoom(grid)
    tile = kernels.shape[2:]
    counts, non_finite = weight_counts(matrix, limit)
    return {
        "grid": grid,
        "zoom": scale,
        "tile_height": (tile[-2] if len(tile) >= 2 else 1) + 1,
        "tile_width": (tile[-1] * (tile[0] if len(tile) == 3 else 1)) + 1,
        "rows": rows,
        "columns": columns,
        "group_out": layer.out_channels // max(layer.groups, 1),
        "group_in": per_group,
        "shown": _shown_rule(layer, rows, columns),
        "limit": limit,
        "bars": norm_bars(stats.l2, [(kind, label, marked[kind]) for kind, label in MARKS]),
        "histogram": histogram(counts, limit),
        "non_finite_weights": non_finite,
        "depth_note": f"each tile shows the kernel's {tile[0]} depth slices side by side" if len(tile) == 3 else "",
    }


def conv_section(
    layer: ConvLayer,
    anchor: str,
    findings: Sequence[Finding],
    validation: LayerValidation | None,
    *,
    read_weights: bool,
) -> dict[str, Any]:
    """Everything the page shows of one conv layer; its weights are read here and dropped again."""
    marked = _marked(findings, validation)
    section: dict[str, Any] = {
        "anchor": anchor,
        "name": layer.name,
        "op": layer.source_op,
        "explanation": [line.strip() for line in explain_layer(layer)[1:]],
        "findings": findings,
        "validation": None if validation is None else validation_entry(validation),
        "marked": [(kind, label, marked[kind]) for kind, label in MARKS if marked[kind]],
        "problem": "",
    }
    if not read_weights:
        section["problem"] = "weights not read (--no-weights): no filters to show"
        return section
    with transient_reads(layer):
        try:
            matrix = layer.as_matrix()
        except FilterError as error:
            section["problem"] = f"no filters to show: {error}"
            return section
        if matrix.size == 0:
            section["problem"] = "the layer has no weights to show"
            return section
        section.update(_pictures(layer, matrix, marked))
    return section
