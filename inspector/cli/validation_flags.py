"""The ``inspect --validate`` flags: their definitions, their parsing into ``ValidationOptions``, and the step
that validates the loaded reports.

Values are parsed here rather than by argparse so that a bad one is a one-line ``ValidationError`` (exit 2).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping

import pluggy

from inspector.cli.progress import ProgressDisplay
from inspector.errors import ValidationError
from inspector.report.model_report import Report
from inspector.validation.options import DEFAULT_MAX_CAPTURE_MB, GRAPH_OPTIMIZATIONS, ValidationOptions

_FLAGS = (
    "seed",
    "inputs",
    "max_capture_mb",
    "atol",
    "rtol",
    "bound",
    "provider",
    "graph_optimization",
    "threads",
    "junit",
)


def add_validation_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--validate`` and its options to the ``inspect`` parser."""
    group = parser.add_argument_group("validation against onnxruntime")
    group.add_argument(
        "--validate", action="store_true", help="rerun every conv layer in NumPy and compare it with onnxruntime"
    )
    group.add_argument("--seed", metavar="N", help="seed of the random inputs (default 0)")
    group.add_argument("--inputs", metavar="FILE.npz", help="run on these arrays, named as the model's inputs")
    group.add_argument(
        "--max-capture-mb",
        metavar="MB",
        help=f"memory limit of validation (default {DEFAULT_MAX_CAPTURE_MB:g}): the inputs and a layer's captured "
        "tensors each stay within it, its NumPy recomputation within twice it; more capture runs when needed",
    )
    for name in ("atol", "rtol"):
        group.add_argument(
            f"--{name}",
            action="append",
            default=[],
            metavar="[LAYER:]VALUE",
            help=f"{name} for every layer, or for LAYER; repeatable (default: atol what rounding can explain, "
            "per element, rtol 0)",
        )
    group.add_argument(
        "--bound",
        choices=("auto", "worst-case"),
        help="default tolerance: the smaller of the worst-case and the probabilistic rounding bound (auto, the "
        "default), or the worst case alone, which assumes nothing about rounding errors",
    )
    group.add_argument(
        "--provider",
        action="append",
        default=[],
        metavar="NAME",
        help="onnxruntime execution provider, in priority order (repeatable; e.g. cpu, CUDAExecutionProvider; "
        "default cpu)",
    )
    group.add_argument(
        "--graph-optimization",
        choices=GRAPH_OPTIMIZATIONS,
        help="onnxruntime graph optimization level (default all, onnxruntime's own default)",
    )
    group.add_argument(
        "--threads", metavar="N", help="onnxruntime intra-op threads (default: onnxruntime's, one per core)"
    )
    group.add_argument("--junit", metavar="FILE", help="also write a JUnit XML file, one test case per conv layer")


def _number(label: str, text: str, *, positive: bool = False) -> float:
    """``text`` as a finite number at least 0 (above 0 when ``positive``); ``label`` names it in the error."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValidationError(f"{label}: expected {'a positive' if positive else 'a non-negative'} number")
    return value


def _tolerances(flag: str, values: list[str]) -> tuple[float | None, dict[str, float]]:
    """``["1e-5", "conv1:1e-3"]`` → ``(1e-5, {"conv1": 1e-3})``; the last value for a name wins."""
    overall: float | None = None
    per_layer: dict[str, float] = {}
    for text in values:
        layer, _, value = text.rpartition(":")
        if layer:
            per_layer[layer] = _number(f"{flag} {text!r}", value)
        else:
            overall = _number(f"{flag} {text!r}", value)
    return overall, per_layer


def validation_options(
    arguments: argparse.Namespace, input_shapes: Mapping[str, tuple[int, ...]]
) -> ValidationOptions | None:
    """The ``ValidationOptions`` the flags ask for (with the ``--input-shape`` sizes), or ``None`` without
    ``--validate``."""
    if not arguments.validate:
        given = [f"--{name.replace('_', '-')}" for name in _FLAGS if getattr(arguments, name) not in (None, [])]
        if given:
            raise ValidationError(f"{given[0]} only applies with --validate")
        return None
    settings: dict[str, object] = {"input_shapes": dict(input_shapes)}
    for flag, value in (("seed", arguments.seed), ("threads", arguments.threads)):
        if value is not None:
            if not value.isdigit() or (flag == "threads" and int(value) < 1):
                kind = "positive" if flag == "threads" else "non-negative"
                raise ValidationError(f"--{flag} {value!r}: expected a {kind} integer")
            settings[flag] = int(value)
    if arguments.provider:
        settings["providers"] = tuple(arguments.provider)
    for name in ("bound", "graph_optimization"):
        if getattr(arguments, name) is not None:
            settings[name] = getattr(arguments, name)
    if arguments.inputs is not None:
        settings["inputs"] = arguments.inputs
    if arguments.max_capture_mb is not None:
        settings["max_capture_mb"] = _number(
            f"--max-capture-mb {arguments.max_capture_mb!r}", arguments.max_capture_mb, positive=True
        )
    settings["atol"], settings["layer_atol"] = _tolerances("--atol", arguments.atol)
    settings["rtol"], settings["layer_rtol"] = _tolerances("--rtol", arguments.rtol)
    return ValidationOptions(**settings)  # type: ignore[arg-type]


def validate_reports(
    reports: list[Report],
    options: ValidationOptions,
    manager: pluggy.PluginManager,
    display: ProgressDisplay | None = None,
) -> list[Report]:
    """Each report with its model validated by ``manager``'s plugins (a phase of ``display`` each).

    A per-layer tolerance or an input shape must name a layer or input of at least one of the models; each
    model gets the ones that name its own.
    """
    from inspector.validation.run import validate  # onnxruntime is imported only when validating

    layers = {layer.name for report in reports for layer in report.model.conv_layers}
    unknown_layers = sorted(options.named_layers() - layers)
    if unknown_layers:
        raise ValidationError(f"--atol/--rtol name {unknown_layers[0]!r}, which is no conv layer of the models given")
    validated = []
    for report in reports:
        progress = None if display is None else display.phase(f"validating {report.model.path}")
        result = validate(report.model, options.for_model(report.model), progress=progress, plugin_manager=manager)
        validated.append(report.with_validation(result))
    return validated
