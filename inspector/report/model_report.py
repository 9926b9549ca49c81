"""A report: one model, its findings and its validation (rendered by the text, JSON, JUnit and HTML modules)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

from inspector.model.common import Layer, Model
from inspector.model.findings import Finding, sorted_findings
from inspector.options import Options
from inspector.plugin_manager import analyze_model, get_plugin_manager, load_model

if TYPE_CHECKING:
    from inspector.validation.result import ValidationResult


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
