"""Which ONNX Conv/ConvTranspose node computes which Keras layer (README tables and ``tf2onnx_map.json``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np


def canonical(kind: str, kernel: np.ndarray) -> np.ndarray:
    """Keras kernel -> ONNX W (DESIGN.md canonical layouts)."""
    if kind == "conv":  # (*k, I/g, O) -> (O, I/g, *k)
        return np.moveaxis(np.moveaxis(kernel, -1, 0), -1, 1)
    if kind == "depthwise":  # (*k, I, m) -> (I*m, 1, *k)
        k = kernel.reshape((*kernel.shape[:-2], -1))
        return np.moveaxis(k, -1, 0)[:, None]
    if kind == "transpose":  # (*k, O, I) -> (I, O, *k)
        return np.moveaxis(np.moveaxis(kernel, -1, 0), -1, 1)
    raise ValueError(kind)


def _conv_candidates(ref) -> list:
    """(layer, part, canonical W, Keras bias or None) for every conv-like layer of a reference npz."""
    out = []
    for layer, cls in zip(
        [str(n) for n in ref["conv_layer_names"]], [str(c) for c in ref["conv_layer_classes"]], strict=True
    ):
        bias = ref.get(f"weight:{layer}/bias")
        if cls.startswith("Separable"):
            out.append((layer, "depthwise", canonical("depthwise", ref[f"weight:{layer}/depthwise_kernel"]), None))
            out.append((layer, "pointwise", canonical("conv", ref[f"weight:{layer}/pointwise_kernel"]), bias))
        elif cls.startswith("Depthwise"):
            key = (
                f"weight:{layer}/depthwise_kernel"
                if f"weight:{layer}/depthwise_kernel" in ref
                else f"weight:{layer}/kernel"
            )
            out.append((layer, "", canonical("depthwise", ref[key]), bias))
        else:
            kind = "transpose" if cls.endswith("Transpose") else "conv"
            out.append((layer, "", canonical(kind, ref[f"weight:{layer}/kernel"]), bias))
    return out


def _row_scale(w: np.ndarray, can: np.ndarray):
    """If w == can * s[o] for one s per output channel (axis 0), return s, else None."""
    if can.size != w.size:
        return None
    w2, c2 = w.reshape(w.shape[0], -1).astype(np.float64), can.reshape(w.shape[0], -1).astype(np.float64)
    if w2.shape != c2.shape or np.any(np.abs(c2) < 1e-6):
        return None
    ratio = w2 / c2
    if np.allclose(ratio, ratio[:, :1], rtol=1e-4, atol=1e-6):
        return ratio[:, 0]
    return None


def _folded_bn(ref, scale: np.ndarray):
    """The BatchNormalization layer whose gamma / sqrt(moving_variance + 0.001) equals scale, if any."""
    for name, cls in zip(
        [str(n) for n in ref["flat_layer_names"]], [str(c) for c in ref["flat_layer_classes"]], strict=True
    ):
        if cls != "BatchNormalization" or f"weight:{name}/moving_variance" not in ref:
            continue
        var = ref[f"weight:{name}/moving_variance"].astype(np.float64)
        gamma = ref[f"weight:{name}/gamma"] if f"weight:{name}/gamma" in ref else np.ones_like(var)
        bn_scale = gamma / np.sqrt(var + 1e-3)
        if bn_scale.shape == scale.shape and np.allclose(bn_scale, scale, rtol=1e-4):
            return name
    return None


def onnx_conv_map(onnx_path: Path, ref) -> dict:
    """Which ONNX Conv/ConvTranspose node computes which Keras layer, and does its W equal the Keras kernel.

    A node is matched by the Keras layer name in its TF name scope (``model/layer/BiasAdd``) when tf2onnx kept
    it, else by its weights: W equal to a layer's kernel in ONNX layout, or equal up to one factor per output
    channel (a BatchNormalization folded in; the BN is named when its gamma/sqrt(var+eps) is that factor).
    """
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(onnx_path))
    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    conv_names = [str(n) for n in ref["conv_layer_names"]]
    cands = _conv_candidates(ref)
    rows = []
    op_counts: dict = {}
    consumers: dict = {}
    for node in proto.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node.op_type)
    for node in proto.graph.node:
        op_counts[node.op_type] = op_counts.get(node.op_type, 0) + 1
        if node.op_type not in ("Conv", "ConvTranspose"):
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        w = inits.get(node.input[1])
        b = inits.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        row = {
            "onnx_node": node.name,
            "op_type": node.op_type,
            "keras_layer": None,
            "part": "",
            "matched_by": None,
            "group": int(attrs.get("group", 1)),
            "W": node.input[1],
            "W_shape": list(w.shape) if w is not None else None,
            "pads": list(attrs["pads"]) if "pads" in attrs else None,
            "auto_pad": attrs["auto_pad"].decode() if "auto_pad" in attrs else None,
            "strides": list(attrs.get("strides", [])),
            "dilations": list(attrs.get("dilations", [])),
        }
        for key in ("output_padding", "output_shape"):
            if key in attrs:
                row[key] = list(attrs[key])
        row["output_consumers"] = consumers.get(node.output[0], [])
        tokens = re.split(r"[/:]", node.name)
        hits = [(i, t) for i, t in enumerate(tokens) if t in conv_names]
        if not hits:  # Keras 3 scopes carry a call counter: nested_1/outer_conv_in_1/BiasAdd
            hits = [(i, re.sub(r"_\d+$", "", t)) for i, t in enumerate(tokens) if re.sub(r"_\d+$", "", t) in conv_names]
        by_name = max(hits)[1] if hits else None
        mine = [c for c in cands if c[0] == by_name] if by_name else cands
        if by_name and len(mine) == 2:  # separable: depthwise has group > 1 (or the pointwise size differs)
            mine = [mine[0]] if (row["group"] > 1 or (w is not None and mine[1][2].size != w.size)) else [mine[1]]
        chosen, scale = None, None
        if w is not None:
            exact = [c for c in mine if c[2].size == w.size and np.allclose(c[2].reshape(-1), w.reshape(-1), atol=1e-6)]
            if exact:
                chosen = exact[0]
            else:
                for c in mine:
                    scale = _row_scale(w, c[2])
                    if scale is not None:
                        chosen = c
                        break
        if chosen is None and by_name and len(mine) == 1:
            chosen = mine[0]
        if chosen is not None:
            row["keras_layer"], row["part"] = chosen[0], chosen[1]
            row["matched_by"] = "name" if by_name else "weights"
            row["W_equals_keras_kernel"] = bool(
                w is not None
                and chosen[2].size == w.size
                and np.allclose(chosen[2].reshape(-1), w.reshape(-1), atol=1e-6)
            )
            if scale is not None:
                row["W_is_keras_kernel_times_per_channel_scale"] = True
                row["folded_batchnorm"] = _folded_bn(ref, scale)
            kb = chosen[3]
            if b is not None:
                row["B_equals_keras_bias"] = (
                    bool(kb.size == b.size and np.allclose(kb, b.reshape(-1), atol=1e-6)) if kb is not None else None
                )
        rows.append(row)
    bn_layers = [
        n
        for n, c in zip(
            [str(x) for x in ref["flat_layer_names"]], [str(c) for c in ref["flat_layer_classes"]], strict=True
        )
        if c == "BatchNormalization"
    ]
    matched = {(r["keras_layer"], r["part"]) for r in rows}
    unmatched = sorted(f"{c[0]}{' ' + c[1] if c[1] else ''}" for c in cands if (c[0], c[1]) not in matched)
    return {
        "opset": max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")),
        "ir_version": int(proto.ir_version),
        "inputs": [i.name for i in proto.graph.input],
        "outputs": [o.name for o in proto.graph.output],
        "op_counts": dict(sorted(op_counts.items())),
        "conv_nodes": rows,
        "keras_conv_layers_without_onnx_conv": unmatched,
        "keras_batchnorm_layers": bn_layers,
        "onnx_batchnorm_nodes": op_counts.get("BatchNormalization", 0),
    }
