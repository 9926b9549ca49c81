"""``inspect diff A B``: did a conversion, quantization or optimization keep every filter?

Exit codes: 0 the models agree within what rounding explains (a BatchNormalization folded correctly included),
1 they differ, 2 usage error or a model that cannot be read (one line, no traceback unless ``--debug``).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from inspector.errors import InspectorError
from inspector.model.input_shapes import parse_input_shape
from inspector.report.atomic_file import atomic_file
from inspector.report.diff_json import render_diff_json
from inspector.report.diff_junit import diff_junit
from inspector.report.diff_text import diff_text
from inspector.report.visible import visible
from inspector.validation.model_diff import diff
from inspector.validation.options import DEFAULT_MAX_CAPTURE_MB

EXIT_AGREE, EXIT_DIFFER, EXIT_USAGE = 0, 1, 2


class _DiffUsageError(Exception):
    """A command line ``inspect diff`` cannot carry out."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _DiffUsageError(f"{message} (see inspect diff --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="inspect diff",
        description="Compare model B with model A filter by filter (and their outputs, where both can run): layers "
        "matched by name, else by order, kind and shapes; each filter identical, within storage rounding, a "
        "folded BatchNormalization, or different.",
        epilog="Exit codes: 0 the models agree, 1 they differ, 2 usage error or unreadable model.",
    )
    parser.add_argument("a", metavar="A", help="the reference model (.onnx, .h5, .keras)")
    parser.add_argument("b", metavar="B", help="the model made from it (converted, quantized, optimized)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="report format (default text)")
    parser.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of stdout")
    parser.add_argument("--junit", metavar="FILE", help="also write JUnit XML, one test case per layer")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the random input (default 0)")
    parser.add_argument(
        "--input-shape",
        action="append",
        default=[],
        metavar="NAME:DIMS",
        help="sizes of an input's open dims for the output comparison, e.g. image:1x3x224x224; repeatable",
    )
    parser.add_argument(
        "--max-capture-mb",
        type=float,
        default=DEFAULT_MAX_CAPTURE_MB,
        metavar="MB",
        help=f"memory limit of the inputs and captured outputs (default {DEFAULT_MAX_CAPTURE_MB:g})",
    )
    parser.add_argument("--no-outputs", action="store_true", help="compare weights only; run neither model")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    return parser


def _deliver(documents: list[tuple[str, str | None]]) -> None:
    """Each ``(text, file)``: to the file, written whole or not at all, or to stdout when ``file`` is ``None``."""
    for text, path in documents:
        if path is None:
            sys.stdout.write(text)
            continue
        try:
            with atomic_file(path, "w") as stream:
                stream.write(text)
        except OSError as error:
            raise _DiffUsageError(f"cannot write {path}: {error.strerror or error}") from None


def run_diff(argv: Sequence[str]) -> int:
    """``inspect diff A B [options]``: returns the exit code."""
    debug = "--debug" in argv
    try:
        arguments = _parser().parse_args(argv)
        if not arguments.max_capture_mb > 0:
            raise _DiffUsageError(f"--max-capture-mb {arguments.max_capture_mb:g}: expected a positive number")
        result = diff(
            arguments.a,
            arguments.b,
            seed=arguments.seed,
            input_shapes=dict(parse_input_shape(text) for text in arguments.input_shape),
            max_capture_mb=arguments.max_capture_mb,
            outputs=not arguments.no_outputs,
        )
        text = render_diff_json(result) if arguments.format == "json" else diff_text(result)
        junit = [] if arguments.junit is None else [(diff_junit(result), arguments.junit)]
        _deliver([(text, arguments.output), *junit])
    except (_DiffUsageError, InspectorError) as error:
        if debug:
            traceback.print_exc()
        print(f"inspect diff: error: {visible(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_AGREE if result.agrees else EXIT_DIFFER
