"""onnxruntime sessions as validation needs them: CPU only, no spinning threads, quiet, and with refusals caught.

Spinning is off (``session.intra_op.allow_spinning`` 0) because onnxruntime's spinning threads and NumPy's
BLAS threads slow each other down twofold.  onnxruntime's own log is silenced: what it refuses comes back as a
:class:`RuntimeRefusal` whose message the report shows.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence

import numpy as np
import onnx
import onnxruntime as ort

_STATUS_PREFIX = re.compile(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ")
_NODE_FAILURE = re.compile(r"Non-zero status code returned while running (\w+) node\. Name:'([^']*)' Status Message: ")
_FATAL_ONLY = 4


class RuntimeRefusal(Exception):
    """onnxruntime would not load or run a model.

    ``unsupported`` is true when onnxruntime lacks an implementation (float64 Conv on CPU, an unknown op):
    a limit of the runtime, not a fault of the model.
    """

    def __init__(self, message: str, *, unsupported: bool) -> None:
        super().__init__(message)
        self.unsupported = unsupported


def _refusal(error: Exception) -> RuntimeRefusal:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    unsupported = type(error).__name__ == "NotImplemented" or "NOT_IMPLEMENTED" in text
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
    """The float type onnxruntime sums ``op_type`` in for ``dtype`` data on ``providers``.

    float32 and float64 in themselves.  float16 and bfloat16 in themselves when a provider has such a kernel
    (the cautious reading: it may sum in float32), else in float32: without a kernel onnxruntime inserts casts
    to float32 around the node (its InsertCastTransformer) and rounds the result back.
    """
    if dtype in ("float32", "float64"):
        return dtype
    known = _kernel_types(op_type, tuple(providers))
    return "float32" if known and f"tensor({dtype})" not in known else dtype


def session_options() -> ort.SessionOptions:
    """Options every session of the tool uses (spinning off, fatal-only log)."""
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = _FATAL_ONLY
    return options


def create_session(
    model: onnx.ModelProto | bytes, external_initializers: Mapping[str, np.ndarray] | None = None
) -> ort.InferenceSession:
    """A CPU session for ``model``; ``external_initializers`` supply the data of initializers stored outside it."""
    options = session_options()
    if external_initializers:
        names = list(external_initializers)
        values = [ort.OrtValue.ortvalue_from_numpy(np.asarray(external_initializers[n])) for n in names]
        options.add_external_initializers(names, values)
    data = model if isinstance(model, bytes) else model.SerializeToString()
    try:
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types, all Exception subclasses
        raise _refusal(error) from None


def run(session: ort.InferenceSession, outputs: Sequence[str], feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """``session.run``, with onnxruntime's errors turned into :class:`RuntimeRefusal`."""
    try:
        return session.run(list(outputs), dict(feeds))
    except Exception as error:
        raise _refusal(error) from None
