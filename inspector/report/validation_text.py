"""Validation for people: the per-layer table of the text report, its plain-text form, and a progress bar.

The progress bar goes to stderr, and only when stderr is a terminal, so piped output and CI logs stay clean.
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.text import Text

from inspector.model.findings import examples, plural
from inspector.report.console import make_console, show, without_trailing_spaces
from inspector.report.explain import dims
from inspector.report.plain_table import Column, Line, print_lines, table_lines
from inspector.report.visible import visible
from inspector.validation.compare import Comparison
from inspector.validation.result import LayerValidation, ValidationResult
from inspector.validation.rounding import FALSE_ALARM_PROBABILITY

_STATUS = {
    "passed": ("✔ passed", "green"),
    "failed": ("✘ failed", "bold red"),
    "error": ("✘ error", "bold red"),
    "skipped": ("- skipped", "yellow"),
}


def _tolerance(c: Comparison) -> str:
    if c.bound is not None:
        text = f"{c.bound.describe()} ≤ {c.atol:.2g}"
    else:
        text = f"atol {c.atol:.2g}" if c.rule == "given" else "exact"
    return f"{text} + rtol {c.rtol:.2g}" if c.rtol else text


def _row(layer: LayerValidation) -> list[str | Text]:
    label, style = _STATUS[layer.status]
    c = layer.comparison
    numbers = ["", "", "", "", ""]
    if c is not None:
        numbers = [
            f"{c.max_abs_error:.3g}",
            f"{c.max_rel_error:.3g}",
            _tolerance(c),
            "" if c.worst_channel is None else str(c.worst_channel),
            ",".join(map(str, c.worst_index or ())),
        ]
    name = Text(visible(layer.name), style="" if layer.status == "passed" else style)
    return [name, layer.mode or "", Text(label, style=style), *numbers]


COLUMNS = tuple(
    Column(heading, right=heading.startswith(("max", "worst c")))
    for heading in ("layer", "mode", "result", "max abs err", "max rel err", "tolerance", "worst channel", "worst at")
)


def validation_table(result: ValidationResult) -> list[Line]:
    """One line per conv layer (a heading and a rule first): verdict, errors, tolerance, the worst element and its
    output channel."""
    return table_lines(COLUMNS, (_row(layer) for layer in result.layers))


def inputs_line(result: ValidationResult) -> str:
    """How the validation inputs were made: ``validation inputs (random, seed 1): image 1×1×28×28 float32 · …``."""
    inputs = result.inputs
    tensors = ", ".join(f"{t['name']} {dims(t['shape'])} {t['dtype']}" for t in inputs.get("tensors", ()))
    origin = f"from {inputs['file']}" if inputs.get("source") == "npz" else f"random, seed {inputs.get('seed')}"
    runs = f" · {plural(result.capture_runs, 'capture run')}"
    return f"validation inputs ({origin}): {tensors or 'per layer, of each layer input shape'}{runs}"


def runtime_line(result: ValidationResult) -> str:
    """How onnxruntime ran (version, providers, optimization, threads) and the tolerance rule."""
    runtime = result.runtime
    threads = runtime.get("threads") or "default"
    providers = ", ".join(runtime.get("providers", ()))
    level = runtime.get("graph_optimization")
    line = f"onnxruntime {runtime.get('onnxruntime')} ({providers}; graph optimization {level}, threads {threads})"
    rules = {layer.comparison.rule for layer in result.layers if layer.comparison is not None}
    if "probabilistic" in rules:
        line += (
            " · tolerance per element: what rounding can explain (a correct model fails with probability below "
            f"{FALSE_ALARM_PROBABILITY:g})"
        )
    elif "worst-case" in rules:
        line += " · tolerance per element: what rounding can explain at worst"
    return line


def _placeholder_note(result: ValidationResult) -> str:
    made_up = [layer.name for layer in result.layers if layer.placeholder]
    if not made_up:
        return ""
    fixed = f"ran at a placeholder input size, which the file does not fix ({examples(made_up)})"
    return visible(f"; {len(made_up):,} {fixed}")


def _verdict(result: ValidationResult) -> Text:
    total, passed, skipped = len(result.layers), result.count("passed"), result.count("skipped")
    and_skipped = f", {skipped:,} skipped" if skipped else ""
    and_skipped += _placeholder_note(result)
    of_total = plural(total, "conv layer")
    if not result.passed:
        bad = total - passed - skipped
        disagree = "disagrees" if bad == 1 else "disagree"
        text = f"✘ validation failed: {bad:,} of {of_total} {disagree} with onnxruntime or cannot run{and_skipped}"
        return Text(text, style="bold red")
    if skipped and not passed:
        return Text(f"- validation: none of {of_total} could run (see the warnings)", style="yellow")
    if not total:
        return Text("✔ validation: no conv layers to validate", style="green")
    match = "matches" if passed == 1 else "match"
    return Text(f"✔ validation passed: {passed:,} of {of_total} {match} onnxruntime{and_skipped}", style="green")


def render_validation(console: Console, result: ValidationResult, *, details: bool = False) -> None:
    """The validation part of the text report; ``details`` adds a line per layer that did not pass (the text
    report shows those as findings instead)."""
    show(console, inputs_line(result))
    if result.runtime:
        show(console, runtime_line(result))
    if result.layers:
        print_lines(console, validation_table(result))
    for layer in result.layers if details else ():
        if layer.status != "passed":
            label, style = _STATUS[layer.status]
            show(console, f"{label.split()[0]} {layer.name}: {layer.message}", style)
    for note in result.notes:
        show(console, f"note: {note}", "yellow")
    console.print(_verdict(result))


def validation_text(result: ValidationResult) -> str:
    """:func:`render_validation` as plain text, headed by the model's path."""
    buffer = io.StringIO()
    console = make_console(buffer, terminal=False)
    show(console, result.model_path)
    render_validation(console, result, details=True)
    return without_trailing_spaces(buffer.getvalue())
