"""Built-in analyzer: do the stored parameters match what each layer's attributes promise?"""

from __future__ import annotations

import math

from inspector.hookspecs import hookimpl
from inspector.model import invariants
from inspector.model.common import ConvLayer, DenseLayer, Layer, Model
from inspector.model.findings import Finding, plural
from inspector.options import Options


def _error(layer: Layer, check: str, message: str, **data: object) -> Finding:
    return Finding(severity="error", check=check, layer=layer.name, message=message, data=data)


def check_conv(layer: ConvLayer) -> list[Finding]:
    """Findings for one conv layer: its geometry, ``auto_pad``, groups, weight shape, bias length and parameter count.

    The rules are those of :mod:`inspector.model.invariants`, the ones filter slicing and the NumPy engine apply;
    each broken rule becomes an error finding under the rule's name.
    """
    findings = [_error(layer, v.check, v.message, **v.data) for v in invariants.layer_violations(layer)]
    if layer.weight is None:
        findings.append(
            Finding(
                severity="warning",
                check="params",
                layer=layer.name,
                message="weight is computed at run time, not stored: its parameters cannot be verified",
            )
        )
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
                f"the input has {plural(width, 'feature')}, the weight expects {layer.in_features}",
                expected=width,
                found=layer.in_features,
            )
        )
    if layer.bias is not None and math.prod(layer.bias.shape) not in (1, layer.out_features):
        findings.append(
            _error(
                layer,
                "bias",
                f"bias should hold {plural(layer.out_features, 'value')}, found shape {list(layer.bias.shape)}",
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
            f"{role} should hold {plural(channels, 'value')} (one per channel), found shape {list(weight.shape)}",
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
            findings.extend(check_conv(layer))
        elif isinstance(layer, DenseLayer):
            findings.extend(check_dense(layer))
        elif layer.kind == "batch_norm":
            findings.extend(check_batch_norm(layer))
    return findings
