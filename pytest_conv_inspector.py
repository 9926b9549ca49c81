"""pytest plugin of conv-inspector: ``pytest --inspect-models PATH`` validates model files, one test per conv layer.

Registered under the ``pytest11`` entry point, so pytest loads it wherever conv-inspector is installed.  It is a
top-level module of its own, apart from the ``inspector`` package, so that a pytest run without
``--inspect-models`` imports nothing but this file (no NumPy, no onnxruntime) and collects nothing more.
The work is in :mod:`inspector.testing.pytest_plugin`, imported only when the option is given.
"""

from __future__ import annotations

import pytest

PLUGIN_NAME = "conv-inspector-models"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conv-inspector", "conv-inspector model validation")
    group.addoption(
        "--inspect-models",
        action="append",
        default=[],
        metavar="PATH",
        help="validate every conv layer of the model files at PATH (.onnx, .h5, .keras; a file or a directory, "
        "repeatable) against onnxruntime, one test per layer; with -n, each model runs whole on one worker",
    )
    group.addoption(
        "--inspect-input-shape",
        action="append",
        default=[],
        metavar="NAME:DIMS",
        help="sizes of a model input's open dims, as inspect --input-shape (e.g. x:1x3x640x640); repeatable",
    )
    group.addoption(
        "--inspect-provider",
        action="append",
        default=[],
        metavar="NAME",
        help="onnxruntime execution provider, in priority order (repeatable; default cpu)",
    )
    group.addoption(
        "--inspect-graph-optimization",
        choices=("disabled", "basic", "extended", "all"),
        help="onnxruntime graph optimization level (default all)",
    )
    group.addoption("--inspect-threads", type=int, metavar="N", help="onnxruntime intra-op threads")


def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """Collect the model paths as if they had been given on the command line."""
    args.extend(early_config.known_args_namespace.inspect_models)


def pytest_configure(config: pytest.Config) -> None:
    paths = config.getoption("inspect_models")
    if paths:
        from inspector.testing.pytest_plugin import ModelCollection, collection_options

        config.pluginmanager.register(ModelCollection(paths, collection_options(config)), PLUGIN_NAME)
