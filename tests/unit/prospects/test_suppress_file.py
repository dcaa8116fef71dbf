"""Suppression list files: plain lists of addresses / @domains, or CSVs with an address or domain column."""

from __future__ import annotations

from pathlib import Path

import pytest

from outbound.prospects.errors import ImportFileError
from outbound.prospects.results import RowError
from outbound.prospects.suppress_file import SuppressionEntry, read_suppression_file
from tests.fixtures.common import DATA

FIXTURES = DATA / "prospects"


def test_plain_list() -> None:
    results = list(read_suppression_file(FIXTURES / "suppress_plain.txt"))
    entries = [(r.line, r.kind, r.value) for r in results if isinstance(r, SuppressionEntry)]
    assert entries == [
        (2, "address", "bob@example.com"),
        (3, "domain", "competitor.io"),
        (7, "address", "carol@example.net"),
        (9, "domain", "gmail.com"),
    ]
    errors = {r.line: r for r in results if isinstance(r, RowError)}
    assert sorted(errors) == [5, 6, 8]
    assert "write @example.org" in errors[5].reason
    assert (errors[6].code, errors[6].reason) == ("duplicate", "duplicate of line 2 (bob@example.com)")
    assert errors[8].code == "value"
    gmail = next(r for r in results if isinstance(r, SuppressionEntry) and r.line == 9)
    assert "free-mail" in gmail.warnings[0]


def test_csv_with_address_and_domain_columns() -> None:
    results = list(read_suppression_file(FIXTURES / "suppress_columns.csv"))
    entries = [(r.line, r.kind, r.value) for r in results if isinstance(r, SuppressionEntry)]
    assert entries == [
        (2, "address", "dan@x.com"),
        (3, "domain", "rival.com"),
        (4, "address", "eve@y.com"),
        (4, "domain", "y.com"),
    ]
    errors = [(r.line, r.reason) for r in results if isinstance(r, RowError)]
    assert errors == [(5, "no address or domain on this row")]


@pytest.mark.parametrize("header", ["email", "E-mail", "Email Address", "address"])
def test_address_column_header_variants(tmp_path: Path, header: str) -> None:
    path = tmp_path / "s.csv"
    path.write_text(f"name,{header}\nBob,Bob@X.com\nAcme,@acme.com\n")
    results = list(read_suppression_file(path))
    assert [(r.kind, r.value) for r in results if isinstance(r, SuppressionEntry)] == [
        ("address", "bob@x.com"),
        ("domain", "acme.com"),
    ]


def test_domain_column_takes_bare_domains_and_urls(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("domain\nacme.com\nhttps://www.Rival.io/x\nbad_domain\n")
    results = list(read_suppression_file(path))
    assert [r.value for r in results if isinstance(r, SuppressionEntry)] == ["acme.com", "rival.io"]
    assert [r.line for r in results if isinstance(r, RowError)] == [4]


def test_utf16_plain_list(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    path.write_bytes("a@x.com\r\n@bücher.example\r\n".encode("utf-16"))
    values = [r.value for r in read_suppression_file(path) if isinstance(r, SuppressionEntry)]
    assert values == ["a@x.com", "xn--bcher-kva.example"]


@pytest.mark.parametrize(("data", "fragment"), [(b"", "empty"), (b"\n\n", None)])
def test_empty_files(tmp_path: Path, data: bytes, fragment: str | None) -> None:
    path = tmp_path / "s.txt"
    path.write_bytes(data)
    if fragment is None:
        assert list(read_suppression_file(path)) == []
    else:
        with pytest.raises(ImportFileError, match=fragment):
            read_suppression_file(path)
