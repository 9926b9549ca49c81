#!/usr/bin/env python3
"""Make the Keras fixtures in ``samples/keras/`` with real Keras, tf-keras and tf2onnx.

This is the only place in conv-inspector that uses TensorFlow, Keras or tf2onnx. It is run once by hand
when the fixtures change; CI and the tests never run it (they read the committed files). Nothing in
``inspector/`` or ``tests/`` may import it.

Set up a throw-away virtual environment outside the repository and run it from the repository root::

    python3 -m venv /tmp/tfvenv
    /tmp/tfvenv/bin/pip install tensorflow-cpu==2.21.0 tf-keras==2.21.0 keras==3.15.1 \\
        tf2onnx==1.17.0 onnx h5py onnxruntime==1.32.0
    /tmp/tfvenv/bin/python samples/make_keras_samples.py

    # optional: re-check the written files with a Python that has no TensorFlow (h5py, onnx, onnxruntime)
    /tmp/venv/bin/python samples/make_keras_samples.py --part check

(The files were made with exactly those versions; pip resolved onnx 1.23.2, h5py 3.14.0, numpy 2.4.6,
protobuf 7.36.2. onnxruntime is optional: without it the ONNX files are converted but not run here.)

What it does (``--part all``, the default, runs every step, each in a fresh subprocess so Keras' name
counters and seeds start from zero):

``k2``      tf-keras 2 (``import tf_keras``): build each model, fill every weight with seeded random values,
            record what Keras computes (``*.reference.npz``), save ``.h5``, ``.weights-only.h5``, ``.keras``,
            reload each with tf-keras and compare predictions, convert to ONNX with tf2onnx.
``k3``      Keras 3 (``import keras``, TensorFlow backend): the same, saving ``.h5``, ``.keras``,
            ``.weights.h5``.
``legacy``  derive old "Keras 2.1.6" style ``.h5`` files from ``k2_seq_input_shape.h5`` with h5py only
            (see ``derive_legacy_h5``), and check that tf-keras still loads them to the same predictions.
``readme``  write ``samples/keras/README.md`` (file table, layers, parameter counts, ONNX node map) and
            ``samples/keras/tf2onnx_map.json``.
``check``   open every file without TensorFlow (h5py, zipfile, numpy, onnx, onnxruntime if present).

Re-runnable and deterministic: ``samples/keras/`` is emptied and rewritten; weights and inputs come from
``numpy.random.default_rng`` seeded by the model and layer names (``zlib.crc32``), so a re-run writes the same
numbers (``.keras`` zips carry a save date in ``metadata.json``, so they are not byte-identical).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT_DEFAULT = HERE / "keras"
WORK_DEFAULT = Path("/tmp/conv_inspector_keras_samples_work")
OPSET = 15
MAX_IR_VERSION = 10
BATCH = 2

CONV_CLASSES = (
    "Conv1D",
    "Conv2D",
    "Conv3D",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "SeparableConv1D",
    "SeparableConv2D",
    "Conv1DTranspose",
    "Conv2DTranspose",
    "Conv3DTranspose",
)

# What each model covers, for the README. Keys are model names (file stem after the writer prefix).
MODEL_DOCS = {
    "conv2d_family": "Sequential built with `Input`: Conv2D same/valid, groups 2 and 4, dilation 2, strides 2 and "
    "(1,2), kernel (3,2), no bias; BatchNormalization full / center=False / scale=False; MaxPooling2D, "
    "ZeroPadding2D, UpSampling2D, Cropping2D, ReLU, AveragePooling2D, Activation, Dropout, Flatten, Dense; "
    "activations relu, swish, sigmoid, tanh, linear, softmax",
    "conv1d_family": "Sequential built with `Input`: Conv1D causal+dilation, valid+stride 2+groups 2, same+stride "
    "2 with even kernel, same k2; BatchNormalization, MaxPooling1D, AveragePooling1D, GlobalAveragePooling1D, "
    "Dense",
    "conv3d_family": "Sequential built with `Input`: Conv3D same, valid+strides (1,2,2)+groups 2, same+dilation 2; "
    "BatchNormalization, ZeroPadding3D, MaxPooling3D, AveragePooling3D, GlobalAveragePooling3D, Dense",
    "channels_first": "Functional, 3 inputs, everything `data_format='channels_first'`: Conv1D causal, "
    "Conv1DTranspose, DepthwiseConv1D, SeparableConv1D, Conv2D same s2, Conv2D groups 2, BatchNormalization "
    "axis=1, DepthwiseConv2D mult 2, SeparableConv2D mult 2, Conv2DTranspose output_padding, MaxPooling2D, "
    "Conv3D, Conv3DTranspose, AveragePooling3D, Global*Pooling, Flatten, Concatenate, Dense",
    "depthwise_separable": "Functional, 2 inputs: DepthwiseConv2D mult 2 / mult 3+dilation 2 / kernel (3,2) stride 2 "
    "no bias; SeparableConv2D mult 2 same, dilation 2, stride 2 valid; DepthwiseConv1D mult 2 same, stride 2 "
    "valid; SeparableConv1D mult 2 same, and causal+dilation 2 (k2) / same+dilation 2 (k3, which has no causal "
    "SeparableConv1D); GlobalAveragePooling1D/2D, Concatenate, Dense",
    "transpose": "Functional, 3 inputs, 3 outputs, no BatchNormalization: Conv1DTranspose same+stride 2+"
    "output_padding 1, valid+stride 2 k4, same+dilation 2; Conv2DTranspose same+stride 2+output_padding 1, "
    "valid+strides (2,1)+output_padding (1,0) kernel (3,2), k4 stride 2 same no bias, valid+dilation 2; "
    "Conv3DTranspose same+stride 2+output_padding 1, valid+stride 2",
    "functional_branches": "Functional, 1 input, 2 outputs, compiled (Adam, mse) and trained one step before "
    "saving (so `.h5` has `optimizer_weights`): stem Conv2D+BN+ReLU, two branches joined by Add, MaxPooling2D, "
    "strided Conv2D branch and AveragePooling2D branch joined by Concatenate, Conv2D swish, GlobalAveragePooling2D"
    "+Dense softmax head, Flatten+Reshape+Conv1D+Dropout+Dense tanh head",
    "nested": "Functional with a Sequential model (`inner_block`: Conv2D, BatchNormalization, ReLU, "
    "DepthwiseConv2D) used as a layer, between two Conv2D; GlobalAveragePooling2D, Dense",
    "lambda_layer": "Sequential: Conv2D, Lambda(`lambda t: t * 0.5 + 1.0`), Conv2D, GlobalAveragePooling2D, Dense. "
    "For 'never executed' tests: the Lambda's bytecode is in the config",
    "custom_layer": "Functional: Conv2D, custom `ScaleShift` layer (registered as "
    "`conv_inspector_samples>ScaleShift`, weights `scale` and `shift` of shape (C,), computes x*scale+shift), "
    "Conv2D relu, GlobalAveragePooling2D, Dense",
    "channels_first_onnx": "tf-keras only, written only as `.h5` + `.reference.npz` + `.tf2onnx.onnx`: "
    "`channels_first` with `cf_convt1d` (Conv1DTranspose, padding same) replaced by `cf_convt1d_valid` "
    "(padding valid), because tf2onnx 1.17 converts a channels_first Conv1DTranspose with padding 'same' "
    "as if it were 'valid' (wrong output length). Same seed: every other layer has the same weights as in "
    "`channels_first`, and the inputs are the same",
    "transpose_onnx": "tf-keras only, written only as `.h5` + `.reference.npz` + `.tf2onnx.onnx`: "
    "`transpose` with `ct2d_k3x2_s21_valid_op10` replaced by `ct2d_k3x2_s21_valid` (no output_padding), "
    "because tf2onnx 1.17 writes negative `pads` for a valid Conv2DTranspose with output_padding (onnxruntime "
    "refuses the file). Same seed: other layers' weights and the inputs are as in `transpose`",
    "seq_input_shape": "tf-keras only: Sequential built with `input_shape=` on its first layer (so "
    "`batch_input_shape` is on the first Conv2D's config, and there is no InputLayer), Keras' automatic layer "
    "names: Conv2D relu, BatchNormalization, MaxPooling2D, Conv2D same stride 2, Flatten, Dense",
}


# ----------------------------------------------------------------------------------------------------------
# seeds and small helpers (no TensorFlow)


def seed_of(text: str) -> int:
    """A stable 31-bit seed from a string (the model or layer name)."""
    return zlib.crc32(text.encode("utf-8")) & 0x7FFFFFFF


def role_of(weight_name: str) -> str:
    """``conv/kernel:0`` (Keras 2) or ``kernel`` (Keras 3) -> ``kernel``."""
    return weight_name.split("/")[-1].split(":")[0]


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")


# ----------------------------------------------------------------------------------------------------------
# model builders: one function per model, taking the Keras module (tf_keras or keras) and the major version


def build_conv2d_family(K, v):
    L = K.layers
    return K.Sequential(
        [
            K.Input((12, 12, 3), name="image"),
            L.Conv2D(8, 3, padding="same", activation="relu", name="conv_same_relu"),
            L.BatchNormalization(name="bn_full"),
            L.Conv2D(8, 3, padding="valid", groups=2, dilation_rate=2, activation="swish", name="conv_g2_dil2"),
            L.MaxPooling2D(2, name="maxpool"),
            L.Conv2D(6, (3, 2), strides=2, padding="same", activation="sigmoid", name="conv_s2_same_k3x2"),
            L.BatchNormalization(center=False, name="bn_no_center"),
            L.ZeroPadding2D(((1, 0), (2, 1)), name="zeropad"),
            L.UpSampling2D(2, name="upsample"),
            L.Cropping2D(((1, 1), (2, 0)), name="crop"),
            L.Conv2D(8, 1, use_bias=False, activation="tanh", name="conv1x1_nobias_tanh"),
            L.BatchNormalization(scale=False, name="bn_no_scale"),
            L.ReLU(name="relu"),
            L.AveragePooling2D(2, name="avgpool"),
            L.Conv2D(4, 2, strides=(1, 2), padding="valid", groups=4, name="conv_g4_s1x2"),
            L.Activation("tanh", name="act_tanh"),
            L.Dropout(0.25, seed=1, name="dropout"),
            L.Flatten(name="flatten"),
            L.Dense(10, activation="softmax", name="dense_out"),
        ],
        name="conv2d_family",
    )


def build_conv1d_family(K, v):
    L = K.layers
    return K.Sequential(
        [
            K.Input((32, 4), name="sequence"),
            L.Conv1D(8, 3, padding="causal", dilation_rate=2, activation="relu", name="conv1d_causal_dil2"),
            L.Conv1D(8, 3, strides=2, padding="valid", groups=2, name="conv1d_valid_s2_g2"),
            L.BatchNormalization(name="bn"),
            L.Conv1D(6, 4, strides=2, padding="same", activation="tanh", name="conv1d_same_s2_k4"),
            L.MaxPooling1D(2, name="maxpool"),
            L.Conv1D(6, 2, padding="same", activation="sigmoid", name="conv1d_same_k2"),
            L.AveragePooling1D(2, name="avgpool"),
            L.GlobalAveragePooling1D(name="gap"),
            L.Dense(3, name="dense_out"),
        ],
        name="conv1d_family",
    )


def build_conv3d_family(K, v):
    L = K.layers
    return K.Sequential(
        [
            K.Input((6, 6, 6, 2), name="volume"),
            L.Conv3D(4, 3, padding="same", activation="relu", name="conv3d_same"),
            L.Conv3D(4, (2, 3, 3), strides=(1, 2, 2), padding="valid", groups=2, name="conv3d_valid_s122_g2"),
            L.BatchNormalization(name="bn"),
            L.Conv3D(4, 3, padding="same", dilation_rate=2, activation="swish", name="conv3d_same_dil2"),
            L.ZeroPadding3D(1, name="zeropad"),
            L.MaxPooling3D(2, name="maxpool"),
            L.AveragePooling3D((2, 1, 1), name="avgpool"),
            L.GlobalAveragePooling3D(name="gap"),
            L.Dense(2, name="dense_out"),
        ],
        name="conv3d_family",
    )


def build_channels_first(K, v, onnx_safe=False):
    """``onnx_safe``: the variant tf2onnx converts right (cf_convt1d with padding 'valid', see README)."""
    L = K.layers
    cf = "channels_first"
    # No conv output here has its last axis as long as its channel axis: Keras 3.15's ops.add (TF backend)
    # adds a (1, C, 1, 1) bias along the LAST axis when that axis also has length C (see README).
    img = K.Input((4, 12, 10), name="image_cf")
    x = L.Conv2D(6, 3, strides=2, padding="same", activation="relu", data_format=cf, name="cf_conv2d_same_s2")(img)
    x = L.BatchNormalization(axis=1, name="cf_bn")(x)
    x = L.Conv2D(6, 3, groups=2, data_format=cf, name="cf_conv2d_g2")(x)
    x = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", data_format=cf, name="cf_dwconv2d_m2")(x)
    x = L.SeparableConv2D(4, 3, depth_multiplier=2, data_format=cf, activation="tanh", name="cf_sepconv2d_m2")(x)
    x = L.Conv2DTranspose(3, 3, strides=2, padding="same", output_padding=1, data_format=cf, name="cf_convt2d")(x)
    x = L.MaxPooling2D(2, data_format=cf, name="cf_maxpool2d")(x)
    x = L.Flatten(name="cf_flatten2d")(x)

    seq = K.Input((4, 16), name="seq_cf")
    s = L.Conv1D(4, 3, padding="causal", data_format=cf, name="cf_conv1d_causal")(seq)
    if onnx_safe:
        s = L.Conv1DTranspose(4, 3, strides=2, padding="valid", data_format=cf, name="cf_convt1d_valid")(s)
    else:
        s = L.Conv1DTranspose(4, 3, strides=2, padding="same", data_format=cf, name="cf_convt1d")(s)
    s = L.DepthwiseConv1D(3, depth_multiplier=2, data_format=cf, name="cf_dwconv1d_m2")(s)
    s = L.SeparableConv1D(3, 3, padding="same", data_format=cf, name="cf_sepconv1d")(s)
    s = L.GlobalMaxPooling1D(data_format=cf, name="cf_gmp1d")(s)

    vol = K.Input((2, 4, 4, 5), name="vol_cf")
    w = L.Conv3D(4, 3, padding="same", activation="sigmoid", data_format=cf, name="cf_conv3d_same")(vol)
    w = L.Conv3DTranspose(2, 2, strides=2, data_format=cf, name="cf_convt3d")(w)
    w = L.AveragePooling3D(2, data_format=cf, name="cf_avgpool3d")(w)
    w = L.GlobalAveragePooling3D(data_format=cf, name="cf_gap3d")(w)

    y = L.Concatenate(name="cf_concat")([x, s, w])
    y = L.Dense(3, name="cf_dense")(y)
    return K.Model([img, seq, vol], y, name="channels_first_onnx" if onnx_safe else "channels_first")


def build_depthwise_separable(K, v):
    L = K.layers
    img = K.Input((10, 10, 3), name="image")
    x = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu", name="dw2d_m2_same")(img)
    x = L.SeparableConv2D(6, 3, dilation_rate=2, padding="same", name="sep2d_dil2_same")(x)
    x = L.DepthwiseConv2D(3, depth_multiplier=3, dilation_rate=2, name="dw2d_m3_dil2_valid")(x)
    x = L.DepthwiseConv2D((3, 2), strides=2, padding="same", use_bias=False, name="dw2d_k3x2_s2_nobias")(x)
    x = L.SeparableConv2D(8, 3, depth_multiplier=2, padding="same", activation="sigmoid", name="sep2d_m2_same")(x)
    x = L.SeparableConv2D(6, 3, strides=2, name="sep2d_s2_valid")(x)
    x = L.GlobalAveragePooling2D(name="gap2d")(x)

    seq = K.Input((24, 4), name="sequence")
    s = L.DepthwiseConv1D(3, depth_multiplier=2, padding="same", activation="relu", name="dw1d_m2_same")(seq)
    s = L.DepthwiseConv1D(3, strides=2, name="dw1d_s2_valid")(s)
    s = L.SeparableConv1D(6, 3, depth_multiplier=2, padding="same", activation="tanh", name="sep1d_m2_same")(s)
    if v == 2:  # Keras 3's SeparableConv1D refuses padding="causal"
        s = L.SeparableConv1D(4, 3, dilation_rate=2, padding="causal", name="sep1d_causal_dil2")(s)
    else:
        s = L.SeparableConv1D(4, 3, dilation_rate=2, padding="same", name="sep1d_same_dil2")(s)
    s = L.GlobalAveragePooling1D(name="gap1d")(s)

    y = L.Concatenate(name="concat")([x, s])
    y = L.Dense(4, name="dense_out")(y)
    return K.Model([img, seq], y, name="depthwise_separable")


def build_transpose(K, v, onnx_safe=False):
    """``onnx_safe``: the variant tf2onnx converts (no output_padding on the valid Conv2DTranspose)."""
    L = K.layers
    seq = K.Input((8, 4), name="sequence")
    s = L.Conv1DTranspose(
        4, 3, strides=2, padding="same", output_padding=1, activation="relu", name="ct1d_s2_same_op1"
    )(seq)
    s = L.Conv1DTranspose(3, 4, strides=2, padding="valid", name="ct1d_k4_s2_valid")(s)
    s = L.Conv1DTranspose(2, 3, dilation_rate=2, padding="same", name="ct1d_dil2_same")(s)

    img = K.Input((2, 2, 3), name="image")
    x = L.Conv2DTranspose(
        4, 3, strides=2, padding="same", output_padding=1, activation="relu", name="ct2d_s2_same_op1"
    )(img)
    if onnx_safe:
        x = L.Conv2DTranspose(4, (3, 2), strides=(2, 1), padding="valid", name="ct2d_k3x2_s21_valid")(x)
    else:
        x = L.Conv2DTranspose(
            4, (3, 2), strides=(2, 1), padding="valid", output_padding=(1, 0), name="ct2d_k3x2_s21_valid_op10"
        )(x)
    x = L.Conv2DTranspose(
        3, 4, strides=2, padding="same", use_bias=False, activation="sigmoid", name="ct2d_k4_s2_same_nobias"
    )(x)
    x = L.Conv2DTranspose(2, 3, dilation_rate=2, padding="valid", name="ct2d_dil2_valid")(x)

    vol = K.Input((2, 2, 2, 2), name="volume")
    w = L.Conv3DTranspose(3, 3, strides=2, padding="same", output_padding=1, name="ct3d_s2_same_op1")(vol)
    w = L.Conv3DTranspose(2, 2, strides=2, padding="valid", activation="tanh", name="ct3d_s2_valid")(w)
    return K.Model([seq, img, vol], [s, x, w], name="transpose_onnx" if onnx_safe else "transpose")


def build_functional_branches(K, v):
    L = K.layers
    img = K.Input((12, 12, 3), name="image")
    x = L.Conv2D(4, 3, padding="same", name="stem_conv")(img)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU(name="stem_relu")(x)
    a = L.Conv2D(4, 3, padding="same", activation="relu", name="branch_a_conv3x3")(x)
    b = L.Conv2D(4, 1, name="branch_b_conv1x1")(x)
    x = L.Add(name="add_ab")([a, b])
    x = L.MaxPooling2D(2, name="pool")(x)
    c = L.Conv2D(4, 3, strides=2, padding="same", name="branch_c_conv_s2")(x)
    d = L.AveragePooling2D(2, name="branch_d_avgpool")(x)
    x = L.Concatenate(name="concat_cd")([c, d])
    x = L.Conv2D(6, 3, activation="swish", name="post_concat_conv")(x)
    h1 = L.GlobalAveragePooling2D(name="gap")(x)
    h1 = L.Dense(5, activation="softmax", name="head_class")(h1)
    h2 = L.Flatten(name="flatten")(x)
    h2 = L.Reshape((3, 2), name="reshape")(h2)
    h2 = L.Conv1D(3, 2, padding="same", name="head_seq_conv1d")(h2)
    h2 = L.Flatten(name="flatten_seq")(h2)
    h2 = L.Dropout(0.5, seed=2, name="dropout")(h2)
    h2 = L.Dense(2, activation="tanh", name="head_reg")(h2)
    return K.Model(img, [h1, h2], name="functional_branches")


def build_nested(K, v):
    L = K.layers
    inner = K.Sequential(
        [
            K.Input((8, 8, 6), name="inner_input"),
            L.Conv2D(6, 3, padding="same", name="inner_conv_a"),
            L.BatchNormalization(name="inner_bn"),
            L.ReLU(name="inner_relu"),
            L.DepthwiseConv2D(3, padding="same", activation="tanh", name="inner_dwconv"),
        ],
        name="inner_block",
    )
    img = K.Input((8, 8, 3), name="image")
    x = L.Conv2D(6, 3, padding="same", activation="relu", name="outer_conv_in")(img)
    x = inner(x)
    x = L.Conv2D(4, 1, name="outer_conv_out")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dense(3, name="head")(x)
    return K.Model(img, x, name="nested")


def build_lambda_layer(K, v):
    L = K.layers
    return K.Sequential(
        [
            K.Input((8, 8, 2), name="image"),
            L.Conv2D(4, 3, padding="same", activation="relu", name="conv_before"),
            L.Lambda(lambda t: t * 0.5 + 1.0, name="lambda_scale_shift"),
            L.Conv2D(3, 3, name="conv_after"),
            L.GlobalAveragePooling2D(name="gap"),
            L.Dense(2, name="dense_out"),
        ],
        name="lambda_layer",
    )


_CUSTOM = {}


def scale_shift_class(K):
    """The custom layer, defined once per Keras module and registered for (de)serialization."""
    if K.__name__ in _CUSTOM:
        return _CUSTOM[K.__name__]
    saving = getattr(K, "saving", None)
    register = getattr(saving, "register_keras_serializable", None) or K.utils.register_keras_serializable

    @register(package="conv_inspector_samples")
    class ScaleShift(K.layers.Layer):
        """y = x * scale + shift, per channel (last axis)."""

        def build(self, input_shape):
            c = int(input_shape[-1])
            self.scale = self.add_weight(name="scale", shape=(c,), initializer="ones")
            self.shift = self.add_weight(name="shift", shape=(c,), initializer="zeros")
            self.built = True

        def call(self, x):
            return x * self.scale + self.shift

    _CUSTOM[K.__name__] = ScaleShift
    return ScaleShift


def build_custom_layer(K, v):
    L = K.layers
    ScaleShift = scale_shift_class(K)
    img = K.Input((8, 8, 3), name="image")
    x = L.Conv2D(4, 3, padding="same", name="conv_before")(img)
    x = ScaleShift(name="scale_shift")(x)
    x = L.Conv2D(3, 3, activation="relu", name="conv_after")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dense(2, name="dense_out")(x)
    return K.Model(img, x, name="custom_layer")


def build_seq_input_shape(K, v):
    L = K.layers
    return K.Sequential(
        [
            L.Conv2D(6, 3, activation="relu", input_shape=(12, 12, 3)),
            L.BatchNormalization(),
            L.MaxPooling2D(),
            L.Conv2D(8, 3, strides=2, padding="same"),
            L.Flatten(),
            L.Dense(4),
        ]
    )


# name: file stem after k2_/k3_ and the Keras model name; seed: the name weights and inputs are seeded from
# (a variant shares it with its original, so shared layers get the same weights and the inputs are the same);
# writers: 2 = tf-keras, 3 = Keras 3; files: which files to write besides the .reference.npz.
ALL_FILES = ("h5", "weights", "keras", "onnx")
MODELS = [
    dict(name="conv2d_family", build=build_conv2d_family),
    dict(name="conv1d_family", build=build_conv1d_family),
    dict(name="conv3d_family", build=build_conv3d_family),
    dict(name="channels_first", build=build_channels_first),
    dict(
        name="channels_first_onnx",
        build=lambda K, v: build_channels_first(K, v, onnx_safe=True),
        seed="channels_first",
        writers=(2,),
        files=("h5", "onnx"),
    ),
    dict(name="depthwise_separable", build=build_depthwise_separable),
    dict(name="transpose", build=build_transpose),
    dict(
        name="transpose_onnx",
        build=lambda K, v: build_transpose(K, v, onnx_safe=True),
        seed="transpose",
        writers=(2,),
        files=("h5", "onnx"),
    ),
    dict(name="functional_branches", build=build_functional_branches, trained=True),
    dict(name="nested", build=build_nested),
    dict(name="lambda_layer", build=build_lambda_layer),
    dict(name="custom_layer", build=build_custom_layer),
    dict(name="seq_input_shape", build=build_seq_input_shape, writers=(2,)),
]
for _m in MODELS:
    _m.setdefault("seed", _m["name"])
    _m.setdefault("writers", (2, 3))
    _m.setdefault("files", ALL_FILES)
    _m.setdefault("trained", False)


# ----------------------------------------------------------------------------------------------------------
# Keras helpers (take the Keras module K)


def is_model(K, layer) -> bool:
    return isinstance(layer, K.Model)


def leaf_layers(K, model, prefix=""):
    """(path, layer) for every non-model layer, depth first; nested models are expanded, not listed."""
    for layer in model.layers:
        if is_model(K, layer):
            yield from leaf_layers(K, layer, prefix + layer.name + "/")
        else:
            yield prefix + layer.name, layer


def n_elements(weights) -> int:
    return int(sum(int(np.prod(w.shape)) for w in weights))


def fill_weights(K, model, model_name: str) -> None:
    """Overwrite every weight with seeded random values (per layer: rng seeded by 'model/layer')."""
    for _, layer in leaf_layers(K, model):
        values = layer.get_weights()
        if not values:
            continue
        rng = np.random.default_rng(seed_of(f"{model_name}/{layer.name}"))
        cls = type(layer).__name__
        new = []
        for w, value in zip(layer.weights, values, strict=True):
            role = role_of(w.name)
            shape = value.shape
            if role == "moving_variance":
                arr = rng.uniform(0.5, 2.0, shape)
            elif role in ("gamma", "scale"):
                arr = rng.uniform(0.5, 1.5, shape)
            elif value.ndim == 1:  # bias, beta, moving_mean, shift
                arr = 0.2 * rng.standard_normal(shape)
            else:
                spatial = int(np.prod(shape[:-2])) if value.ndim > 2 else 1
                if cls.startswith("Depthwise") or role == "depthwise_kernel":
                    fan_in = spatial
                elif cls.endswith("Transpose"):
                    fan_in = spatial * shape[-1]
                else:
                    fan_in = spatial * shape[-2]
                arr = rng.standard_normal(shape) * (1.5 / np.sqrt(fan_in))
            new.append(arr.astype(np.float32))
        layer.set_weights(new)


def input_names(model):
    return [t._keras_history[0].name for t in model.inputs]


def output_names(model):
    return [t._keras_history[0].name for t in model.outputs]


def make_inputs(model, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    feed = {}
    for name, t in zip(input_names(model), model.inputs, strict=True):
        shape = (BATCH, *tuple(int(d) for d in t.shape[1:]))
        feed[name] = rng.standard_normal(shape).astype(np.float32)
    return feed


def as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def feed_arg(arrays):
    return arrays[0] if len(arrays) == 1 else list(arrays)


def run_model(model, arrays):
    return [np.asarray(y) for y in as_list(model(feed_arg(arrays), training=False))]


def single(t):
    if isinstance(t, (list, tuple)):
        assert len(t) == 1, t
        return t[0]
    return t


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


def max_diff(a_list, b_list) -> float:
    return float(max(np.max(np.abs(np.asarray(a) - np.asarray(b))) for a, b in zip(a_list, b_list, strict=True)))


# ----------------------------------------------------------------------------------------------------------
# tf2onnx


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


# ----------------------------------------------------------------------------------------------------------
# the writer parts


def writer_part(v: int, out: Path, work: Path) -> None:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import tensorflow as tf

    if v == 2:
        import tf_keras as K

        writer = f"tf-keras {K.__version__}"
    else:
        import keras as K

        writer = f"keras {K.__version__}"
    prefix = f"k{v}_"
    log = {"writer": writer, "tensorflow": tf.__version__, "files": {}, "onnx": {}, "errors": [], "notes": []}
    try:
        import tf2onnx

        log["tf2onnx"] = tf2onnx.__version__
    except ImportError:
        tf2onnx = None
        log["notes"].append("tf2onnx not installed: no ONNX files written")

    load = K.models.load_model if v == 2 else K.saving.load_model

    for spec in MODELS:
        if v not in spec["writers"]:
            continue
        model_name, build, files = spec["name"], spec["build"], spec["files"]
        stem = prefix + model_name
        print(f"[{writer}] {stem}")
        K.backend.clear_session()
        seed = seed_of(spec["seed"])
        K.utils.set_random_seed(seed)
        model = build(K, v)
        fill_weights(K, model, spec["seed"])
        feed = make_inputs(model, seed)
        names_in, arrays = list(feed), list(feed.values())
        if spec["trained"]:
            rng = np.random.default_rng(seed + 1)
            targets = [
                rng.standard_normal((BATCH, *tuple(int(d) for d in t.shape[1:]))).astype(np.float32)
                for t in model.outputs
            ]
            optimizer = K.optimizers.Adam(learning_rate=1e-2)
            model.compile(optimizer=optimizer, loss="mse")
            model.fit(feed_arg(arrays), feed_arg(targets), batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
        ref = reference(K, v, model, model_name, seed, arrays, names_in, writer)
        expected = [ref[f"output:{n}"] for n in ref["output_names"]]
        np.savez_compressed(out / f"{stem}.reference.npz", **ref)

        # save in every format this writer has, reload with the same Keras, compare predictions
        saves = [(f"{stem}.h5", "full legacy HDF5 (model.save)", lambda p, m=model: m.save(p))]
        if v == 2 and "weights" in files:
            saves.append(
                (
                    f"{stem}.weights-only.h5",
                    "Keras 2 weights-only HDF5 (save_weights)",
                    lambda p, m=model: m.save_weights(p),
                )
            )
        elif "weights" in files:
            saves.append(
                (f"{stem}.weights.h5", "Keras 3 .weights.h5 (save_weights)", lambda p, m=model: m.save_weights(p))
            )
        if "keras" in files:
            saves.append((f"{stem}.keras", ".keras zip (model.save)", lambda p, m=model: m.save(p)))
        for fname, kind, save in saves:
            path = out / fname
            entry = {"kind": kind, "model": model_name, "writer": writer}
            try:
                save(str(path))
            except Exception as exc:
                entry["error"] = f"save: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                log["errors"].append(f"{fname}: {entry['error']}")
                print("  SAVE FAILED", fname, entry["error"])
                path.unlink(missing_ok=True)
                continue
            try:
                if "weights" in fname:
                    fresh = build(K, v)
                    fresh.load_weights(str(path))
                    again = fresh
                else:
                    again = load(str(path), compile=False, safe_mode=False)
                entry["reload_max_abs_diff"] = max_diff(run_model(again, arrays), expected)
                assert entry["reload_max_abs_diff"] <= 1e-6, (fname, entry["reload_max_abs_diff"])
            except Exception as exc:
                entry["reload_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                log["errors"].append(f"{fname}: reload: {entry['reload_error']}")
                print("  RELOAD FAILED", fname, entry["reload_error"])
            log["files"][fname] = entry
        if tf2onnx is not None and "onnx" in files:
            convert_onnx(K, v, model, ref, out / f"{stem}.tf2onnx.onnx", log)
    write_json(work / f"log_k{v}.json", log)


# ----------------------------------------------------------------------------------------------------------
# the derived "Keras 2.1.6" legacy files (h5py only)

LEGACY_SOURCE = "k2_seq_input_shape"
LEGACY_STEM = "legacy216_seq_input_shape"
# keys Keras 2.1.6 layer configs did not have (or that modern Keras adds around a config)
LEGACY_DROP_KEYS = ("groups", "module", "registered_name", "build_config", "synchronized")


def old_name(name: str) -> str:
    """Keras 2.1.6 numbered layers from 1: conv2d -> conv2d_1, conv2d_1 -> conv2d_2."""
    m = re.fullmatch(r"(.*?)(?:_(\d+))?", name)
    base, n = m.group(1), m.group(2)
    return f"{base}_{int(n) + 1 if n else 1}"


def strip_new_keys(obj):
    if isinstance(obj, dict):
        return {k: strip_new_keys(v) for k, v in obj.items() if k not in LEGACY_DROP_KEYS}
    if isinstance(obj, list):
        return [strip_new_keys(v) for v in obj]
    return obj


def fixed_bytes(strings):
    """A fixed-length numpy bytes array (dtype S<n>), as h5py 2 / Keras 2.1 stored string lists."""
    return np.array([s.encode("utf-8") for s in strings], dtype=f"S{max(1, max(len(s) for s in strings))}")


def put_string_list(attrs, name, strings, chunks):
    if not strings:  # Keras wrote np.asarray([]): a float64 array of shape (0,)
        attrs[name] = np.zeros((0,), dtype=np.float64)
    elif chunks <= 1:
        attrs[name] = fixed_bytes(strings)
    else:
        for i, part in enumerate(np.array_split(np.array(strings, dtype=object), chunks)):
            attrs[f"{name}{i}"] = fixed_bytes(list(part))


def derive_legacy_h5(src: Path, dst: Path, chunked: bool) -> dict:
    """Rewrite a tf-keras 2.21 full ``.h5`` (Sequential) as Keras 2.1.6 would have written it.

    - root attrs ``keras_version`` = ``2.1.6``, ``backend`` = ``tensorflow``, ``model_config``: all fixed-length
      numpy bytes (``np.bytes_``), not ``str``;
    - ``model_config`` in the pre-2.2.3 Sequential form ``{"class_name": "Sequential", "config": [layers]}``
      (the layer list directly under ``config``), layer names numbered from 1 (``conv2d`` -> ``conv2d_1``),
      config keys unknown to 2.1.6 dropped (``groups``, ``module``, ``registered_name``, ``build_config``);
    - ``model_weights`` attrs ``layer_names`` (``S<n>`` array), ``backend``, ``keras_version``;
    - each layer's ``weight_names`` is ``<layer>_1/<role>:0`` (the duplicated TF name scope old files had), so
      the dataset lives at ``model_weights/conv2d_1/conv2d_1_1/kernel:0``: the group name differs from the
      weight name's first part; weightless layers get a float64 array of shape (0,);
    - ``chunked=True`` also splits ``layer_names`` into ``layer_names0``, ``layer_names1`` and every
      non-empty ``weight_names`` into ``weight_names0``, ``weight_names1`` (Keras does this only past 64,512
      bytes; here it is forced although the lists are small).
    """
    import h5py

    rename = {}
    with h5py.File(src, "r") as f_in, h5py.File(dst, "w") as f_out:
        config = json.loads(f_in.attrs["model_config"])
        assert config["class_name"] == "Sequential"
        layers = config["config"]["layers"]
        new_layers = []
        for layer in layers:
            if layer["class_name"] == "InputLayer":
                continue
            layer = strip_new_keys(layer)
            name = layer["config"]["name"]
            rename[name] = old_name(name)
            layer["config"]["name"] = rename[name]
            layer.pop("name", None)
            new_layers.append({"class_name": layer["class_name"], "config": layer["config"]})
        old_config = {"class_name": "Sequential", "config": new_layers}
        f_out.attrs["keras_version"] = np.bytes_(b"2.1.6")
        f_out.attrs["backend"] = np.bytes_(b"tensorflow")
        f_out.attrs["model_config"] = np.bytes_(json.dumps(old_config).encode("utf-8"))

        g_in, g_out = f_in["model_weights"], f_out.create_group("model_weights")
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in g_in.attrs["layer_names"]]
        put_string_list(g_out.attrs, "layer_names", [rename[n] for n in names], 2 if chunked else 1)
        g_out.attrs["backend"] = np.bytes_(b"tensorflow")
        g_out.attrs["keras_version"] = np.bytes_(b"2.1.6")
        for name in names:
            lg_in, lg_out = g_in[name], g_out.create_group(rename[name])
            wnames = [n.decode() if isinstance(n, bytes) else str(n) for n in lg_in.attrs["weight_names"]]
            new_wnames = []
            for wname in wnames:
                new = f"{rename[name]}_1/{wname.split('/')[-1]}"
                lg_out.create_dataset(new, data=np.asarray(lg_in[wname]))
                new_wnames.append(new)
            put_string_list(lg_out.attrs, "weight_names", new_wnames, 2 if chunked and new_wnames else 1)
    return rename


def legacy_part(out: Path, work: Path) -> None:
    log = {"files": {}, "errors": []}
    src = out / f"{LEGACY_SOURCE}.h5"
    src_ref = dict(np.load(out / f"{LEGACY_SOURCE}.reference.npz", allow_pickle=False))
    for chunked in (False, True):
        stem = LEGACY_STEM + ("_chunked" if chunked else "")
        dst = out / f"{stem}.h5"
        rename = derive_legacy_h5(src, dst, chunked)
        # Keras 2.21 names the input of a Sequential built without Input '<first layer>_input'
        rename_all = dict(rename)
        for n in src_ref["input_names"]:
            n = str(n)
            if n.endswith("_input"):
                rename_all[n] = rename[n[: -len("_input")]] + "_input"

        def ren(s, rename_all=rename_all):
            return rename_all.get(s, s)

        ref = {}
        for key, value in src_ref.items():
            if ":" in key:
                kind, rest = key.split(":", 1)
                layer, _, role = rest.partition("/")
                key = f"{kind}:{ren(layer)}" + (f"/{role}" if role else "")
            if key in (
                "layer_names",
                "flat_layer_names",
                "flat_layer_paths",
                "conv_layer_names",
                "input_names",
                "output_names",
            ):
                value = np.array([ren(str(s)) for s in value], dtype=str)
            ref[key] = value
        ref["writer"] = np.array(f"derived with h5py from {LEGACY_SOURCE}.h5 (tf-keras 2.21.0), mimics keras 2.1.6")
        np.savez_compressed(out / f"{stem}.reference.npz", **ref)
        log["files"][dst.name] = {"renamed_layers": rename}

    # tf-keras must still read them, and compute the same numbers
    import tf_keras as K

    for chunked in (False, True):
        stem = LEGACY_STEM + ("_chunked" if chunked else "")
        ref = np.load(out / f"{stem}.reference.npz", allow_pickle=False)
        model = K.models.load_model(str(out / f"{stem}.h5"), compile=False)
        arrays = [ref[f"input:{n}"] for n in ref["input_names"]]
        diff = max_diff(run_model(model, arrays), [ref[f"output:{n}"] for n in ref["output_names"]])
        names = [layer.name for layer in model.layers]
        assert names == [str(s) for s in ref["layer_names"]], (names, ref["layer_names"])
        log["files"][f"{stem}.h5"]["tf_keras_reload_max_abs_diff"] = diff
        print(f"[legacy] {stem}.h5 reloads in tf-keras, max |diff| = {diff:.2e}")
        assert diff <= 1e-6
    write_json(work / "log_legacy.json", log)


# ----------------------------------------------------------------------------------------------------------
# README and the ONNX node map


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


def human_size(n: int) -> str:
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MiB"


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


# ----------------------------------------------------------------------------------------------------------
# check (no TensorFlow needed)


def h5_kind(f) -> str:
    if "model_config" in f.attrs:
        return "full legacy h5"
    if "layer_names" in f.attrs or "layer_names0" in f.attrs:
        return "keras2 weights-only h5"
    if "layers" in f:
        return "keras3 weights.h5"
    return "unknown"


def check_part(out: Path) -> None:
    import h5py

    problems = []
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    for path in sorted(out.iterdir()):
        name = path.name
        try:
            if name.endswith(".h5"):
                with h5py.File(path, "r") as f:
                    kind = h5_kind(f)
                    n = []
                    f.visit(n.append)
                    expect = (
                        "keras2 weights-only h5"
                        if name.endswith(".weights-only.h5")
                        else "keras3 weights.h5"
                        if name.endswith(".weights.h5")
                        else "full legacy h5"
                    )
                    assert kind == expect, (kind, expect)
                    detail = f"{kind}, {len(n)} objects" + (", optimizer_weights" if "optimizer_weights" in f else "")
            elif name.endswith(".keras"):
                assert zipfile.is_zipfile(path)
                with zipfile.ZipFile(path) as z:
                    members = sorted(z.namelist())
                    assert {"metadata.json", "config.json", "model.weights.h5"} <= set(members), members
                    json.loads(z.read("config.json"))
                    with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
                        assert "layers" in f or len(f.keys()) > 0
                detail = "zip: " + ", ".join(members)
            elif name.endswith(".npz"):
                d = np.load(path, allow_pickle=False)
                keys = list(d.keys())
                for k in keys:
                    d[k]
                assert "count_params" in keys
                detail = f"npz, {len(keys)} arrays"
            elif name.endswith(".onnx"):
                import onnx

                proto = onnx.load(str(path))
                onnx.checker.check_model(proto)
                assert proto.ir_version <= MAX_IR_VERSION, proto.ir_version
                detail = f"onnx IR {proto.ir_version}"
                if ort is not None:
                    ref = np.load(out / name.replace(".tf2onnx.onnx", ".reference.npz"), allow_pickle=False)
                    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
                    outs = [str(n) for n in ref["output_names"]]
                    got = sess.run(outs, {str(n): ref[f"input:{n}"] for n in ref["input_names"]})
                    diff = max_diff(got, [ref[f"output:{n}"] for n in outs])
                    assert diff < 1e-3, diff
                    detail += f", onnxruntime {ort.__version__} max abs diff {diff:.1e}"
            elif name in ("README.md", "tf2onnx_map.json"):
                detail = "text"
            else:
                raise AssertionError("unexpected file")
            print(f"ok   {name:58s} {human_size(path.stat().st_size):>10s}  {detail}")
        except Exception as exc:
            problems.append(name)
            print(f"FAIL {name}: {type(exc).__name__}: {exc}")
    total = sum(p.stat().st_size for p in out.iterdir())
    print(f"total {human_size(total)} in {len(list(out.iterdir()))} files")
    if problems:
        raise SystemExit(f"{len(problems)} file(s) failed: {problems}")


# ----------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", default="all", choices=["all", "k2", "k3", "legacy", "readme", "check"])
    parser.add_argument("--out", type=Path, default=OUT_DEFAULT, help="output folder (default samples/keras)")
    parser.add_argument("--work", type=Path, default=WORK_DEFAULT, help="scratch folder for the step logs")
    args = parser.parse_args()
    out, work = args.out.resolve(), args.work.resolve()

    if args.part == "all":
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        env = dict(os.environ)
        env.update(
            {
                "KERAS_BACKEND": "tensorflow",
                "TF_CPP_MIN_LOG_LEVEL": "2",
                # oneDNN is what lets TensorFlow's CPU run channels_first (NCHW) convolutions; with
                # TF_ENABLE_ONEDNN_OPTS=0 Conv2D refuses NCHW on the CPU ("only supports NHWC").
                "TF_ENABLE_ONEDNN_OPTS": "1",
                "CUDA_VISIBLE_DEVICES": "",
                "PYTHONHASHSEED": "0",
            }
        )
        env.pop("TF_USE_LEGACY_KERAS", None)
        for part in ("k2", "k3", "legacy", "readme", "check"):
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--part",
                part,
                "--out",
                str(out),
                "--work",
                str(work),
            ]
            print("+", " ".join(cmd), flush=True)
            subprocess.run(cmd, env=env, check=True)
        return
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    if args.part in ("k2", "k3"):
        writer_part(int(args.part[1]), out, work)
    elif args.part == "legacy":
        legacy_part(out, work)
    elif args.part == "readme":
        readme_part(out, work)
    elif args.part == "check":
        check_part(out)


if __name__ == "__main__":
    main()
