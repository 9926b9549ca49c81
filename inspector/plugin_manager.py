"""The plugin manager: built-in plugins, installed ones (entry-point group ``inspector``), and the calls.

``get_plugin_manager()`` builds a fresh manager each time; nothing is registered at import.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pluggy

from inspector import hookspecs
from inspector.errors import LoadError, PluginError, UnsupportedModelError
from inspector.model.common import Model
from inspector.model.file_checks import regular_file_size
from inspector.model.findings import Finding
from inspector.model.input_shapes import check_input_names
from inspector.options import Options

ENTRY_POINT_GROUP = "inspector"

DEFAULT_PLUGINS: tuple[str, ...] = (
    "inspector.plugins.onnx.load_onnx",
    "inspector.plugins.onnx.capture_onnx",
    "inspector.plugins.keras.load_keras",
    "inspector.plugins.keras.run_keras_layer",
    "inspector.plugins.analyze_params",
    "inspector.plugins.analyze_filters",
)


def get_plugin_manager(*, load_entry_points: bool = True) -> pluggy.PluginManager:
    """A new manager with the built-in plugins and, unless told otherwise, the installed ones."""
    manager = pluggy.PluginManager("inspector")
    manager.add_hookspecs(hookspecs)
    for module_name in DEFAULT_PLUGINS:
        module = importlib.import_module(module_name)
        manager.register(module, name=module_name.rsplit(".", 1)[-1])
    if load_entry_points:
        try:
            manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        except Exception as error:  # a broken third-party package must not look like a broken model
            raise PluginError(f"could not load an installed plugin of group {ENTRY_POINT_GROUP!r}: {error}") from error
    return manager


def raise_errors_requested() -> bool:
    """Whether ``INSPECTOR_RAISE_ERRORS`` asks for plugin exceptions to propagate."""
    return os.environ.get("INSPECTOR_RAISE_ERRORS", "") not in ("", "0")


def load_model(
    path: str | Path,
    manager: pluggy.PluginManager | None = None,
    options: Options | None = None,
    *,
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
) -> Model:
    """Ask the loaders for ``path``; raise ``LoadError`` or ``UnsupportedModelError`` when none can.

    ``input_shapes`` join ``options``' and must each name an input of the model (``ValidationError``).
    """
    manager = manager or get_plugin_manager()
    options = options or Options()
    if input_shapes:
        options = dataclasses.replace(options, input_shapes={**options.input_shapes, **input_shapes})
    path = Path(path)
    if regular_file_size(path, str(path)) == 0:
        raise LoadError(f"{path}: empty file (0 bytes)")
    try:
        model = manager.hook.load_model(path=path, options=options)
    except OSError as error:
        raise LoadError(f"{path}: cannot be read ({error.strerror or error})") from None
    if model is None:
        raise UnsupportedModelError(f"{path}: not a model format any installed loader reads (ONNX, Keras)")
    if not isinstance(model, Model):
        raise PluginError(f"{path}: a loader returned {type(model).__name__}, not a Model")
    if input_shapes:
        check_input_names(input_shapes, model.inputs, model.path)
    return model


def analyze_model(
    model: Model, manager: pluggy.PluginManager | None = None, options: Options | None = None
) -> list[Finding]:
    """Call the ``analyze_model`` hook: every analyzer runs, in pluggy's order (``tryfirst``/``trylast``), inside
    any wrappers; the loader's notes come first.

    An analyzer that raises becomes an error finding naming it, and the others still run (``options.raise_errors``
    or ``INSPECTOR_RAISE_ERRORS=1`` re-raise instead).  A ``LoadError`` is the file's fault, not the analyzer's (a
    weight whose bytes cannot be read): it propagates, naming the file.
    """
    manager = manager or get_plugin_manager()
    options = options or Options()
    for implementation in manager.hook.analyze_model.get_hookimpls():
        if not (implementation.hookwrapper or implementation.wrapper):
            implementation.function = _isolated(implementation.function, implementation.plugin_name)
    token = _RAISE.set(options.raise_errors or raise_errors_requested())
    try:
        results = manager.hook.analyze_model(model=model, options=options)
    except LoadError as error:
        message = str(error)
        raise LoadError(message if model.path in message else f"{model.path}: {message}") from error
    finally:
        _RAISE.reset(token)
    return [*model.notes, *(finding for result in results for finding in result)]


_RAISE: contextvars.ContextVar[bool] = contextvars.ContextVar("inspector_raise_errors", default=False)
"""Whether the analyzers called now re-raise (set by ``analyze_model`` for the call)."""


def _isolated(function: Callable[..., Any], plugin: str) -> Callable[..., Any]:
    """``function`` (one analyzer) turning its exceptions into an error finding that names ``plugin``, and checking
    what it returns; applied once to each implementation, whatever registered it."""
    if getattr(function, "_inspector_isolated", False):
        return function

    @functools.wraps(function)
    def isolated(*args: Any, **kwargs: Any) -> list[Finding]:
        try:
            result = function(*args, **kwargs)
            if result is None:
                return []
            if not isinstance(result, list | tuple) or not all(isinstance(f, Finding) for f in result):
                raise PluginError(f"returned {type(result).__name__}, not a list of Finding")
            return list(result)
        except LoadError:
            raise
        except Exception as error:
            if _RAISE.get():
                raise
            message = f"analyzer plugin {plugin!r} failed: {type(error).__name__}: {error}"
            data = {"plugin": plugin, "exception": type(error).__name__}
            return [Finding(severity="error", check="plugin", layer=None, message=message, data=data)]

    isolated._inspector_isolated = True  # type: ignore[attr-defined]
    return isolated


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """A registered plugin: its name, the hooks it implements, and its distribution when installed."""

    name: str
    hooks: tuple[str, ...]
    distribution: str | None


def list_plugins(manager: pluggy.PluginManager) -> list[PluginInfo]:
    """Every registered plugin, sorted by name."""
    distributions = {
        id(plugin): f"{dist.metadata['name']} {dist.version}" for plugin, dist in manager.list_plugin_distinfo()
    }
    infos = []
    for name, plugin in manager.list_name_plugin():
        if plugin is None:
            continue
        hooks = tuple(sorted(caller.name for caller in manager.get_hookcallers(plugin) or ()))
        infos.append(PluginInfo(name=name, hooks=hooks, distribution=distributions.get(id(plugin))))
    return sorted(infos, key=lambda info: info.name)
