"""One builder per fixture model, taking the Keras module (``tf_keras`` or ``keras``) and its major version."""

from __future__ import annotations


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
