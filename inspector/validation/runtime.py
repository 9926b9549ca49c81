"""onnxruntime sessions as validation needs them: the user's providers, optimization level and threads, no
spinning threads, quiet, with refusals caught, and a record of which provider ran which node.

Spinning is off (``session.intra_op.allow_spinning`` 0) because onnxruntime's spinning threads and NumPy's
BLAS threads slow each other down twofold.  onnxruntime's own log is silenced: what it refuses comes back as a
:class:`RuntimeRefusal` whose message the report shows.

onnxruntime 1.32's POSIX builds (its Linux wheel) carry 1DS telemetry: importing onnxruntime writes a device id and an
event database (``~/.cache/Microsoft/DeveloperTools/.onnxruntime/``: ``deviceid``, ``onnxruntime.db``) and queues a
``ProcessInfo`` event for upload.  Its one switch is the environment variable ``ORT_DISABLE_TELEMETRY``, read once
when onnxruntime is imported (``onnxruntime.disable_telemetry_events()`` comes too late: the files are written by
then), so this module sets it before its import, unless the user set it.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # before onnxruntime's import, which reads it (docstring)
import onnxruntime as ort

from inspector.errors import ValidationError, first_line

_STATUS_PREFIX = re.compile(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ")
_NODE_FAILURE = re.compile(r"Non-zero status code returned while running (\w+) node\. Name:'([^']*)' Status Message: ")
_FATAL_ONLY = 4
ort.set_default_logger_severity(_FATAL_ONLY)  # kernels warn through the default logger, not the session's (a model
# file's deprecated attribute would print onnxruntime's log lines, colour codes included, among the report)


_OWN_ERRORS = vars(ort.capi.onnxruntime_pybind11_state).values()
RUNTIME_ERRORS: tuple[type[Exception], ...] = (
    *(e for e in _OWN_ERRORS if isinstance(e, type) and issubclass(e, Exception) and e.__module__.startswith("onnx")),
    RuntimeError,
)
"""The exceptions onnxruntime raises for a model or input it will not take (its own types, and RuntimeError)."""


class RuntimeRefusal(Exception):
    """onnxruntime would not load or run a model.

    ``unsupported`` is true when onnxruntime lacks an implementation (float64 Conv on CPU, an unknown op):
    a limit of the runtime, not a fault of the model.
    """

    def __init__(self, message: str, *, unsupported: bool) -> None:
        super().__init__(message)
        self.unsupported = unsupported


def _refusal(error: Exception) -> RuntimeRefusal:
    text = first_line(error)
    unsupported = (
        type(error).__name__ == "NotImplemented"
        or "NOT_IMPLEMENTED" in text
        or "only *guarantees* support for models stamped with official released onnx opset" in str(error)
    )
    text = _NODE_FAILURE.sub(lambda m: f"{m[1]} node {m[2]!r}: ", _STATUS_PREFIX.sub("", text))
    return RuntimeRefusal(text, unsupported=unsupported)


@functools.cache
def _kernel_types(op_type: str, providers: tuple[str, ...]) -> frozenset[str]:
    """The input types onnxruntime's kernels of ``op_type`` take on ``providers`` (empty when it cannot say)."""
    try:
        from onnxruntime.capi import onnxruntime_pybind11_state as state

        definitions = state.get_all_opkernel_def()
    except (ImportError, AttributeError):
        return frozenset()
    return frozenset(
        t
        for d in definitions
        if d.op_name == op_type and d.domain in ("", "ai.onnx") and d.provider in providers
        for t in d.type_constraints.get("T", ())
    )


def accumulation_dtype(op_type: str, dtype: str, providers: Sequence[str]) -> str:
    """The float type onnxruntime may sum ``op_type`` in for ``dtype`` data, on whichever of ``providers`` ran it.

    float32 and float64 in themselves.  float16 and bfloat16 in float32 on a provider whose kernel registry has no
    such kernel (onnxruntime inserts casts to float32 around the node, its InsertCastTransformer, and rounds the
    result back), else in themselves: a provider with such a kernel, or one the registry does not describe, is
    taken to sum in the data type (it may sum in float32).  Of several providers, the least precise counts.
    """
    if dtype in ("float32", "float64"):
        return dtype
    upcast = all(
        _kernel_types(op_type, (p,)) and f"tensor({dtype})" not in _kernel_types(op_type, (p,)) for p in providers
    )
    return "float32" if upcast and providers else dtype


GraphOptimization = Literal["disabled", "basic", "extended", "all"]
_LEVELS = {
    "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
_SUFFIX = "ExecutionProvider"
_CAST_PREFIX, _NCHWC_SUFFIX = "InsertedPrecisionFreeCast_", "_nchwc"
"""How onnxruntime names the nodes it makes of a node: one run in float32 for float16 data, one in NCHWc layout."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeSettings:
    """How onnxruntime is run, as a deployment would run it: execution providers in priority order, the graph
    optimization level and the intra-op thread count (``None``: onnxruntime's default, one per core)."""

    providers: tuple[str, ...] = ("CPUExecutionProvider",)
    graph_optimization: GraphOptimization = "all"
    threads: int | None = None

    def describe(self) -> dict[str, Any]:
        """The settings and onnxruntime's version, for reports."""
        return {
            "onnxruntime": ort.__version__,
            "providers": list(self.providers),
            "graph_optimization": self.graph_optimization,
            "threads": self.threads,
        }


def installed_providers(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` as onnxruntime spells them (``cpu`` → ``CPUExecutionProvider``), each one installed.

    Raises ``ValidationError`` naming a provider that is not installed and listing the available ones.
    """
    available = ort.get_available_providers()
    by_short = {name.lower().removesuffix(_SUFFIX.lower()): name for name in available}
    chosen = []
    for name in names:
        key = name.lower().removesuffix(_SUFFIX.lower())
        if key not in by_short:
            raise ValidationError(
                f"execution provider {name!r} is not installed in this onnxruntime {ort.__version__} "
                f"(available: {', '.join(available)})"
            )
        chosen.append(by_short[key])
    return tuple(dict.fromkeys(chosen))


@dataclass(frozen=True, slots=True)
class Placement:
    """Which execution provider ran which node in one session.

    ``providers`` are the session's own, in priority order; ``nodes`` maps node names to the provider that ran
    them, read from onnxruntime's profile when more than one provider took part (else empty).
    """

    providers: tuple[str, ...]
    nodes: Mapping[str, str]

    def of(self, name: str, output: str) -> tuple[str, ...]:
        """The providers that ran the node ``name`` with first output ``output``, or a node onnxruntime made of it
        (named after either: ``c1_nchwc``, ``InsertedPrecisionFreeCast_y``); all the session's providers when the
        profile names none of them."""
        if len(self.providers) == 1:
            return self.providers
        made = {name, output, f"{_CAST_PREFIX}{output}"}
        made |= {f"{n}{_NCHWC_SUFFIX}" for n in made}
        found = {provider for node, provider in self.nodes.items() if node in made}
        return tuple(p for p in self.providers if p in found) or self.providers


def session_options(settings: RuntimeSettings, profile_prefix: str | None = None) -> ort.SessionOptions:
    """Options every session of the tool uses (spinning off, fatal-only log) with ``settings`` applied."""
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = _FATAL_ONLY
    options.enable_cpu_mem_arena = False
    options.graph_optimization_level = _LEVELS[settings.graph_optimization]
    if settings.threads is not None:
        options.intra_op_num_threads = settings.threads
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    return options


def create_session(
    model: onnx.ModelProto | bytes | Path,
    external_initializers: Mapping[str, np.ndarray] | None = None,
    settings: RuntimeSettings | None = None,
    *,
    external_folder: Path | None = None,
) -> ort.InferenceSession:
    """A session for ``model`` (a model, its bytes or its file) as ``settings`` say (CPU by default).

    ``external_initializers`` supply the data of initializers stored outside it; or, for model bytes,
    onnxruntime reads that data itself from the files named by the model in ``external_folder`` (from
    onnxruntime 1.21), as it does for a model file, holding no copy of it in Python.  With several providers the
    session profiles itself, for :func:`run_placed`.
    """
    settings = settings or RuntimeSettings()
    profile = None
    if len(settings.providers) > 1:
        profile = str(Path(tempfile.mkdtemp(prefix="inspector-profile-")) / "session")
    options = session_options(settings, profile)
    if external_initializers:
        names = list(external_initializers)
        values = [ort.OrtValue.ortvalue_from_numpy(np.asarray(external_initializers[n])) for n in names]
        options.add_external_initializers(names, values)
    if external_folder is not None:
        options.add_session_config_entry("session.model_external_initializers_file_folder_path", str(external_folder))
    data = (
        model.SerializeToString()
        if isinstance(model, onnx.ModelProto)
        else str(model)
        if isinstance(model, Path)
        else model
    )
    try:
        return ort.InferenceSession(data, options, providers=list(settings.providers))
    except RUNTIME_ERRORS as error:
        if profile is not None:
            shutil.rmtree(Path(profile).parent, ignore_errors=True)
        raise _refusal(error) from None


def run(session: ort.InferenceSession, outputs: Sequence[str], feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """``session.run``, with onnxruntime's errors turned into :class:`RuntimeRefusal`."""
    try:
        return session.run(list(outputs), dict(feeds))
    except RUNTIME_ERRORS as error:
        raise _refusal(error) from None


def run_placed(
    session: ort.InferenceSession, outputs: Sequence[str], feeds: Mapping[str, np.ndarray]
) -> tuple[list[np.ndarray], Placement]:
    """:func:`run`, and which provider ran each node (from the session's profile, which is then deleted)."""
    try:
        values = run(session, outputs, feeds)
    finally:
        nodes = _profiled_nodes(session)
    return values, Placement(tuple(session.get_providers()), nodes)


def _profiled_nodes(session: ort.InferenceSession) -> dict[str, str]:
    if not session.get_session_options().enable_profiling:
        return {}
    path = Path(session.end_profiling())
    try:
        events = json.loads(path.read_text())
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    return {
        event["name"].removesuffix("_kernel_time"): event["args"]["provider"]
        for event in events
        if event.get("cat") == "Node" and "provider" in event.get("args", {})
    }
