"""The prospect importer end to end on small fixture files (tests/data/prospects)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from outbound.prospects.csv_import import (
    MAX_CUSTOM_CHARS,
    MAX_NAME_CHARS,
    inspect_prospect_file,
    read_prospects,
    write_error_report,
)
from outbound.prospects.errors import ImportFileError
from outbound.prospects.results import ImportSummary, ParsedRow, RowError, RowResult
from tests.fixtures.common import DATA

FIXTURES = DATA / "prospects"


def _parsed(results: list[RowResult]) -> list[ParsedRow]:
    return [r for r in results if isinstance(r, ParsedRow)]


def _errors(results: list[RowResult]) -> list[RowError]:
    return [r for r in results if isinstance(r, RowError)]


def _read(path: Path, source: str | None = None) -> list[RowResult]:
    return list(read_prospects(path, source=source))


def test_basic_file_maps_every_standard_column() -> None:
    rows = _parsed(_read(FIXTURES / "basic.csv"))
    assert [r.line for r in rows] == [2, 3, 4]
    ada = rows[0].prospect
    assert (ada.email, ada.first_name, ada.last_name, ada.company) == (
        "ada@analytical.io",
        "Ada",
        "Lovelace",
        "Analytical Engines",
    )
    assert (ada.company_domain, ada.title, ada.timezone, ada.source) == (
        "analytical.io",
        "CTO",
        "Europe/London",
        "conference",
    )
    assert ada.fields == {"pain_point": "slow builds"}
    assert rows[1].prospect.fields == {"pain_point": "compilers, mostly"}


def test_company_domain_is_derived_from_the_address_unless_free_mail() -> None:
    rows = _parsed(_read(FIXTURES / "basic.csv"))
    assert rows[1].prospect.company_domain == "navy.example.org"  # blank column, company address
    assert rows[2].prospect.company_domain is None  # gmail.com says nothing about the company


def test_source_argument_fills_in_only_where_the_row_has_none() -> None:
    rows = _parsed(_read(FIXTURES / "basic.csv", source="cli-list"))
    assert [r.prospect.source for r in rows] == ["conference", "cli-list", "cli-list"]


def test_excel_semicolon_bom_file() -> None:
    info = inspect_prospect_file(FIXTURES / "excel_semicolon_bom.csv")
    assert (info.encoding, info.delimiter) == ("utf-8-sig", ";")
    assert info.header[0] == "E-mail"  # the BOM is not part of the first header name
    rows = _read(FIXTURES / "excel_semicolon_bom.csv")
    zoe, jean = _parsed(rows)
    assert zoe.prospect.email == "zoe.durand@exemple.fr"
    assert (zoe.prospect.first_name, zoe.prospect.last_name, zoe.prospect.company) == (
        "Zoë",
        "Durand",
        "Société Générale",
    )
    assert zoe.prospect.company_domain == "exemple.fr"
    assert zoe.prospect.timezone == "Europe/Paris"
    assert zoe.prospect.title == "Directrice"
    assert jean.prospect.timezone is None
    (dropped,) = jean.warnings
    assert dropped.code == "timezone" and "'Paris'" in dropped.message
    assert "did you mean Europe/Paris?" in dropped.message and dropped.used.startswith("no time zone")


def test_utf16_tab_file() -> None:
    info = inspect_prospect_file(FIXTURES / "utf16_tab.tsv")
    assert (info.encoding, info.delimiter) == ("utf-16", "\t")
    soren, hans = _parsed(_read(FIXTURES / "utf16_tab.tsv"))
    assert (soren.prospect.first_name, soren.prospect.company) == ("Søren", "Enten-Eller ApS")
    assert hans.prospect.email == "hans@xn--rsted-uua.dk"  # IDNA domain stored as ASCII
    assert hans.prospect.company_domain == "xn--rsted-uua.dk"
    assert hans.prospect.last_name == "Ørsted"


def test_utf16_without_bom() -> None:
    (row,) = _read(FIXTURES / "utf16be_nobom.csv")
    assert isinstance(row, ParsedRow)
    assert (row.prospect.email, row.prospect.first_name) == ("ann@x.de", "Änne")


def test_cp1252_file() -> None:
    (row,) = _read(FIXTURES / "cp1252.csv")
    assert isinstance(row, ParsedRow)
    assert row.prospect.first_name == "René"
    assert row.prospect.company == "Café “Le Dôme”"
    assert row.prospect.fields == {"note": "costs 5 €"}


def test_invalid_utf8_and_nul_bytes_mixed_in() -> None:
    ok, jose = _parsed(_read(FIXTURES / "mixed_bytes.csv"))
    assert ok.prospect.first_name == "Ołga"
    assert (jose.line, jose.prospect.first_name, jose.prospect.company) == (3, "José", "Acme")


def test_each_bad_row_kind_is_reported_with_its_physical_line() -> None:
    results = _read(FIXTURES / "bad_rows.csv")
    errors = {e.line: e for e in _errors(results)}
    expected = {
        6: ("email", "no @"),
        7: ("email", "spaces"),
        8: ("email", "no top-level part"),
        9: ("email", "not allowed"),
        10: ("email", "no email address"),
        11: ("shape", "row has 5 cells but the header has 4"),
        13: ("duplicate", "duplicate of line 2"),
        15: ("malformed", "never closed"),
    }
    assert sorted(errors) == sorted(expected)
    for line, (code, fragment) in expected.items():
        assert errors[line].code == code
        assert fragment in errors[line].reason, errors[line].reason
    assert errors[11].raw == "gus@acme.com,Gus,Acme,notes,EXTRA\n"
    parsed = {r.line: r for r in _parsed(results)}
    assert sorted(parsed) == [2, 12, 14, 16]
    assert parsed[2].prospect.fields == {"notes": "line one\nline two\nline three"}
    assert [str(w) for w in parsed[12].warnings] == ["row has 2 of 4 cells; used instead: blank values for the missing cells"]
    assert parsed[12].raw == "hal@acme.com,Hal\n" and parsed[14].raw == ""  # kept only for rows with a warning
    assert parsed[14].prospect.company == "Acme, Inc"
    assert [r.line for r in results] == sorted(r.line for r in results)  # streamed in file order


def test_duplicates_keep_the_first_row() -> None:
    results = _read(FIXTURES / "bad_rows.csv")
    first = next(r for r in _parsed(results) if r.prospect.email == "good1@acme.com")
    assert (first.line, first.prospect.first_name) == (2, "Ann")


def test_trailing_empty_cells_are_not_a_shape_error(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("email,name\na@acme.com,Ann,,,\n")
    (row,) = _read(path)
    assert isinstance(row, ParsedRow)
    assert row.warnings == ()


def test_custom_fields_and_full_name_split() -> None:
    (row,) = _read(FIXTURES / "custom_fields.csv")
    assert isinstance(row, ParsedRow)
    assert (row.prospect.first_name, row.prospect.last_name) == ("Ada", "Lovelace")
    assert row.prospect.fields == {
        "pain_point": "p1",
        "pain_point_2": "p2",
        "pain_point_3": "p3",
        "email_2": "a2@acme.com",
        "f_2nd_touch": "t",
        "if_": "cond",
        "column_8": "blank header",
        "linked_in_url": "https://linkedin.com/in/ada",
    }
    assert row.prospect.as_template_vars()["pain_point_3"] == "p3"


@pytest.mark.parametrize(
    ("full", "first", "last"),
    [
        ("Ada Lovelace", "Ada", "Lovelace"),
        ("Lovelace, Ada", "Ada", "Lovelace"),
        ("Ada", "Ada", None),
        ("Jean Paul Sartre", "Jean", "Paul Sartre"),
    ],
)
def test_full_name_column(tmp_path: Path, full: str, first: str, last: str | None) -> None:
    path = tmp_path / "f.csv"
    path.write_text(f'Name,Email\n"{full}",a@acme.com\n')
    (row,) = _read(path)
    assert isinstance(row, ParsedRow)
    assert (row.prospect.first_name, row.prospect.last_name) == (first, last)


def test_fallback_column_fills_a_blank_primary(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("Email,Work Email,Website,Domain\n,b@acme.com,,acme.io\nc@x.com,c@y.com,x.com,y.com\n")
    first, second = _parsed(_read(path))
    assert (first.prospect.email, first.prospect.company_domain) == ("b@acme.com", "acme.io")
    assert (second.prospect.email, second.prospect.company_domain) == ("c@x.com", "x.com")


def test_bad_company_domain_is_dropped_with_a_warning_then_derived(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("email,website\na@acme.com,https://linkedin.com/company/acme\nb@gmail.com,not a site\n")
    acme, gmail = _parsed(_read(path))
    assert acme.prospect.company_domain == "acme.com"
    assert [(w.message, w.used) for w in acme.warnings] == [
        ("company_domain dropped: linkedin.com is not a company's own site", "acme.com, the address's domain")]
    assert gmail.prospect.company_domain is None
    assert [w.used for w in gmail.warnings if "company_domain dropped" in w.message] == ["none (a free-mail address)"]


def test_role_account_warning(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("email\ninfo@acme.com\n")
    (row,) = _read(path)
    assert isinstance(row, ParsedRow) and "role account" in row.warnings[0].message


def test_very_long_values_are_cut_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text(f"email,first name,notes\na@acme.com,{'N' * 5000},{'x' * 50_000}\n")
    (row,) = _read(path)
    assert isinstance(row, ParsedRow)
    assert row.prospect.first_name == "N" * MAX_NAME_CHARS
    assert row.prospect.fields["notes"] == "x" * MAX_CUSTOM_CHARS
    assert [(w.message, w.used) for w in row.warnings] == [
        (f"first_name cut to {MAX_NAME_CHARS} characters", f"its first {MAX_NAME_CHARS} characters"),
        (f"notes cut to {MAX_CUSTOM_CHARS} characters", f"its first {MAX_CUSTOM_CHARS} characters")]


def test_header_only_file_yields_nothing() -> None:
    assert _read(FIXTURES / "header_only.csv") == []


@pytest.mark.parametrize(
    ("name", "fragments"),
    [
        ("empty.csv", ["empty (0 bytes)"]),
        ("blank_lines.csv", ["no header row"]),
        ("no_email.csv", ["no email column", "'Name', 'Company', 'Phone'"]),
        ("headerless.csv", ["no email column", "'ada@acme.com'", "needs a header row"]),
        ("missing.csv", ["no such file"]),
    ],
)
def test_file_level_errors_raise_before_iteration(name: str, fragments: list[str]) -> None:
    with pytest.raises(ImportFileError) as info:
        read_prospects(FIXTURES / name)  # no iteration: the error comes from the call itself
    for fragment in fragments:
        assert fragment in str(info.value)


def test_preview_describes_the_mapping() -> None:
    info = inspect_prospect_file(FIXTURES / "custom_fields.csv")
    lines = info.mapping.describe()
    assert lines[0] == "column 1 'Email' -> email"
    assert "custom field pain_point_2" in lines[2]
    assert info.header_line == 1


def test_error_report_and_summary(tmp_path: Path) -> None:
    results = _read(FIXTURES / "bad_rows.csv")
    report = tmp_path / "errors.csv"
    assert write_error_report(results, report) == 9  # 8 skipped, 1 imported with a warning
    with report.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["line", "code", "reason", "used_instead", "raw"]
    assert [int(r[0]) for r in rows[1:]] == [6, 7, 8, 9, 10, 11, 12, 13, 15]
    assert rows[1][3:] == ["skipped (not imported)", "missing-at.acme.com,Bob,Acme,"]
    assert rows[7] == ["12", "short_row", "row has 2 of 4 cells", "blank values for the missing cells", "hal@acme.com,Hal"]
    summary = ImportSummary()
    for r in results:
        summary.add(r)
    assert (summary.imported, summary.skipped, summary.duplicates, summary.with_warnings) == (4, 8, 1, 1)
    assert summary.describe() == "4 imported, 8 skipped (1 duplicate, 5 email, 1 malformed, 1 shape), 1 with warnings"


def test_error_report_defuses_spreadsheet_formulas(tmp_path: Path) -> None:
    report = tmp_path / "errors.csv"
    write_error_report([RowError(3, "no @", '=HYPERLINK("http://evil")\n')], report)
    with report.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[1] == ["3", "email", "no @", "skipped (not imported)", '\'=HYPERLINK("http://evil")']


def test_large_generated_file_streams_in_order(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", newline="") as f:
        f.write("email,name\n")
        for i in range(20_000):
            f.write(f"p{i}@acme.com,P{i}\n" if i % 100 else f"bad{i},B\n")
    count = errors = 0
    for r in read_prospects(path):
        count += 1
        errors += isinstance(r, RowError)
        if isinstance(r, RowError):
            assert r.line == int(r.raw[3:].split(",")[0]) + 2
    assert (count, errors) == (20_000, 200)


def test_results_carry_the_preview_and_release_the_file() -> None:
    with read_prospects(FIXTURES / "excel_semicolon_bom.csv") as rows:
        assert (rows.info.encoding, rows.info.delimiter) == ("utf-8-sig", ";")
        assert rows.info.mapping.sources("company_domain") == (4,)
        first = next(rows)
        assert isinstance(first, ParsedRow) and first.line == 2
    assert rows._table._raw.closed
    with pytest.raises(StopIteration):
        next(rows)


def test_unread_results_can_be_closed() -> None:
    rows = read_prospects(FIXTURES / "basic.csv")
    rows.close()
    assert rows._table._raw.closed


def test_the_lead_vendor_column_is_the_prospects_vendor(tmp_path: Path) -> None:
    path = tmp_path / "bought.csv"
    path.write_text("Email,First Name,Lead Vendor\nann@acme.test,Ann,ZoomInfo\nbob@acme.test,Bob,\n", encoding="utf-8")
    rows = _parsed(_read(path, source="bought"))
    assert [(r.prospect.vendor, r.prospect.source, r.prospect.fields) for r in rows] == [
        ("ZoomInfo", "bought", {}), (None, "bought", {})]
