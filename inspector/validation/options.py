"""How to validate a model: the settings behind ``inspect --validate`` and ``inspector.validate(...)``."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from inspector.errors import ValidationError
from inspector.model.common import Model
from inspector.validation.rounding import BoundChoice

DEFAULT_MAX_CAPTURE_MB = 256.0
GRAPH_OPTIMIZATIONS = ("disabled", "basic", "extended", "all")


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationOptions:
    """How to validate (the ``inspect --validate`` flags).

    ``atol``/``rtol`` replace the default tolerances for every layer, ``layer_atol``/``layer_rtol`` for the
    layers they name (``None`` keeps the default: accumulation-aware ``atol``, ``rtol`` 0).  ``input_shapes``
    gives whole shapes of named inputs (symbolic dims default to 1); ``inputs`` an ``.npz`` file of arrays
    named as the model's inputs instead of random ones.  ``max_capture_mb`` is the memory limit: the inputs, the
    tensors one onnxruntime run captures and the recomputation of one layer each stay within it
    (:mod:`inspector.validation.limits`).  ``bound`` chooses the default tolerance: ``"auto"`` the smaller of the
    worst-case and the probabilistic rounding bound, ``"worst-case"`` the worst case alone
    (:mod:`inspector.validation.rounding`).
    ``providers`` (onnxruntime execution providers in priority order; ``cpu`` is short for
    ``CPUExecutionProvider``), ``graph_optimization`` and ``threads`` (intra-op; ``None`` is onnxruntime's
    default) run onnxruntime as a deployment would.
    """

    seed: int = 0
    input_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    inputs: str | Path | None = None
    max_capture_mb: float = DEFAULT_MAX_CAPTURE_MB
    atol: float | None = None
    rtol: float | None = None
    layer_atol: Mapping[str, float] = field(default_factory=dict)
    layer_rtol: Mapping[str, float] = field(default_factory=dict)
    bound: BoundChoice = "auto"
    providers: tuple[str, ...] = ("CPUExecutionProvider",)
    graph_optimization: str = "all"
    threads: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValidationError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not (isinstance(self.max_capture_mb, int | float) and self.max_capture_mb > 0):
            raise ValidationError(f"max_capture_mb must be a positive number, got {self.max_capture_mb!r}")
        if self.bound not in ("auto", "worst-case"):
            raise ValidationError(f"bound must be 'auto' or 'worst-case', got {self.bound!r}")
        if self.graph_optimization not in GRAPH_OPTIMIZATIONS:
            raise ValidationError(
                f"graph_optimization must be one of {', '.join(GRAPH_OPTIMIZATIONS)}, got {self.graph_optimization!r}"
            )
        if self.threads is not None and (
            isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1
        ):
            raise ValidationError(f"threads must be a positive integer, got {self.threads!r}")
        if isinstance(self.providers, str) or not self.providers:
            raise ValidationError(f"providers must be a non-empty list of execution providers, got {self.providers!r}")
        if self.inputs is not None and self.input_shapes:
            raise ValidationError("give input shapes or an inputs file, not both: the file's arrays have shapes")
        tolerances = {"atol": self.atol, "rtol": self.rtol}
        tolerances |= {f"atol for {k}": v for k, v in self.layer_atol.items()}
        tolerances |= {f"rtol for {k}": v for k, v in self.layer_rtol.items()}
        for name, value in tolerances.items():
            if value is not None and not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValidationError(f"{name} must be a non-negative number, got {value!r}")

    def tolerance(self, layer: str) -> tuple[float | None, float | None]:
        """``(atol, rtol)`` for ``layer``; ``None`` means the default."""
        return self.layer_atol.get(layer, self.atol), self.layer_rtol.get(layer, self.rtol)

    def named_layers(self) -> set[str]:
        """The layers named by per-layer tolerances."""
        return set(self.layer_atol) | set(self.layer_rtol)

    def for_model(self, model: Model) -> ValidationOptions:
        """These options with only the per-layer tolerances and input shapes that name ``model``'s layers and inputs."""
        layers = {layer.name for layer in model.conv_layers}
        inputs = {tensor.name for tensor in model.inputs}
        return dataclasses.replace(
            self,
            input_shapes={k: v for k, v in self.input_shapes.items() if k in inputs},
            layer_atol={k: v for k, v in self.layer_atol.items() if k in layers},
            layer_rtol={k: v for k, v in self.layer_rtol.items() if k in layers},
        )
