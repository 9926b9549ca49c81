"""An ONNX file's model without its weights' bytes, read field by field from the protobuf wire format.

Capturing activations needs the top-level graph's names and a model for onnxruntime with extra outputs; parsing
or copying the whole file for that costs as much as the weights are large.  Here the file is memory-mapped and
walked one field header at a time: every initializer of the top-level graph whose values are stored inline as
bytes (``raw_data``, or packed ``float_data``/``double_data``, which hold the same little-endian bytes) becomes an
external-data reference to those bytes in the file itself, so the payload is never read.  onnxruntime, given the
result and the model's folder, reads the weights from the file; tensors inside nodes (``Constant`` values,
subgraphs) stay as they are.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from pathlib import Path

import onnx

MODEL_GRAPH = 7
GRAPH_INITIALIZER = 5
TENSOR_DATA_TYPE, TENSOR_NAME, TENSOR_EXTERNAL_DATA, TENSOR_DATA_LOCATION = 2, 8, 13, 14
VALUE_FIELDS = {4, 5, 6, 7, 9, 10, 11}
"""TensorProto fields that hold values: float, int32, string, int64, raw, double and uint64 data."""
BYTE_FIELDS: dict[int, frozenset[int] | None] = {
    9: None,
    4: frozenset({onnx.TensorProto.FLOAT, onnx.TensorProto.COMPLEX64}),
    10: frozenset({onnx.TensorProto.DOUBLE, onnx.TensorProto.COMPLEX128}),
}
"""Value fields whose payload is the tensor's little-endian bytes, with the data types it is so for (any: raw)."""
INLINE_BYTES = 4096
"""Payloads up to this size stay in the model: not worth a read of their own."""

_LENGTH_DELIMITED = 2


def weightless_model(path: Path) -> tuple[bytes, set[str]]:
    """The serialized model of ``path`` with its top-level inline weights turned into references to the file, and
    the names of the tensors so turned.

    Raises ``ValueError`` for bytes that are not a protobuf message.
    """
    with path.open("rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
        parts: list[bytes] = []
        moved: set[str] = set()
        for number, start, value, stop in _fields(data, 0, len(data)):
            if number == MODEL_GRAPH and _wire(data, start) == _LENGTH_DELIMITED:
                parts.append(_delimited(MODEL_GRAPH, _graph(data, value, stop, path.name, moved)))
            else:
                parts.append(data[start:stop])
        return b"".join(parts), moved


def _graph(data: mmap.mmap, begin: int, end: int, location: str, moved: set[str]) -> bytes:
    """The graph's bytes with its big initializers rewritten; runs of other fields are copied as one slice."""
    parts, kept_from = [], begin
    for number, start, value, stop in _fields(data, begin, end):
        big = stop - value > INLINE_BYTES  # smaller tensors stay as they are
        if number == GRAPH_INITIALIZER and big and _wire(data, start) == _LENGTH_DELIMITED:
            parts += [data[kept_from:start], _delimited(GRAPH_INITIALIZER, _tensor(data, value, stop, location, moved))]
            kept_from = stop
    return b"".join([*parts, data[kept_from:end]])


def _tensor(data: mmap.mmap, begin: int, end: int, location: str, moved: set[str]) -> bytes:
    """A top-level initializer's bytes, with its payload made an external reference when it is plain bytes (its
    name then added to ``moved``)."""
    fields = list(_fields(data, begin, end))
    values = [f for f in fields if f[0] in VALUE_FIELDS]
    data_type = next((_varint(data, f[2])[0] for f in reversed(fields) if f[0] == TENSOR_DATA_TYPE), 0)
    stored_elsewhere = any(
        n == TENSOR_EXTERNAL_DATA or (n == TENSOR_DATA_LOCATION and _varint(data, at)[0]) for n, _, at, _ in fields
    )
    if len(values) != 1 or stored_elsewhere:
        return data[begin:end]
    number, field_start, payload, stop = values[0]
    kinds = BYTE_FIELDS.get(number, frozenset())
    plain = _wire(data, field_start) == _LENGTH_DELIMITED and (kinds is None or data_type in kinds)
    if not plain or stop - payload <= INLINE_BYTES:
        return data[begin:end]
    kept = b"".join(data[s:e] for n, s, _, e in fields if n != number)
    moved.add(b"".join(data[at:e] for n, _, at, e in fields if n == TENSOR_NAME).decode("utf-8", "replace"))
    reference = {"location": location, "offset": str(payload), "length": str(stop - payload)}
    entries = b"".join(
        _delimited(TENSOR_EXTERNAL_DATA, _delimited(1, key.encode()) + _delimited(2, text.encode()))
        for key, text in reference.items()
    )
    return kept + entries + _varint_bytes(TENSOR_DATA_LOCATION << 3) + _varint_bytes(onnx.TensorProto.EXTERNAL)


def _fields(data: mmap.mmap, begin: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """``(number, start, value, stop)`` of each field of the message in ``data[begin:end]``: the field's number,
    where its tag starts, where its value (past a length prefix) starts and where it ends."""
    position = begin
    while position < end:
        tag, value = _varint(data, position)
        wire = tag & 7
        if wire == 0:
            stop = _varint(data, value)[1]
        elif wire == 1:
            stop = value + 8
        elif wire == 5:
            stop = value + 4
        elif wire == _LENGTH_DELIMITED:
            length, value = _varint(data, value)
            stop = value + length
        else:
            raise ValueError(f"protobuf wire type {wire} at byte {position}")
        if stop > end or tag >> 3 == 0:
            raise ValueError(f"truncated or invalid field at byte {position}")
        yield tag >> 3, position, value, stop
        position = stop


def _wire(data: mmap.mmap, start: int) -> int:
    return data[start] & 7


def _varint(data: mmap.mmap, position: int) -> tuple[int, int]:
    """The varint at ``position`` and where the next byte starts."""
    if position < len(data) and data[position] < 0x80:  # one byte: most tags and lengths
        return data[position], position + 1
    result = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise ValueError(f"truncated varint at byte {position}")
        byte = data[position]
        result |= (byte & 0x7F) << shift
        position += 1
        if byte < 0x80:
            return result, position
        shift += 7


def _varint_bytes(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _delimited(number: int, body: bytes) -> bytes:
    return _varint_bytes(number << 3 | _LENGTH_DELIMITED) + _varint_bytes(len(body)) + body
