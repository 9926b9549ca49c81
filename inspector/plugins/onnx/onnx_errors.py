"""The exceptions onnx raises when a file's content is wrong, as opposed to a bug.

Parsing raises protobuf's ``DecodeError`` (or ``RecursionError`` past its nesting limit, ``ValueError`` for bad
text); shape inference and the checker raise their own types; the reference evaluator, running a file's
constant subgraph, raises the usual Python errors on operands it cannot compute with.  Catching these, and only
these, lets a bug in this tool reach the user as one (exit 3) rather than as a bad file (exit 2).
"""

from __future__ import annotations

from google.protobuf.message import DecodeError
from onnx.checker import ValidationError as CheckerError
from onnx.shape_inference import InferenceError

UNREADABLE = (DecodeError, RecursionError, ValueError, OSError)
"""What parsing a file that is not a valid ONNX protobuf raises."""
NOT_INFERRED = (InferenceError, CheckerError, RuntimeError)
"""What ONNX shape inference raises on a graph it cannot infer."""
NOT_COMPUTED = (*NOT_INFERRED, ValueError, TypeError, IndexError, KeyError, ArithmeticError, NotImplementedError)
"""What the reference evaluator (and the version converter it may need) raises on a constant it cannot compute."""
