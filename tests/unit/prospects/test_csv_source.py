"""Decoding, delimiter sniffing and physical line numbering of the low-level reader."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from outbound.prospects import csv_source
from outbound.prospects.csv_source import Record, open_table, sniff_delimiter
from outbound.prospects.decoding import detect_encoding
from outbound.prospects.errors import ImportFileError
from outbound.prospects.results import RowError


def _write(tmp_path: Path, data: bytes, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _all(path: Path) -> list[Record | RowError]:
    with open_table(path) as table:
        return list(table.rows)


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (codecs.BOM_UTF8 + b"email\n", "utf-8-sig"),
        ("email\n".encode("utf-16"), "utf-16"),
        ("email\n".encode("utf-32"), "utf-32"),
        ("email,name\n".encode("utf-16-le"), "utf-16-le"),
        ("email,name\n".encode("utf-16-be"), "utf-16-be"),
        (b"email,name\n", "utf-8"),
        ("é".encode("cp1252"), "utf-8"),
    ],
)
def test_encoding_detection(data: bytes, encoding: str) -> None:
    assert detect_encoding(data) == encoding


@pytest.mark.parametrize(
    ("encoding", "codec"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("utf-16", "utf-16"),
        ("utf-16-le", "utf-16-le"),
        ("cp1252", "utf-8"),
    ],
)
def test_each_encoding_reads_the_same_text(tmp_path: Path, encoding: str, codec: str) -> None:
    text = "email,name\r\nrene@cafe.fr,René Café\r\n"
    path = _write(tmp_path, text.encode(encoding))
    with open_table(path) as table:
        assert table.encoding == codec
        assert table.header == ["email", "name"]
        rows = list(table.rows)
    assert [(r.line, r.cells) for r in rows if isinstance(r, Record)] == [(2, ["rene@cafe.fr", "René Café"])]


def test_invalid_utf8_bytes_fall_back_to_cp1252_per_byte(tmp_path: Path) -> None:
    path = _write(tmp_path, "email,name\nzoë@x.fr,Zoë\n".encode() + b"a@x.fr,Jos\xe9 \x93Pepe\x94\n")
    rows = _all(path)
    assert [r.cells for r in rows if isinstance(r, Record)] == [["zoë@x.fr", "Zoë"], ["a@x.fr", "José “Pepe”"]]


def test_nul_and_control_bytes_are_dropped(tmp_path: Path) -> None:
    path = _write(tmp_path, b"em\x00ail,name\na@x.fr,A\x00n\x01n\x7f\n")
    with open_table(path) as table:
        assert table.header == ["email", "name"]
        rows = list(table.rows)
    assert isinstance(rows[0], Record)
    assert rows[0].cells == ["a@x.fr", "Ann"]


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("email,name\na@x.fr,A\n", ","),
        ('email;name;company\na@x.fr;A;"X, Inc"\n', ";"),
        ("email\tname\na@x.fr\tA, B\n", "\t"),
        ("email|name\na@x.fr|A\n", "|"),
        ("email\na@x.fr\n", ","),
        ("name,email;x\nA,a@x.fr;1\nB,b@x.fr;2\n", ","),
    ],
)
def test_delimiter_sniffing(text: str, delimiter: str) -> None:
    assert sniff_delimiter(text.splitlines(keepends=True)) == delimiter


def test_excel_sep_line_sets_the_delimiter_and_is_skipped(tmp_path: Path) -> None:
    path = _write(tmp_path, b"sep=;\r\nemail;name,with comma\r\na@x.fr;A,B\r\n")
    with open_table(path) as table:
        assert table.delimiter == ";"
        assert table.header == ["email", "name,with comma"]
        assert table.header_line == 2
        rows = list(table.rows)
    assert isinstance(rows[0], Record) and rows[0].line == 3


def test_physical_line_numbers_survive_quoted_newlines_and_blank_lines(tmp_path: Path) -> None:
    text = '\n\nemail,notes\r\na@x.fr,"one\r\ntwo\r\nthree"\r\n\r\nb@x.fr,plain\r\nc@x.fr,"x\ny"\n'
    path = _write(tmp_path, text.encode())
    with open_table(path) as table:
        assert table.header_line == 3
        rows = list(table.rows)
    assert [(r.line, r.cells[0]) for r in rows if isinstance(r, Record)] == [
        (4, "a@x.fr"),
        (8, "b@x.fr"),
        (9, "c@x.fr"),
    ]
    assert isinstance(rows[0], Record) and rows[0].raw == 'a@x.fr,"one\r\ntwo\r\nthree"\r\n'


def test_old_mac_line_endings(tmp_path: Path) -> None:
    path = _write(tmp_path, b"email,name\ra@x.fr,A\rb@x.fr,B\r")
    assert [(r.line, r.cells) for r in _all(path) if isinstance(r, Record)] == [
        (2, ["a@x.fr", "A"]),
        (3, ["b@x.fr", "B"]),
    ]


def test_unclosed_quote_mid_file_is_reported_and_reading_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_source, "MAX_RECORD_LINES", 5)
    lines = ["email,notes\n", 'a@x.fr,"oops\n'] + [f"r{i}@x.fr,ok\n" for i in range(10)]
    path = _write(tmp_path, "".join(lines).encode())
    rows = _all(path)
    assert isinstance(rows[0], RowError)
    assert (rows[0].line, rows[0].code) == (2, "malformed")
    assert "never closed" in rows[0].reason
    assert [(r.line, r.cells[0]) for r in rows[1:] if isinstance(r, Record)] == [
        (i + 3, f"r{i}@x.fr") for i in range(10)
    ]


def test_unclosed_quote_at_end_of_file(tmp_path: Path) -> None:
    path = _write(tmp_path, b'email,notes\na@x.fr,"oops\nb@x.fr,fine\nc@x.fr,fine')
    rows = _all(path)
    assert isinstance(rows[0], RowError) and rows[0].line == 2
    assert [(r.line, r.cells) for r in rows[1:] if isinstance(r, Record)] == [
        (3, ["b@x.fr", "fine"]),
        (4, ["c@x.fr", "fine"]),
    ]


def test_overlong_lines_are_skipped_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_source, "MAX_LINE_CHARS", 100)
    data = "email,notes\na@x.fr,short\nb@x.fr," + "x" * 1000 + "\nc@x.fr,short\n"
    rows = _all(_write(tmp_path, data.encode()))
    assert [(type(r).__name__, r.line) for r in rows] == [("Record", 2), ("RowError", 3), ("Record", 4)]
    err = rows[1]
    assert isinstance(err, RowError) and err.code == "too_long" and "longer than 100" in err.reason


def test_overlong_line_inside_a_quoted_value_fails_that_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_source, "MAX_LINE_CHARS", 100)
    data = 'email,notes\na@x.fr,"start\n' + "x" * 500 + '\nend"\nb@x.fr,ok\n'
    rows = _all(_write(tmp_path, data.encode()))
    errors = [(r.line, r.code) for r in rows if isinstance(r, RowError)]
    assert errors == [(2, "too_long"), (3, "too_long")]
    assert [(r.line, r.cells) for r in rows if isinstance(r, Record)] == [(5, ["b@x.fr", "ok"])]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty (0 bytes)"),
        (b"\n\r\n  \n", "no header row"),
        (b"PK\x03\x04rest", "Excel workbook"),
        (b"%PDF-1.7", "PDF"),
        (b'"header never closed\n', "header row (line 1) cannot be read"),
    ],
)
def test_file_level_errors(tmp_path: Path, data: bytes, fragment: str) -> None:
    with pytest.raises(ImportFileError) as info:
        open_table(_write(tmp_path, data))
    assert fragment in info.value.reason
    assert str(tmp_path) in str(info.value)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no such file"):
        open_table(tmp_path / "nope.csv")
    with pytest.raises(ImportFileError, match="folder"):
        open_table(tmp_path)


def test_without_header_every_record_is_a_row(tmp_path: Path) -> None:
    with open_table(_write(tmp_path, b"a@x.fr\n\nb@x.fr\n"), header=False) as table:
        assert table.header == []
        assert [(r.line, r.cells) for r in table.rows if isinstance(r, Record)] == [(1, ["a@x.fr"]), (3, ["b@x.fr"])]


def test_excel_sep_line_after_blank_lines_and_an_empty_sep(tmp_path: Path) -> None:
    with open_table(_write(tmp_path, b"\n\nsep=\t\nemail\tname\na@x.fr\tA\n")) as table:
        assert (table.delimiter, table.header, table.header_line) == ("\t", ["email", "name"], 4)
    with open_table(_write(tmp_path, b"sep=\nemail,name\n")) as table:
        assert table.header == ["sep="]  # no delimiter named: an ordinary first line
