"""Tables as lines of text: each column as wide as its widest cell, nothing wrapped, no line ending in spaces.

The look of ``rich``'s ``SIMPLE_HEAD`` box (a heading row, a rule, then the rows, columns three spaces apart),
drawn here because a rich table measures and renders every cell several times: 12,000 rows took it 45 s.  Cells
are strings or ``rich`` ``Text`` (which keeps its colour on a terminal).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from rich.cells import cell_len
from rich.console import Console
from rich.text import Span, Text

GAP = "   "
"""Between two columns."""

Cell = str | Text


@dataclass(frozen=True, slots=True)
class Column:
    """A column's heading, and whether its cells are right-aligned (numbers)."""

    heading: str
    right: bool = False


class Line(NamedTuple):
    """One line of a table: its text, and the styles of its coloured cells (applied on a terminal only)."""

    text: str
    spans: tuple[Span, ...] = ()


def _pad(column: list[str], width: int, right: bool) -> list[str]:
    """Every cell of a column as ``width`` terminal cells (a wide character takes two)."""
    if right:
        return [p.rjust(width) if p.isascii() else p.rjust(width - cell_len(p) + len(p)) for p in column]
    return [p.ljust(width) if p.isascii() else p.ljust(width - cell_len(p) + len(p)) for p in column]


def _width(text: str) -> int:
    return len(text) if text.isascii() else cell_len(text)


def table_lines(columns: Sequence[Column], rows: Iterable[Sequence[Cell]], *, indent: int = 0) -> list[Line]:
    """The heading, a rule as wide as the table, and one line per row, each ``indent`` spaces in.

    Built a column at a time (a table of 12,000 rows takes a tenth of a second); a ``Text`` cell's styles move to
    where the cell lands.
    """
    body = [list(row) for row in rows]
    cells = [[cell.plain if isinstance(cell, Text) else cell for cell in column] for column in zip(*body, strict=True)]
    cells = cells or [[] for _ in columns]
    widths = [max([len(c.heading), *map(_width, column)]) for c, column in zip(columns, cells, strict=True)]
    margin = " " * indent
    padded = [_pad(column, width, c.right) for column, width, c in zip(cells, widths, columns, strict=True)]
    heading = GAP.join(_pad([c.heading], width, c.right)[0] for c, width in zip(columns, widths, strict=True))
    lines = [
        Line((margin + heading).rstrip()),
        Line(margin + "─" * (sum(widths) + len(GAP) * (len(widths) - 1))),
    ]
    lines += [Line((margin + GAP.join(parts)).rstrip()) for parts in zip(*padded, strict=True)]
    rights = [c.right for c in columns]
    for r, row in enumerate(body):
        if any(isinstance(cell, Text) for cell in row):
            spans = _spans(row, [column[r] for column in padded], rights, len(margin))
            lines[r + 2] = Line(lines[r + 2].text, spans)
    return lines


def _spans(row: Sequence[Cell], padded: list[str], rights: list[bool], offset: int) -> tuple[Span, ...]:
    """The styles of a row's ``Text`` cells, moved to where each cell's text lands in the line."""
    spans: list[Span] = []
    for cell, text, right in zip(row, padded, rights, strict=True):
        if isinstance(cell, Text):
            start = offset + (len(text) - len(cell.plain) if right else 0)
            if cell.style:
                spans.append(Span(start, start + len(cell.plain), cell.style))
            spans += [span.move(start) for span in cell.spans]
        offset += len(text) + len(GAP)
    return tuple(spans)


def print_lines(console: Console, lines: Sequence[Line]) -> None:
    """Print ``lines`` as they are: never wrapped or cropped, in colour on a terminal (plain text is written as is,
    which for a long table is many times faster than rich's rendering)."""
    if not lines:
        return
    if console.color_system is None:
        console.file.write("".join(f"{line.text}\n" for line in lines))
        return
    console.print(Text("\n").join(Text(line.text, spans=list(line.spans)) for line in lines), soft_wrap=True)
