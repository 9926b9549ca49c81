"""The invariants of a convolution, stated once for the whole tool.

A conv's attributes and stored tensors must agree:

- ``groups`` is an integer of at least 1 that divides both channel counts;
- the weight has the canonical shape the attributes imply, ``(O, I/g, *k)`` for a conv and ``(I, O/g, *k)`` for a
  transposed conv, with no empty kernel axis;
- the bias holds one value per output channel;
- the geometry holds one value per spatial axis (two for pads): strides and dilations at least 1, pads and output
  padding at least 0, each output padding smaller than its stride or its dilation; ``auto_pad`` is a known mode;
- where the input's size is known, every output axis holds at least one element.

The rules take plain numbers and shapes, so one rule serves the parameter analyzer (on a layer's attributes),
filter slicing (before it hands out a filter) and the NumPy engine (on its arrays' shapes).  They never raise: each
returns the rules it finds broken as :class:`Violation` values, in a fixed order, and every caller turns them into
what it speaks (a finding, a ``FilterError``, a ``ConvolutionError``) with the violation's own message.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from inspector.model.findings import plural
from inspector.model.padding import AUTO_PAD_MODES

if TYPE_CHECKING:
    from inspector.model.common import ConvLayer


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken invariant.

    ``check`` names the rule (``groups``, ``kernel``, ``channels``, ``bias``, ``strides``, ``dilations``, ``pads``,
    ``output_padding``, ``auto_pad``, ``params``); ``message`` says what was expected and what was found, without
    naming the layer or operator (the caller adds that); ``data`` holds the numbers for JSON reports.  ``fatal``:
    the rules after this one could not be checked (a group count below 1, a weight of the wrong rank).
    """

    check: str
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)
    fatal: bool = False


def group_count(groups: object) -> Violation | None:
    """``groups`` is an integer of at least 1 (fatal otherwise: nothing divides by it)."""
    try:
        count = operator.index(groups)  # type: ignore[arg-type]
    except TypeError:
        return Violation("groups", f"group must be an integer, found {groups!r}", {"found": repr(groups)}, fatal=True)
    if count < 1:
        return Violation("groups", f"group must be at least 1, found {count}", {"found": count}, fatal=True)
    return None


def group_split(groups: int, in_channels: int, out_channels: int) -> list[Violation]:
    """Both channel counts divisible by ``groups`` (a valid group count, see :func:`group_count`)."""
    violations = []
    if in_channels % groups:
        message = f"input channels C={in_channels} are not divisible by groups={groups}"
        violations.append(Violation("groups", message, {"in_channels": in_channels, "groups": groups}))
    if out_channels % groups:
        message = f"output channels {out_channels} are not divisible by groups={groups}"
        violations.append(Violation("groups", message, {"out_channels": out_channels, "groups": groups}))
    return violations


def canonical_weight_shape(
    kind: str, *, in_channels: int, out_channels: int, groups: int, kernel_shape: Sequence[int]
) -> tuple[int, ...]:
    """The weight shape the attributes promise: ``(O, I/g, *k)`` (``kind="conv"``) or ``(I, O/g, *k)``."""
    if kind == "conv_transpose":
        return (in_channels, out_channels // groups, *kernel_shape)
    return (out_channels, in_channels // groups, *kernel_shape)


def weight_shape_violations(
    kind: str,
    weight_shape: Sequence[int],
    *,
    rank: int,
    in_channels: int,
    out_channels: int,
    groups: int,
    kernel_shape: Sequence[int],
) -> list[Violation]:
    """The weight's rank, kernel axes and channel axes against the attributes (a valid ``groups``)."""
    shape, kernel = list(weight_shape), list(kernel_shape)
    if len(shape) != rank + 2 or len(kernel) != rank:
        message = f"weight shape {shape} does not fit a {rank}-D kernel {kernel}"
        return [Violation("kernel", message, {"found": shape}, fatal=True)]
    violations = []
    if 0 in kernel:
        violations.append(Violation("kernel", f"kernel_shape {kernel} has an empty axis", {"found": kernel}))
    if shape[2:] != kernel:
        message = f"kernel_shape {kernel} but the weight's kernel is {shape[2:]}"
        violations.append(Violation("kernel", message, {"expected": kernel, "found": shape[2:]}))
    expected = canonical_weight_shape(
        kind, in_channels=in_channels, out_channels=out_channels, groups=groups, kernel_shape=kernel
    )
    input_axis = 0 if kind == "conv_transpose" else 1
    for axis, side, channels in ((input_axis, "input", in_channels), (1 - input_axis, "output", out_channels)):
        if shape[axis] != expected[axis]:
            meaning = f"the {side} channels" if axis == 0 else f"{side[:-3]}/group = {channels}/{groups}"
            message = (
                f"the {side} has {plural(channels, 'channel')}, so weight axis {axis} should be {expected[axis]} "
                f"({meaning}), found {shape[axis]} (weight shape {shape})"
            )
            violations.append(Violation("channels", message, {"expected": expected[axis], "found": shape[axis]}))
    return violations


def bias_violation(bias_shape: Sequence[int], out_channels: int) -> Violation | None:
    """The bias holds one value per output channel."""
    if tuple(bias_shape) == (out_channels,):
        return None
    message = (
        f"bias should hold {plural(out_channels, 'value')} (one per output channel), found shape {list(bias_shape)}"
    )
    return Violation("bias", message, {"expected": out_channels, "found": list(bias_shape)})


def conv_violations(
    kind: str,
    *,
    rank: int,
    in_channels: int,
    out_channels: int,
    groups: object,
    kernel_shape: Sequence[int],
    weight_shape: Sequence[int],
    bias_shape: Sequence[int] | None = None,
) -> list[Violation]:
    """Groups, weight and bias of a conv (``kind="conv"``) or transposed conv (``"conv_transpose"``), in that order.

    A fatal violation (a group count below 1, a weight of the wrong rank) is returned alone.
    """
    bad_count = group_count(groups)
    if bad_count is not None:
        return [bad_count]
    count = operator.index(groups)  # type: ignore[call-overload]
    violations = group_split(count, in_channels, out_channels)
    weight = weight_shape_violations(
        kind,
        weight_shape,
        rank=rank,
        in_channels=in_channels,
        out_channels=out_channels,
        groups=count,
        kernel_shape=kernel_shape,
    )
    if any(v.fatal for v in weight):
        return weight
    bias = None if bias_shape is None else bias_violation(bias_shape, out_channels)
    return violations + weight + ([bias] if bias else [])


def axis_values(name: str, values: Sequence[int], count: int, *, minimum: int, rank: int) -> Violation | None:
    """``count`` values, each at least ``minimum`` (``name`` is the attribute: ``strides``, ``pads``…)."""
    found = list(values)
    if len(found) != count:
        message = f"{name} {found} has {plural(len(found), 'value')}, expected {count} for a {rank}-D conv"
        return Violation(name, message, {"found": found})
    if min(found, default=minimum) < minimum:
        limit = "positive" if minimum == 1 else "non-negative" if minimum == 0 else f"at least {minimum}"
        return Violation(name, f"{name} must be {limit}, got {found}", {"found": found})
    return None


def output_padding_violation(
    output_padding: Sequence[int], strides: Sequence[int], dilations: Sequence[int]
) -> Violation | None:
    """Each output padding smaller than its stride or its dilation (one value of each per axis)."""
    for j, (extra, s, d) in enumerate(zip(output_padding, strides, dilations, strict=True)):
        if extra >= s and extra >= d:
            message = (
                f"output_padding value {extra} on axis {j} must be smaller than the stride {s} or the dilation {d} "
                f"(output_padding {list(output_padding)})"
            )
            return Violation("output_padding", message, {"found": list(output_padding)})
    return None


def geometry_violations(
    rank: int,
    *,
    strides: Sequence[int] | None,
    dilations: Sequence[int] | None,
    pads: Sequence[int] | None,
    output_padding: Sequence[int] | None = None,
) -> list[Violation]:
    """Strides, dilations, pads (begins then ends) and a transposed conv's output padding; ``None`` is not checked."""
    rules = (
        ("strides", strides, 1, rank),
        ("dilations", dilations, 1, rank),
        ("pads", pads, 0, 2 * rank),
        ("output_padding", output_padding, 0, rank),
    )
    violations: list[Violation] = []
    for name, values, minimum, count in rules:
        found = None if values is None else axis_values(name, values, count, minimum=minimum, rank=rank)
        violations += [found] if found else []
    broken = {"strides", "dilations", "output_padding"} & {v.check for v in violations}
    if output_padding is not None and strides is not None and dilations is not None and not broken:
        extra = output_padding_violation(output_padding, strides, dilations)
        violations += [extra] if extra else []
    return violations


def output_extent_violation(
    kind: str,
    input_spatial: Sequence[int],
    *,
    kernel_shape: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[int],
    output_padding: Sequence[int] | None = None,
) -> Violation | None:
    """Every output axis holds at least one element: a conv's dilated kernel fits its padded input, a transposed
    conv's pads leave some of its output (Python integers: a file's dims may be as large as it likes)."""
    rank = len(kernel_shape)
    extra = output_padding or (0,) * rank
    for j, (n, k, s, d) in enumerate(zip(input_spatial, kernel_shape, strides, dilations, strict=True)):
        begin, end, span = pads[j], pads[j + rank], d * (k - 1) + 1
        if kind == "conv" and span > n + begin + end:
            message = (
                f"on axis {j} the kernel spans {span:,} inputs (kernel {k:,}, dilation {d}) but the padded input "
                f"holds {n + begin + end:,}: the output would be empty"
            )
            return Violation("kernel", message, {"axis": j, "span": span, "padded_input": n + begin + end})
        full = s * (n - 1) + extra[j] + span
        if kind == "conv_transpose" and full - begin - end < 1:
            message = f"on axis {j} the pads ({begin:,} + {end:,}) remove all {full:,} outputs"
            return Violation("pads", message, {"axis": j, "outputs": full, "found": [begin, end]})
    return None


def auto_pad_violation(auto_pad: str) -> Violation | None:
    """``auto_pad`` is one of ONNX's modes (any case)."""
    if auto_pad.upper() in AUTO_PAD_MODES:
        return None
    message = f"auto_pad must be one of {', '.join(AUTO_PAD_MODES)}, found {auto_pad!r}"
    return Violation("auto_pad", message, {"found": auto_pad})


def parameter_violation(expected: int, stored: int, product: str) -> Violation | None:
    """The stored parameter count equals the one the attributes promise (``product`` spells it out)."""
    if expected == stored:
        return None
    message = f"attributes promise {plural(expected, 'parameter')} ({product}), the file stores {stored:,}"
    return Violation("params", message, {"expected": expected, "found": stored})


def layer_weight_violations(layer: ConvLayer) -> list[Violation]:
    """:func:`conv_violations` of a layer's groups and stored weight, its bias left out (none without a weight)."""
    return _layer_structure(layer, bias_shape=None)


def layer_violations(layer: ConvLayer) -> list[Violation]:
    """Every invariant of a conv layer: geometry, ``auto_pad``, then groups, weight, bias and the parameter count
    (these last when the weight is stored)."""
    violations = geometry_violations(
        layer.rank,
        strides=layer.strides,
        dilations=layer.dilations,
        pads=layer.pads,
        output_padding=layer.output_padding if layer.kind == "conv_transpose" else None,
    )
    bad_auto_pad = auto_pad_violation(layer.auto_pad)
    violations += [bad_auto_pad] if bad_auto_pad else []
    spatial = tuple(layer.input_shape[2:]) if layer.input_shape is not None else ()
    known = len(spatial) == layer.rank == len(layer.kernel_shape) and all(isinstance(n, int) for n in spatial)
    if not violations and layer.pads is not None and known:
        empty = output_extent_violation(
            layer.kind,
            spatial,  # type: ignore[arg-type]
            kernel_shape=layer.kernel_shape,
            strides=layer.strides,
            dilations=layer.dilations,
            pads=layer.pads,
            output_padding=layer.output_padding,
        )
        violations += [empty] if empty else []
    if layer.weight is None:
        return violations
    structure = _layer_structure(layer, bias_shape=None if layer.bias is None else layer.bias.shape)
    if not any(v.fatal for v in structure):
        bad_count = parameter_violation(layer.expected_params, layer.params, layer.params_product)
        structure += [bad_count] if bad_count else []
    return violations + structure


def _layer_structure(layer: ConvLayer, bias_shape: Sequence[int] | None) -> list[Violation]:
    if layer.weight is None:
        return []
    return conv_violations(
        layer.kind,
        rank=layer.rank,
        in_channels=layer.in_channels,
        out_channels=layer.out_channels,
        groups=layer.groups,
        kernel_shape=layer.kernel_shape,
        weight_shape=layer.weight.shape,
        bias_shape=bias_shape,
    )
