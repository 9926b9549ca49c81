"""An ONNX node's attributes, read strictly: a value of the wrong type is a ``LoadError`` naming the node."""

from __future__ import annotations

from collections.abc import Sequence

import onnx
from onnx import helper

from inspector.errors import LoadError


class NodeAttributes:
    """The non-graph attributes of one node, with typed getters that check what the file holds."""

    def __init__(self, node: onnx.NodeProto, where: str) -> None:
        self._node, self._where = node, where
        self._values: dict[str, object] = {}
        self._ints: set[str] = set()  # attributes of type INTS: integers by construction
        for attribute in node.attribute:
            if attribute.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                continue
            value = helper.get_attribute_value(attribute)
            self._values[attribute.name] = value.decode(errors="replace") if isinstance(value, bytes) else value
            if attribute.type == onnx.AttributeProto.INTS:
                self._ints.add(attribute.name)

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
        value = self._values.get(name, default)
        if name in self._ints:
            return tuple(value)  # type: ignore[arg-type]
        if not isinstance(value, (list, tuple)) or not all([isinstance(v, int) for v in value]):
            raise self._wrong(name, "a list of integers")
        return tuple(value)

    def text(self, name: str, default: str) -> str:
        """A ``STRING`` attribute."""
        value = self._values.get(name, default)
        if not isinstance(value, str):
            raise self._wrong(name, "a string")
        return value
