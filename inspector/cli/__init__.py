"""The ``inspect`` command."""

from inspector.cli.main import main

__all__ = ["main"]
