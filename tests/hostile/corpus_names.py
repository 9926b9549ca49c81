"""Names that would drive a terminal: ESC sequences (clear the screen, retitle the window), C1 controls, DEL, bidi
overrides, NUL, newlines and rich markup in every kind of name a file holds (producer, node, tensor, input,
metadata, doc strings, Keras layers).

The answer states each name exactly as the file holds it (the text report and stderr show it made visible, which
``test_hostile_names`` checks).
"""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper

from tests.hostile.case import Case, case
from tests.hostile.keras_build import sequential_config, sequential_weights
from tests.hostile.onnx_build import IN_SHAPE, weight
from tests.hostile.outcome import CHECK_FAILS, LOAD_ERROR, OK
from tests.test_keras_files import write_legacy_h5

CLEAR = "\x1b[2J"
"""ESC [2J: clears the screen."""
TITLE = "\x1b]0;title\x07"
"""ESC ]0;…BEL: sets the terminal's title."""
CSI = "\x9b"
"""The C1 control Control Sequence Introducer (ESC [ in one character)."""
OVERRIDE = "\u202e"
"""RIGHT-TO-LEFT OVERRIDE: the rest of the line is shown reversed."""
HOSTILE = {
    "clear-screen": CLEAR,
    "title": TITLE,
    "c1-csi": CSI + "31m",
    "delete": "\x7f",
    "bidi-override": OVERRIDE + "fdp.exe",
    "nul": "\x00",
    "newline": "\nfake: line",
    "carriage-return": "\rover",
    "line-separator": "\u2028",
    "zero-width": "\u200b\ufeff",
    "rich-markup": "[bold red]x[/]:warning:",
}
"""Each kind of hostile text, by the name of its cases."""
ONE_CONV = "1 layers (1 conv), 72 params"
GROUP_ZERO = ": group must be at least 1, found 0"
SEQUENTIAL = "4 layers (1 conv), 271 params"


def named_conv(
    folder: Path,
    *,
    node: str = "conv",
    tensors: str = "",
    producer: str = "",
    metadata: dict[str, str] | None = None,
    doc: str = "",
    **attributes: object,
) -> Path:
    """``folder/model.onnx``: one Conv named ``node``; ``tensors`` ends the names of its input, weight and output;
    ``producer``, ``metadata`` and ``doc`` set the model's (doc strings of the model, graph and node)."""
    x, w, y = (f"{name}{tensors}" for name in "xwy")
    conv = helper.make_node("Conv", [x, w], [y], name=node, doc_string=doc, **attributes)
    graph = helper.make_graph(
        [conv],
        f"graph{doc}",
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, IN_SHAPE)],
        [helper.make_tensor_value_info(y, TensorProto.FLOAT, None)],
        initializer=[weight(name=w)],
        doc_string=doc,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10, doc_string=doc)
    model.producer_name, model.producer_version = producer or "test", producer or "1"
    helper.set_model_props(model, metadata or {})
    path = folder / "model.onnx"
    onnx.save(model, path)
    return path


def named_keras(folder: Path, name: str) -> Path:
    """``folder/model.h5``: the Keras Sequential model of ``keras_build`` whose Conv2D is called ``name``."""
    config = sequential_config()
    conv = config["config"]["layers"][1]
    conv["name"] = conv["config"]["name"] = name
    weights = {name if layer == "conv" else layer: arrays for layer, arrays in sequential_weights().items()}
    return write_legacy_h5(folder / "model.h5", config, weights)


def _text_cases(kind: str, text: str) -> list[Case]:
    """The same hostile ``text`` in every kind of name of one ONNX file."""
    return [
        case(
            f"onnx/names/{kind}/node",
            lambda f: named_conv(f, node=f"c{text}", group=0),
            CHECK_FAILS,
            f"c{text}{GROUP_ZERO}",
        ),
        case(
            f"onnx/names/{kind}/tensors",
            lambda f: named_conv(f, tensors=text),
            OK,
            ONE_CONV,
            validate=OK,
            validate_match="validation passed: 1 of 1 conv layer matches onnxruntime",
        ),
        case(f"onnx/names/{kind}/producer", lambda f: named_conv(f, producer=text), OK, ONE_CONV),
        case(
            f"onnx/names/{kind}/metadata-and-doc",
            lambda f: named_conv(f, metadata={f"key{text}": f"value{text}"}, doc=text),
            OK,
            ONE_CONV,
        ),
    ]


def cases() -> list[Case]:
    """Every hostile text in every kind of name, and a load error and a Keras layer that quote one."""
    found = [item for kind, text in HOSTILE.items() for item in _text_cases(kind, text)]
    found += [
        case(
            "onnx/names/attribute-error-quotes-the-node",
            lambda f: named_conv(f, node=f"c{CLEAR}", group="two"),
            LOAD_ERROR,
            "node 'c\\x1b[2J' (Conv): attribute 'group' is 'two'",
        ),
        case("keras/names/h5-layer", lambda f: named_keras(f, f"conv{CLEAR}{CSI}{OVERRIDE}\r\n"), OK, SEQUENTIAL),
    ]
    return found
