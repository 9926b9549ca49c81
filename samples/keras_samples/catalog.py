"""The fixture models: which exist, which writer writes which files, and what each covers (README)."""

from __future__ import annotations

from .models import (
    build_channels_first,
    build_conv1d_family,
    build_conv2d_family,
    build_conv3d_family,
    build_custom_layer,
    build_depthwise_separable,
    build_functional_branches,
    build_lambda_layer,
    build_nested,
    build_seq_input_shape,
    build_transpose,
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
