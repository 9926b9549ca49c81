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
    from inspector.report.validation_text import validation_text
    from inspector.validation.run import validate  # onnxruntime is imported only when validating

    result = validate(model_or_path, options, **settings)  # type: ignore[arg-type]
    if not result.passed:
        raise AssertionError(validation_text(result))
    return result
