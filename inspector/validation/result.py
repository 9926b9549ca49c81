"""What validating a model found: one entry per conv layer, and the whole run's verdict.

A layer is ``passed`` or ``failed`` (onnxruntime and the engine disagree beyond the tolerance, or their
outputs differ in shape), ``error`` (onnxruntime or the engine refuses to compute the layer: the layer is
broken) or ``skipped`` (the tool cannot run it: no recorded strides, a quantized conv in an ``If`` body,
an op onnxruntime does not implement), with the reason.  The run passes when no layer failed or errored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from inspector.model.findings import Finding
from inspector.validation.compare import Comparison

Status = Literal["passed", "failed", "error", "skipped"]
Mode = Literal["captured", "standalone"]
LISTED_CHANNELS = 8


def _channels(comparison: Comparison) -> str:
    shown = ", ".join(str(c) for c in comparison.failed_channels[:LISTED_CHANNELS])
    count = comparison.failed_channel_count
    if count == 1:
        return f"output channel {shown}"
    more = f", … ({count} in all)" if count > LISTED_CHANNELS else ""
    return f"output channels {shown}{more}"


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerValidation:
    """One conv layer's verdict; ``comparison`` is there whenever both outputs were computed and of one shape.

    ``providers`` are the execution providers that ran the layer; ``placeholder`` says that it ran on its own at
    an input size the tool made up, because the file does not fix it.
    """

    name: str
    outputs: tuple[str, ...]
    status: Status
    mode: Mode | None = None
    providers: tuple[str, ...] = ()
    placeholder: bool = False
    input_shape: tuple[int, ...] | None = None
    comparison: Comparison | None = None
    reason: str = ""

    @property
    def passed(self) -> bool | None:
        """True or False; ``None`` when the layer was skipped."""
        return None if self.status == "skipped" else self.status == "passed"

    @property
    def message(self) -> str:
        """One line saying what happened, naming the output channel that disagrees most."""
        c = self.comparison
        if self.reason or c is None:
            return self.reason
        worst = ", ".join(map(str, c.worst_index or ()))
        if c.passed:
            closest = f" (closest to the tolerance at [{worst}], {c.tolerance_used:.2g} of it)" if worst else ""
            return f"matches onnxruntime: max abs error {c.max_abs_error:.3g}{closest}"
        return (
            f"output channel {c.worst_channel} differs most from onnxruntime: {c.max_abs_error:.3g} max abs error; "
            f"{c.violations:,} of {c.elements:,} elements beyond the tolerance, in {_channels(c)}; "
            f"worst at [{worst}], allowed {c.worst_allowed:.3g}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationResult:
    """Validation of one model: how its inputs were made, its conv layers in model order, notes on the run, and
    how onnxruntime ran (``runtime``: its version, the providers asked for, optimization level, threads)."""

    model_path: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    layers: tuple[LayerValidation, ...] = ()
    notes: tuple[str, ...] = ()
    capture_runs: int = 0
    runtime: Mapping[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Whether no layer failed or errored (skipped layers do not fail a model)."""
        return all(layer.status in ("passed", "skipped") for layer in self.layers)

    def count(self, status: Status) -> int:
        """How many layers ended with ``status``."""
        return sum(layer.status == status for layer in self.layers)

    def get(self, name: str) -> LayerValidation | None:
        """The entry of layer ``name``, or ``None``."""
        return next((layer for layer in self.layers if layer.name == name), None)

    def __getitem__(self, name: str) -> LayerValidation:
        layer = self.get(name)
        if layer is None:
            raise KeyError(f"{self.model_path}: no validated layer named {name!r}")
        return layer

    def findings(self) -> list[Finding]:
        """An error finding per failed or errored layer, a warning per skipped one (check ``validation``)."""
        findings = []
        for layer in self.layers:
            if layer.status == "passed":
                continue
            data = {"status": layer.status, "mode": layer.mode}
            if layer.comparison is not None:
                data["worst_channel"] = layer.comparison.worst_channel
            skipped = layer.status == "skipped"
            findings.append(
                Finding(
                    severity="warning" if skipped else "error",
                    check="validation",
                    layer=layer.name,
                    message=f"not validated: {layer.message}" if skipped else layer.message,
                    data=data,
                )
            )
        return findings
