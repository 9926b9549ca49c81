"""Plain-words explanations of layers: what a conv computes, filter by filter, and how the count adds up."""

from __future__ import annotations

from inspector.model.common import ConvLayer, DenseLayer, Layer, Shape
from inspector.model.findings import plural

_DIMENSIONS = {1: "1-D", 2: "2-D", 3: "3-D"}


def dims(values: tuple[int, ...] | Shape | None, unknown: str = "?") -> str:
    """``(3, 3)`` as ``3×3``; ``None`` as ``?``."""
    return unknown if values is None else "×".join(map(str, values))


def maps(shape: Shape | None) -> str:
    """``(N, 32, 26, 26)`` as ``32 maps of 26×26``."""
    if shape is None or len(shape) < 2:
        return "unknown shape"
    spatial = f" of {dims(shape[2:])}" if len(shape) > 2 else ""
    return f"{plural(shape[1], 'map') if isinstance(shape[1], int) else f'{shape[1]} maps'}{spatial}"


def filters_summary(layer: ConvLayer) -> str:
    """``out × (in/g × k…)``: ``64 × (32×3×3)``."""
    return f"{layer.out_channels} × ({dims(layer.filter_shape)})"


def pads_text(layer: ConvLayer) -> str:
    """Begin/end pads per spatial axis, or what is known of them."""
    if layer.pads is None:
        return f"unknown ({layer.auto_pad}, the input size is not known)" if layer.auto_pad != "NOTSET" else "unknown"
    if not any(layer.pads):
        return "none"
    half = len(layer.pads) // 2
    pairs = [f"{b}+{e}" for b, e in zip(layer.pads[:half], layer.pads[half:], strict=True)]
    return f"{', '.join(pairs)} (begin+end per axis)" + (
        f", from auto_pad {layer.auto_pad}" if layer.auto_pad != "NOTSET" else ""
    )


def param_formula(layer: ConvLayer) -> str:
    """``3·3·32·64 + 64 = 18,496``."""
    return f"{layer.params_product} = {layer.expected_params:,}"


def _conv_story(layer: ConvLayer) -> list[str]:
    kernel = dims(layer.kernel_shape)
    per_group_in = layer.in_channels // max(layer.groups, 1)
    per_group_out = layer.out_channels // max(layer.groups, 1)
    bias = ", plus its bias" if layer.bias is not None else ""
    if layer.kind == "conv_transpose":
        return [
            f"{plural(layer.out_channels, 'output map')}; each reads the {plural(per_group_in, 'input map')} of its "
            f"group, every input pixel spreading a {kernel} kernel into the output "
            f"(stride {dims(layer.strides)}){bias}.",
            f"{plural(layer.out_channels, 'filter')}, each {dims(layer.filter_shape)}: output map j holds a {kernel} "
            f"kernel F_ij for each input map i it reads.",
        ]
    if layer.groups == layer.in_channels and layer.groups > 1:
        multiplier = layer.out_channels // layer.in_channels
        return [
            f"depthwise: {plural(layer.out_channels, 'filter')}, each {dims(layer.filter_shape)}; every input map has "
            f"{plural(multiplier, 'filter')} of its own (multiplier {multiplier}).",
            f"output map c·{multiplier}+j convolves input map c alone with its own {kernel} kernel{bias}.",
        ]
    if layer.groups > 1:
        return [
            f"{plural(layer.out_channels, 'filter')} in {layer.groups:,} groups, each {dims(layer.filter_shape)}: "
            f"group g's {plural(per_group_out, 'output map')} read only its {plural(per_group_in, 'input map')} "
            f"(maps {per_group_in}·g … {per_group_in}·g+{per_group_in - 1}).",
            f"each output map sums its group's {plural(per_group_in, 'input map')}, each convolved with its own "
            f"{kernel} kernel{bias}.",
        ]
    return [
        f"{plural(layer.out_channels, 'filter')}, each {dims(layer.filter_shape)}, one per output map.",
        f"each output map sums all {plural(layer.in_channels, 'input map')}, each convolved with its own {kernel} "
        f"kernel{bias}.",
    ]


def _conv_lines(layer: ConvLayer) -> list[str]:
    what = "transposed convolution" if layer.kind == "conv_transpose" else "convolution"
    lines = [
        f"{layer.name}: {layer.source_op}, a {_DIMENSIONS.get(layer.rank, f'{layer.rank}-D')} {what}",
        f"  input {maps(layer.input_shape)} → output {maps(layer.output_shape)}",
    ]
    lines += [f"  {line}" for line in _conv_story(layer)]
    lines.append(
        f"  kernel {dims(layer.kernel_shape)}, stride {dims(layer.strides)}, dilation {dims(layer.dilations)}, "
        f"padding {pads_text(layer)}"
        + (
            f", output_padding {dims(layer.output_padding)}"
            if layer.output_padding and any(layer.output_padding)
            else ""
        )
    )
    if layer.activation:
        lines.append(f"  activation {layer.activation} (applied after the sum)")
    mark = "✔" if layer.expected_params == layer.params else f"✘ the file stores {layer.params:,}"
    lines.append(f"  params {param_formula(layer)} {mark}")
    if layer.macs is not None:
        lines.append(f"  {plural(layer.macs, 'multiply-accumulate')} per sample")
    if layer.weight is not None:
        weight = layer.weight
        layout = weight.native_layout or "as is"
        lines.append(
            f"  weight {weight.source}: stored {dims(weight.native_shape)} ({layout}), canonical {dims(weight.shape)}"
        )
    return lines


def explain_layer(layer: Layer) -> list[str]:
    """Lines that say what ``layer`` computes and how its parameter count comes about."""
    if isinstance(layer, ConvLayer):
        return _conv_lines(layer)
    head = f"{layer.name}: {layer.source_op}"
    shapes = f"  input {dims(layer.input_shape)} → output {dims(layer.output_shape)}"
    if isinstance(layer, DenseLayer):
        bias = f" + {layer.out_features}" if layer.bias is not None else ""
        return [
            f"{head}, a fully connected layer",
            shapes,
            f"  {plural(layer.out_features, 'output')}, each a weighted sum of all {plural(layer.in_features, 'input')}"
            + (" plus a bias" if layer.bias is not None else ""),
            f"  params {layer.in_features}·{layer.out_features}{bias} = {layer.expected_params:,}",
        ]
    if layer.kind == "batch_norm":
        return [
            f"{head}, batch normalization",
            shapes,
            "  each channel is shifted and scaled: gamma·(x − mean)/√(var + ε) + beta",
            f"  params {layer.params:,} (mean and variance are non-trainable running statistics)",
        ]
    stored = f"  params {layer.params:,}" if layer.params else "  no parameters"
    return [head, shapes, stored]
