"""Options handed to every hook: what the user asked for on the command line or in the API."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from inspector.model.budget import DEFAULT_FOLD_MB


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """Settings shared by loaders and analyzers.

    ``raise_errors`` makes a raising analyzer propagate instead of becoming an error finding (tests, and
    ``INSPECTOR_RAISE_ERRORS=1``).  ``input_shapes`` sets model input dims the file leaves open
    (``--input-shape``, :mod:`inspector.model.input_shapes`); loaders apply those that name their model's inputs.
    ``progress``, when given, is told by plugins that work through a model layer by layer (the built-in filter
    analyzer) of each layer they finish: its name, the layers done and their total, for a progress bar.
    ``read_weights`` False asks for shapes and attributes only (``--no-weights``): analyzers that need weight bytes
    skip their checks and say so.  ``max_fold_mb`` bounds each constant a loader computes while loading
    (:mod:`inspector.model.budget`).
    """

    raise_errors: bool = False
    input_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    progress: Callable[[str, int, int], None] | None = field(default=None, compare=False, repr=False)
    read_weights: bool = True
    max_fold_mb: float = DEFAULT_FOLD_MB
