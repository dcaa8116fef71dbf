"""Tables fit the terminal without cutting what identifies a row."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from outbound.cli.tables import show

ADDRESS = "katherine.montgomery-smith@waynedataservices.example"
REASON = "health: bounce rate 4.1% over 7d (3 of 73 sends), above 2%"


def _table() -> Table:
    table = Table(Column("mailbox", no_wrap=True), Column("sent", no_wrap=True), "reason", title="Mailboxes")
    table.add_row(ADDRESS, "12", REASON)
    table.add_row("sam@acme-mail.com", "3", "")
    return table


def _render(width: int) -> str:
    out = Console(width=width, record=True, color_system=None, soft_wrap=True)
    show(_table(), out)
    return out.export_text()


def test_a_table_that_fits_is_a_table_with_its_prose_wrapped_and_nothing_cut() -> None:
    text = _render(100)
    assert "┃ mailbox" in text and ADDRESS in text and "…" not in text
    assert all(len(line) <= 100 for line in text.splitlines())
    # the reason wraps at spaces within its column instead of being cut
    assert "bounce rate" in text and "above 2%" in text


def test_a_table_too_wide_for_the_terminal_is_stacked_row_by_row() -> None:
    text = _render(64)
    lines = text.splitlines()
    assert "┃" not in text and "…" not in text
    assert lines[0] == "Mailboxes"
    assert lines[1] == f"mailbox: {ADDRESS}"
    assert "  sent: 12" in lines and "  reason: health: bounce rate 4.1% over 7d (3 of 73 sends)," in lines
    assert "    above 2%" in lines  # a pair too long for one line goes on, indented
    assert "mailbox: sam@acme-mail.com" in lines and "  sent: 3" in lines  # an empty cell is left out
    assert all(len(line) <= 64 for line in lines)


def test_escaped_user_text_reads_as_written_in_both_forms() -> None:
    for width in (80, 20):
        table = Table(Column("value", no_wrap=True), "reason")
        table.add_row(escape("[bold]x@y.example"), escape("spam [complaint]"))
        out = Console(width=width, record=True, color_system=None)
        show(table, out)
        text = out.export_text()
        assert "[bold]x@y.example" in text and "[complaint]" in text, text
        assert ("┃" in text) == (width == 80)
