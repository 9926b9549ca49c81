"""The ``readme`` part: write ``samples/keras/README.md`` and ``tf2onnx_map.json`` from the files and logs."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

from .catalog import MODEL_DOCS, MODELS
from .common import MAX_IR_VERSION, OPSET, human_size, max_diff, write_json
from .onnx_map import onnx_conv_map
from .readme_text import KERAS_LIMITS, LEGACY_DOC, NPZ_DOC, README_HEAD, REBUILD_DOC


def readme_part(out: Path, work: Path) -> None:
    logs = {}
    for part in ("k2", "k3", "legacy"):
        p = work / f"log_{part}.json"
        logs[part] = json.loads(p.read_text()) if p.exists() else {}
    import h5py
    import onnx

    versions = {
        "tensorflow-cpu": logs["k2"].get("tensorflow"),
        "tf-keras": logs["k2"].get("writer", "").split(" ")[-1],
        "keras": logs["k3"].get("writer", "").split(" ")[-1],
        "tf2onnx": logs["k2"].get("tf2onnx"),
        "onnx": onnx.__version__,
        "h5py": h5py.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
    }
    try:
        import onnxruntime

        versions["onnxruntime (used to check the ONNX files)"] = onnxruntime.__version__
    except ImportError:
        pass

    lines = [README_HEAD]
    lines.append("## Versions used\n")
    lines += [f"- {k} {v}" for k, v in versions.items()]
    lines.append("")

    # --- file table
    lines.append("## Files\n")
    lines.append("| file | size | writer | format | model | notes |")
    lines.append("| --- | --- | --- | --- | --- | --- |")
    all_file_logs = {}
    for part in ("k2", "k3"):
        all_file_logs.update(logs[part].get("files", {}))
    for path in sorted(out.iterdir()):
        if path.name in ("README.md", "tf2onnx_map.json"):
            continue
        name = path.name
        m = re.match(
            r"(k2|k3|legacy216)_(.+?)(_chunked)?\.(reference\.npz|weights-only\.h5|weights\.h5|tf2onnx\.onnx|h5|keras)$",
            name,
        )
        prefix, model, chunked, ext = m.groups()
        writer = {
            "k2": "tf-keras " + versions["tf-keras"],
            "k3": "keras " + versions["keras"],
            "legacy216": "derived (h5py) from k2_seq_input_shape.h5",
        }[prefix]
        fmt = {
            "reference.npz": "reference outputs (numpy npz)",
            "weights-only.h5": "Keras 2 weights-only HDF5",
            "weights.h5": "Keras 3 .weights.h5",
            "tf2onnx.onnx": "ONNX (tf2onnx)",
            "h5": "full legacy HDF5" + (" (Keras 2.1.6 style)" if prefix == "legacy216" else ""),
            "keras": ".keras zip",
        }[ext]
        notes = []
        entry = all_file_logs.get(name, {})
        if "reload_max_abs_diff" in entry:
            notes.append(f"reloads to max abs diff {entry['reload_max_abs_diff']:.1e}")
        if "reload_error" in entry:
            notes.append(f"reload failed: {entry['reload_error']}")
        if ext == "h5" and prefix != "legacy216":
            with h5py.File(path, "r") as f:
                if "optimizer_weights" in f:
                    notes.append("has `optimizer_weights` (model was compiled and trained one step)")
        if ext == "tf2onnx.onnx":
            o = logs[prefix].get("onnx", {}).get(name, {})
            notes.append(
                f"opset {OPSET}, IR {o.get('ir_version')} (tf2onnx wrote {o.get('ir_version_written')}), "
                f"onnxruntime vs Keras max abs diff {o.get('ort_max_abs_diff', float('nan')):.1e}"
            )
        if prefix == "legacy216" and ext == "reference.npz":
            notes.append("copy of k2_seq_input_shape.reference.npz, layer names renamed as in the .h5")
        if prefix == "legacy216" and ext == "h5":
            notes.append("chunked `layer_names0/1`, `weight_names0/1`" if chunked else "unchunked string lists")
            d = logs["legacy"].get("files", {}).get(name, {}).get("tf_keras_reload_max_abs_diff")
            if d is not None:
                notes.append(f"tf-keras loads it, max abs diff {d:.1e}")
        lines.append(
            f"| `{name}` | {human_size(path.stat().st_size)} | {writer} | {fmt} | {model} | {'; '.join(notes)} |"
        )
    lines.append("")

    total = sum(p.stat().st_size for p in out.iterdir())
    lines.append(f"Total before this README: {human_size(total)}.\n")

    # --- models
    lines.append("## Models\n")
    for spec in MODELS:
        model_name = spec["name"]
        lines.append(f"### {model_name}\n")
        lines.append(MODEL_DOCS[model_name] + ".\n")
        k2_rows = None
        for v in spec["writers"]:
            ref = np.load(out / f"k{v}_{model_name}.reference.npz", allow_pickle=False)
            rows = [
                (str(p), str(c), int(n))
                for p, c, n in zip(
                    ref["flat_layer_paths"], ref["flat_layer_classes"], ref["flat_layer_params"], strict=True
                )
            ]
            header = (
                f"**k{v}_{model_name}**: count_params {int(ref['count_params'])} (trainable "
                f"{int(ref['trainable_params'])}, non-trainable {int(ref['non_trainable_params'])}); inputs "
                + ", ".join(f"`{n}` {tuple(ref['input:' + str(n)].shape)}" for n in ref["input_names"])
                + "; outputs "
                + ", ".join(f"`{n}` {tuple(ref['output:' + str(n)].shape)}" for n in ref["output_names"])
            )
            if not (v == 3 and rows == k2_rows):
                lines.append(header + "\n")
            else:
                k2 = np.load(out / f"k2_{model_name}.reference.npz", allow_pickle=False)
                diff = max_diff(
                    [ref[f"output:{n}"] for n in ref["output_names"]], [k2[f"output:{n}"] for n in k2["output_names"]]
                )
                if spec["trained"]:
                    same = (
                        "the same initial weights and inputs, but each writer trained its own copy one step "
                        f"(different dropout masks), so weights and outputs differ (outputs by up to {diff:.2g})"
                    )
                else:
                    same = f"the same weights and inputs; k2 vs k3 outputs max abs diff {diff:.1e}"
                    assert diff < 1e-4, f"{model_name}: k2 and k3 disagree by {diff}"
                lines.append(
                    header + "; layers, names, classes and parameter counts as k2's (activation `swish` is saved "
                    f"as `silu`); {same}.\n"
                )
                continue
            if v == 2:
                k2_rows = rows
            conv = {
                str(n): (str(a), str(f))
                for n, a, f in zip(
                    ref["conv_layer_names"], ref["conv_layer_activations"], ref["conv_layer_data_formats"], strict=True
                )
            }
            lines.append("| layer (flat path) | class | params | conv: activation, in -> out shape |")
            lines.append("| --- | --- | --- | --- |")
            for p, c, n in zip(
                ref["flat_layer_paths"], ref["flat_layer_classes"], ref["flat_layer_params"], strict=True
            ):
                leaf = str(p).split("/")[-1]
                extra = ""
                if leaf in conv:
                    extra = (
                        f"{conv[leaf][0]}, {tuple(ref['act_in:' + leaf].shape)} -> "
                        f"{tuple(ref['act_out:' + leaf].shape)}"
                    )
                lines.append(f"| `{p}` | {c} | {int(n)} | {extra} |")
            nested = [
                (str(n), int(p))
                for n, c, p in zip(ref["layer_names"], ref["layer_classes"], ref["layer_params"], strict=True)
                if c in ("Sequential", "Functional", "Model")
            ]
            if nested:
                lines.append("")
                lines.append(
                    "`layer_names` (model.layers) lists "
                    + ", ".join(f"`{n}` as one entry with {p} params" for n, p in nested)
                    + "."
                )
            lines.append("")

    # --- ONNX
    onnx_map = {}
    lines.append("## ONNX conversions (tf2onnx)\n")
    lines.append(
        "Converted with `tf2onnx.convert.from_function` on a `tf.function(model(x, training=False))` with a "
        f"dynamic batch dimension, opset {OPSET}; `ir_version` lowered to <= {MAX_IR_VERSION} when tf2onnx wrote "
        "more (onnxruntime here refuses newer IR). Inputs keep Keras' layout (NHWC etc.; tf2onnx inserts "
        "Transposes around each Conv); input and output names are the Keras input/output layer names. Every "
        "file was run in onnxruntime on the npz inputs and compared with the npz outputs.\n"
    )
    lines.append(
        "**Grouped convolutions**: Keras 2.21 and 3.15 run a conv with `groups > 1` (and Keras 3 a "
        "channels_first Conv3D) inside `tf.function(jit_compile=True)`, which tf2onnx cannot convert. The "
        "script patches that away *only while tracing for the conversion* (tf-keras: the layer's "
        "`_jit_compiled_convolution_op` is set to its plain `convolution_op`; Keras 3: "
        "`keras.src.backend.tensorflow.nn.conv` is replaced by a direct `tf.nn.convolution`). TensorFlow's "
        "graph then holds a plain Conv2D/Conv3D whose filter has fewer input channels than the input, which "
        "tf2onnx maps to an ONNX Conv with `group`. Same weights, and onnxruntime agrees with Keras (diffs "
        "below), so no separate no-groups variant was needed.\n"
    )
    lines.append(
        "**Reading the ONNX convs against Keras** (what tf2onnx did, seen in these files): Conv1D, DepthwiseConv1D, "
        "SeparableConv1D and Conv1DTranspose become 2-D ONNX ops on an unsqueezed input (W `(O, I/g, 1, k)`, "
        "strides `[1, s]`, dilations `[1, d]`). 'same' and causal padding sometimes appear as `pads`, sometimes as a "
        "separate `Pad` node before the Conv (`pads` absent or zero; for instance every causal Conv1D). Transposed "
        "convs: 2-D/3-D ones carry `pads` that crop the output (ONNX semantics), the 1-D ones and the dilated "
        "Conv2DTranspose have no `pads` and are followed by a `Slice` that crops; TensorFlow computes a dilated "
        "Conv2DTranspose (`ct2d_dil2_valid`) as `atrous_conv2d_transpose` (SpaceToDepth/DepthToSpace around an "
        "undilated ConvTranspose), so its ONNX ConvTranspose has dilations `[1, 1]` although Keras says 2. "
        "A SeparableConv becomes two Convs (depthwise with group = C_in, then a 1x1 pointwise with the bias). "
        "BatchNormalization: in the tf-keras files a BN directly after a 2-D Conv2D was folded into that conv's W "
        "and B (`stem_bn`, `inner_bn`: W = kernel x gamma/sqrt(var+eps) per output channel); elsewhere (after an "
        "activation, after a Conv1D, and in every Keras 3 file) BN stays an ONNX BatchNormalization or becomes "
        "Mul/Add and W equals the Keras kernel. Each file's table says which.\n"
    )
    lines.append(
        "`tf2onnx_map.json` has, per ONNX file: `opset`, `ir_version`, `inputs`, `outputs`, `op_counts`, "
        "`keras_batchnorm_layers`, `onnx_batchnorm_nodes`, `keras_conv_layers_without_onnx_conv` (empty in every "
        "file), and `conv_nodes`: one entry per Conv/ConvTranspose node with `onnx_node`, `op_type`, "
        "`keras_layer`, `part` (`depthwise`/`pointwise` for a SeparableConv, else empty), `matched_by` (`name`: "
        "the Keras layer name is in the node's TF name scope, e.g. `conv2d_family/conv_same_relu/BiasAdd` or, "
        "Keras 3, `nested_1/outer_conv_in_1/BiasAdd`; `weights`: tf2onnx renamed the node (`Conv__230`) and it "
        "was matched by its W), `group`, `W` (initializer name), `W_shape`, `pads` (null = attribute absent), "
        "`auto_pad`, `strides`, `dilations`, `output_padding`/`output_shape` when present, `output_consumers` "
        "(op types reading its output), `W_equals_keras_kernel` (W == the Keras kernel in canonical ONNX layout, "
        "DESIGN.md), `W_is_keras_kernel_times_per_channel_scale` + `folded_batchnorm` when a BN was folded in, and "
        "`B_equals_keras_bias` (null: Keras has no bias there and tf2onnx made one; absent: no B input).\n"
    )
    for path in sorted(out.glob("*.tf2onnx.onnx")):
        m = re.match(r"(k2|k3)_(.+)\.tf2onnx\.onnx$", path.name)
        ref = np.load(out / f"{m.group(1)}_{m.group(2)}.reference.npz", allow_pickle=False)
        info = onnx_conv_map(path, ref)
        onnx_map[path.name] = info
        lines.append(f"### {path.name}\n")
        lines.append("ops: " + ", ".join(f"{k} {v}" for k, v in info["op_counts"].items()) + "\n")
        bn = info["keras_batchnorm_layers"]
        if bn:
            folded = info["onnx_batchnorm_nodes"] == 0
            lines.append(
                f"BatchNormalization layers {', '.join('`' + b + '`' for b in bn)}: "
                + (
                    "no ONNX BatchNormalization node left (folded into neighbouring Conv or turned into Mul/Add)"
                    if folded
                    else f"{info['onnx_batchnorm_nodes']} ONNX BatchNormalization node(s) kept"
                )
                + ".\n"
            )
        if info["keras_conv_layers_without_onnx_conv"]:
            lines.append(
                "Keras conv layers with no ONNX Conv node matched by name: "
                + ", ".join(f"`{n}`" for n in info["keras_conv_layers_without_onnx_conv"])
                + "\n"
            )
        fixed = logs[m.group(1)].get("onnx", {}).get(path.name, {}).get("group_fixed_nodes")
        if fixed:
            lines.append(
                "`group` set by the script after conversion (tf2onnx left 1): "
                + ", ".join(f"`{k}` -> {v}" for k, v in fixed.items())
                + ".\n"
            )
        lines.append(
            "| ONNX node | op | Keras layer (part) | matched by | group | W shape | pads | strides | dilations "
            "| W vs Keras kernel | B == Keras bias | output goes to |"
        )
        lines.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in info["conv_nodes"]:
            if r.get("W_equals_keras_kernel"):
                wk = "equal"
            elif r.get("W_is_keras_kernel_times_per_channel_scale"):
                wk = "kernel × per-channel scale" + (
                    f" (`{r['folded_batchnorm']}` folded in)" if r.get("folded_batchnorm") else ""
                )
            else:
                wk = "different"
            pads = r["pads"] if r["pads"] is not None else (r["auto_pad"] or "none (0)")
            part = f" ({r['part']})" if r.get("part") else ""
            lines.append(
                f"| `{r['onnx_node']}` | {r['op_type']} | `{r['keras_layer']}`{part} | {r['matched_by']} "
                f"| {r['group']} "
                f"| {r['W_shape']} | {pads} | {r['strides']} | {r['dilations']} | {wk} "
                f"| {r.get('B_equals_keras_bias', 'no B input')} "
                f"| {', '.join(r['output_consumers']) or 'graph output'} |"
            )
        lines.append("")
    failures = [(f, e["error"]) for part in ("k2", "k3") for f, e in logs[part].get("onnx", {}).items() if "error" in e]
    lines.append("### What tf2onnx could not convert\n")
    if failures:
        lines += [f"- `{f}`: {e}" for f, e in failures]
    else:
        lines.append("- Nothing failed once grouped convolutions were un-XLA'd (see above).")
    lines.append("")

    # --- what Keras could not do
    lines.append("## What Keras could not do (and what was done instead)\n")
    errors = [e for part in ("k2", "k3") for e in logs[part].get("errors", [])]
    lines += [f"- {e}" for e in errors]
    lines += KERAS_LIMITS
    lines.append("")

    lines.append(LEGACY_DOC)
    lines.append(NPZ_DOC)
    lines.append(REBUILD_DOC)
    (out / "README.md").write_text("\n".join(lines).rstrip() + "\n")
    write_json(out / "tf2onnx_map.json", onnx_map)
