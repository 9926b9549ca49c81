"""``inspect diff`` as plain text: one line per matched layer, a line per filter that does not agree, the layers
left without a partner, and a verdict line that agrees with the exit code."""

from __future__ import annotations

from inspector.model.filter_diff import FilterDiff, WeightDiff
from inspector.model.findings import plural
from inspector.report.visible import visible
from inspector.validation.model_diff import DiffResult, LayerDiff

SHOWN_FILTERS = 5
"""Filters listed per layer that does not agree; the rest are counted."""


def _weights(weights: WeightDiff) -> str:
    if weights.problem:
        return weights.problem
    if weights.skipped:
        return f"not compared: {weights.skipped}"
    counts: dict[str, int] = {}
    for item in weights.filters:
        counts[item.verdict] = counts.get(item.verdict, 0) + 1
    told = ", ".join(f"{count} {verdict}" for verdict, count in counts.items())
    storage = (
        weights.storage_a if weights.storage_a == weights.storage_b else f"{weights.storage_a} → {weights.storage_b}"
    )
    text = f"{told} ({storage})"
    if weights.fold is not None:
        fold = weights.fold
        scales = f"{min(fold.scale):.4g}…{max(fold.scale):.4g}"
        eps = f"eps {fold.epsilon:.3g}" + (", solved: the file does not state it" if fold.solved else "")
        text += f"; holds BatchNormalization {visible(fold.bn)} as scale·x + shift ({eps}, scale {scales})"
    return text


def filter_line(item: FilterDiff) -> str:
    """What is wrong with one filter, named in both files."""
    place = f"filter {item.channel}: A {visible(item.where_a)}, B {visible(item.where_b)}"
    if item.verdict == "swapped":
        return f"{place}: B's filter {item.channel} is A's filter {item.other} (swapped or moved)"
    if item.verdict == "dead":
        return f"{place}: all zero on one side only (largest difference {item.max_abs:.4g})"
    if item.verdict == "scaled":
        return (
            f"{place}: B = {item.scale:.6g} × A (shift {item.shift:.4g}), a scale no BatchNormalization of A explains"
        )
    if item.bias_only:
        return (
            f"{place}: the filter agrees, its bias differs by {item.max_abs:.4g} (or B keeps it where it is not found)"
        )
    at = ",".join(map(str, item.at))
    text = f"{place}: differs by up to {item.max_abs:.4g} at [{at}], {item.share:.1%} of A's filter's range"
    if item.scale != 1.0:
        text += f" (the folded BN gives scale {item.scale:.6g}, shift {item.shift:.4g})"
    return text


def _output(layer: LayerDiff) -> str:
    out = layer.output
    if out is None:
        return ""
    if out.skipped:
        return f"  outputs not compared: {out.skipped}"
    mark = "✔" if out.agrees else "✘"
    explained = f"{out.used:.3g} of what rounding explains (≤ {out.tolerance:.3g})"
    inputs = f"inputs differed by up to {out.input_max_abs:.3g}"
    if out.input_max_abs > out.input_tolerance:
        inputs += f", past the ≤ {out.input_tolerance:.3g} the earlier layers explain (an op between them changed)"
    return f"  outputs {mark} max diff {out.max_abs:.3g}, {explained}; {inputs}"


def _layer_lines(layer: LayerDiff) -> list[str]:
    mark = "–" if layer.weights.skipped else "✔" if layer.agrees else "✘"
    lines = [f"{mark} {visible(layer.a)} ↔ {visible(layer.b)} (by {layer.by}): {_weights(layer.weights)}"]
    if output := _output(layer):
        lines.append(output)
    wrong = [item for item in layer.weights.filters if not item.agrees]
    lines += [f"    {filter_line(item)}" for item in wrong[:SHOWN_FILTERS]]
    if len(wrong) > SHOWN_FILTERS:
        lines.append(f"    … {len(wrong) - SHOWN_FILTERS} more filters differ")
    return lines


def diff_text(result: DiffResult) -> str:
    """The whole report."""
    lines = [
        f"A {visible(result.path_a)} ({result.format_a})",
        f"B {visible(result.path_b)} ({result.format_b})",
        f"outputs: {visible(result.outputs)}",
    ]
    for layer in result.layers:
        lines += _layer_lines(layer)
    for label, names in (("only in A", result.only_a), ("only in B", result.only_b)):
        lines += [
            f"✘ {label}: {visible(name)} ({visible(op)}), no layer of the other model holds its values"
            for name, op in names
        ]
    lines += [
        f"{'✔' if f.agrees else '✘'} graph output {visible(f.a)} ↔ {visible(f.b)}: max diff {f.max_abs:.3g}, "
        f"what the matched convs and rounding explain ≤ {f.tolerance:.3g}"
        for f in result.final
    ]
    if result.first_unexplained is not None:
        lines.append(f"first layer whose output differs past rounding: {visible(result.first_unexplained)}")
    differ = sum(not layer.agrees for layer in result.layers)
    unmatched = len(result.only_a) + len(result.only_b)
    matched = plural(len(result.layers), "matched layer")
    skipped = sum(bool(layer.weights.skipped) for layer in result.layers)
    unread = f" ({skipped} not compared: their weights could not be read)" if skipped else ""
    finals = sum(not f.agrees for f in result.final)
    finals_told = f", {plural(finals, 'graph output')} past what they explain" if finals else ""
    if not result.agrees:
        lines.append(f"✘ the models differ: {differ} of {matched}, {unmatched} unmatched{finals_told}{unread}")
    else:
        lines.append(f"✔ the models agree: {matched} within what rounding explains{unread}")
    return "\n".join(lines) + "\n"
