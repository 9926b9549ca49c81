"""Write a big ONNX model whose weights live in external data, for the big-model benchmark.

``python benchmarks/build_big_model.py OUT.onnx`` writes a chain of ``--layers`` (17) Conv 3×3 layers of
``--channels`` (2048) maps each, with a Relu after each, on an input of ``1×C×4×4``.  Every weight goes to
``OUT.onnx.data`` beside the model: 17 × 2048·2048·9 float32 = 2.57 GB by default.  Weights are written one layer
at a time, so building takes one layer's memory, not the model's.  Weights are seeded He-normal, so activations keep
their scale through the chain.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

IR_VERSION = 8
OPSET = 17
SPATIAL = 4


def _external(name: str, array: np.ndarray, data_file: Path, stream) -> TensorProto:
    """A TensorProto that points at ``array``'s bytes, appended to ``stream`` (the open ``data_file``)."""
    offset = stream.tell()
    stream.write(np.ascontiguousarray(array, dtype="<f4").tobytes())
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=array.shape)
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", data_file.name), ("offset", str(offset)), ("length", str(array.nbytes))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def build(out: Path, layers: int, channels: int, seed: int = 0) -> Path:
    """Write the model to ``out`` and its weights to ``out`` + ``.data``; return the model's path."""
    rng = np.random.default_rng(seed)
    data_file = out.with_name(out.name + ".data")
    nodes, initializers = [], []
    current = "x"
    with data_file.open("wb") as stream:
        for index in range(layers):
            weight = rng.standard_normal((channels, channels, 3, 3), dtype=np.float32)
            weight *= np.float32(np.sqrt(2.0 / (channels * 9)))
            initializers.append(_external(f"conv{index}.W", weight, data_file, stream))
            del weight
            initializers.append(_external(f"conv{index}.B", np.zeros(channels, np.float32), data_file, stream))
            nodes.append(
                helper.make_node(
                    "Conv",
                    [current, f"conv{index}.W", f"conv{index}.B"],
                    [f"conv{index}"],
                    name=f"conv{index}",
                    kernel_shape=[3, 3],
                    pads=[1, 1, 1, 1],
                )
            )
            nodes.append(helper.make_node("Relu", [f"conv{index}"], [f"relu{index}"], name=f"relu{index}"))
            current = f"relu{index}"
    graph = helper.make_graph(
        nodes,
        "big",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, SPATIAL, SPATIAL])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, [1, channels, SPATIAL, SPATIAL])],
        initializers,
    )
    model = helper.make_model(
        graph, producer_name="conv-inspector benchmarks", opset_imports=[helper.make_opsetid("", OPSET)]
    )
    model.ir_version = IR_VERSION
    out.write_bytes(model.SerializeToString())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the .onnx file to write (its weights go to OUT.data)")
    parser.add_argument("--layers", type=int, default=17)
    parser.add_argument("--channels", type=int, default=2048)
    arguments = parser.parse_args()
    path = build(arguments.out, arguments.layers, arguments.channels)
    size = path.stat().st_size + path.with_name(path.name + ".data").stat().st_size
    print(f"wrote {path} ({size / 1e9:.2f} GB with its external data)")


if __name__ == "__main__":
    main()
