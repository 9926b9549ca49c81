"""The answers the truncated and bit-flipped samples must get: rules by format, and one stated answer per flip.

A sample cut short is refused as a file of its format that cannot be read: an ONNX protobuf that does not parse,
a zip without its end record, an HDF5 file shorter than its superblock says.  A sample whose first byte lost a bit
is no longer recognised at all.  Eight random bits flipped (seeded by the case's name) land in different places in
every sample, so each such case states its own answer in ``FLIPPED``: a regenerated sample needs its line
re-examined (outcome, and that the answer is the right one), never a looser one.
"""

from __future__ import annotations

from tests.hostile.outcome import CHECK_FAILS, LOAD_ERROR, OK, OK_WITH_WARNING

Answer = tuple[str, str, str]
"""``(expected, match, known_bug)`` as a ``Case`` takes them (``known_bug`` empty when the tool is right)."""


def truncated(label: str, cut: float) -> Answer:
    """A sample (``label``, relative to the samples folder) cut at ``cut`` (see ``corpus_files.CUTS``)."""
    if label.endswith(".onnx"):
        return LOAD_ERROR, "not a readable ONNX model", ""
    if cut == 1:  # one byte: no format's signature
        return LOAD_ERROR, "not a Keras file (neither a Keras HDF5 file nor a .keras zip)", ""
    if label.endswith(".keras"):
        return LOAD_ERROR, "not a readable zip file", ""
    return LOAD_ERROR, "truncated HDF5 file: its superblock says it has", ""


def flipped_magic(label: str) -> Answer:
    """A sample whose first byte has bit 3 flipped."""
    if label.endswith(".onnx"):
        return LOAD_ERROR, "not a readable ONNX model", ""
    return LOAD_ERROR, "not a Keras file (neither a Keras HDF5 file nor a .keras zip)", ""


_ONNX = (LOAD_ERROR, "not a readable ONNX model", "")
_HDF5 = (LOAD_ERROR, "corrupt HDF5 structure", "")
_ZIPPED_HDF5 = (LOAD_ERROR, "model.weights.h5: corrupt HDF5 structure", "")
_CONFIG_CRC = (LOAD_ERROR, "cannot read config.json (Bad CRC-32", "")
_HEAP = (LOAD_ERROR, "corrupt HDF5 global heap at byte", "")


def _dangling(tensor: str) -> Answer:
    """A flip renamed a tensor a node reads: nothing provides it any more, and the file is refused naming it."""
    return LOAD_ERROR, f"reads tensor {tensor!r}, which no node, initializer or graph input provides", ""


FLIPPED: dict[str, Answer] = {
    "broken_grouped.onnx": _ONNX,
    "classifier.onnx": (OK, "7 layers (1 conv), 794 params", ""),
    "constant_weights.onnx": (LOAD_ERROR, "attribute.name is b'valu\\xe5', not UTF-8 text", ""),
    "conv1d.onnx": (CHECK_FAILS, "Conv has no attribute '`ads' (onnx.checker and onnxruntime refuse the node)", ""),
    # the If lost its then_branch and the other branch's Conv became 'Bonv': what is left has no conv to check
    "conv_in_if.onnx": (OK, "2 layers (0 conv), 12 params", ""),
    "conv3d.onnx": _ONNX,
    # flips in weight bytes: one weight is now ~5e36
    "conv_transpose.onnx": (OK_WITH_WARNING, "warning [int8_range] up: per-tensor int8 quantization", ""),
    "depthwise.onnx": _ONNX,
    "dilated.onnx": _ONNX,
    "grouped.onnx": _ONNX,
    "keras/k2_channels_first.h5": _HDF5,
    "keras/k2_channels_first.keras": _CONFIG_CRC,
    "keras/k2_channels_first.weights-only.h5": (OK, "24 layers (13 conv), 1,470 params", ""),
    "keras/k2_channels_first_onnx.h5": _HDF5,
    "keras/k2_channels_first_onnx.tf2onnx.onnx": _ONNX,
    "keras/k2_conv1d_family.h5": (LOAD_ERROR, "layer_names lists 'conv9d_same_s2_k4', but there is no such group", ""),
    "keras/k2_conv1d_family.keras": _CONFIG_CRC,
    "keras/k2_conv1d_family.tf2onnx.onnx": _ONNX,
    "keras/k2_conv1d_family.weights-only.h5": _HDF5,
    # flips in the config's key names ("-odule", "activIty_regularizer"), which nothing reads
    "keras/k2_conv2d_family.h5": (OK, "18 layers (5 conv), 1,062 params", ""),
    "keras/k2_conv2d_family.keras": _ZIPPED_HDF5,
    "keras/k2_conv2d_family.tf2onnx.onnx": _dangling("conv2d_family/bn_no_center/FusedBatchNormV3/ReadVariableOp_1:0"),
    "keras/k2_conv2d_family.weights-only.h5": (
        LOAD_ERROR,
        "weight bn_no_center/bn_no_center/gamma:0 is listed in weight_names but missing",
        "",
    ),
    "keras/k2_conv3d_family.h5": (LOAD_ERROR, "root attribute model_config is not valid JSON", ""),
    "keras/k2_conv3d_family.keras": _CONFIG_CRC,
    "keras/k2_conv3d_family.tf2onnx.onnx": _dangling("conv3d_family/conv3d_same/Conv3D/ReadVariableOp:0"),
    "keras/k2_conv3d_family.weights-only.h5": _HDF5,
    "keras/k2_custom_layer.h5": _HDF5,
    "keras/k2_custom_layer.keras": _ZIPPED_HDF5,
    "keras/k2_custom_layer.tf2onnx.onnx": _dangling("custom_layer/conv_after/Bi`sAdd/ReadVariableOp:0"),
    "keras/k2_custom_layer.weights-only.h5": _HEAP,
    "keras/k2_depthwise_separable.h5": _HDF5,
    "keras/k2_depthwise_separable.keras": _CONFIG_CRC,
    "keras/k2_depthwise_separable.tf2onnx.onnx": _ONNX,
    "keras/k2_depthwise_separable.weights-only.h5": (OK, "21 layers (15 conv), 1,494 params", ""),
    "keras/k2_functional_branches.h5": _HDF5,
    "keras/k2_functional_branches.keras": _ZIPPED_HDF5,
    "keras/k2_functional_branches.tf2onnx.onnx": _dangling("functional_branChes/head_seq_conv1d/Conv1D:0"),
    "keras/k2_functional_branches.weights-only.h5": _HDF5,
    "keras/k2_lambda_layer.h5": _HDF5,
    "keras/k2_lambda_layer.keras": _CONFIG_CRC,
    "keras/k2_lambda_layer.tf2onnx.onnx": _ONNX,
    "keras/k2_lambda_layer.weights-only.h5": (OK, "5 layers (2 conv), 195 params", ""),
    "keras/k2_nested.h5": _HDF5,
    "keras/k2_nested.keras": _CONFIG_CRC,
    "keras/k2_nested.tf2onnx.onnx": (
        LOAD_ERROR,
        "ModelProto.graph.initializer.name is b'nested/\\xefuter_conv_out",
        "",
    ),
    "keras/k2_nested.weights-only.h5": _HDF5,
    "keras/k2_seq_input_shape.h5": _HDF5,
    "keras/k2_seq_input_shape.keras": _ZIPPED_HDF5,
    "keras/k2_seq_input_shape.tf2onnx.onnx": _ONNX,
    "keras/k2_seq_input_shape.weights-only.h5": _HEAP,
    "keras/k2_transpose.h5": _HDF5,
    "keras/k2_transpose.keras": _CONFIG_CRC,
    "keras/k2_transpose.weights-only.h5": (OK, "12 layers (9 conv), 798 params", ""),
    "keras/k2_transpose_onnx.h5": _HDF5,
    "keras/k2_transpose_onnx.tf2onnx.onnx": _ONNX,
    "keras/k3_channels_first.h5": _HEAP,
    "keras/k3_channels_first.keras": _CONFIG_CRC,
    "keras/k3_channels_first.weights.h5": _HDF5,
    "keras/k3_conv1d_family.h5": (LOAD_ERROR, "root attribute model_config is not valid JSON", ""),
    "keras/k3_conv1d_family.keras": (LOAD_ERROR, "cannot read metadata.json (Bad CRC-32", ""),
    "keras/k3_conv1d_family.tf2onnx.onnx": _ONNX,
    "keras/k3_conv1d_family.weights.h5": (LOAD_ERROR, "weight /layers/conv1d_1/vars/1: ", ""),
    "keras/k3_conv2d_family.h5": _HDF5,
    "keras/k3_conv2d_family.keras": _CONFIG_CRC,
    "keras/k3_conv2d_family.tf2onnx.onnx": _ONNX,
    "keras/k3_conv2d_family.weights.h5": _HDF5,
    "keras/k3_conv3d_family.h5": (LOAD_ERROR, "root attribute model_config is not valid JSON", ""),
    "keras/k3_conv3d_family.keras": _CONFIG_CRC,
    "keras/k3_conv3d_family.tf2onnx.onnx": _ONNX,
    "keras/k3_conv3d_family.weights.h5": _HDF5,
    "keras/k3_custom_layer.h5": _HDF5,
    "keras/k3_custom_layer.keras": _CONFIG_CRC,
    "keras/k3_custom_layer.tf2onnx.onnx": _ONNX,
    "keras/k3_custom_layer.weights.h5": (LOAD_ERROR, "not a readable HDF5 file", ""),
    "keras/k3_depthwise_separable.h5": (
        LOAD_ERROR,
        "weight sep2d_m2_same/sep3d_m2_same/bias is listed in weight_names but missing",
        "",
    ),
    "keras/k3_depthwise_separable.keras": _CONFIG_CRC,
    "keras/k3_depthwise_separable.tf2onnx.onnx": (
        LOAD_ERROR,
        "ModelProto.graph.initializer.name is b'depthwise_separable_1/sep2d_s2_val\\xe9d_1",
        "",
    ),
    "keras/k3_depthwise_separable.weights.h5": (OK, "21 layers (15 conv), 1,494 params", ""),
    "keras/k3_functional_branches.h5": _HDF5,
    "keras/k3_functional_branches.keras": _CONFIG_CRC,
    "keras/k3_functional_branches.tf2onnx.onnx": _ONNX,
    "keras/k3_functional_branches.weights.h5": _HDF5,
    "keras/k3_lambda_layer.h5": _HDF5,
    "keras/k3_lambda_layer.keras": _CONFIG_CRC,
    "keras/k3_lambda_layer.tf2onnx.onnx": _ONNX,
    "keras/k3_lambda_layer.weights.h5": _HDF5,
    "keras/k3_nested.h5": (LOAD_ERROR, "model_config layer 'outer_conv_in' has no class_name", ""),
    "keras/k3_nested.keras": _CONFIG_CRC,
    "keras/k3_nested.tf2onnx.onnx": _ONNX,
    "keras/k3_nested.weights.h5": _HDF5,
    "keras/k3_transpose.h5": _HDF5,
    "keras/k3_transpose.keras": _CONFIG_CRC,
    "keras/k3_transpose.weights.h5": _HDF5,
    # a flipped key name ("tbainable") in the config, which nothing reads
    "keras/legacy216_seq_input_shape.h5": (OK, "6 layers (2 conv), 924 params", ""),
    "keras/legacy216_seq_input_shape_chunked.h5": _HDF5,
    "quantized.onnx": _ONNX,
    # a flip in weight bytes: one weight is now ~2.5e37
    "seed.onnx": (OK_WITH_WARNING, "warning [int8_range] conv2: per-tensor int8 quantization", ""),
    "shared_weights.onnx": _ONNX,
    "strided_padded.onnx": (OK, "3 layers (3 conv), 2,784 params", ""),
}
"""Each sample with 8 random bits flipped (``corpus_files``, seeded by the case's name): its answer."""


def flipped_random(label: str) -> Answer:
    """The stated answer of a sample with random bits flipped; a sample without one stops the collection."""
    if label not in FLIPPED:
        raise KeyError(f"flipped/{label}@random states no answer: examine it and add it to sample_answers.FLIPPED")
    return FLIPPED[label]
