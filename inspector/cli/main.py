"""The ``inspect`` command: a per-layer report for people, JSON for programs, exit codes for CI.

Exit codes: 0 everything checked holds, 1 a check failed, 2 usage error or unreadable model, 3 internal error.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import pluggy

from inspector.cli.allocator import share_one_arena
from inspector.cli.model_paths import expand_models
from inspector.cli.progress import ProgressDisplay, progress_display
from inspector.cli.supervise import run_with_deadline, supervised
from inspector.cli.validation_flags import add_validation_arguments, validate_reports, validation_options
from inspector.errors import FilterError, InspectorError
from inspector.model.budget import DEFAULT_FOLD_MB
from inspector.model.common import ConvLayer, Model
from inspector.model.findings import plural
from inspector.model.input_shapes import parse_input_shape
from inspector.options import Options
from inspector.plugin_manager import get_plugin_manager, list_plugins, raise_errors_requested
from inspector.report.atomic_file import atomic_file
from inspector.report.html_report import require_html_extra, write_html
from inspector.report.json_report import render_json, schema_text
from inspector.report.junit import junit_xml
from inspector.report.model_report import Report, inspect_model
from inspector.report.npz import export_filters
from inspector.report.text import render_text
from inspector.report.visible import visible
from inspector.version import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad command line a one-line error (exit 2) instead of the whole usage."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


class UsageError(Exception):
    """A command line that cannot be carried out (exit 2)."""


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="inspect",
        description="Inspect convolutional models (ONNX, Keras): layers, filters, verified parameter counts.",
        epilog="Reading weights: the table and the parameter checks use shapes and attributes only; the filter "
        "checks (on unless --no-weights), --layer, --filter, --export-filters and --validate read weight bytes, a "
        "layer at a time (a memory-mapped weight a chunk at a time), so memory stays bounded whatever the model's "
        "size. Also: 'inspect plugins [--json]' lists the registered plugins. "
        "Exit codes: 0 all checks hold, 1 a check failed, 2 usage error or unreadable model, 3 internal error.",
    )
    parser.add_argument(
        "models",
        nargs="*",
        metavar="MODEL",
        help="model files (.onnx, .h5, .keras), folders of them, or quoted glob patterns ('zoo/**/*.onnx')",
    )
    parser.add_argument(
        "--no-weights",
        action="store_true",
        help="read shapes and attributes only: the table and parameter checks, without the filter checks that "
        "read every weight (NaN or Inf, dead, duplicate filters, int8 range)",
    )
    parser.add_argument("--layer", metavar="NAME", help="explain one layer in plain words, with per-filter statistics")
    parser.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="NAME:N",
        help="print conv layer NAME's filter for output channel N: values, index in the file, input maps (repeatable)",
    )
    parser.add_argument(
        "--export-filters",
        metavar="FILE.npz",
        help="write every conv layer's canonical weight and bias to FILE.npz (keys <layer>/weight, <layer>/bias)",
    )
    parser.add_argument(
        "--input-shape",
        action="append",
        default=[],
        metavar="NAME:DIMS",
        help="sizes of a model input's open dims (-1, 0 or symbolic in the file), e.g. image:1x3x224x224; shapes, "
        "MACs and validation follow them (an open batch dim is 1 by default); repeatable",
    )
    parser.add_argument(
        "--max-fold-mb",
        type=_megabytes,
        metavar="MB",
        default=DEFAULT_FOLD_MB,
        help=f"largest constant a model may have computed while it is loaded (a weight made by ConstantOfShape, "
        f"Expand…), in MiB (default {DEFAULT_FOLD_MB:g})",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="report format (default text)")
    parser.add_argument(
        "--findings",
        choices=("all", "warnings", "errors"),
        default="all",
        help="findings the text report lists: all, errors and warnings, or errors (default all; the verdict, the "
        "exit code and JSON count them all)",
    )
    parser.add_argument(
        "--all-nodes",
        action="store_true",
        help="list the nodes that only compute constants (weights built by ConstantOfShape, Constant, folded "
        'subgraphs) in the text table too; JSON always has them, marked "constant"',
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of stdout")
    parser.add_argument(
        "--html",
        metavar="FILE",
        help="also write a self-contained HTML page: layer table, filter grids, norms, histograms, findings and "
        "validation charts (needs: pip install 'conv-inspector[html]')",
    )
    parser.add_argument(
        "--schema",
        action="store_true",
        help="print the JSON Schema of the --format json report (or write it to --output FILE); takes no MODEL",
    )
    parser.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no progress bar and no notes on stderr, only errors (the bar is drawn only when stderr is a terminal)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="run in a child process killed after SECONDS (exit 2): for untrusted files a C library may hang on",
    )
    parser.add_argument("--version", action="version", version=f"conv-inspector {__version__}")
    add_validation_arguments(parser)
    return parser


def _megabytes(text: str) -> float:
    """A positive, finite number of MiB (argparse turns the error into a one-line usage error)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of MiB, got {text!r}")
    return value


def _plugins_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="inspect plugins", description="List the registered plugins and their hooks.")
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _write(text: str, output: str | None) -> None:
    """Print ``text``, or write it to ``output`` in one step (a temporary file renamed into place)."""
    if output is None:
        sys.stdout.write(text)
        return
    with atomic_file(output, "w") as stream:
        stream.write(text)


def run_plugins(argv: Sequence[str]) -> int:
    """``inspect plugins [--json]``."""
    arguments = _plugins_parser().parse_args(argv)
    infos = list_plugins(get_plugin_manager())
    if arguments.json:
        document = [{"name": i.name, "hooks": list(i.hooks), "distribution": i.distribution} for i in infos]
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        width = max(len(i.name) for i in infos)
        for info in infos:
            origin = f"  ({info.distribution})" if info.distribution else "  (built-in)"
            sys.stdout.write(f"{info.name:<{width}}  {', '.join(info.hooks)}{origin}\n")
    return EXIT_OK


def _layer_error(model: Model, problem: str) -> UsageError:
    """A usage error about a layer, listing the conv layers the model has."""
    names = ", ".join(layer.name for layer in model.conv_layers) or "none"
    return UsageError(f"{model.path}: {problem} (conv layers: {names})")


def _filter_spec(spec: str) -> tuple[str, int]:
    """``NAME:N`` as ``(NAME, N)``; the name may itself hold colons."""
    name, _, channel = spec.rpartition(":")
    if not name or not channel.isdigit():
        raise UsageError(f"--filter {spec!r}: expected NAME:N, a conv layer's name and an output channel number")
    return name, int(channel)


def _check_filter(model: Model, name: str, channel: int) -> None:
    """Raise ``UsageError`` unless ``model`` has conv layer ``name`` with a filter for output ``channel``."""
    layer = next((layer for layer in model.layers if layer.name == name), None)
    if layer is None:
        raise _layer_error(model, f"no layer named {name!r}")
    if not isinstance(layer, ConvLayer):
        raise _layer_error(model, f"layer {name!r} is a {layer.source_op}, not a conv layer")
    try:
        layer.filter(channel)
    except FilterError as error:
        raise UsageError(f"{model.path}: {error}") from None


def _export(model: Model, path: str, *, quiet: bool) -> None:
    try:
        count = export_filters(model, path)
    except OSError as error:
        raise UsageError(f"--export-filters: cannot write {path}: {error.strerror or error}") from None
    layers = plural(len(model.conv_layers), "conv layer")
    if not quiet:
        print(f"inspect: wrote {plural(count, 'array')} of {layers} to {path}", file=sys.stderr)


def one_line(error: BaseException) -> str:
    """``error``'s message on one line, made visible (a file name or a name in the file may hold a newline or ESC)."""
    return visible(str(error))


def run_inspect(argv: Sequence[str]) -> int:
    """``inspect MODEL [MODEL ...]`` (or ``inspect --schema``): returns the exit code."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    if arguments.schema:
        if arguments.models:
            raise UsageError("--schema prints the JSON report's schema and takes no MODEL")
        _write(schema_text(), arguments.output)
        return EXIT_OK
    if not arguments.models:
        parser.error("the following arguments are required: MODEL")
    if arguments.html is not None:
        require_html_extra()
    if arguments.timeout is not None and not supervised():
        return run_with_deadline(argv, arguments.timeout, arguments.models)
    arguments.models = expand_models(arguments.models)  # a folder or a glob: the model files it stands for
    filters = [_filter_spec(spec) for spec in arguments.filter]
    if arguments.export_filters is not None and len(arguments.models) > 1:
        raise UsageError("--export-filters writes the filters of one model; give one MODEL")
    input_shapes = dict(parse_input_shape(text) for text in arguments.input_shape)
    validation = validation_options(arguments, input_shapes)
    options = Options(
        raise_errors=raise_errors_requested(),
        input_shapes=input_shapes,
        read_weights=not arguments.no_weights,
        max_fold_mb=arguments.max_fold_mb,
    )
    manager = get_plugin_manager()
    with contextlib.ExitStack() as open_models:  # every model's files are closed, however the run ends
        with progress_display(sys.stderr, quiet=arguments.quiet) as display:  # gone before the report is written
            reports, worst = _inspect_all(arguments, filters, options, manager, open_models, display)
            unmatched = sorted(set(input_shapes) - {t.name for report in reports for t in report.model.inputs})
            if reports and unmatched:
                raise UsageError(f"--input-shape names {unmatched[0]!r}, which is no input of the models given")
            if reports and validation is not None:
                reports = validate_reports(reports, validation, manager, display)
                worst = max([worst, *(report.exit_code for report in reports)])
        if reports:
            if arguments.export_filters is not None:
                _export(reports[0].model, arguments.export_filters, quiet=arguments.quiet)
            if arguments.format == "json":
                text = render_json(reports, layer=arguments.layer, filters=filters)
            else:
                terminal = arguments.output is None and sys.stdout.isatty()
                text = render_text(
                    reports,
                    terminal=terminal,
                    layer=arguments.layer,
                    filters=filters,
                    all_nodes=arguments.all_nodes,
                    findings=arguments.findings,
                )
            _write(text, arguments.output)
            if arguments.junit is not None:
                _write(junit_xml(reports), arguments.junit)
            if arguments.html is not None:
                write_html(reports, arguments.html, read_weights=not arguments.no_weights)
    return worst


def _inspect_all(
    arguments: argparse.Namespace,
    filters: list[tuple[str, int]],
    options: Options,
    manager: pluggy.PluginManager,
    open_models: contextlib.ExitStack,
    display: ProgressDisplay,
) -> tuple[list[Report], int]:
    """Load and analyze every model (each a phase of ``display``); a model that cannot be read is an error line.

    Returns the reports and the worst exit code so far.
    """
    reports: list[Report] = []
    worst = EXIT_OK
    for path in arguments.models:
        try:
            shown = dataclasses.replace(options, progress=display.phase(f"inspecting {path}"))
            report = inspect_model(path, plugin_manager=manager, options=shown)
        except InspectorError as error:
            if arguments.debug:
                traceback.print_exc()
            print(f"inspect: error: {one_line(error)}", file=sys.stderr)
            worst = max(worst, EXIT_USAGE)
            continue
        open_models.callback(report.model.close)
        if arguments.layer is not None and arguments.layer not in {layer.name for layer in report.model.layers}:
            raise _layer_error(report.model, f"no layer named {arguments.layer!r}")
        for name, channel in filters:
            _check_filter(report.model, name, channel)
        reports.append(report)
        worst = max(worst, report.exit_code)
    return reports, worst


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``inspect`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    share_one_arena()
    try:
        if argv[:1] == ["plugins"] and not Path("plugins").is_file():
            return run_plugins(argv[1:])
        if argv[:1] == ["diff"] and not Path("diff").is_file():
            from inspector.cli.diff import run_diff  # the report modules of diff load only for it

            return run_diff(argv[1:])
        return run_inspect(argv)
    except UsageError as error:
        print(f"inspect: error: {one_line(error)}", file=sys.stderr)
        return EXIT_USAGE
    except InspectorError as error:
        if debug:
            traceback.print_exc()
        print(f"inspect: error: {one_line(error)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("inspect: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if debug:
            traceback.print_exc()
        print(
            f"inspect: internal error: {type(error).__name__}: {one_line(error)} "
            "(a bug; run with --debug for the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
