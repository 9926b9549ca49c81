"""What Keras computes, recorded for ``*.reference.npz``: outputs, weights and every conv layer's activations."""

from __future__ import annotations

import json

import numpy as np

from .common import CONV_CLASSES, role_of
from .keras_utils import as_list, feed_arg, is_model, leaf_layers, n_elements, output_names, run_model, single


def probe(K, model, arrays, record: dict) -> None:
    """Record input and output of every conv-like layer (recursing into nested models)."""
    targets = [layer for layer in model.layers if is_model(K, layer) or type(layer).__name__ in CONV_CLASSES]
    if not targets:
        return
    tensors = []
    for layer in targets:
        if is_model(K, layer):  # the node where the outer model calls it is the last one
            node = layer._inbound_nodes[-1]
            tensors += [single(node.input_tensors), single(node.output_tensors)]
        else:
            tensors += [layer.input, layer.output]
    probe_model = K.Model(model.inputs, tensors)
    values = [np.asarray(y) for y in as_list(probe_model(feed_arg(arrays), training=False))]
    for i, layer in enumerate(targets):
        x_in, y_out = values[2 * i], values[2 * i + 1]
        if is_model(K, layer):
            probe(K, layer, [x_in], record)
        else:
            record[layer.name] = (layer, x_in, y_out)


def preactivation(K, layer, x_in):
    cfg = dict(layer.get_config())
    cfg["activation"] = "linear"
    cfg["name"] = layer.name + "_preact"
    clone = type(layer).from_config(cfg)
    clone(x_in)
    clone.set_weights(layer.get_weights())
    return np.asarray(clone(x_in))


def separable_depthwise(K, layer, x_in):
    """The depthwise half of a SeparableConv, run as a DepthwiseConv with the same depthwise kernel."""
    cfg = layer.get_config()
    rank = len(cfg["kernel_size"])
    padding = cfg["padding"]
    x = x_in
    if padding == "causal":  # DepthwiseConv1D has no causal padding: pad on the left, then valid
        left = (cfg["kernel_size"][0] - 1) * cfg["dilation_rate"][0]
        pad = [(0, 0), (0, 0), (0, 0)]
        pad[2 if cfg["data_format"] == "channels_first" else 1] = (left, 0)
        x = np.pad(x_in, pad)
        padding = "valid"
    dw_class = K.layers.DepthwiseConv1D if rank == 1 else K.layers.DepthwiseConv2D
    dw = dw_class(
        kernel_size=cfg["kernel_size"],
        strides=cfg["strides"],
        padding=padding,
        depth_multiplier=cfg["depth_multiplier"],
        data_format=cfg["data_format"],
        dilation_rate=cfg["dilation_rate"],
        use_bias=False,
    )
    dw(x)
    dw.set_weights([layer.get_weights()[0]])
    return np.asarray(dw(x))


def check_against_channels_last(K, layer, x_in, y_out) -> None:
    """A channels_first layer must compute what its channels_last clone computes on the transposed input.

    Guards against Keras 3.15's bias-axis bug (README: "What Keras could not do"): if this fails, change the
    model's shapes so that no channels_first conv output has its last axis as long as its channel axis.
    """
    cfg = dict(layer.get_config())
    cfg["data_format"] = "channels_last"
    cfg["name"] = layer.name + "_channels_last"
    clone = type(layer).from_config(cfg)
    x_last = np.moveaxis(x_in, 1, -1)
    clone(x_last)
    clone.set_weights(layer.get_weights())
    y_last = np.moveaxis(np.asarray(clone(x_last)), -1, 1)
    err = float(np.max(np.abs(y_last - y_out)))
    assert err < 1e-5, f"{layer.name}: channels_first output differs from its channels_last clone by {err}"


def apply_activation(K, name, x):
    return np.asarray(K.activations.get(name)(x))


def reference(K, v, model, model_name, seed, arrays, names_in, writer) -> dict:
    """Everything the npz holds (see the README for the key patterns)."""
    ref = {
        "model_name": np.array(model_name),
        "writer": np.array(writer),
        "seed": np.array(seed, dtype=np.int64),
        "count_params": np.array(model.count_params(), dtype=np.int64),
        "trainable_params": np.array(n_elements(model.trainable_weights), dtype=np.int64),
        "non_trainable_params": np.array(n_elements(model.non_trainable_weights), dtype=np.int64),
        "layer_names": np.array([layer.name for layer in model.layers], dtype=str),
        "layer_classes": np.array([type(layer).__name__ for layer in model.layers], dtype=str),
        "layer_params": np.array([layer.count_params() for layer in model.layers], dtype=np.int64),
    }
    flat = list(leaf_layers(K, model))
    ref["flat_layer_paths"] = np.array([p for p, _ in flat], dtype=str)
    ref["flat_layer_names"] = np.array([layer.name for _, layer in flat], dtype=str)
    ref["flat_layer_classes"] = np.array([type(layer).__name__ for _, layer in flat], dtype=str)
    ref["flat_layer_params"] = np.array([layer.count_params() for _, layer in flat], dtype=np.int64)
    assert len(set(ref["flat_layer_names"])) == len(flat), "leaf layer names must be unique"
    ref["input_names"] = np.array(names_in, dtype=str)
    for n, a in zip(names_in, arrays, strict=True):
        ref[f"input:{n}"] = a
    outs = run_model(model, arrays)
    ref["output_names"] = np.array(output_names(model), dtype=str)
    for n, y in zip(output_names(model), outs, strict=True):
        ref[f"output:{n}"] = y.astype(np.float32)
    for _, layer in flat:
        for w in layer.weights:
            ref[f"weight:{layer.name}/{role_of(w.name)}"] = np.asarray(w).astype(np.float32)

    recorded = {}
    probe(K, model, arrays, recorded)
    conv_names, conv_classes, conv_acts, conv_formats = [], [], [], []
    for _, layer in flat:  # in flat order
        if layer.name not in recorded:
            continue
        _, x_in, y_out = recorded[layer.name]
        cfg = layer.get_config()
        act = cfg.get("activation", "linear")
        act = act if isinstance(act, str) else json.dumps(act)
        conv_names.append(layer.name)
        conv_classes.append(type(layer).__name__)
        conv_acts.append(act)
        conv_formats.append(cfg.get("data_format") or "channels_last")
        ref[f"act_in:{layer.name}"] = x_in.astype(np.float32)
        ref[f"act_out:{layer.name}"] = y_out.astype(np.float32)
        if conv_formats[-1] == "channels_first":
            check_against_channels_last(K, layer, x_in, y_out)
        pre = None
        if act != "linear":
            pre = preactivation(K, layer, x_in)
            ref[f"act_preact:{layer.name}"] = pre.astype(np.float32)
            err = np.max(np.abs(apply_activation(K, act, pre) - y_out))
            assert err < 1e-5, (layer.name, "activation(preact) != output", err)
        if type(layer).__name__.startswith("Separable"):
            mid = separable_depthwise(K, layer, x_in)
            ref[f"act_sep_depthwise:{layer.name}"] = mid.astype(np.float32)
            ws = layer.get_weights()
            pw = ws[1].reshape(ws[1].shape[-2], ws[1].shape[-1])
            if cfg["data_format"] == "channels_first":
                lin = np.moveaxis(np.moveaxis(mid, 1, -1) @ pw, -1, 1)
                bshape = (1, -1) + (1,) * (mid.ndim - 2)
            else:
                lin = mid @ pw
                bshape = (-1,)
            if cfg["use_bias"]:
                lin = lin + ws[2].reshape(bshape)
            target = pre if pre is not None else y_out
            err = np.max(np.abs(lin - target))
            assert err < 1e-4, (layer.name, "pointwise(depthwise) != output", err)
    missing = [layer.name for _, layer in flat if type(layer).__name__ in CONV_CLASSES and layer.name not in recorded]
    assert not missing, missing
    ref["conv_layer_names"] = np.array(conv_names, dtype=str)
    ref["conv_layer_classes"] = np.array(conv_classes, dtype=str)
    ref["conv_layer_activations"] = np.array(conv_acts, dtype=str)
    ref["conv_layer_data_formats"] = np.array(conv_formats, dtype=str)
    return ref
