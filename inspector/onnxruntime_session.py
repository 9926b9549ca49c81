"""onnxruntime sessions as validation needs them: CPU only, no spinning threads, quiet, and with refusals caught.

Spinning is off (``session.intra_op.allow_spinning`` 0) because onnxruntime's spinning threads and NumPy's
BLAS threads slow each other down twofold.  onnxruntime's own log is silenced: what it refuses comes back as a
:class:`RuntimeRefusal` whose message the report shows.
"""

from __future__ import annotations

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
