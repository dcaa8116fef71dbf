"""Tables that fit the terminal: a table when its columns fit, one block per row when they do not.

Left to itself, Rich squeezes a wide table into the terminal by cutting cells ("jordan@a…"): an
address, a time or a pause reason cut short is worse than none. Here a column made with
``no_wrap=True`` (addresses, times, file names, counts) is never narrower than its widest cell, a
prose column (subjects, reasons, notes) wraps at spaces, and when even that does not fit, each row
is printed as a block: its first cell, then ``header: value`` pairs packed into the width.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console
from rich.padding import Padding
from rich.table import Column, Table
from rich.text import Text

from outbound.cli.context import console

PROSE_MIN = 12  # a prose column narrower than this reads as a word list
PROSE_MAX_WORD = 24  # a longer word in prose (a URL) may fold rather than widen its column


def show(table: Table, out: Console = console, *, whole_words: bool = False) -> None:
    """Print ``table`` as a table if every column gets the width it needs, else row by row.
    ``whole_words``: prose whose long words are names (hosts, records) gets the width of its
    longest word too, so none is folded mid-name; rows are stacked sooner."""
    needs = [_need(out, column, whole_words) for column in table.columns]
    for column, need in zip(table.columns, needs, strict=True):
        column.min_width = need
        column.overflow = "fold"  # what does not fit goes to the next line, never to an ellipsis
    if sum(needs) + _frame(table) <= out.width:
        _share(out, table, needs)
        out.print(table)
    else:
        _stack(out, table)


def _share(out: Console, table: Table, needs: list[int]) -> None:
    """Fixes the prose columns' widths when the table is wider than the terminal: each gets its need
    and a share of the rest in proportion to what more it would take. (Rich's own squeeze narrows
    every column, then widens the fixed ones back to their minimum, and can overflow the terminal.)"""
    room = out.width - _frame(table)
    natural = [max(need, *(cell_len(line) for c in column.cells for line in _text(out, c).plain.splitlines()),
                   cell_len(_text(out, column.header).plain)) for column, need in zip(table.columns, needs, strict=True)]
    if sum(natural) <= room:
        return
    prose = [i for i, column in enumerate(table.columns) if not column.no_wrap]
    spare = room - sum(needs)
    wants = sum(natural[i] - needs[i] for i in prose)
    for i in prose:
        extra = spare * (natural[i] - needs[i]) // wants if wants else 0
        table.columns[i].width = needs[i] + extra


def _frame(table: Table) -> int:
    """Columns of the terminal a table takes beyond its cells: padding, separators and edges."""
    _, right, _, left = Padding.unpack(table.padding)
    n = len(table.columns)
    edges = (2 if table.show_edge else 0) + (n - 1) if table.box else 0
    return n * (left + right) + edges


def _text(out: Console, cell: object) -> Text:
    if isinstance(cell, Text):
        return cell
    return out.render_str(str(cell)) if isinstance(cell, str) else Text(str(cell))


def _need(out: Console, column: Column, whole_words: bool = False) -> int:
    header = _text(out, column.header).plain
    cells = [_text(out, c).plain for c in column.cells]
    if column.no_wrap:
        return max([cell_len(header), *(cell_len(line) for c in cells for line in c.splitlines() or [""])])
    words = [w for c in [header, *cells] for w in c.split()]
    longest = max((cell_len(w) for w in words), default=0)
    return max(PROSE_MIN if cells else 0, longest if whole_words else min(PROSE_MAX_WORD, longest))


def _stack(out: Console, table: Table) -> None:
    if table.title:
        out.print(_text(out, table.title), style="italic", soft_wrap=False)
    headers = [_text(out, c.header).plain for c in table.columns]
    columns = [list(c.cells) for c in table.columns]
    indent = "  "
    for row in range(table.row_count):
        cells = [_text(out, column[row]) for column in columns]
        head = cells[0].copy()
        head.stylize("bold")
        out.print(Text.assemble((f"{headers[0]}: " if headers[0] else "", "dim"), head), soft_wrap=False)
        pairs = [Text.assemble((f"{name}: " if name else "", "dim"), cell)
                 for name, cell in zip(headers[1:], cells[1:], strict=True) if cell.plain]
        line = Text()
        for pair in pairs:
            fits = len(indent) + cell_len(line.plain) + 3 + cell_len(pair.plain) <= out.width
            if line.plain and not fits:
                _hanging(out, line, indent)
                line = Text()
            if line.plain:
                line.append(" · ", style="dim")
            line.append_text(pair)
        if line.plain:
            _hanging(out, line, indent)


def _hanging(out: Console, text: Text, indent: str) -> None:
    """Print ``text`` wrapped at the terminal's width, indented, continuation lines indented further."""
    rest = indent * 2
    for i, line in enumerate(text.wrap(out, max(20, out.width - len(rest)))):
        line.rstrip()
        out.print(Text(indent if i == 0 else rest) + line, soft_wrap=True)
