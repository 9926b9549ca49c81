"""Write a ResNet-50-sized ONNX model with random weights (onnx.helper only), for the validation benchmark.

``python benchmarks/build_resnet50.py OUT.onnx`` writes the torchvision ResNet-50 v1.5 graph: a 7×7/2 stem,
bottleneck stages of 3, 4, 6 and 3 blocks (stride on the 3×3 conv), BatchNormalization after every conv, a
global average pool and a 1000-way Gemm.  53 convs, 25.6 M parameters, input ``N×3×224×224`` with a symbolic
batch.  Weights are seeded He-normal, so activations keep a sensible scale through the 50 layers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 8
OPSET = 17
STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))
EXPANSION = 4


class _Builder:
    """Accumulates nodes and initializers; each method returns the name of the tensor it produced."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def _constant(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def conv_bn(self, x: str, name: str, cin: int, cout: int, k: int, stride: int = 1, relu: bool = True) -> str:
        fan_in = cin * k * k
        weight = self._constant(f"{name}.W", self.rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / fan_in))
        pad = k // 2
        self.nodes.append(
            helper.make_node(
                "Conv",
                [x, weight],
                [f"{name}.out"],
                name=name,
                kernel_shape=[k, k],
                strides=[stride, stride],
                pads=[pad] * 4,
            )
        )
        bn = [
            self._constant(f"{name}.bn.scale", self.rng.uniform(0.5, 1.0, cout)),
            self._constant(f"{name}.bn.B", self.rng.standard_normal(cout) * 0.1),
            self._constant(f"{name}.bn.mean", self.rng.standard_normal(cout) * 0.1),
            self._constant(f"{name}.bn.var", self.rng.uniform(0.5, 1.5, cout)),
        ]
        self.nodes.append(
            helper.make_node("BatchNormalization", [f"{name}.out", *bn], [f"{name}.bn"], name=f"{name}.bn")
        )
        if not relu:
            return f"{name}.bn"
        self.nodes.append(helper.make_node("Relu", [f"{name}.bn"], [f"{name}.relu"], name=f"{name}.relu"))
        return f"{name}.relu"

    def bottleneck(self, x: str, name: str, cin: int, width: int, stride: int) -> str:
        cout = width * EXPANSION
        h = self.conv_bn(x, f"{name}.conv1", cin, width, 1)
        h = self.conv_bn(h, f"{name}.conv2", width, width, 3, stride)
        h = self.conv_bn(h, f"{name}.conv3", width, cout, 1, relu=False)
        shortcut = (
            self.conv_bn(x, f"{name}.down", cin, cout, 1, stride, relu=False) if stride != 1 or cin != cout else x
        )
        self.nodes.append(helper.make_node("Add", [h, shortcut], [f"{name}.sum"], name=f"{name}.add"))
        self.nodes.append(helper.make_node("Relu", [f"{name}.sum"], [f"{name}.out"], name=f"{name}.relu"))
        return f"{name}.out"


def resnet50(seed: int = 0) -> onnx.ModelProto:
    """The ResNet-50 graph with seeded random weights."""
    b = _Builder(seed)
    h = b.conv_bn("input", "stem", 3, 64, 7, 2)
    b.nodes.append(
        helper.make_node("MaxPool", [h], ["pool"], name="pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4)
    )
    h, channels = "pool", 64
    for stage, (width, blocks, stride) in enumerate(STAGES, start=1):
        for block in range(blocks):
            h = b.bottleneck(h, f"layer{stage}.{block}", channels, width, stride if block == 0 else 1)
            channels = width * EXPANSION
    b.nodes.append(helper.make_node("GlobalAveragePool", [h], ["gap"], name="gap"))
    b.nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"))
    fc_w = b._constant("fc.W", b.rng.standard_normal((1000, channels)) * np.sqrt(1.0 / channels))
    fc_b = b._constant("fc.B", np.zeros(1000))
    b.nodes.append(helper.make_node("Gemm", ["flat", fc_w, fc_b], ["logits"], name="fc", transB=1))
    graph = helper.make_graph(
        b.nodes,
        "resnet50",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])],
        initializer=b.initializers,
    )
    model = helper.make_model(
        graph, producer_name="conv-inspector benchmarks", opset_imports=[helper.make_opsetid("", OPSET)]
    )
    model.ir_version = IR_VERSION
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="where to write the .onnx file")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    model = resnet50(arguments.seed)
    onnx.checker.check_model(model)
    onnx.save(model, arguments.output)
    print(f"wrote {arguments.output} ({arguments.output.stat().st_size / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
