"""The conv invariants: each rule on plain numbers, then one rule seen the same way by the parameter analyzer, filter
slicing and the NumPy engine."""

from __future__ import annotations

import numpy as np
import pytest

from inspector.engine.numpy_conv import conv, conv_transpose
from inspector.errors import ConvolutionError, FilterError, InspectorError
from inspector.model import invariants
from inspector.model.common import ConvLayer, Weight
from inspector.plugins.analyze_params import check_conv


def messages(violations: list[invariants.Violation]) -> list[str]:
    return [v.message for v in violations]


@pytest.mark.parametrize(
    ("groups", "message"),
    [(0, "group must be at least 1, found 0"), (-2, "group must be at least 1, found -2"), (1.5, "integer, found 1.5")],
)
def test_a_group_count_below_one_or_fractional_stops_every_other_check(groups, message):
    (violation,) = invariants.conv_violations(
        "conv", rank=2, in_channels=3, out_channels=5, groups=groups, kernel_shape=(3, 3), weight_shape=(4,)
    )
    assert violation.check == "groups" and violation.fatal and message in violation.message


def test_a_numpy_integer_is_a_group_count():
    assert invariants.group_count(np.int64(2)) is None


def test_both_channel_counts_must_split_into_the_groups():
    violations = invariants.group_split(3, in_channels=8, out_channels=16)
    assert messages(violations) == [
        "input channels C=8 are not divisible by groups=3",
        "output channels 16 are not divisible by groups=3",
    ]
    assert violations[0].data == {"in_channels": 8, "groups": 3}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("conv", (16, 4, 3, 3)), ("conv_transpose", (8, 8, 3, 3))],
)
def test_canonical_weight_shape(kind, expected):
    shape = invariants.canonical_weight_shape(kind, in_channels=8, out_channels=16, groups=2, kernel_shape=(3, 3))
    assert shape == expected


def weight_messages(kind: str, weight_shape: tuple[int, ...], kernel_shape=(3, 3), groups=2) -> list[str]:
    return messages(
        invariants.weight_shape_violations(
            kind, weight_shape, rank=2, in_channels=8, out_channels=16, groups=groups, kernel_shape=kernel_shape
        )
    )


def test_every_axis_of_a_conv_weight_is_checked():
    assert weight_messages("conv", (16, 4, 3, 3)) == []
    assert weight_messages("conv", (16, 2, 3, 3)) == [
        "the input has 8 channels, so weight axis 1 should be 4 (in/group = 8/2), found 2 (weight shape [16, 2, 3, 3])"
    ]
    assert weight_messages("conv", (12, 4, 3, 3)) == [
        "the output has 16 channels, so weight axis 0 should be 16 (the output channels), found 12 "
        "(weight shape [12, 4, 3, 3])"
    ]
    assert weight_messages("conv", (16, 4, 3, 5)) == ["kernel_shape [3, 3] but the weight's kernel is [3, 5]"]
    assert weight_messages("conv", (16, 4, 0, 3), kernel_shape=(0, 3)) == ["kernel_shape [0, 3] has an empty axis"]


def test_every_axis_of_a_transposed_weight_is_checked():
    assert weight_messages("conv_transpose", (8, 8, 3, 3)) == []
    assert weight_messages("conv_transpose", (4, 8, 3, 3)) == [
        "the input has 8 channels, so weight axis 0 should be 8 (the input channels), found 4 "
        "(weight shape [4, 8, 3, 3])"
    ]
    assert weight_messages("conv_transpose", (8, 16, 3, 3)) == [
        "the output has 16 channels, so weight axis 1 should be 8 (out/group = 16/2), found 16 "
        "(weight shape [8, 16, 3, 3])"
    ]


def test_a_weight_of_the_wrong_rank_stops_the_other_weight_checks():
    for weight_shape, kernel_shape in (((16, 4, 3), (3, 3)), ((16, 4, 3, 3), (3, 3, 3))):
        violations = invariants.conv_violations(
            "conv",
            rank=2,
            in_channels=8,
            out_channels=16,
            groups=2,
            kernel_shape=kernel_shape,
            weight_shape=weight_shape,
            bias_shape=(3,),
        )
        assert [(v.check, v.fatal) for v in violations] == [("kernel", True)]
        assert "does not fit a 2-D kernel" in violations[0].message


def test_bias_holds_one_value_per_output_channel():
    assert invariants.bias_violation((16,), 16) is None
    violation = invariants.bias_violation((4, 4), 16)
    assert violation is not None and violation.data == {"expected": 16, "found": [4, 4]}
    assert violation.message == "bias should hold 16 values (one per output channel), found shape [4, 4]"


def test_geometry_values_per_axis_and_their_limits():
    geometry = invariants.geometry_violations
    assert geometry(2, strides=(1, 2), dilations=(1, 1), pads=(0, 0, 1, 1)) == []
    assert geometry(2, strides=None, dilations=None, pads=None) == []
    assert messages(geometry(2, strides=(1, 0), dilations=(1, 1, 1), pads=(0, -1, 0, 0))) == [
        "strides must be positive, got [1, 0]",
        "dilations [1, 1, 1] has 3 values, expected 2 for a 2-D conv",
        "pads must be non-negative, got [0, -1, 0, 0]",
    ]
    assert [v.check for v in geometry(1, strides=(0,), dilations=(1,), pads=(0, 0))] == ["strides"]


def test_output_padding_must_stay_below_its_stride_or_dilation():
    geometry = invariants.geometry_violations
    assert geometry(2, strides=(2, 2), dilations=(1, 3), pads=None, output_padding=(1, 2)) == []
    assert messages(geometry(2, strides=(2, 2), dilations=(1, 1), pads=None, output_padding=(0, 2))) == [
        "output_padding value 2 on axis 1 must be smaller than the stride 2 or the dilation 1 (output_padding [0, 2])"
    ]
    assert messages(geometry(2, strides=(2, 2), dilations=(1, 1), pads=None, output_padding=(0,))) == [
        "output_padding [0] has 1 value, expected 2 for a 2-D conv"
    ]


def test_auto_pad_and_parameter_count():
    assert invariants.auto_pad_violation("same_upper") is None
    assert invariants.auto_pad_violation("SOMETIMES").message.endswith("found 'SOMETIMES'")
    assert invariants.parameter_violation(10, 10, "") is None
    assert invariants.parameter_violation(1000, 304, "a·b").message == (
        "attributes promise 1,000 parameters (a·b), the file stores 304"
    )


def layer(
    weight_shape: tuple[int, ...],
    *,
    kind: str = "conv",
    in_channels: int = 8,
    out_channels: int = 16,
    groups: int = 2,
    bias: int | None = None,
    **geometry,
) -> ConvLayer:
    """A conv layer whose weight (and bias) is stored in the canonical layout, holding ones."""

    def stored(role: str, shape: tuple[int, ...]) -> Weight:
        return Weight(
            role=role,
            source=f"made.{role}",
            native_shape=shape,
            native_layout="",
            dtype="float32",
            read_native=lambda: np.ones(shape, np.float32),
        )

    weights = {"W": stored("W", weight_shape)} | ({} if bias is None else {"B": stored("B", (bias,))})
    return ConvLayer(
        name="made",
        kind=kind,
        source_op="Conv",
        rank=len(weight_shape) - 2,
        in_channels=in_channels,
        out_channels=out_channels,
        groups=groups,
        kernel_shape=tuple(weight_shape[2:]),
        strides=geometry.get("strides", (1,) * (len(weight_shape) - 2)),
        dilations=(1,) * (len(weight_shape) - 2),
        pads=geometry.get("pads", (0,) * 2 * (len(weight_shape) - 2)),
        output_padding=geometry.get("output_padding"),
        weight=weights["W"],
        bias=weights.get("B"),
        weights=weights,
    )


def engine_message(made: ConvLayer, bias: int | None = None) -> str:
    """The engine's error on the layer's own arrays, its operator prefix removed."""
    x = np.ones((1, made.in_channels, 6, 6), np.float32)
    b = None if bias is None else np.ones(bias, np.float32)
    function, op = (conv_transpose, "ConvTranspose") if made.kind == "conv_transpose" else (conv, "Conv")
    settings = {"output_padding": made.output_padding} if made.output_padding is not None else {}
    with pytest.raises(ConvolutionError) as raised:
        function(x, made.weight.array, b, groups=made.groups, strides=made.strides, pads=made.pads, **settings)
    prefix = f"{op}: "
    assert str(raised.value).startswith(prefix)
    return str(raised.value).removeprefix(prefix)


def test_a_weight_that_breaks_its_layer_is_one_message_for_analyzer_engine_and_slicing():
    made = layer((16, 2, 3, 3))
    (finding,) = [f for f in check_conv(made) if f.check == "channels"]
    assert engine_message(made) == finding.message
    with pytest.raises(
        FilterError, match=r"made: weight made.W has canonical shape \[16, 2, 3, 3\], .* \[16, 4, 3, 3\]"
    ):
        made.filter(0)


@pytest.mark.parametrize(
    ("made", "check"),
    [
        (layer((15, 4, 3, 3), in_channels=8, out_channels=15, groups=2), "groups"),
        (layer((16, 4, 3, 3), bias=5), "bias"),
        (layer((16, 4, 3, 3), strides=(1, 0)), "strides"),
        (layer((16, 4, 3, 3), pads=(1, 1)), "pads"),
        (layer((8, 4, 3, 3), kind="conv_transpose", output_padding=(1, 1)), "output_padding"),
    ],
)
def test_analyzer_and_engine_name_a_broken_rule_alike(made, check):
    bias = made.bias.shape[0] if made.bias is not None else None
    (finding,) = [f for f in check_conv(made) if f.check == check]
    assert engine_message(made, bias) == finding.message


def test_slicing_refuses_a_layer_whose_channels_do_not_split_into_its_groups():
    made = layer((15, 4, 3, 3), in_channels=8, out_channels=15, groups=2)
    with pytest.raises(FilterError, match="layer made: output channels 15 are not divisible by groups=2"):
        made.filter(0)
    with pytest.raises(FilterError, match="layer made: group must be at least 1"):
        layer((16, 4, 3, 3), groups=0).filter(0)


def test_a_good_layer_has_no_violations_and_slices():
    made = layer((16, 4, 3, 3), bias=16)
    assert invariants.layer_violations(made) == [] and check_conv(made) == []
    assert made.filter(3).shape == (4, 3, 3)


def test_engine_errors_are_inspector_errors():
    with pytest.raises(InspectorError):
        conv(np.ones((1, 4, 5, 5)), np.ones((4, 4, 3, 3)), groups=0)
