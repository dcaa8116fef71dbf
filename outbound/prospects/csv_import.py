"""Reading a prospect CSV into ``ProspectData`` rows, streaming, one result per data row.

Choices (documented for the CLI help):
- Duplicates: the first row with an address wins; later ones are skipped as ``duplicate`` errors
  naming the first line (the only choice that streams).
- Short rows are padded with blanks (with a warning); long rows whose extra cells are blank are
  accepted, otherwise skipped: the values are probably shifted by an unquoted delimiter.
- A row's own ``source`` wins over the ``source`` argument (the CLI's ``--source``).
- ``company_domain`` falls back to the address's domain unless that is a free-mail provider.
- Invalid time zones and company domains are dropped with a warning; over-long values are cut with one.
  Each warning says what the prospect got instead, and the error report lists these rows too.
"""

from __future__ import annotations

import csv
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from pathlib import Path

from outbound.prospects.csv_source import ClosingIterator, Record, Table, open_table
from outbound.prospects.errors import ImportFileError
from outbound.prospects.freemail import is_free_mail
from outbound.prospects.header import FULL_NAME, HeaderMapping, map_header
from outbound.prospects.normalise import (
    clean_text,
    normalise_company_domain,
    normalise_email,
    normalise_timezone,
)
from outbound.prospects.results import (
    CODE_DUPLICATE,
    CODE_EMAIL,
    CODE_SHAPE,
    WARN_COMPANY_DOMAIN,
    WARN_CUT,
    WARN_ROLE,
    WARN_SHORT_ROW,
    WARN_TIMEZONE,
    ParsedRow,
    RowError,
    RowResult,
    RowWarning,
)
from outbound.prospects.values import ProspectData

MAX_NAME_CHARS = 200  # names, company, title, source
MAX_CUSTOM_CHARS = 2000  # custom fields (may hold several lines)
_TEXT_FIELDS = ("first_name", "last_name", "company", "title", "source", "vendor")


@dataclass(frozen=True)
class ProspectFile:
    """What a preview shows before importing: how the file was read and where each column goes."""

    path: Path
    encoding: str
    delimiter: str
    header_line: int
    header: tuple[str, ...]
    mapping: HeaderMapping


def _mapping(table: Table, path: Path) -> HeaderMapping:
    mapping = map_header(table.header)
    if not mapping.has_email:
        found = ", ".join(repr(n) for n in table.header[:30]) or "none"
        hint = ""
        if any("@" in n for n in table.header):
            hint = " The first row looks like data: the file needs a header row naming its columns."
        raise ImportFileError(
            path, f"no email column (expected a header like 'email' or 'Email Address'); found: {found}.{hint}"
        )
    return mapping


def _describe(table: Table, path: Path) -> ProspectFile:
    mapping = _mapping(table, path)
    return ProspectFile(path, table.encoding, table.delimiter, table.header_line, tuple(table.header), mapping)


def inspect_prospect_file(path: Path) -> ProspectFile:
    """Read just the header; raises ``ImportFileError`` if the file is unusable or has no email column."""
    with open_table(path) as table:
        return _describe(table, path)


class ProspectRows(ClosingIterator[RowResult]):
    """The results of ``read_prospects``, plus ``info`` (encoding, delimiter, column mapping)."""

    def __init__(self, info: ProspectFile, results: Generator[RowResult, None, None], table: Table) -> None:
        super().__init__(results, table)
        self.info = info


def read_prospects(path: Path, *, source: str | None = None, default_timezone: str | None = None) -> ProspectRows:
    """Stream one ``ParsedRow`` or ``RowError`` per data row of ``path``, in file order.

    File-level problems raise ``ImportFileError`` here, before iteration starts; rows never raise.
    The file is released when the results are exhausted or closed (``with read_prospects(p) as rows``).
    Memory stays bounded apart from the set of addresses seen (for de-duplication).
    ``default_timezone`` (config's) is named in the warning of a row whose time zone is dropped.
    """
    table = open_table(path)
    try:
        info = _describe(table, path)
    except BaseException:
        table.close()
        raise
    builder = _RowBuilder(info.mapping, table.delimiter, source, default_timezone)
    return ProspectRows(info, _rows(table, builder), table)


def _rows(table: Table, builder: _RowBuilder) -> Generator[RowResult, None, None]:
    seen: dict[str, int] = {}
    with table:
        for rec in table.rows:
            if isinstance(rec, RowError):
                yield rec
                continue
            result = builder.build(rec)
            if isinstance(result, ParsedRow):
                email = result.prospect.email
                first = seen.setdefault(email, rec.line)
                if first != rec.line:
                    yield RowError(rec.line, f"duplicate of line {first} ({email})", rec.raw, CODE_DUPLICATE)
                    continue
            yield result


class _RowBuilder:
    """Turns one record into a result; holds the column lookups computed once from the header."""

    def __init__(self, mapping: HeaderMapping, delimiter: str, source: str | None,
                 default_timezone: str | None = None) -> None:
        self.width = mapping.width
        self.delimiter = delimiter
        self.source = source
        self.email = mapping.sources("email")
        # Only the fields the file has, so absent ones cost nothing per row.
        self.text = [(name, cols) for name in _TEXT_FIELDS if (cols := mapping.sources(name))]
        self.domain = mapping.sources("company_domain")
        self.timezone = mapping.sources("timezone")
        self.full_name = mapping.sources(FULL_NAME)
        self.custom = mapping.custom
        default = f", else default_timezone {default_timezone}" if default_timezone else ", else default_timezone"
        self.no_zone = f"no time zone (sends follow the sequence window's zone or its fallback_timezone{default})"

    def build(self, rec: Record) -> RowResult:
        cells = rec.cells
        warnings: list[RowWarning] = []
        if len(cells) != self.width:
            if len(cells) > self.width:
                if any(c.strip() for c in cells[self.width :]):
                    return RowError(
                        rec.line,
                        f"row has {len(cells)} cells but the header has {self.width}"
                        f" (a value with an unquoted {self.delimiter!r}?)",
                        rec.raw,
                        CODE_SHAPE,
                    )
            else:
                warnings.append(RowWarning(WARN_SHORT_ROW, f"row has {len(cells)} of {self.width} cells",
                                           "blank values for the missing cells"))
                cells = cells + [""] * (self.width - len(cells))

        checked = normalise_email(_first(cells, self.email))
        email = checked.value
        if email is None:
            return RowError(rec.line, checked.reason, rec.raw, CODE_EMAIL)
        warnings.extend(RowWarning(WARN_ROLE, w, "the address as given") for w in checked.warnings)

        text: dict[str, str] = {}
        for name, columns in self.text:
            raw = _first(cells, columns)
            if raw:
                value, cut = clean_text(raw, MAX_NAME_CHARS, single_line=True)
                if cut:
                    warnings.append(_cut(name, MAX_NAME_CHARS))
                if value:
                    text[name] = value
        if self.full_name and "first_name" not in text and "last_name" not in text:
            full, cut = clean_text(_first(cells, self.full_name), MAX_NAME_CHARS, single_line=True)
            if cut:
                warnings.append(_cut("name", MAX_NAME_CHARS))
            _split_name(full, text)

        company_domain = None
        raw_domain = _first(cells, self.domain) if self.domain else ""
        dropped = None
        if raw_domain:
            dom = normalise_company_domain(raw_domain)
            if dom.value is None:
                dropped = dom.reason
            company_domain = dom.value
        if company_domain is None:
            domain = email.rpartition("@")[2]
            if not is_free_mail(domain):
                company_domain = domain
        if dropped is not None:
            used = f"{company_domain}, the address's domain" if company_domain else "none (a free-mail address)"
            warnings.append(RowWarning(WARN_COMPANY_DOMAIN, f"company_domain dropped: {dropped}", used))

        timezone = None
        raw_tz = _first(cells, self.timezone) if self.timezone else ""
        if raw_tz:
            tz = normalise_timezone(raw_tz)
            if tz.value is None:
                warnings.append(RowWarning(WARN_TIMEZONE, f"timezone dropped: {tz.reason}", self.no_zone))
            timezone = tz.value

        fields: dict[str, object] = {}
        for key, index in self.custom:
            raw = cells[index]
            if raw:
                value, cut = clean_text(raw, MAX_CUSTOM_CHARS, single_line=False)
                if value:
                    fields[key] = value
                    if cut:
                        warnings.append(_cut(key, MAX_CUSTOM_CHARS))

        prospect = ProspectData(
            email=email,
            first_name=text.get("first_name"),
            last_name=text.get("last_name"),
            company=text.get("company"),
            company_domain=company_domain,
            title=text.get("title"),
            timezone=timezone,
            source=text.get("source") or self.source,
            vendor=text.get("vendor"),
            fields=fields,
        )
        return ParsedRow(rec.line, prospect, tuple(warnings), rec.raw if warnings else "")


def _cut(name: str, limit: int) -> RowWarning:
    return RowWarning(WARN_CUT, f"{name} cut to {limit} characters", f"its first {limit} characters")


def _first(cells: list[str], columns: tuple[int, ...]) -> str:
    """The first non-blank cell among ``columns`` (fallback columns fill in for blank ones)."""
    value = cells[columns[0]]
    if len(columns) > 1 and not value.strip():
        for i in columns[1:]:
            if cells[i].strip():
                return cells[i]
    return value


def _split_name(full: str, into: dict[str, str]) -> None:
    """'Ada Lovelace' -> Ada, Lovelace; 'Lovelace, Ada' -> Ada, Lovelace; 'Ada' -> first name only."""
    if "," in full:
        last, _, first = full.partition(",")
    else:
        first, _, last = full.partition(" ")
    if first.strip():
        into["first_name"] = first.strip()
    if last.strip():
        into["last_name"] = last.strip()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe_cell(text: str) -> str:
    # Spreadsheets run cells starting with these as formulas; the report is meant to be opened in one.
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_error_report(results: Iterable[RowResult], path: Path) -> int:
    """Write the skipped rows and the rows imported with a warning among ``results`` to a CSV (line, code,
    reason, used_instead, raw), in the order given; returns how many lines it wrote.

    UTF-8 with BOM so spreadsheet programs detect the encoding; rows without a warning are ignored so the
    whole result stream can be passed. A skipped row's ``used_instead`` is "skipped (not imported)".
    """
    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["line", "code", "reason", "used_instead", "raw"])
        for result in results:
            raw = _safe_cell(result.raw.rstrip("\r\n"))
            if isinstance(result, RowError):
                writer.writerow([result.line, result.code, _safe_cell(result.reason), SKIPPED, raw])
                count += 1
            elif isinstance(result, ParsedRow):
                for w in result.warnings:
                    writer.writerow([result.line, w.code, _safe_cell(w.message), _safe_cell(w.used), raw])
                    count += 1
    return count


SKIPPED = "skipped (not imported)"
