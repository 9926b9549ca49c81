"""Assertions for a project's own tests: ``assert_model_valid("model.onnx")`` fails with the per-layer table."""

from __future__ import annotations

from pathlib import Path

from inspector.model.common import Model
from inspector.validation.options import ValidationOptions
from inspector.validation.result import ValidationResult


def assert_model_valid(
    model_or_path: Model | str | Path, options: ValidationOptions | None = None, **settings: object
) -> ValidationResult:
    """Validate the model (as :func:`inspector.validate`, same options) and return the result.

    Raises
    ------
    AssertionError
        When a layer failed or could not run; the message is the per-layer summary, naming each failed layer
        and the output channel that disagrees most.
    """
    from inspector import validate

    result = validate(model_or_path, options, **settings)
    if not result.passed:
        raise AssertionError(result.summary())
    return result
