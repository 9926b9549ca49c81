"""Converting a model with tf2onnx, checked against Keras in onnxruntime (``*.tf2onnx.onnx``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import CONV_CLASSES, MAX_IR_VERSION, OPSET, max_diff
from .keras_utils import as_list, feed_arg, leaf_layers


class NoXlaGroupedConv:
    """Let tf2onnx see grouped convolutions.

    Both Keras versions run a grouped conv (``groups > 1``) inside ``tf.function(jit_compile=True)``, because
    TensorFlow's CPU kernel lacks it; tf2onnx cannot convert that XLA-compiled call. While tracing for the
    conversion only, call ``tf.nn.convolution`` directly (the plain ``Conv2D``/``Conv3D`` op with fewer filter
    input channels than input channels, which tf2onnx turns into an ONNX ``Conv`` with ``group``). The
    converted file is then run in onnxruntime and compared with Keras' own outputs.
    """

    def __init__(self, K, v, model):
        self.K, self.v, self.model = K, v, model
        self.undo = []

    def __enter__(self):
        if self.v == 2:
            for _, layer in leaf_layers(self.K, self.model):
                if getattr(layer, "groups", 1) > 1:
                    layer._jit_compiled_convolution_op = layer.convolution_op
                    self.undo.append(layer)
        else:
            import tensorflow as tf
            from keras.src import backend as kb
            from keras.src.backend.tensorflow import nn as tfnn

            original = tfnn.conv

            def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
                data_format = kb.standardize_data_format(data_format)
                fmt = tfnn._convert_data_format(data_format, len(inputs.shape))
                return tf.nn.convolution(
                    inputs, kernel, strides, padding.upper(), data_format=fmt, dilations=dilation_rate
                )

            tfnn.conv = conv
            self.undo.append((tfnn, original))
        return self

    def __exit__(self, *exc):
        for item in self.undo:
            if isinstance(item, tuple):
                item[0].conv = item[1]
            else:
                del item._jit_compiled_convolution_op
        return False


def fix_conv_groups(proto) -> dict:
    """Set ``group`` on ONNX Conv nodes whose input has ``group * W.shape[1]`` channels too many.

    tf2onnx 1.17 derives ``group`` only when TF's data_format is ``NHWC``/``NCHW``
    (``onnx_opset/nn.py``, ``ConvOp``), so a grouped Conv3D (``NDHWC``) comes out with ``group = 1`` and
    onnxruntime refuses it. Returns ``{node name: group}`` for the nodes it changed.
    """
    import onnx
    from onnx import numpy_helper

    inferred = onnx.shape_inference.infer_shapes(proto)
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input):
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    inits = {i.name: numpy_helper.to_array(i).shape for i in proto.graph.initializer}
    fixed = {}
    for node in proto.graph.node:
        if node.op_type != "Conv" or node.input[1] not in inits:
            continue
        channels = (shapes.get(node.input[0]) or [None, None])[1]
        group_attr = [a for a in node.attribute if a.name == "group"]
        group = group_attr[0].i if group_attr else 1
        w_in = inits[node.input[1]][1]
        if channels and channels != w_in * group and channels % w_in == 0:
            if group_attr:
                group_attr[0].i = channels // w_in
            else:
                node.attribute.append(onnx.helper.make_attribute("group", channels // w_in))
            fixed[node.name] = channels // w_in
    return fixed


def convert_onnx(K, v, model, ref, path: Path, log: dict) -> None:
    import onnx
    import tensorflow as tf
    import tf2onnx

    names_in = [str(n) for n in ref["input_names"]]
    names_out = [str(n) for n in ref["output_names"]]
    specs = [tf.TensorSpec((None, *ref[f"input:{n}"].shape[1:]), tf.float32, name=n) for n in names_in]

    @tf.function(input_signature=specs)
    def call(*args):
        ys = as_list(model(feed_arg(list(args)), training=False))
        return {n: tf.identity(y, name=n) for n, y in zip(names_out, ys, strict=True)}

    entry = {"file": path.name, "opset": OPSET}
    log["onnx"][path.name] = entry
    try:
        with NoXlaGroupedConv(K, v, model):
            proto, _ = tf2onnx.convert.from_function(call, input_signature=specs, opset=OPSET)
    except Exception as exc:  # recorded in the README
        entry["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        print(f"  tf2onnx FAILED for {path.name}: {entry['error']}")
        return
    fixed = fix_conv_groups(proto)
    if fixed:
        entry["group_fixed_nodes"] = fixed
        print(f"  set group on {fixed}")
    entry["ir_version_written"] = int(proto.ir_version)
    if proto.ir_version > MAX_IR_VERSION:
        proto.ir_version = MAX_IR_VERSION
    entry["ir_version"] = int(proto.ir_version)
    entry["producer"] = f"{proto.producer_name} {proto.producer_version}"
    entry["opsets"] = {o.domain or "ai.onnx": int(o.version) for o in proto.opset_import}
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    entry["inputs"] = [i.name for i in proto.graph.input]
    entry["outputs"] = [o.name for o in proto.graph.output]
    try:
        import onnxruntime as ort
    except ImportError:
        entry["onnxruntime"] = "not installed in the converting environment"
        return
    try:
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = sess.run(names_out, {n: ref[f"input:{n}"] for n in names_in})
        entry["ort_max_abs_diff"] = max_diff(got, [ref[f"output:{n}"] for n in names_out])
        print(f"  {path.name}: onnxruntime vs Keras max |diff| = {entry['ort_max_abs_diff']:.2e}")
        problem = (
            f"onnxruntime's output differs from Keras by {entry['ort_max_abs_diff']:.3g}"
            if entry["ort_max_abs_diff"] > 1e-4
            else None
        )
    except Exception as exc:
        problem = f"onnxruntime refuses it: {str(exc).splitlines()[0][:300]}".replace(str(path), path.name)
    if problem:  # a wrong conversion: do not keep it, say which layer
        path.unlink()
        entry["error"] = (
            f"converted, but {problem}; file not kept. Each conv layer converted alone: "
            + locate_onnx_mismatch(K, v, model, ref)
        )
        print("  ", entry["error"])


def locate_onnx_mismatch(K, v, model, ref) -> str:
    """Convert every conv layer alone (a one-layer model on its recorded input) and compare with Keras."""
    import onnxruntime as ort
    import tensorflow as tf
    import tf2onnx

    bad = []
    for _path, layer in leaf_layers(K, model):
        if type(layer).__name__ not in CONV_CLASSES:
            continue
        x_in, want = ref[f"act_in:{layer.name}"], ref[f"act_out:{layer.name}"]
        spec = [tf.TensorSpec((None, *x_in.shape[1:]), tf.float32, name="x")]

        @tf.function(input_signature=spec)
        def call(x, layer=layer):
            return {"y": tf.identity(layer(x), name="y")}

        what = f"{layer.name} ({type(layer).__name__})"
        try:
            with NoXlaGroupedConv(K, v, model):
                proto, _ = tf2onnx.convert.from_function(call, input_signature=spec, opset=OPSET)
            fix_conv_groups(proto)
            sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
            (y,) = sess.run(["y"], {"x": x_in})
        except Exception as exc:
            bad.append(f"{what}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
            continue
        if y.shape != want.shape:
            bad.append(f"{what}: ONNX output shape {y.shape}, Keras {want.shape}")
        elif np.max(np.abs(y - want)) > 1e-4:
            bad.append(f"{what}: max abs diff {np.max(np.abs(y - want)):.3g}")
    return "; ".join(bad) or "every conv layer alone converts right (the difference is elsewhere)"
