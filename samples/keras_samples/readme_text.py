"""The fixed prose of ``samples/keras/README.md`` (the ``readme`` part adds the tables around it)."""

from __future__ import annotations

README_HEAD = """# Keras fixtures

Made by `samples/make_keras_samples.py` (run by hand, never by CI; rerun it to rebuild this folder, see
"How to rebuild"). Every number here came from real Keras; nothing in this folder needs TensorFlow to read.

## Naming

- `k2_<model>.*`: written by **tf-keras 2** (`import tf_keras`, "Keras 2").
- `k3_<model>.*`: written by **Keras 3** (`import keras`, TensorFlow backend).
- `legacy216_<model>*.h5`: **derived** with h5py from `k2_seq_input_shape.h5` to look like a Keras 2.1.6 file
  (not written by any Keras; see "Derived legacy files").
- Suffixes: `.h5` full legacy HDF5 from `model.save("x.h5")` (root attr `model_config`);
  `.weights-only.h5` Keras 2 `save_weights` (root attr `layer_names`, no `model_config`);
  `.weights.h5` Keras 3 `save_weights` (`layers/<key>/vars/<n>`); `.keras` zip from `model.save("x.keras")`;
  `.reference.npz` what Keras computed; `.tf2onnx.onnx` the same model converted by tf2onnx.

Weights are seeded per layer from the model and layer names, so `k2_X` and `k3_X` hold **the same weights and
the same inputs** (and so the same outputs, within float32 rounding; checked, see each model) wherever the
layer names agree. Exceptions: `depthwise_separable`'s last SeparableConv1D differs (see there), and
`functional_branches` was trained one step by each writer separately, so its saved weights differ slightly.
A `*_onnx` variant shares its seed with its original: every layer it shares has the same weights, and the
inputs are the same.
"""

NPZ_KEYS = [
    ("`model_name`, `writer`", "str scalars (`writer` e.g. `tf-keras 2.21.0`, `keras 3.15.1`)"),
    (
        "`seed`",
        "int: inputs are `np.random.default_rng(seed).standard_normal(shape).astype(float32)`, one draw per input "
        "in `input_names` order; batch size 2",
    ),
    (
        "`count_params`, `trainable_params`, `non_trainable_params`",
        "int: `model.count_params()`, element counts of `model.trainable_weights` / `non_trainable_weights` "
        "(optimizer state never counted)",
    ),
    (
        "`layer_names`, `layer_classes`, `layer_params`",
        "`model.layers` order, as Keras reports it: Functional includes its `InputLayer`s, Sequential does not; a "
        "nested model is ONE entry with its total param count (as `model.summary()` shows it); params = all the "
        "layer's weights, trainable or not",
    ),
    (
        "`flat_layer_paths`, `flat_layer_names`, `flat_layer_classes`, `flat_layer_params`",
        "every leaf layer depth first, nested models expanded (and not listed themselves); path "
        "`inner_block/inner_conv_a` for a layer inside nested model `inner_block`; leaf names are unique within a "
        "file",
    ),
    (
        "`input_names`, `input:<name>`",
        "the seeded model inputs (float32, batch 2), name = the Input layer's name",
    ),
    (
        "`output_names`, `output:<name>`",
        "the model's outputs on those inputs (`model(x, training=False)`), name = the output layer's name",
    ),
    (
        "`weight:<layer>/<role>`",
        "every weight of every leaf layer, Keras native layout, `<role>` = the weight's name without scope and "
        "`:0` (`kernel`, `bias`, `depthwise_kernel`, `pointwise_kernel`, `gamma`, `beta`, `moving_mean`, "
        "`moving_variance`, `scale`, `shift`). Note: Keras 2 `DepthwiseConv*D` calls its kernel "
        "`depthwise_kernel`, Keras 3 `kernel`",
    ),
    (
        "`conv_layer_names`, `conv_layer_classes`, `conv_layer_activations`, `conv_layer_data_formats`",
        "every conv-like layer (Conv*, DepthwiseConv*, SeparableConv*, Conv*Transpose), in flat order; activation "
        "as in its config (Keras 3 writes swish as `silu`)",
    ),
    (
        "`act_in:<layer>`",
        "that layer's input activation on the seeded input, layout as its `data_format` says",
    ),
    ("`act_out:<layer>`", "its output, **including** the fused activation"),
    (
        "`act_preact:<layer>`",
        "only where the activation is not `linear`: the output without activation (a clone of the layer with "
        "`activation='linear'` and the same weights, applied to `act_in`)",
    ),
    (
        "`act_sep_depthwise:<layer>`",
        "SeparableConv only: the depthwise step's output (a DepthwiseConv with the same depthwise kernel, strides, "
        "padding, dilation, no bias; causal = left pad then valid); pointwise of it plus bias equals the "
        "pre-activation output (checked to 1e-4)",
    ),
]

NPZ_DOC = (
    "## What each `.reference.npz` holds\n\n"
    "Load with `numpy.load(path, allow_pickle=False)` (strings are numpy unicode arrays, no pickles).\n\n"
    "| key | value |\n| --- | --- |\n"
    + "".join(f"| {k} | {v} |\n" for k, v in NPZ_KEYS)
    + "\nNested layers are keyed by their own (leaf) name, e.g. `act_in:inner_conv_a`.\n"
)


KERAS_LIMITS = [
    "- **Keras 3.15 bug, channels_first + bias**: `keras.ops.add` (TensorFlow backend) treats `x + b` with `b` of "
    "shape (1, C, 1, 1) as a bias add and picks NHWC when `x.shape[-1] == C`, so a channels_first Conv whose "
    "output's last spatial axis has the same length as its channel count gets the bias added along the wrong "
    "axis (seen: Conv2D filters 6 on a 6x6 output, off by up to 0.45 against the right answer in eager mode, "
    "right inside `tf.function`). tf-keras is not affected. The `channels_first` model is shaped so that this "
    "never happens (no channels_first conv output has last axis == channels), so its numbers are the right "
    "ones; the k2 and k3 outputs agree (see 'k2 vs k3' below). A loader must not copy this behaviour.",
    "- **channels_first on the TensorFlow CPU needs oneDNN**: with `TF_ENABLE_ONEDNN_OPTS=0`, Conv2D refuses "
    "NCHW on the CPU (`The Conv2D op currently only supports the NHWC tensor format on the CPU`); with oneDNN "
    "on (the default, and what the script sets) the `channels_first` model runs in both Keras versions, and "
    "every conv layer's output equals a channels_last clone of it (same weights, transposed input) exactly. "
    "So its reference activations are real Keras numbers and nothing was left out.",
    "- Keras 3 `SeparableConv1D` (and `DepthwiseConv1D` in both versions) refuse `padding='causal'`: "
    "`k2_depthwise_separable` has `sep1d_causal_dil2` (causal), `k3_depthwise_separable` has `sep1d_same_dil2` "
    "(same) in its place; everything else in the two files is the same.",
    "- `seq_input_shape` (Sequential built with `input_shape=` on its first layer) exists for tf-keras only: "
    "Keras 3 accepts `input_shape=` with a warning but stores an `InputLayer` with `batch_shape`, no different "
    "from a Sequential built with `Input`.",
    "- Lambda models reload only with `safe_mode=False` (Keras 3 `.keras`/`.h5`, tf-keras `.keras`); the h5 "
    "files hold the lambda as marshalled Python bytecode (Python 3.11), which a reader must never execute.",
]

LEGACY_DOC = """## Derived legacy files (`legacy216_*`)

No modern Keras can write a Keras 2.0-2.2 file, so `derive_legacy_h5` in the script rewrites
`k2_seq_input_shape.h5` with h5py (same weights, same numbers):

- root attrs `keras_version = b"2.1.6"`, `backend = b"tensorflow"`, `model_config`: stored as fixed-length
  `numpy.bytes_` (h5py returns `numpy.bytes_`, not `str`: decode them);
- `model_config` is the pre-2.2.3 Sequential form `{"class_name": "Sequential", "config": [ ...layers... ]}`
  (the layer list directly under `config`, no model name, no InputLayer; `batch_input_shape` on the first
  Conv2D); layers renamed as old Keras numbered them (`conv2d` -> `conv2d_1`, `conv2d_1` -> `conv2d_2`,
  `batch_normalization` -> `batch_normalization_1`, ...); config keys 2.1.6 did not have (`groups`,
  `module`, `registered_name`, `build_config`) dropped;
- `model_weights/layer_names` etc. are fixed-length `S<n>` arrays; each layer's `weight_names` is
  `<layer>_1/<role>:0`, so datasets sit at `model_weights/conv2d_1/conv2d_1_1/kernel:0` (the weight name's
  first part differs from the group name); weightless layers have `weight_names` = float64 array of shape (0,);
- `legacy216_seq_input_shape_chunked.h5` additionally splits `layer_names` into `layer_names0`,
  `layer_names1` and each non-empty `weight_names` into `weight_names0`, `weight_names1` (Keras does so only
  past 64,512 bytes; forced here);
- their `.reference.npz` are copies of `k2_seq_input_shape.reference.npz` with layer names (and the input
  name `conv2d_input` -> `conv2d_1_input`) renamed; `writer` says they are derived. tf-keras 2.21 loads both
  files and reproduces the outputs exactly (checked by the script).
"""

REBUILD_DOC = """## How to rebuild

```
python3 -m venv /tmp/tfvenv
/tmp/tfvenv/bin/pip install tensorflow-cpu==2.21.0 tf-keras==2.21.0 keras==3.15.1 \\
    tf2onnx==1.17.0 onnx h5py onnxruntime==1.32.0
/tmp/tfvenv/bin/python samples/make_keras_samples.py          # empties and rewrites samples/keras/ (~1 min)
/tmp/venv/bin/python samples/make_keras_samples.py --part check   # optional: re-read everything without TF
```
"""
