"""The HTML report (``inspect MODEL --html FILE``): one self-contained page, written whole or not at all.

The page carries its styles, its small sorting script and its pictures (PNG ``data:`` URIs, inline SVG); it loads
nothing from anywhere, and the same input gives the same bytes (no time, stable order, PNGs without metadata).
It needs the ``html`` extra (Jinja2, Pillow), imported only when a page is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from inspector.errors import InspectorError
from inspector.report.atomic_file import atomic_file
from inspector.report.model_report import Report

EXTRA = "pip install 'conv-inspector[html]'"


def require_html_extra() -> None:
    """Raise ``InspectorError`` (one line naming the extra) unless Jinja2 and Pillow can be imported."""
    try:
        import jinja2  # noqa: F401
        import PIL.Image  # noqa: F401
    except ImportError as error:
        raise InspectorError(f"--html needs the html extra ({error.name} is missing): {EXTRA}") from None


def render_html(reports: Sequence[Report], *, read_weights: bool = True) -> str:
    """The page for ``reports``; ``read_weights`` False leaves the filter pictures out (``--no-weights``)."""
    require_html_extra()
    from inspector.report.html_page import render_page  # needs the extra

    return render_page(reports, read_weights=read_weights)


def write_html(reports: Sequence[Report], path: str | Path, *, read_weights: bool = True) -> None:
    """Write the page for ``reports`` to ``path`` whole or not at all (``InspectorError`` naming ``path`` when it
    cannot be written)."""
    text = render_html(reports, read_weights=read_weights)
    try:
        with atomic_file(path, "w") as stream:
            stream.write(text)
    except OSError as error:
        raise InspectorError(f"--html: cannot write {path}: {error.strerror or error}") from None
