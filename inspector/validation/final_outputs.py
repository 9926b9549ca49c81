"""The two models' graph outputs on the same input, where both run whole in onnxruntime.

A change in an op without weights after the last matched conv (a final ``Softmax`` become a ``Sigmoid``) shows
only here.  Each output of A is paired with B's of the same name, else the one at its position, and held to what
the matched convs explain: the sum of their largest tolerances (or differences, where one failed), ops without
weights taken to add branches at most, never to amplify, plus each side's rounding of the output,
``4·(u_A·|y_A| + u_B·|y_B|)`` at its largest.  A matched dense layer's rounding is not bounded, so a model that
has one has its graph outputs left uncompared, with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inspector.model.common import Model
from inspector.validation.output_diff import gap
from inspector.validation.rounding import float_format
from inspector.validation.runtime import RuntimeRefusal, create_session, run


@dataclass(frozen=True, slots=True)
class FinalOutput:
    """One graph output of A against B's: the largest difference and what the matched convs explain of it."""

    a: str
    b: str
    max_abs: float
    tolerance: float

    @property
    def agrees(self) -> bool:
        """Within what the matched convs and the output's rounding explain."""
        return self.max_abs == 0 or self.max_abs <= self.tolerance


def _unit(array: np.ndarray) -> float:
    return float_format(array.dtype).unit_roundoff if array.dtype.kind == "f" else 0.0


def _pairs(a: Model, b: Model) -> list[tuple[str, str]]:
    names_b = [t.name for t in b.outputs]
    return [
        (t.name, t.name if t.name in names_b else names_b[n])
        for n, t in enumerate(a.outputs)
        if t.name in names_b or n < len(names_b)
    ]


def compare_final(a: Model, b: Model, feeds: tuple, explained: float) -> tuple[tuple[FinalOutput, ...], str]:
    """Each graph output of A against B's on ``feeds`` (A's, B's), or ``((), why not)``."""
    pairs = _pairs(a, b)
    try:
        found_a = run(create_session(Path(a.path)), [p for p, _ in pairs], feeds[0].arrays)
        found_b = run(create_session(Path(b.path)), [q for _, q in pairs], feeds[1].arrays)
    except RuntimeRefusal as error:
        return (), f"graph outputs not compared: onnxruntime refused a model ({error})"
    compared = []
    for (name_a, name_b), y_a, y_b in zip(pairs, found_a, found_b, strict=True):
        if y_a.shape != y_b.shape:
            compared.append(FinalOutput(name_a, name_b, float("inf"), 0.0))
            continue
        y_a, y_b = np.asarray(y_a), np.asarray(y_b)
        difference = gap(y_a, y_b).max(initial=0.0)
        rounded = _unit(y_a) * np.abs(y_a).max(initial=0) + _unit(y_b) * np.abs(y_b).max(initial=0)
        compared.append(FinalOutput(name_a, name_b, float(difference), explained + 4 * float(rounded)))
    return tuple(compared), "graph outputs compared"
