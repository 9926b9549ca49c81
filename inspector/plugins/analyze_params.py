"""Built-in analyzer: do the stored parameters match what each layer's attributes promise?"""

from __future__ import annotations

import math

from inspector.hookspecs import hookimpl
from inspector.model.common import ConvLayer, DenseLayer, Layer, Model
from inspector.model.findings import Finding
from inspector.model.padding import AUTO_PAD_MODES
from inspector.options import Options


def _error(layer: Layer, check: str, message: str, **data: object) -> Finding:
    return Finding(severity="error", check=check, layer=layer.name, message=message, data=data)


def check_conv(layer: ConvLayer) -> list[Finding]:
    """Findings for one conv layer: groups, weight rank, kernel, channel axes, bias length, parameter count."""
    if layer.weight is None:
        return [
            Finding(
                severity="warning",
                check="params",
                layer=layer.name,
                message="weight is computed at run time, not stored: its parameters cannot be verified",
            )
        ]
    findings: list[Finding] = []
    groups, weight_shape = layer.groups, layer.weight.shape
    if groups < 1:
        return [_error(layer, "groups", f"group must be at least 1, found {groups}", found=groups)]
    if len(weight_shape) != layer.rank + 2 or len(layer.kernel_shape) != layer.rank:
        return [
            _error(
                layer,
                "kernel",
                f"weight shape {list(weight_shape)} does not fit a {layer.rank}-D kernel {list(layer.kernel_shape)}",
                found=list(weight_shape),
            )
        ]
    if layer.in_channels % groups:
        findings.append(
            _error(
                layer,
                "groups",
                f"{layer.in_channels} input channels are not divisible by group={groups}",
                in_channels=layer.in_channels,
                groups=groups,
            )
        )
    if layer.out_channels % groups:
        findings.append(
            _error(
                layer,
                "groups",
                f"{layer.out_channels} output channels are not divisible by group={groups}",
                out_channels=layer.out_channels,
                groups=groups,
            )
        )
    if tuple(weight_shape[2:]) != layer.kernel_shape:
        findings.append(
            _error(
                layer,
                "kernel",
                f"kernel_shape {list(layer.kernel_shape)} but the weight's kernel is {list(weight_shape[2:])}",
                expected=list(layer.kernel_shape),
                found=list(weight_shape[2:]),
            )
        )
    axis = 1 if layer.kind == "conv" else 0
    per_group = layer.in_channels // groups if layer.kind == "conv" else layer.in_channels
    if weight_shape[axis] != per_group:
        meaning = f"in/group = {layer.in_channels}/{groups}" if layer.kind == "conv" else "the input channels"
        findings.append(
            _error(
                layer,
                "channels",
                f"the input has {layer.in_channels} channels, so weight axis "
                f"{axis} should be {per_group} ({meaning}), found {weight_shape[axis]} "
                f"(weight shape {list(weight_shape)})",
                expected=per_group,
                found=weight_shape[axis],
            )
        )
    if layer.bias is not None and layer.bias.shape != (layer.out_channels,):
        findings.append(
            _error(
                layer,
                "bias",
                f"bias should hold {layer.out_channels} values (one per output "
                f"channel), found shape {list(layer.bias.shape)}",
                expected=layer.out_channels,
                found=list(layer.bias.shape),
            )
        )
    if layer.expected_params != layer.params:
        findings.append(
            _error(
                layer,
                "params",
                f"attributes promise {layer.expected_params:,} parameters "
                f"({layer.params_product}), the file stores {layer.params:,}",
                expected=layer.expected_params,
                found=layer.params,
            )
        )
    return findings


def check_geometry(layer: ConvLayer) -> list[Finding]:
    """Strides and dilations of at least 1, pads of at least 0, one value per spatial axis, a known ``auto_pad``."""
    findings = []
    for check, values, least, count in (
        ("strides", layer.strides, 1, layer.rank),
        ("dilations", layer.dilations, 1, layer.rank),
        ("pads", layer.pads, 0, 2 * layer.rank),
    ):
        if values is None:
            continue
        if len(values) != count:
            message = f"{check} {list(values)} should hold {count} values for a {layer.rank}-D conv"
        elif min(values, default=least) < least:
            message = f"{check} must be at least {least}, found {list(values)}"
        else:
            continue
        findings.append(_error(layer, check, message, found=list(values)))
    if layer.auto_pad.upper() not in AUTO_PAD_MODES:
        message = f"auto_pad must be one of {', '.join(AUTO_PAD_MODES)}, found {layer.auto_pad!r}"
        findings.append(_error(layer, "auto_pad", message, found=layer.auto_pad))
    return findings


def check_dense(layer: DenseLayer) -> list[Finding]:
    """A dense layer's input width and bias length against its weight."""
    findings = []
    width = layer.input_shape[-1] if layer.input_shape else None
    if isinstance(width, int) and width != layer.in_features:
        findings.append(
            _error(
                layer,
                "channels",
                f"the input has {width} features, the weight expects {layer.in_features}",
                expected=width,
                found=layer.in_features,
            )
        )
    if layer.bias is not None and math.prod(layer.bias.shape) not in (1, layer.out_features):
        findings.append(
            _error(
                layer,
                "bias",
                f"bias should hold {layer.out_features} values, found shape {list(layer.bias.shape)}",
                expected=layer.out_features,
                found=list(layer.bias.shape),
            )
        )
    return findings


def check_batch_norm(layer: Layer) -> list[Finding]:
    """Every BatchNorm vector holds one value per channel."""
    channels = layer.input_shape[1] if layer.input_shape and len(layer.input_shape) > 1 else None
    if not isinstance(channels, int):
        return []
    return [
        _error(
            layer,
            "params",
            f"{role} should hold {channels} values (one per channel), found shape {list(weight.shape)}",
            expected=channels,
            found=list(weight.shape),
        )
        for role, weight in layer.weights.items()
        if weight.shape != (channels,)
    ]


@hookimpl
def analyze_model(model: Model, options: Options) -> list[Finding]:
    """Verify every conv, dense and BatchNorm layer's stored parameters."""
    findings: list[Finding] = []
    for layer in model.layers:
        if isinstance(layer, ConvLayer):
            findings.extend(check_geometry(layer))
            findings.extend(check_conv(layer))
        elif isinstance(layer, DenseLayer):
            findings.extend(check_dense(layer))
        elif layer.kind == "batch_norm":
            findings.extend(check_batch_norm(layer))
    return findings
