"""What a format's validation hooks hand back: a layer's captured activations, or one layer's standalone output.

These are the data of the ``capture_layers`` and ``run_layer`` hooks (:mod:`inspector.hookspecs`): validation asks
the plugins, which know their format, and compares what they return with the NumPy engine's result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from inspector.model.common import ConvLayer


class ModelInputs(Protocol):
    """What ``capture_layers``' ``feeds()`` returns: an array per model input, and the size of each named dim."""

    @property
    def arrays(self) -> Mapping[str, np.ndarray]: ...

    @property
    def symbols(self) -> Mapping[str, int]: ...


@dataclass(frozen=True, slots=True)
class Captured:
    """One conv layer seen on a whole-model run: its operands by role (``x``, ``w``, ``b``; a quantized conv's
    ``x_scale``, ``x_zero_point``, ``w_scale``, ``w_zero_point``, ``y_scale``, ``y_zero_point``), its output, the
    execution providers that ran it, and which run (counted from 0) it came from."""

    layer: ConvLayer
    operands: Mapping[str, np.ndarray | None]
    output: np.ndarray
    providers: tuple[str, ...]
    run: int


@dataclass(frozen=True, slots=True)
class LayerRun:
    """One conv layer run on its own: its output and the execution providers that ran it."""

    output: np.ndarray
    providers: tuple[str, ...]
