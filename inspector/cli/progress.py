"""The progress bar of an ``inspect`` run: on stderr when it is a terminal, per layer while models are loaded,
analyzed and validated, gone when the run ends; nothing at all with ``--quiet`` or when stderr is not a terminal."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TextIO

from inspector.report.visible import visible

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

LayerProgress = Callable[[str, int, int], None]
"""Called as work goes on: what is being done (a layer's name), how many layers are done, and how many in all."""


NAME_WIDTH = 48
"""Characters of a layer's name shown on the bar."""


def _shown(name: str) -> str:
    """``name`` cut to ``NAME_WIDTH``, with characters that would drive the terminal written as escapes."""
    return visible(name if len(name) <= NAME_WIDTH else name[: NAME_WIDTH - 1] + "…")


class ProgressDisplay:
    """One bar per phase of each model (``loading``, ``validating``), redrawn in place on a terminal."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._task: TaskID | None = None

    def phase(self, description: str) -> LayerProgress | None:
        """Start a phase (ending the one before); returns its callback, or ``None`` when nothing is drawn."""
        progress = self._progress
        if progress is None:
            return None
        if self._task is not None:
            progress.remove_task(self._task)
        task = self._task = progress.add_task(description, total=None)

        def advance(layer: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total, description=f"{description}: {_shown(layer)}")

        return advance


@contextlib.contextmanager
def progress_display(stream: TextIO, *, quiet: bool = False) -> Iterator[ProgressDisplay]:
    """A :class:`ProgressDisplay` drawing on ``stream`` while the block runs, if ``stream`` is a terminal and not
    ``quiet``; the bar is erased at the end, so only the report stays."""
    if quiet or not stream.isatty():
        yield ProgressDisplay(None)
        return
    from rich.console import Console  # rich.progress only when a bar is drawn
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(file=stream), transient=True, redirect_stdout=False) as progress:
        yield ProgressDisplay(progress)
