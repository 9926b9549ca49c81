"""ONNX string fields that are not UTF-8.

protobuf hands such a field over as ``bytes`` instead of ``str`` (a node name, a tensor name, an external data
location), which nothing expecting a name is ready for; the loader refuses the file right after parsing.
"""

from __future__ import annotations

import functools

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message


def _repeated(field: FieldDescriptor) -> bool:
    repeated = getattr(field, "is_repeated", None)  # protobuf >= 6; older ones have ``label``
    return bool(repeated) if repeated is not None else field.label == FieldDescriptor.LABEL_REPEATED


@functools.cache
def _fields(descriptor: Descriptor) -> tuple[tuple[str, bool, bool], ...]:
    """``(name, is a message, repeated)`` of a message type's string and message fields (bytes never read)."""
    return tuple(
        (field.name, field.type == FieldDescriptor.TYPE_MESSAGE, _repeated(field))
        for field in descriptor.fields
        if field.type in (FieldDescriptor.TYPE_MESSAGE, FieldDescriptor.TYPE_STRING)
    )


def non_utf8_string(message: Message) -> tuple[str, bytes] | None:
    """The path and raw value of the first string field in ``message`` (or below it) that is not UTF-8."""
    pending = [(message, type(message).__name__)]
    while pending:
        current, where = pending.pop()
        for name, is_message, repeated in _fields(current.DESCRIPTOR):
            if not repeated and is_message and not current.HasField(name):
                continue
            values = getattr(current, name) if repeated else [getattr(current, name)]
            if is_message:
                pending.extend((value, f"{where}.{name}") for value in values)
                continue
            raw = next((value for value in values if isinstance(value, bytes)), None)
            if raw is not None:
                return f"{where}.{name}", raw
    return None
