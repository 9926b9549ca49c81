"""Findings: what an analyzer has to say about a model."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One statement about a model: a failed check (``error``), a concern (``warning``) or a note.

    ``check`` names the check (``params``, ``groups``, ``plugin``…), ``layer`` the layer it is about
    (``None`` for the whole model), ``data`` holds machine-readable details for JSON reports.
    """

    severity: Severity
    check: str
    layer: str | None
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)


def sorted_findings(findings: Iterable[Finding], layer_order: Iterable[str]) -> list[Finding]:
    """Deterministic order: by layer position in the model (model-wide findings first), severity, check."""
    position = {name: index for index, name in enumerate(layer_order)}
    return sorted(
        findings,
        key=lambda f: (
            -1 if f.layer is None else position.get(f.layer, len(position)),
            SEVERITY_ORDER[f.severity],
            f.check,
            f.message,
        ),
    )
