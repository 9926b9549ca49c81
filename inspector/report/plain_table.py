"""Tables as lines of text: each column as wide as its widest cell, nothing wrapped, no line ending in spaces.

The look of ``rich``'s ``SIMPLE_HEAD`` box (a heading row, a rule, then the rows, columns three spaces apart),
drawn here because a rich table measures and renders every cell several times: 12,000 rows took it 45 s.  Cells
are strings (made visible here) or ``rich`` ``Text`` (which keeps its colour on a terminal; built from text already
made visible, since a ``Text`` drops some control characters).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from rich.cells import cell_len
from rich.console import Console
from rich.text import Span, Text

from inspector.report.visible import visible

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


def _pad(column: Sequence[str], right: bool, heading: str) -> tuple[int, str, list[str]]:
    """The column's width in terminal cells (a wide character takes two; at least the heading's), its heading and
    every cell made visible and padded to that width; each distinct text is measured and padded once."""
    distinct = {heading, *column}
    printable = "".join(distinct).isprintable()  # one check in C for the common column of plain names
    shown = {text: text if printable else visible(text) for text in distinct}
    widths = {text: len(seen) if seen.isascii() else cell_len(seen) for text, seen in shown.items()}
    width = max(widths.values())
    if right:
        padded = {text: " " * (width - cells) + shown[text] for text, cells in widths.items()}
    else:
        padded = {text: shown[text] + " " * (width - cells) for text, cells in widths.items()}
    return width, padded[heading], [padded[text] for text in column]


def table_lines(
    columns: Sequence[Column], rows: Iterable[Sequence[Cell]], *, indent: int = 0, styled: bool = True
) -> list[Line]:
    """The heading, a rule as wide as the table, and one line per row, each ``indent`` spaces in.

    Built a column at a time (a table of 12,000 rows takes a tenth of a second); a ``Text`` cell's styles move to
    where the cell lands, unless not ``styled`` (plain lines, for a report without colour).
    """
    body = [list(row) for row in rows]
    cells: list[list[str]] = []
    styled_rows: set[int] = set()
    for column in zip(*body, strict=True):
        texts = [isinstance(cell, Text) for cell in column]
        if True in texts:
            styled_rows.update(r for r, text in enumerate(texts) if text)
            cells.append([cell.plain if text else cell for cell, text in zip(column, texts, strict=True)])
        else:
            cells.append(list(column))
    cells = cells or [[] for _ in columns]
    margin = " " * indent
    widths, headings, padded = zip(
        *(_pad(column, c.right, c.heading) for column, c in zip(cells, columns, strict=True)), strict=True
    )
    lines = [
        Line((margin + GAP.join(headings)).rstrip()),
        Line(margin + "─" * (sum(widths) + len(GAP) * (len(widths) - 1))),
    ]
    lines += [Line((margin + GAP.join(parts)).rstrip()) for parts in zip(*padded, strict=True)]
    rights = [c.right for c in columns]
    for r in sorted(styled_rows) if styled else ():
        spans = _spans(body[r], [column[r] for column in padded], rights, len(margin))
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
