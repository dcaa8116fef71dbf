"""Streaming a delimited text file as records numbered by physical line, whatever its bytes.

Decoding is ``decoding.py``'s job; here control characters (NULs included) are dropped, the delimiter
is sniffed, and over-long lines or unclosed quotes become per-row errors. Bad input never raises
except for file-level problems (``ImportFileError``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from outbound.prospects.decoding import MAGIC, decoding_errors, detect_encoding
from outbound.prospects.errors import ImportFileError
from outbound.prospects.results import CODE_MALFORMED, CODE_TOO_LONG, RowError

MAX_LINE_CHARS = 65_536  # longer physical lines are skipped whole
MAX_RECORD_LINES = 200  # a record spanning more lines is taken for an unclosed quote
MAX_RECORD_CHARS = 120_000  # stays under csv.field_size_limit() (131072) so csv never raises on size
SNIFF_LINES = 50
DELIMITERS = (",", ";", "\t", "|")

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class _RecordTooLong(Exception):
    pass


class PhysicalLines:
    """Numbered physical lines with push-back, a per-line cap, and accounting of the current record.

    ``csv.reader`` pulls from this one line at a time, so after each record ``record`` holds exactly the
    lines it was made of. Over-long lines are swallowed whole and replaced by a blank line; their numbers
    are collected in ``too_long``.
    """

    def __init__(self, stream: io.TextIOBase) -> None:
        self._stream = stream
        self._pending: list[tuple[int, str]] = []  # a stack: the next line is at the end
        self._next_no = 1
        self.record: list[tuple[int, str]] = []
        self.record_chars = 0
        self.eof_in_record = False
        self.too_long: list[int] = []

    def _fetch(self) -> tuple[int, str] | None:
        if self._pending:
            return self._pending.pop()
        text = self._stream.readline(MAX_LINE_CHARS)
        if not text:
            return None
        no = self._next_no
        self._next_no += 1
        if len(text) >= MAX_LINE_CHARS and not text.endswith(("\n", "\r")):
            while True:  # drop the rest of the line without holding it
                more = self._stream.readline(MAX_LINE_CHARS)
                if not more or more.endswith(("\n", "\r")):
                    break
            self.too_long.append(no)
            return no, "\n"
        if _CONTROL.search(text):
            text = _CONTROL.sub("", text)
        return no, text

    def __iter__(self) -> PhysicalLines:
        return self

    def __next__(self) -> str:
        item = self._fetch()
        if item is None:
            self.eof_in_record = bool(self.record)
            raise StopIteration
        self.record.append(item)
        self.record_chars += len(item[1])
        if len(self.record) > MAX_RECORD_LINES or self.record_chars > MAX_RECORD_CHARS:
            raise _RecordTooLong
        return item[1]

    def start_record(self) -> None:
        self.record = []
        self.record_chars = 0
        self.eof_in_record = False

    def push_back(self, items: list[tuple[int, str]]) -> None:
        self._pending.extend(reversed(items))

    def drop(self, count: int) -> None:
        for _ in range(count):
            self._fetch()

    def sample(self, max_lines: int) -> list[str]:
        """Up to ``max_lines`` lines, left in place for the real read."""
        got: list[tuple[int, str]] = []
        while len(got) < max_lines:
            item = self._fetch()
            if item is None:
                break
            got.append(item)
        self.push_back(got)
        return [text for _, text in got]


@dataclass(frozen=True)
class Record:
    line: int  # physical line the record starts on
    cells: list[str]
    raw: str


def _unclosed(first: tuple[int, str]) -> RowError:
    return RowError(first[0], "a quoted value opened on this line is never closed", first[1], CODE_MALFORMED)


def records(lines: PhysicalLines, delimiter: str) -> Iterator[Record | RowError]:
    """Records of the stream; blank ones are skipped, unparseable ones become ``RowError``."""

    def reader() -> Iterator[list[str]]:
        return csv.reader(lines, delimiter=delimiter, strict=False)

    rows = reader()
    while True:
        lines.start_record()
        try:
            cells = next(rows)
        except StopIteration:
            break
        except _RecordTooLong:
            # Probably a stray quote: report its line and read on from the line after it.
            yield _unclosed(lines.record[0])
            lines.push_back(lines.record[1:])
            rows = reader()
            continue
        except csv.Error as exc:
            first = lines.record[0] if lines.record else (0, "")
            yield RowError(first[0], f"unreadable CSV row: {exc}", first[1], CODE_MALFORMED)
            rows = reader()
            continue
        rec = lines.record
        if lines.eof_in_record:  # the file ended inside a quoted value
            yield _unclosed(rec[0])
            lines.push_back(rec[1:])
            rows = reader()
            continue
        last = rec[-1][0] if rec else 0
        if lines.too_long and lines.too_long[0] <= last:
            inside = [n for n in lines.too_long if n <= last]
            del lines.too_long[: len(inside)]
            reason = f"line longer than {MAX_LINE_CHARS} characters"
            if len(rec) > 1:  # the long line was inside a quoted value: the whole row goes
                yield RowError(rec[0][0], f"row contains a {reason}", rec[0][1], CODE_TOO_LONG)
            for n in inside:
                yield RowError(n, reason, "", CODE_TOO_LONG)
            if len(rec) > 1:
                continue
        if not any(c.strip() for c in cells):
            continue
        yield Record(rec[0][0], cells, "".join(text for _, text in rec))


def sniff_delimiter(sample: list[str]) -> str:
    """The candidate that splits the first record into most columns, consistently in later rows."""
    best, best_score = ",", (False, 0.0, 0)
    for delim in DELIMITERS:
        try:
            parsed = [r for r in csv.reader(sample, delimiter=delim) if any(c.strip() for c in r)]
        except csv.Error:
            continue
        if not parsed:
            continue
        width = len(parsed[0])
        rest = parsed[1:-1] if len(parsed) > 2 else parsed[1:]  # the last may be cut by the sample
        if width == 1:  # this delimiter splits nothing: leave the default
            continue
        same = sum(1 for r in rest if len(r) == width) / len(rest) if rest else 1.0
        score = (width > 1, same, width)
        if score > best_score:
            best, best_score = delim, score
    return best


T = TypeVar("T")


class ClosingIterator(Iterator[T]):
    """Results streamed from an open file; exhausting, ``close()`` or a ``with`` block releases it."""

    def __init__(self, results: Generator[T, None, None], table: Table) -> None:
        self._results = results
        self._table = table

    def __next__(self) -> T:
        return next(self._results)

    def close(self) -> None:
        self._results.close()
        self._table.close()

    def __enter__(self) -> ClosingIterator[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Table:
    """An open file: how it was decoded and split, its header, and its remaining records."""

    encoding: str
    delimiter: str
    header: list[str]
    header_line: int
    rows: Iterator[Record | RowError]
    _raw: BinaryIO

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_binary(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except IsADirectoryError:
        raise ImportFileError(path, "is a folder, not a file") from None
    except FileNotFoundError:
        raise ImportFileError(path, "no such file") from None
    except OSError as exc:
        raise ImportFileError(path, f"cannot be read ({exc.strerror or exc})") from None


def open_table(path: Path, *, header: bool = True) -> Table:
    """Open ``path`` for streaming; the first non-blank record is the header when ``header`` is set.

    Raises ``ImportFileError`` now for file-level problems. Without ``header``, ``Table.header`` is
    empty and every record is in ``rows``. The caller closes the table (it is a context manager).
    """
    raw = _open_binary(path)
    try:
        return _start(path, raw, header)
    except BaseException:
        raw.close()
        raise


def _start(path: Path, raw: BinaryIO, header: bool) -> Table:
    try:
        head = raw.read(8192)
        raw.seek(0)
    except OSError as exc:
        raise ImportFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not head:
        raise ImportFileError(path, "the file is empty (0 bytes)")
    for magic, what in MAGIC.items():
        if head.startswith(magic):
            raise ImportFileError(path, f"this is {what}, not a text file")
    encoding = detect_encoding(head)
    stream = io.TextIOWrapper(raw, encoding=encoding, errors=decoding_errors(encoding), newline="")
    lines = PhysicalLines(stream)
    try:
        sample = lines.sample(SNIFF_LINES)
    except UnicodeError as exc:  # e.g. a UTF-32 BOM followed by bytes that are not UTF-32
        raise ImportFileError(path, f"cannot be decoded as {encoding}: {exc}") from None
    delimiter = _excel_sep_line(lines, sample) or sniff_delimiter(sample)
    rows = records(lines, delimiter)
    if not header:
        return Table(encoding, delimiter, [], 0, rows, raw)
    first = next(rows, None)
    if first is None:
        raise ImportFileError(path, "the file has no header row (it holds no text)")
    if isinstance(first, RowError):
        raise ImportFileError(path, f"the header row (line {first.line}) cannot be read: {first.reason}")
    names = [c.strip().lstrip("\ufeff").strip() for c in first.cells]
    return Table(encoding, delimiter, names, first.line, rows, raw)


def _excel_sep_line(lines: PhysicalLines, sample: list[str]) -> str | None:
    """Excel's ``sep=;`` first line names the delimiter; consume it (and any blank lines before it)."""
    index = next((i for i, text in enumerate(sample) if text.strip()), None)
    if index is None:
        return None
    m = re.fullmatch(r"\s*sep=([^\r\n\"])\s*", sample[index], flags=re.IGNORECASE)
    if m is None:
        return None
    lines.drop(index + 1)
    return m.group(1)
