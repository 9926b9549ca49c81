"""Findings: what an analyzer has to say about a model."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}
EXAMPLES = 3
"""Items a message names before it says how many more there are; a finding's ``data`` holds them all."""


def noun(count: int, singular: str, many: str | None = None) -> str:
    """``singular`` when ``count`` is 1, else its plural (``many``, or ``singular`` + s)."""
    return singular if count == 1 else many or singular + "s"


def plural(count: int, singular: str, many: str | None = None) -> str:
    """``count`` and its noun agreeing: ``1 filter``, ``2 filters``, ``0 filters``, ``12,000 layers``."""
    return f"{count:,} {noun(count, singular, many)}"


def times(ratio: float) -> str:
    """A ratio for people: ``20.0×``; huge or tiny ones in scientific notation, ``9.6e+32×``."""
    return f"{ratio:.1f}×" if 0.1 <= abs(ratio) < 1e4 or ratio == 0 else f"{ratio:.2g}×"


def examples(items: Sequence[object], shown: int = EXAMPLES, separator: str = ", ") -> str:
    """The first ``shown`` items and how many more: ``1, 2, 3 … (509 more)``."""
    text = separator.join(str(item) for item in items[:shown])
    return text + (f" … ({len(items) - shown:,} more)" if len(items) > shown else "")


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
