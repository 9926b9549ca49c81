"""An ONNX node's attributes, read strictly: a value of the wrong type is a ``LoadError`` naming the node."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import onnx
from onnx import helper

from inspector.errors import LoadError

_INT, _INTS = onnx.AttributeProto.INT, onnx.AttributeProto.INTS


class NodeAttributes:
    """The non-graph attributes of one node, with typed getters that check what the file holds."""

    def __init__(self, node: onnx.NodeProto, where: str) -> None:
        self._node, self._where = node, where
        self._values: dict[str, object] = {}
        self._ints: set[str] = set()  # attributes of type INTS: integers by construction
        for attribute in node.attribute:
            kind = attribute.type
            if kind == _INTS:  # the common cases read directly: helper.get_attribute_value is slow
                self._values[attribute.name] = tuple(attribute.ints)
                self._ints.add(attribute.name)
                continue
            if kind == _INT:
                self._values[attribute.name] = attribute.i
                continue
            if kind in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                continue
            value = helper.get_attribute_value(attribute)
            self._values[attribute.name] = value.decode(errors="replace") if isinstance(value, bytes) else value

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def _wrong(self, name: str, wanted: str) -> LoadError:
        shown = repr(self._values[name])
        shown = shown if len(shown) <= 60 else f"{shown[:57]}..."
        label = f"{self._where}: node {self._node.name or self._node.op_type!r} ({self._node.op_type})"
        return LoadError(f"{label}: attribute {name!r} is {shown}, not {wanted}")

    def integer(self, name: str, default: int) -> int:
        """An ``INT`` attribute."""
        value = self._values.get(name, default)
        if not isinstance(value, int):
            raise self._wrong(name, "an integer")
        return value

    def integers(self, name: str, default: Sequence[int]) -> tuple[int, ...]:
        """An ``INTS`` attribute."""
        if name in self._ints or name not in self._values:
            return tuple(self._values.get(name, default))  # type: ignore[arg-type]
        value = self._values[name]
        if not isinstance(value, (list, tuple)) or not all([isinstance(v, int) for v in value]):
            raise self._wrong(name, "a list of integers")
        return tuple(value)

    def text(self, name: str, default: str) -> str:
        """A ``STRING`` attribute."""
        value = self._values.get(name, default)
        if not isinstance(value, str):
            raise self._wrong(name, "a string")
        return value


@functools.cache
def _defined_attributes(op: str, version: int) -> frozenset[str] | None:
    """The attributes ONNX defines for standard op ``op`` at opset ``version`` (``None``: an op onnx does not know)."""
    try:
        return frozenset(onnx.defs.get_schema(op, max_inclusive_version=version, domain="").attributes)
    except onnx.defs.SchemaError:
        return None


def undefined_attributes(node: onnx.NodeProto, version: int) -> list[str]:
    """The attributes of a standard-domain ``node`` that its op does not define at opset ``version``."""
    defined = _defined_attributes(node.op_type, version)
    if defined is None:
        return []
    return [attribute.name for attribute in node.attribute if attribute.name not in defined]
