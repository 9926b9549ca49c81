"""ONNX string fields that are not UTF-8.

protobuf hands such a field over as ``bytes`` instead of ``str`` (a node name, a tensor name, an external data
location), which nothing expecting a name is ready for; the loader refuses the file right after parsing.
"""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

_KINDS: dict[FieldDescriptor, int] = {}
"""The protobuf type of each field seen so far (a descriptor's attributes are slow to read)."""


def non_utf8_string(message: Message) -> tuple[str, bytes] | None:
    """The path and raw value of the first string field in ``message`` (or below it) that is not UTF-8."""
    pending = [(message, type(message).__name__)]
    while pending:
        current, where = pending.pop()
        for field, value in current.ListFields():  # only the fields that are set
            kind = _KINDS.get(field)
            if kind is None:
                kind = _KINDS[field] = field.type
            if kind == FieldDescriptor.TYPE_MESSAGE:
                if isinstance(value, Message):
                    pending.append((value, f"{where}.{field.name}"))
                else:
                    path = f"{where}.{field.name}"
                    pending.extend([(item, path) for item in value])
            elif kind == FieldDescriptor.TYPE_STRING:
                if isinstance(value, bytes):
                    return f"{where}.{field.name}", value
                if not isinstance(value, str):
                    raw = next((item for item in value if isinstance(item, bytes)), None)
                    if raw is not None:
                        return f"{where}.{field.name}", raw
    return None
