"""The rich console every text report prints to: colour on a terminal, plain wide text with no escape codes else."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console

PLAIN_WIDTH = 240


def make_console(stream: TextIO, *, terminal: bool | None = None) -> Console:
    """A console for ``stream``: colour on a terminal, plain wide text otherwise."""
    is_terminal = stream.isatty() if terminal is None else terminal
    if is_terminal:
        return Console(file=stream, highlight=False)
    return Console(file=stream, force_terminal=False, no_color=True, width=PLAIN_WIDTH, highlight=False, emoji=False)
