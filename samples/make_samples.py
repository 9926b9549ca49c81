"""Write the small ONNX sample models into ``samples/`` (onnx.helper only, seeded, deterministic).

Run ``python samples/make_samples.py``; the files are committed, so this runs only when a sample changes.
Every model uses IR version 8 / opset 17 so onnxruntime reads it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
IR_VERSION = 8
OPSET = 17
FLOAT = TensorProto.FLOAT


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def tensor(name: str, shape: tuple[int, ...], seed: int, scale: float = 0.1) -> onnx.TensorProto:
    """A seeded float32 initializer."""
    return numpy_helper.from_array((_rng(seed).standard_normal(shape) * scale).astype(np.float32), name)


def value(name: str, shape: list, elem_type: int = FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, shape)


def model(
    name: str, nodes: list, inputs: list, outputs: list, initializers: list = (), opset: int = OPSET
) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(initializers))
    proto = helper.make_model(
        graph,
        producer_name="conv-inspector samples",
        producer_version="1",
        opset_imports=[helper.make_opsetid("", opset)],
    )
    proto.ir_version = IR_VERSION
    return proto


def seed_example() -> onnx.ModelProto:
    """The seed question: 28×28×1 → Conv 3×3 to 32 → Conv 3×3 to 64 (params 320 and 18,496)."""
    return model(
        "seed",
        [
            helper.make_node("Conv", ["image", "conv1.W", "conv1.B"], ["c1"], name="conv1", kernel_shape=[3, 3]),
            helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
            helper.make_node("Conv", ["r1", "conv2.W", "conv2.B"], ["c2"], name="conv2", kernel_shape=[3, 3]),
            helper.make_node("Relu", ["c2"], ["features"], name="relu2"),
        ],
        [value("image", ["N", 1, 28, 28])],
        [value("features", ["N", 64, 24, 24])],
        [
            tensor("conv1.W", (32, 1, 3, 3), 1),
            tensor("conv1.B", (32,), 2),
            tensor("conv2.W", (64, 32, 3, 3), 3),
            tensor("conv2.B", (64,), 4),
        ],
    )


def strided_padded() -> onnx.ModelProto:
    """Stride 2 with asymmetric explicit pads, then ``auto_pad=SAME_UPPER`` and ``SAME_LOWER`` convs."""
    return model(
        "strided_padded",
        [
            helper.make_node(
                "Conv",
                ["x", "stem.W", "stem.B"],
                ["s"],
                name="stem",
                kernel_shape=[5, 5],
                strides=[2, 2],
                pads=[1, 2, 2, 1],
            ),
            helper.make_node(
                "Conv", ["s", "same_upper.W"], ["u"], name="same_upper", strides=[2, 2], auto_pad="SAME_UPPER"
            ),
            helper.make_node(
                "Conv", ["u", "same_lower.W"], ["y"], name="same_lower", kernel_shape=[2, 2], auto_pad="SAME_LOWER"
            ),
        ],
        [value("x", [1, 3, 32, 32])],
        [value("y", [1, 16, 8, 8])],
        [
            tensor("stem.W", (8, 3, 5, 5), 5),
            tensor("stem.B", (8,), 6),
            tensor("same_upper.W", (16, 8, 3, 3), 7),
            tensor("same_lower.W", (16, 16, 2, 2), 8),
        ],
    )


def grouped() -> onnx.ModelProto:
    """A grouped conv: 8 → 16 maps in 4 groups, each filter 2×3×3."""
    return model(
        "grouped",
        [
            helper.make_node(
                "Conv",
                ["x", "grouped.W", "grouped.B"],
                ["y"],
                name="grouped",
                kernel_shape=[3, 3],
                pads=[1, 1, 1, 1],
                group=4,
            )
        ],
        [value("x", [1, 8, 16, 16])],
        [value("y", [1, 16, 16, 16])],
        [tensor("grouped.W", (16, 2, 3, 3), 9), tensor("grouped.B", (16,), 10)],
    )


def depthwise() -> onnx.ModelProto:
    """Depthwise 3×3 with multiplier 2 (8 → 16, group 8), then a pointwise 1×1 to 32."""
    return model(
        "depthwise",
        [
            helper.make_node(
                "Conv", ["x", "dw.W", "dw.B"], ["d"], name="dw", kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=8
            ),
            helper.make_node("Conv", ["d", "pw.W", "pw.B"], ["y"], name="pw", kernel_shape=[1, 1]),
        ],
        [value("x", [1, 8, 20, 20])],
        [value("y", [1, 32, 20, 20])],
        [
            tensor("dw.W", (16, 1, 3, 3), 11),
            tensor("dw.B", (16,), 12),
            tensor("pw.W", (32, 16, 1, 1), 13),
            tensor("pw.B", (32,), 14),
        ],
    )


def dilated() -> onnx.ModelProto:
    """A 3×3 conv with dilation 2 (a 5×5 receptive field), padded to keep the size."""
    return model(
        "dilated",
        [
            helper.make_node(
                "Conv",
                ["x", "dilated.W", "dilated.B"],
                ["y"],
                name="dilated",
                kernel_shape=[3, 3],
                dilations=[2, 2],
                pads=[2, 2, 2, 2],
            )
        ],
        [value("x", [1, 4, 16, 16])],
        [value("y", [1, 8, 16, 16])],
        [tensor("dilated.W", (8, 4, 3, 3), 15), tensor("dilated.B", (8,), 16)],
    )


def conv1d() -> onnx.ModelProto:
    """1-D: a length-5 kernel with stride 2 over a 64-sample, 4-channel signal."""
    return model(
        "conv1d",
        [
            helper.make_node(
                "Conv", ["x", "conv1d.W", "conv1d.B"], ["y"], name="conv1d", kernel_shape=[5], strides=[2], pads=[2, 2]
            )
        ],
        [value("x", [1, 4, 64])],
        [value("y", [1, 6, 32])],
        [tensor("conv1d.W", (6, 4, 5), 17), tensor("conv1d.B", (6,), 18)],
    )


def conv3d() -> onnx.ModelProto:
    """3-D: a 3×3×3 kernel over an 8×8×8 volume, 2 → 4 channels."""
    return model(
        "conv3d",
        [
            helper.make_node(
                "Conv", ["x", "conv3d.W", "conv3d.B"], ["y"], name="conv3d", kernel_shape=[3, 3, 3], pads=[1] * 6
            )
        ],
        [value("x", [1, 2, 8, 8, 8])],
        [value("y", [1, 4, 8, 8, 8])],
        [tensor("conv3d.W", (4, 2, 3, 3, 3), 19), tensor("conv3d.B", (4,), 20)],
    )


def conv_transpose() -> onnx.ModelProto:
    """ConvTranspose 4×4 stride 2 (8 → 4 maps, output_padding 1), then a grouped one (group 2)."""
    return model(
        "conv_transpose",
        [
            helper.make_node(
                "ConvTranspose",
                ["x", "up.W", "up.B"],
                ["u"],
                name="up",
                kernel_shape=[4, 4],
                strides=[2, 2],
                pads=[1, 1, 1, 1],
                output_padding=[1, 1],
            ),
            helper.make_node(
                "ConvTranspose", ["u", "up_grouped.W"], ["y"], name="up_grouped", kernel_shape=[3, 3], group=2
            ),
        ],
        [value("x", [1, 8, 8, 8])],
        [value("y", [1, 6, 19, 19])],
        [tensor("up.W", (8, 4, 4, 4), 21), tensor("up.B", (4,), 22), tensor("up_grouped.W", (4, 3, 3, 3), 23)],
    )


def constant_weights() -> onnx.ModelProto:
    """Weights the way exporters write them without initializers: ``Constant`` nodes and constant subgraphs.

    ``c1``: weight in a ``Constant`` node, bias from ``ConstantOfShape``.  ``c2``: weight from a ``Reshape`` of a
    flat constant, bias a ``Cast`` of a float64 constant.  ``c3``: weight from ``DequantizeLinear`` of int8, and
    an ``Identity`` of a constant as bias.
    """
    w1 = tensor("w1", (4, 3, 3, 3), 24)
    flat = numpy_helper.from_array((_rng(25).standard_normal(8 * 4 * 9) * 0.1).astype(np.float32), "w2_flat")
    q = numpy_helper.from_array(_rng(26).integers(-100, 100, (8, 8, 1, 1), dtype=np.int8), "w3_q")
    return model(
        "constant_weights",
        [
            helper.make_node("Constant", [], ["w1"], name="w1_const", value=w1),
            helper.make_node(
                "Constant",
                [],
                ["b1_shape"],
                name="b1_shape_const",
                value=numpy_helper.from_array(np.array([4], np.int64)),
            ),
            helper.make_node(
                "ConstantOfShape",
                ["b1_shape"],
                ["b1"],
                name="b1_fill",
                value=numpy_helper.from_array(np.array([0.5], np.float32)),
            ),
            helper.make_node("Conv", ["x", "w1", "b1"], ["y1"], name="c1", pads=[1, 1, 1, 1]),
            helper.make_node("Constant", [], ["w2_flat"], name="w2_flat_const", value=flat),
            helper.make_node(
                "Constant",
                [],
                ["w2_shape"],
                name="w2_shape_const",
                value=numpy_helper.from_array(np.array([8, 4, 3, 3], np.int64)),
            ),
            helper.make_node("Reshape", ["w2_flat", "w2_shape"], ["w2"], name="w2_reshape"),
            helper.make_node(
                "Constant", [], ["b2_f64"], name="b2_const", value=numpy_helper.from_array(np.linspace(-1, 1, 8))
            ),
            helper.make_node("Cast", ["b2_f64"], ["b2"], name="b2_cast", to=FLOAT),
            helper.make_node("Conv", ["y1", "w2", "b2"], ["y2"], name="c2", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            helper.make_node("Constant", [], ["w3_q"], name="w3_q_const", value=q),
            helper.make_node(
                "Constant",
                [],
                ["w3_scale"],
                name="w3_scale_const",
                value=numpy_helper.from_array(np.array(0.01, np.float32)),
            ),
            helper.make_node("DequantizeLinear", ["w3_q", "w3_scale"], ["w3"], name="w3_dequantize"),
            helper.make_node("Constant", [], ["b3_src"], name="b3_const", value=tensor("b3_src", (8,), 27)),
            helper.make_node("Identity", ["b3_src"], ["b3"], name="b3_identity"),
            helper.make_node("Conv", ["y2", "w3", "b3"], ["y"], name="c3"),
        ],
        [value("x", [1, 3, 10, 10])],
        [value("y", [1, 8, 10, 10])],
    )


def conv_in_if() -> onnx.ModelProto:
    """A conv in each branch of an ``If``: 3×3 to 4 maps when the flag is set, 1×1 to 4 maps otherwise."""
    then_graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "then_conv.W"], ["then_y"], name="then_conv", pads=[1, 1, 1, 1])],
        "then_body",
        [],
        [value("then_y", [1, 4, 12, 12])],
        [tensor("then_conv.W", (4, 2, 3, 3), 28)],
    )
    else_graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "else_conv.W", "else_conv.B"], ["else_y"], name="else_conv")],
        "else_body",
        [],
        [value("else_y", [1, 4, 12, 12])],
        [tensor("else_conv.W", (4, 2, 1, 1), 29), tensor("else_conv.B", (4,), 30)],
    )
    return model(
        "conv_in_if",
        [helper.make_node("If", ["flag"], ["y"], name="branch", then_branch=then_graph, else_branch=else_graph)],
        [value("x", [1, 2, 12, 12]), value("flag", [], TensorProto.BOOL)],
        [value("y", [1, 4, 12, 12])],
    )


def classifier() -> onnx.ModelProto:
    """Conv → BatchNorm → Relu → GlobalAveragePool → Flatten → Gemm, and a MatMul head sharing nothing."""
    return model(
        "classifier",
        [
            helper.make_node("Conv", ["x", "conv.W"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            helper.make_node("BatchNormalization", ["c", "bn.scale", "bn.B", "bn.mean", "bn.var"], ["b"], name="bn"),
            helper.make_node("Relu", ["b"], ["r"], name="relu"),
            helper.make_node("GlobalAveragePool", ["r"], ["g"], name="pool"),
            helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
            helper.make_node("Gemm", ["f", "fc.W", "fc.B"], ["logits"], name="fc", transB=1),
            helper.make_node("MatMul", ["f", "proj.W"], ["embedding"], name="proj"),
        ],
        [value("x", ["N", 3, 16, 16])],
        [value("logits", ["N", 10]), value("embedding", ["N", 8])],
        [
            tensor("conv.W", (16, 3, 3, 3), 31),
            tensor("bn.scale", (16,), 32),
            tensor("bn.B", (16,), 33),
            tensor("bn.mean", (16,), 34),
            numpy_helper.from_array(_rng(35).uniform(0.5, 1.5, 16).astype(np.float32), "bn.var"),
            tensor("fc.W", (10, 16), 36),
            tensor("fc.B", (10,), 37),
            tensor("proj.W", (16, 8), 38),
        ],
    )


def shared_weights() -> onnx.ModelProto:
    """Two convs that use the same weight and bias initializers (a Siamese pair)."""
    return model(
        "shared_weights",
        [
            helper.make_node("Conv", ["a", "shared.W", "shared.B"], ["ya"], name="left", pads=[1, 1, 1, 1]),
            helper.make_node("Conv", ["b", "shared.W", "shared.B"], ["yb"], name="right", pads=[1, 1, 1, 1]),
        ],
        [value("a", [1, 3, 8, 8]), value("b", [1, 3, 8, 8])],
        [value("ya", [1, 8, 8, 8]), value("yb", [1, 8, 8, 8])],
        [tensor("shared.W", (8, 3, 3, 3), 39), tensor("shared.B", (8,), 40)],
    )


def quantized() -> onnx.ModelProto:
    """``QLinearConv`` (per-channel weight scales) and ``ConvInteger`` on uint8 activations."""
    q_w = numpy_helper.from_array(_rng(41).integers(-127, 127, (4, 3, 3, 3), dtype=np.int8), "q.W")
    q_bias = numpy_helper.from_array(_rng(42).integers(-500, 500, 4, dtype=np.int32), "q.B")
    i_w = numpy_helper.from_array(_rng(43).integers(0, 255, (6, 4, 3, 3), dtype=np.uint8), "i.W")
    scalar = lambda name, v, dt: numpy_helper.from_array(np.array(v, dtype=dt), name)  # noqa: E731
    return model(
        "quantized",
        [
            helper.make_node(
                "QLinearConv",
                ["x", "x_scale", "x_zp", "q.W", "w_scale", "w_zp", "y_scale", "y_zp", "q.B"],
                ["qy"],
                name="qconv",
                pads=[1, 1, 1, 1],
            ),
            helper.make_node("ConvInteger", ["qy", "i.W", "y_zp", "i_wzp"], ["y"], name="iconv"),
        ],
        [value("x", [1, 3, 8, 8], TensorProto.UINT8)],
        [value("y", [1, 6, 6, 6], TensorProto.INT32)],
        [
            scalar("x_scale", 0.02, np.float32),
            scalar("x_zp", 128, np.uint8),
            q_w,
            numpy_helper.from_array(np.array([0.01, 0.02, 0.015, 0.005], np.float32), "w_scale"),
            numpy_helper.from_array(np.zeros(4, np.int8), "w_zp"),
            scalar("y_scale", 0.05, np.float32),
            scalar("y_zp", 120, np.uint8),
            q_bias,
            i_w,
            scalar("i_wzp", 127, np.uint8),
        ],
    )


def broken_grouped() -> onnx.ModelProto:
    """A grouped conv whose weight has the wrong input-channel count: 8 maps in 2 groups need W[:, 4], it has 2.

    ``onnx.checker`` accepts this file; ``inspect`` must report the layer and exit 1.
    """
    return model(
        "broken_grouped",
        [
            helper.make_node("Conv", ["x", "ok.W", "ok.B"], ["h"], name="ok", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            helper.make_node(
                "Conv",
                ["h", "bad.W", "bad.B"],
                ["y"],
                name="bad_grouped",
                kernel_shape=[3, 3],
                pads=[1, 1, 1, 1],
                group=2,
            ),
        ],
        [value("x", [1, 3, 16, 16])],
        [value("y", [1, 16, 16, 16])],
        [
            tensor("ok.W", (8, 3, 3, 3), 44),
            tensor("ok.B", (8,), 45),
            tensor("bad.W", (16, 2, 3, 3), 46),
            tensor("bad.B", (16,), 47),
        ],
    )


SAMPLES = {
    "seed.onnx": seed_example,
    "strided_padded.onnx": strided_padded,
    "grouped.onnx": grouped,
    "depthwise.onnx": depthwise,
    "dilated.onnx": dilated,
    "conv1d.onnx": conv1d,
    "conv3d.onnx": conv3d,
    "conv_transpose.onnx": conv_transpose,
    "constant_weights.onnx": constant_weights,
    "conv_in_if.onnx": conv_in_if,
    "classifier.onnx": classifier,
    "shared_weights.onnx": shared_weights,
    "quantized.onnx": quantized,
    "broken_grouped.onnx": broken_grouped,
}


def main(directory: Path = HERE) -> None:
    """Write every sample into ``directory``."""
    for file_name, build in SAMPLES.items():
        proto = build()
        if file_name != "broken_grouped.onnx":
            onnx.checker.check_model(proto)
        onnx.save(proto, directory / file_name)
        print(f"wrote {directory / file_name}")


if __name__ == "__main__":
    main()
