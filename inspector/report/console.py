"""The rich console every text report prints to: colour on a terminal, plain wide text with no escape codes else."""

from __future__ import annotations

import re
import shutil
from typing import TextIO

from rich.console import Console
from rich.text import Text

from inspector.report.visible import visible

PLAIN_WIDTH = 240
_TRAILING = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)$", re.MULTILINE)
"""Spaces at the end of a line, before any colour codes that close it."""


def make_console(stream: TextIO, *, terminal: bool | None = None) -> Console:
    """A console for ``stream``: colour on a terminal, plain text otherwise, where a line is never wrapped.

    ``terminal`` says that what ``stream`` collects goes to a terminal (the CLI renders into a buffer first): colour,
    and prose wrapped at the terminal's width.
    """
    is_terminal = stream.isatty() if terminal is None else terminal
    if is_terminal:
        return Console(
            file=stream,
            force_terminal=True,
            width=shutil.get_terminal_size().columns,
            highlight=False,
            emoji=False,
        )
    return Console(
        file=stream,
        force_terminal=False,
        no_color=True,
        width=PLAIN_WIDTH,
        highlight=False,
        emoji=False,
        soft_wrap=True,
    )


def show(console: Console, line: str, style: str = "") -> None:
    """Print one line of a report as it is: names from the file made visible, no markup or emoji read into it.

    (A rich ``Text`` reads no markup either, but drops some control characters unseen: one is built only from text
    already made visible.)
    """
    console.print(Text(visible(line), style=style))


def without_trailing_spaces(text: str) -> str:
    """``text`` with no line ending in spaces (colour codes at a line's end stay)."""
    if "\x1b" not in text and " \n" not in text and "\t\n" not in text and not text.endswith((" ", "\t")):
        return text  # nothing to strip: a long plain report is spared the search
    return _TRAILING.sub(r"\1", text)
