"""A report: one model, its findings and its validation, rendered as a versioned JSON document."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from inspector.model.common import ConvLayer, DenseLayer, Layer, Model, Shape
from inspector.model.findings import Finding, sorted_findings
from inspector.options import Options
from inspector.plugin_manager import analyze_model, get_plugin_manager, load_model

if TYPE_CHECKING:
    from inspector.validation.result import ValidationResult

SCHEMA_VERSION = 1


def inspect_model(
    path: str | Path, *, plugin_manager: pluggy.PluginManager | None = None, options: Options | None = None
) -> Report:
    """Load and analyze ``path``; ``report.passed`` tells whether every check holds."""
    manager = plugin_manager or get_plugin_manager()
    model = load_model(path, manager, options)
    return Report.build(model, analyze_model(model, manager, options))


@dataclass(frozen=True, slots=True)
class Report:
    """What ``inspect`` found about one model."""

    model: Model
    findings: tuple[Finding, ...]
    validation: ValidationResult | None = None

    @classmethod
    def build(cls, model: Model, findings: list[Finding], validation: ValidationResult | None = None) -> Report:
        """A report with findings in deterministic order."""
        ordered = sorted_findings(findings, (layer.name for layer in model.layers))
        return cls(model=model, findings=tuple(ordered), validation=validation)

    def with_validation(self, validation: ValidationResult) -> Report:
        """This report with ``validation`` added; its failed layers become error findings (check ``validation``)."""
        return Report.build(self.model, [*self.findings, *validation.findings()], validation)

    @property
    def errors(self) -> tuple[Finding, ...]:
        """The findings of severity ``error``."""
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def passed(self) -> bool:
        """Whether every check holds: no error finding, and no layer failed validation."""
        return not self.errors and (self.validation is None or self.validation.passed)

    @property
    def exit_code(self) -> int:
        """0 when everything checked holds, 1 when a check failed."""
        return 0 if self.passed else 1

    def layer_findings(self, layer: Layer) -> tuple[Finding, ...]:
        """The findings about one layer."""
        return tuple(f for f in self.findings if f.layer == layer.name)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (schema in README.md, ``schema_version`` 1)."""
        model = self.model
        return {
            "schema_version": SCHEMA_VERSION,
            "model": {
                "path": model.path,
                "format": model.format,
                "producer": model.producer,
                "inputs": [_tensor(t.name, t.shape, t.dtype) for t in model.inputs],
                "outputs": [_tensor(t.name, t.shape, t.dtype) for t in model.outputs],
            },
            "layers": [layer_dict(layer, self.layer_findings(layer)) for layer in model.layers],
            "params": {
                "total": model.total_params,
                "trainable": model.trainable_params,
                "non_trainable": model.non_trainable_params,
            },
            "findings": [
                {"severity": f.severity, "check": f.check, "layer": f.layer, "message": f.message, "data": dict(f.data)}
                for f in self.findings
            ],
            "validation": None if self.validation is None else self.validation.to_dict(),
        }


def _shape(shape: Shape | None) -> list[int | str] | None:
    return None if shape is None else list(shape)


def _tensor(name: str, shape: Shape | None, dtype: str) -> dict[str, Any]:
    return {"name": name, "shape": _shape(shape), "dtype": dtype}


def _optional(values: tuple[int, ...] | None) -> list[int] | None:
    return None if values is None else list(values)


def layer_dict(layer: Layer, findings: tuple[Finding, ...] = ()) -> dict[str, Any]:
    """One layer's JSON entry; conv-only fields are ``null`` for other layers."""
    conv = layer if isinstance(layer, ConvLayer) else None
    main = conv.weight if conv else layer.weight if isinstance(layer, DenseLayer) else None
    return {
        "name": layer.name,
        "kind": layer.kind,
        "source_op": layer.source_op,
        "source_layer": layer.source_layer,
        "outputs": list(layer.outputs),
        "input_shape": _shape(layer.input_shape),
        "output_shape": _shape(layer.output_shape),
        "in_channels": conv.in_channels if conv else None,
        "out_channels": conv.out_channels if conv else None,
        "groups": conv.groups if conv else None,
        "kernel_shape": list(conv.kernel_shape) if conv else None,
        "strides": _optional(conv.strides) if conv else None,
        "dilations": _optional(conv.dilations) if conv else None,
        "pads": _optional(conv.pads) if conv else None,
        "output_padding": _optional(conv.output_padding) if conv else None,
        "activation": layer.activation,
        "weight_shape": list(main.shape) if main else None,
        "native_weight_shape": list(main.native_shape) if main else None,
        "native_layout": main.native_layout if main else None,
        "weights": {
            role: {"source": w.source, "shape": list(w.native_shape), "dtype": w.dtype, "trainable": w.trainable}
            for role, w in layer.weights.items()
        },
        "params": {"expected": layer.expected_params, "stored": layer.params},
        "macs": layer.macs,
        "passed": not any(f.severity == "error" for f in findings),
    }
