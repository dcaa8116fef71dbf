"""Reading a suppression list for ``outbound suppress import FILE``.

Two layouts are accepted:
- a CSV whose header names an address column (email, e-mail, address...) and/or a domain column
  (domain, website...): every non-blank cell of those columns is an entry;
- a plain list, one entry per line (``#`` starts a comment): ``bob@acme.com`` suppresses an address,
  ``@acme.com`` a whole domain. Only the first cell of a line is read, so ``bob@x.com,2024-01-01``
  works. A bare ``acme.com`` is refused rather than guessed: write ``@acme.com`` for a domain.
In both, a value starting with ``@`` is a domain. Repeats are reported as ``duplicate`` errors.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from outbound.prospects.csv_source import ClosingIterator, Record, Table, open_table
from outbound.prospects.freemail import is_free_mail
from outbound.prospects.header import ALIASES
from outbound.prospects.normalise import normalise_domain, normalise_email, squash
from outbound.prospects.results import CODE_DUPLICATE, CODE_VALUE, RowError

Kind = Literal["address", "domain"]

_ADDRESS_HEADERS = {a for a, target in ALIASES.items() if target == "email"} | {
    "address",
    "emails",
    "recipient",
    "unsubscribed",
}
_DOMAIN_HEADERS = {a for a, target in ALIASES.items() if target == "company_domain"} | {
    "domains",
    "emaildomain",
}


@dataclass(frozen=True)
class SuppressionEntry:
    """One address or domain to suppress, from physical ``line``; ``warnings`` flag broad entries."""

    value: str
    kind: Kind
    line: int
    warnings: tuple[str, ...] = ()


SuppressionResult = SuppressionEntry | RowError


def _entry(text: str, line: int, raw: str, *, domain_column: bool) -> SuppressionResult:
    value = text.strip()
    if value.startswith("@") or domain_column:
        dom = normalise_domain(value.removeprefix("@"))
        if dom.value is None:
            return RowError(line, dom.reason, raw, CODE_VALUE)
        warnings: tuple[str, ...] = ()
        if is_free_mail(dom.value):
            warnings = (f"@{dom.value} suppresses every address at a free-mail provider",)
        return SuppressionEntry(dom.value, "domain", line, warnings)
    if "@" not in value and "." in value and " " not in value:
        return RowError(line, f"{value!r} has no @ (write @{value} to suppress a whole domain)", raw, CODE_VALUE)
    checked = normalise_email(value)
    if checked.value is None:
        return RowError(line, checked.reason, raw, CODE_VALUE)
    return SuppressionEntry(checked.value, "address", line)


def read_suppression_file(path: Path) -> ClosingIterator[SuppressionResult]:
    """Stream entries and per-line errors; raises ``ImportFileError`` (now) only if the file is unusable.

    The file is released when the results are exhausted or closed (they work as a context manager).
    """
    table = open_table(path, header=False)
    return ClosingIterator(_entries(table), table)


def _entries(table: Table) -> Generator[SuppressionResult, None, None]:
    seen: dict[tuple[str, str], int] = {}
    columns: list[tuple[int, bool]] | None = None  # (index, is_domain) in CSV layout
    try:
        for rec in table.rows:
            if isinstance(rec, RowError):
                yield rec
                continue
            if columns is None:
                columns = _header_columns(rec.cells)
                if columns:
                    continue  # that was the header
            for result in _row(rec, columns):
                if isinstance(result, SuppressionEntry):
                    key = (result.kind, result.value)
                    first = seen.setdefault(key, result.line)
                    if first != result.line:
                        yield RowError(rec.line, f"duplicate of line {first} ({result.value})", rec.raw, CODE_DUPLICATE)
                        continue
                yield result
    finally:
        table.close()


def _header_columns(cells: list[str]) -> list[tuple[int, bool]]:
    found: list[tuple[int, bool]] = []
    for i, name in enumerate(cells):
        key = squash(name)
        if key in _ADDRESS_HEADERS:
            found.append((i, False))
        elif key in _DOMAIN_HEADERS:
            found.append((i, True))
    return found


def _row(rec: Record, columns: list[tuple[int, bool]]) -> list[SuppressionResult]:
    cells = rec.cells
    if not columns:  # plain list: the first non-blank cell
        first = next(c for c in cells if c.strip()).strip()
        if first.startswith("#"):
            return []
        return [_entry(first, rec.line, rec.raw, domain_column=False)]
    out: list[SuppressionResult] = []
    for index, is_domain in columns:
        if index < len(cells) and cells[index].strip():
            out.append(_entry(cells[index], rec.line, rec.raw, domain_column=is_domain))
    if not out:
        out.append(RowError(rec.line, "no address or domain on this row", rec.raw, CODE_VALUE))
    return out
