"""ONNX files written at the protobuf wire level, for nesting deeper than the protobuf library will build.

``onnx.helper`` copies messages through the protobuf runtime, which refuses to nest past its depth limit; a
hostile file is under no such rule, so these bytes are put together by hand.
"""

from __future__ import annotations

from onnx import TensorProto, helper

_LENGTH_DELIMITED = 2
_GRAPH_ATTRIBUTE = 5


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def _text(number: int, value: str) -> bytes:
    return _field(number, value.encode())


def _graph_attribute(name: str, graph: bytes) -> bytes:
    # AttributeProto: name = 1, g = 6, type = 20
    return _text(1, name) + _field(6, graph) + _varint(20 << 3) + _varint(_GRAPH_ATTRIBUTE)


def _graph(node: bytes, name: str, output: str) -> bytes:
    # GraphProto: node = 1, name = 2, output = 12
    value = helper.make_tensor_value_info(output, TensorProto.FLOAT, None).SerializeToString()
    return _field(1, node) + _text(2, name) + _field(12, value)


def _identity(source: str, target: str) -> bytes:
    # NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5
    return _text(1, source) + _text(2, target) + _text(4, "Identity")


def nested_if_model(depth: int, op: str = "If") -> bytes:
    """A model whose output comes from ``depth`` control-flow nodes (``If`` by default), each the then-branch of
    the one around it; every else-branch is a plain ``Identity``."""
    graph = _graph(_identity("x", "y0"), "g0", "y0")
    for level in range(1, depth + 1):
        other = _graph(_identity("x", f"e{level}"), f"e{level}", f"e{level}")
        attributes = _field(5, _graph_attribute("then_branch", graph)) + _field(
            5, _graph_attribute("else_branch", other)
        )
        node = _text(1, "cond") + _text(2, f"y{level}") + _text(3, f"if{level}") + _text(4, op) + attributes
        graph = _graph(node, f"g{level}", f"y{level}")
    inputs = b"".join(
        _field(11, helper.make_tensor_value_info(name, kind, shape).SerializeToString())
        for name, kind, shape in (("cond", TensorProto.BOOL, []), ("x", TensorProto.FLOAT, [1]))
    )
    opset = _text(1, "") + _varint(2 << 3) + _varint(17)
    # ModelProto: ir_version = 1, graph = 7, opset_import = 8
    return _varint(1 << 3) + _varint(8) + _field(7, graph + inputs) + _field(8, opset)
