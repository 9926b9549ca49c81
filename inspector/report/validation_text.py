"""Validation for people: the per-layer table of the text report, its plain-text form, and a progress bar.

The progress bar goes to stderr, and only when stderr is a terminal, so piped output and CI logs stay clean.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from inspector.report.console import make_console
from inspector.report.explain import dims
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
    name = Text(layer.name, style="" if layer.status == "passed" else style)
    return [name, layer.mode or "", Text(label, style=style), *numbers]


def validation_table(result: ValidationResult) -> Table:
    """One row per conv layer: verdict, errors, tolerance, the worst element and its output channel."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for heading in ("layer", "mode", "result", "max abs err", "max rel err", "tolerance", "worst channel", "worst at"):
        table.add_column(heading, no_wrap=True, justify="right" if heading.startswith(("max", "worst c")) else "left")
    for layer in result.layers:
        table.add_row(*_row(layer))
    return table


def _inputs_line(result: ValidationResult) -> str:
    inputs = result.inputs
    tensors = ", ".join(f"{t['name']} {dims(t['shape'])} {t['dtype']}" for t in inputs.get("tensors", ()))
    origin = f"from {inputs['file']}" if inputs.get("source") == "npz" else f"random, seed {inputs.get('seed')}"
    runs = f" · {result.capture_runs} capture run{'s' if result.capture_runs != 1 else ''}"
    return f"validation inputs ({origin}): {tensors or 'per layer, of each layer input shape'}{runs}"


def _runtime_line(result: ValidationResult) -> str:
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
    shown = ", ".join(made_up[:3]) + (f" … ({len(made_up) - 3} more)" if len(made_up) > 3 else "")
    return f"; {len(made_up)} ran at a placeholder input size, which the file does not fix ({shown})"


def _verdict(result: ValidationResult) -> Text:
    total, passed, skipped = len(result.layers), result.count("passed"), result.count("skipped")
    and_skipped = f", {skipped} skipped" if skipped else ""
    and_skipped += _placeholder_note(result)
    if not result.passed:
        bad = total - passed - skipped
        text = f"✘ validation failed: {bad} of {total} conv layers disagree with onnxruntime or cannot run{and_skipped}"
        return Text(text, style="bold red")
    if skipped and not passed:
        return Text(f"- validation: none of the {total} conv layers could run (see the warnings)", style="yellow")
    if not total:
        return Text("✔ validation: no conv layers to validate", style="green")
    return Text(f"✔ validation passed: {passed} of {total} conv layers match onnxruntime{and_skipped}", style="green")


def render_validation(console: Console, result: ValidationResult, *, details: bool = False) -> None:
    """The validation part of the text report; ``details`` adds a line per layer that did not pass (the text
    report shows those as findings instead)."""
    console.print(_inputs_line(result), markup=False)
    if result.runtime:
        console.print(_runtime_line(result), markup=False)
    if result.layers:
        console.print(validation_table(result))
    for layer in result.layers if details else ():
        if layer.status != "passed":
            label, style = _STATUS[layer.status]
            console.print(Text(f"{label.split()[0]} {layer.name}: {layer.message}", style=style))
    for note in result.notes:
        console.print(Text(f"note: {note}", style="yellow"))
    console.print(_verdict(result))


def validation_text(result: ValidationResult) -> str:
    """:func:`render_validation` as plain text, headed by the model's path."""
    buffer = io.StringIO()
    console = make_console(buffer, terminal=False)
    console.print(result.model_path, markup=False)
    render_validation(console, result, details=True)
    return buffer.getvalue()


@contextmanager
def progress_bar(stream: TextIO, label: str) -> Iterator[Callable[[str, int, int], None] | None]:
    """A callback for ``validate(progress=...)`` drawing a bar on ``stream`` when it is a terminal, else ``None``."""
    if not stream.isatty():
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(file=stream), transient=True) as bar:
        task = bar.add_task(f"validating {label}", total=None)

        def advance(layer: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=f"validating {label}: {layer}")

        yield advance
