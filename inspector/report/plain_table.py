"""Tables as lines of text: each column as wide as its widest cell, nothing wrapped, no line ending in spaces.

The look of ``rich``'s ``SIMPLE_HEAD`` box (a heading row, a rule, then the rows, columns three spaces apart),
drawn here because a rich table measures and renders every cell several times: 12,000 rows took it 45 s.  Cells
are strings or ``rich`` ``Text`` (which keeps its colour on a terminal).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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


_EMPTY: tuple[str, int, list[Span]] = ("", 0, [])


def _cell(cell: Cell) -> tuple[str, int, list[Span]]:
    """A cell's text, its width in terminal cells and its styles (spans from the cell's start)."""
    if isinstance(cell, str):
        if not cell:
            return _EMPTY
        return cell, len(cell) if cell.isascii() else cell_len(cell), []
    spans = [Span(0, len(cell.plain), cell.style), *cell.spans] if cell.style else list(cell.spans)
    return cell.plain, cell.cell_len, spans


def table_lines(columns: Sequence[Column], rows: Iterable[Sequence[Cell]], *, indent: int = 0) -> list[Text]:
    """The heading, a rule as wide as the table, and one line per row, each ``indent`` spaces in."""
    body = [[_cell(cell) for cell in row] for row in rows]
    widths = [max([len(column.heading)] + [row[index][1] for row in body]) for index, column in enumerate(columns)]
    margin = " " * indent
    rights = [column.right for column in columns]
    lines = [
        _line(margin, [_cell(column.heading) for column in columns], rights, widths),
        Text(margin + "─" * (sum(widths) + len(GAP) * (len(widths) - 1))),
    ]
    lines += [_line(margin, row, rights, widths) for row in body]
    return lines


def _line(margin: str, row: list[tuple[str, int, list[Span]]], rights: list[bool], widths: list[int]) -> Text:
    """One line of the table; a cell's styles move to where the cell lands."""
    parts = []
    spans: list[Span] = []
    offset = len(margin)
    for (plain, width, styles), right, column_width in zip(row, rights, widths, strict=True):
        size = column_width - width + len(plain)  # in characters: a wide character takes two cells
        if styles:
            start = offset + (size - len(plain) if right else 0)
            spans += [span.move(start) for span in styles]
        parts.append(plain.rjust(size) if right else plain.ljust(size) if plain else " " * size)
        offset += size + len(GAP)
    return Text((margin + GAP.join(parts)).rstrip(), spans=spans)


def print_lines(console: Console, lines: Sequence[Text]) -> None:
    """Print ``lines`` as they are: never wrapped or cropped, in colour on a terminal (plain text is written as is,
    which for a long table is many times faster than rich's rendering)."""
    if not lines:
        return
    if console.color_system is None:
        console.file.write("".join(f"{line.plain}\n" for line in lines))
        return
    console.print(Text("\n").join(lines), soft_wrap=True)
