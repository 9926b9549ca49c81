"""For a project's own tests: ``assert_model_valid``, and the pytest plugin behind ``--inspect-models``."""

from inspector.testing.assertions import assert_model_valid

__all__ = ["assert_model_valid"]
