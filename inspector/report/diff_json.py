"""``inspect diff --format json``: the diff document of the report schema (``$defs/diff`` in ``schema.json``).

NaN and Inf, which JSON cannot hold, are written as ``null``.
"""

from __future__ import annotations

import json
from typing import Any

from inspector.model.filter_diff import FilterDiff
from inspector.report.json_report import finite_number
from inspector.validation.model_diff import DIFF_VERSION, DiffResult, LayerDiff


def _filter(item: FilterDiff) -> dict[str, Any]:
    return {
        "channel": item.channel,
        "where_a": item.where_a,
        "where_b": item.where_b,
        "verdict": item.verdict,
        "max_abs": finite_number(item.max_abs),
        "at": list(item.at),
        "share_of_range": finite_number(item.share),
        "scale": finite_number(item.scale),
        "shift": finite_number(item.shift),
        "other_channel": item.other,
        "bias_only": item.bias_only,
    }


def _layer(layer: LayerDiff) -> dict[str, Any]:
    weights, output = layer.weights, layer.output
    fold = weights.fold
    return {
        "a": layer.a,
        "b": layer.b,
        "kind": layer.kind,
        "matched_by": layer.by,
        "agrees": layer.agrees,
        "verdict": weights.verdict,
        "problem": weights.problem or weights.skipped or None,
        "storage_a": weights.storage_a,
        "storage_b": weights.storage_b,
        "folded_bn": None
        if fold is None
        else {
            "layer": fold.bn,
            "epsilon": fold.epsilon,
            "epsilon_solved": fold.solved,
            "scale": list(fold.scale),
            "shift": list(fold.shift),
        },
        "filters": [_filter(item) for item in weights.filters],
        "output": None
        if output is None
        else {
            "agrees": output.agrees,
            "max_abs": finite_number(output.max_abs),
            "input_max_abs": finite_number(output.input_max_abs),
            "input_tolerance": finite_number(output.input_tolerance),
            "tolerance": finite_number(output.tolerance),
            "share_of_tolerance": finite_number(output.used),
            "worst_channel": output.channel,
            "skipped": output.skipped or None,
        },
    }


def diff_document(result: DiffResult) -> dict[str, Any]:
    """The JSON document of ``result``."""
    return {
        "document": "diff",
        "diff_version": DIFF_VERSION,
        "a": {"path": result.path_a, "format": result.format_a},
        "b": {"path": result.path_b, "format": result.format_b},
        "agrees": result.agrees,
        "outputs": result.outputs,
        "first_unexplained": result.first_unexplained,
        "layers": [_layer(layer) for layer in result.layers],
        "only_a": [{"name": name, "op": op} for name, op in result.only_a],
        "only_b": [{"name": name, "op": op} for name, op in result.only_b],
        "graph_outputs": [
            {"a": f.a, "b": f.b, "agrees": f.agrees, "max_abs": finite_number(f.max_abs), "tolerance": f.tolerance}
            for f in result.final
        ],
    }


def render_diff_json(result: DiffResult) -> str:
    """The document as text."""
    return json.dumps(diff_document(result), indent=2, ensure_ascii=False) + "\n"
