"""`outbound prospects import`, `enroll` and `suppress` as subprocesses, on a 100,000-row CSV and small lists."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.acceptance.conftest import Cli, Result, copy_workspace, sqlite_rows, write_csv

ROWS = 100_000
HEADER = "Email,First Name,Last Name,Company Name,Website,Job Title,Time Zone,Pain Point,Notes"
BAD_KINDS = ("email", "email", "email", "duplicate", "shape", "email")


@dataclass(frozen=True)
class Expected:
    good: dict[str, int]            # address -> line of its row
    bad: dict[int, tuple[str, str]]  # line -> (code, text its reason contains)
    multiline: str                   # an address whose Notes span two physical lines


def _good_row(i: int, quoted: bool) -> tuple[str, str]:
    email = f"person{i}@company{i % 5000}.com" if i % 7 else f"Person{i}@Gmail.com"
    company = f'"Company {i % 5000}, Inc."' if quoted else f"Company {i % 5000}"
    notes = f'"first line {i}\nsecond line"' if quoted and i % 1000 == 500 else f"note {i}"
    website = f"https://www.company{i % 5000}.com/about" if i % 7 else ""
    row = (f"{email},Zoë{i},Last{i},{company},{website},Head of Growth,"
           f"Europe/Paris,slow onboarding {i % 3},{notes}")
    return email.lower(), row


def _bad_row(i: int, kind: int, previous: str) -> tuple[str, str]:
    if kind == 0:
        return f"person{i}.example.com,No,At,,,,,,", "has no @"
    if kind == 1:
        return ",Empty,Email,Acme,,,,,", "no email address"
    if kind == 2:
        return f"person{i}@@twice.com,Two,Ats,,,,,,", "more than one @"
    if kind == 3:
        return f"{previous.upper()},Again,Dup,,,,,,", "duplicate of line"
    if kind == 4:
        return f"shifted{i}@acme.com,Too,Many,Acme, Inc,x,y,z,w,v", "cells but the header has 9"
    return f"person{i}@localhost,Local,Host,,,,,,", "no top-level part"


def write_big_csv(path: Path) -> Expected:
    """100,000 data rows; exactly 1% bad (six kinds) at rows i % 100 == 42; some quoted multi-line notes."""
    good: dict[str, int] = {}
    bad: dict[int, tuple[str, str]] = {}
    multiline = ""
    line = 2  # physical line of the next row (the header is line 1)
    last_email = ""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\n")
        for i in range(ROWS):
            if i % 100 == 42:
                kind = (i // 100) % len(BAD_KINDS)
                text, reason = _bad_row(i, kind, last_email)
                if kind == 3:
                    reason = f"duplicate of line {good[last_email]}"
                bad[line] = (BAD_KINDS[kind], reason)
                out.write(text + "\n")
                line += 1
                continue
            email, text = _good_row(i, quoted=True)
            good[email] = line
            last_email = email
            if "\n" in text:
                multiline = email
            out.write(text + "\n")
            line += text.count("\n") + 1
    assert len(bad) == ROWS // 100 and len(good) == ROWS - ROWS // 100
    return Expected(good, bad, multiline)


@dataclass
class Imported:
    cli: Cli
    csv: Path
    errors: Path
    expected: Expected
    first: Result
    second: Result


@pytest.fixture(scope="module", autouse=True)
def big_import(initialised: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Future[Imported]]:
    """The 100,000-row file imported twice into one workspace, in a background thread from the start of
    this module, so the small tests run on the other core meanwhile (the import dominates the time)."""
    root = tmp_path_factory.mktemp("big")
    cli = Cli(config=copy_workspace(initialised, root / "ws"), cwd=root)
    path = root / "prospects.csv"
    expected = write_big_csv(path)
    errors = root / "skipped.csv"

    def run() -> Imported:
        first = cli("prospects", "import", str(path), "--source", "big-list", "--errors", str(errors))
        second = cli("prospects", "import", str(path), "--source", "big-list")
        return Imported(cli, path, errors, expected, first, second)

    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(run)


@pytest.fixture
def imported(big_import: Future[Imported]) -> Imported:
    done = big_import.result(timeout=600)
    done.first.ok()
    done.second.ok()
    return done


def _counts(result: Result) -> dict[str, int]:
    m = re.search(r"([\d,]+) rows; imported ([\d,]+) new, updated ([\d,]+), unchanged ([\d,]+), skipped ([\d,]+)",
                  result.out)
    assert m, result.out
    rows, new, updated, unchanged, skipped = (int(g.replace(",", "")) for g in m.groups())
    return {"rows": rows, "new": new, "updated": updated, "unchanged": unchanged, "skipped": skipped}


SMALL = [
    "ann@acme.com,Ann,Acme,churn",
    "carol@acme.com,Carol,Acme,",          # suppressed address
    "bob@blocked.example,Bob,Blocked,",    # suppressed domain
    "BOB2@Blocked.Example,Bob,Blocked,",   # suppressed domain, other case
    "dan@other.com,,Other,",               # lacks first_name: enrolled as blocked
    "not an address,X,Y,",
]


def _enrolled(cli: Cli) -> set[tuple[str, str, str]]:
    assert cli.config is not None
    return set(sqlite_rows(cli.config, "SELECT p.email, e.sequence_name, e.state FROM enrollments e "
                                       "JOIN prospects p ON p.id = e.prospect_id"))


def test_import_with_enroll_never_enrolls_a_suppressed_address_or_domain(workspace: Cli, tmp_path: Path) -> None:
    workspace("suppress", "Carol@Acme.com", "@blocked.example", "--reason", "asked").ok()
    people = write_csv(tmp_path / "people.csv", "email,first_name,company,pain_point", SMALL)
    result = workspace("prospects", "import", str(people), "--source", "small", "--enroll", "founders-q3").ok()
    assert _counts(result) == {"rows": 6, "new": 5, "updated": 0, "unchanged": 0, "skipped": 1}
    assert "line 7:" in result.out
    assert "enrolled 1, blocked 1 (missing fields), already enrolled 0, suppressed 3" in result.out
    assert "carol@acme.com: suppressed (carol@acme.com): asked" in result.out
    assert "bob2@blocked.example: suppressed (@blocked.example): asked" in result.out
    assert _enrolled(workspace) == {("ann@acme.com", "founders-q3", "active"), ("dan@other.com", "founders-q3", "blocked")}
    # An unknown sequence is refused before anything is imported.
    bad = workspace("prospects", "import", str(people), "--enroll", "nope").failed()
    assert "no sequence named 'nope'" in bad.err and "founders-q3" in bad.err


def test_enroll_by_source_and_by_email(workspace: Cli, tmp_path: Path) -> None:
    workspace("suppress", "@blocked.example").ok()
    people = write_csv(tmp_path / "people.csv", "email,first_name,company,pain_point", SMALL)
    workspace("prospects", "import", str(people), "--source", "small").ok()
    by_source = workspace("enroll", "agencies-reengage", "--source", "small").ok()
    assert "enrolled 2, blocked 1 (missing fields), already enrolled 0, skipped 2" in by_source.out
    assert "skipped bob@blocked.example: suppressed (@blocked.example)" in by_source.out
    again = workspace("enroll", "agencies-reengage", "--source", "small").ok()
    assert "enrolled 0, blocked 0 (missing fields), already enrolled 3" in again.out
    by_email = workspace("enroll", "founders-q3", "--email", "ANN@acme.com", "--email", "bob@blocked.example",
                         "--email", "zed@nowhere.com").ok()
    assert "enrolled 1," in by_email.out and "skipped 1" in by_email.out and "zed@nowhere.com" in by_email.err
    assert {(e, s) for e, s, _ in _enrolled(workspace)} == {
        ("ann@acme.com", "agencies-reengage"), ("carol@acme.com", "agencies-reengage"),
        ("dan@other.com", "agencies-reengage"), ("ann@acme.com", "founders-q3")}
    # User mistakes: clear messages, exit 1.
    mistakes = workspace.many(("enroll", "founders-q3", "--source", "nosuch"),
                              ("enroll", "founders-q3", "--email", "zed@nowhere.com"),
                              ("enroll", "nope", "--source", "small"),
                              ("enroll", "founders-q3"))
    messages = ("no prospects with source 'nosuch'", "import them first", "no sequence named 'nope'", "--source NAME")
    for result, message in zip(mistakes, messages, strict=True):
        assert message in result.failed().err, result.err


def test_suppress_add_import_list_remove(workspace: Cli, tmp_path: Path) -> None:
    listing = tmp_path / "unsubscribed.txt"
    listing.write_text("# exported from the old tool\nann@acme.com\n@Competitor.example\nacme.org\n"
                       "ann@acme.com\nbad@@x.com\n", encoding="utf-8")
    imported = workspace("suppress", "import", str(listing), "--reason", "old-tool").ok()
    assert "suppressed 2 new (0 already there), skipped 3" in imported.out
    for line, text in ((4, "write @acme.org"), (5, "duplicate of line 2"), (6, "more than one @")):
        assert re.search(rf"^  line {line}: .*{re.escape(text)}", imported.out, re.M), imported.out
    added = workspace("suppress", "bob@beta.io", "@spam.example", "BOB@beta.io", "ann@acme.com", "--reason", "complaint")
    assert "suppressed 2 new entries (2 already there)" in added.ok().out
    # Anything that is neither an address nor @domain is refused as a whole (x@y.com is not added either).
    bad = workspace("suppress", "acme.com", "x@y.com").failed()
    assert "acme.com (write ADDRESS or @DOMAIN)" in bad.err
    workspace("suppress", "remove", "@SPAM.example").ok()
    shown = workspace("suppress", "list").ok().out
    for value, kind, reason in (("ann@acme.com", "address", "old-tool"), ("@competitor.example", "domain", "old-tool"),
                                ("bob@beta.io", "address", "complaint")):
        assert re.search(rf"{re.escape(value)}\s*│\s*{kind}\s*│\s*{reason}", shown), (value, shown)
    assert "@spam.example" not in shown and "x@y.com" not in shown
    again, missing = workspace.many(("suppress", "remove", "@spam.example"),
                                    ("suppress", "import", str(tmp_path / "nope.txt")))
    assert "is not suppressed" in again.failed().err
    assert f"{tmp_path / 'nope.txt'}: no such file" in missing.failed().err


def test_bad_files_are_clear_errors(workspace: Cli, tmp_path: Path) -> None:
    no_email = write_csv(tmp_path / "no-email.csv", "name,company", ["Ann,Acme"])
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 40)
    results = workspace.many(("prospects", "import", str(no_email)),
                             ("prospects", "import", str(tmp_path / "missing.csv")),
                             ("prospects", "import", str(binary)))
    messages = ("no email column", "missing.csv: no such file", "binary.csv: ")
    for result, message in zip(results, messages, strict=True):
        assert message in result.failed().err, result.err
    assert workspace.config is not None and not (workspace.config.parent / "outbound.db").exists()  # nothing touched


# The 100,000-row tests come last: their import ran in the background while the tests above ran.

def test_import_takes_every_good_row(imported: Imported) -> None:
    good = len(imported.expected.good)
    assert _counts(imported.first) == {"rows": ROWS, "new": good, "updated": 0, "unchanged": 0, "skipped": ROWS // 100}
    config = imported.cli.config
    assert config is not None
    assert sqlite_rows(config, "SELECT count(*) FROM prospects") == [(good,)]
    assert sqlite_rows(config, "SELECT count(DISTINCT source) FROM prospects") == [(1,)]
    # Values as written: quoted comma, accents, custom fields, the multi-line note, free-mail handling.
    row = sqlite_rows(config, "SELECT first_name, company, company_domain, timezone, fields FROM prospects "
                              "WHERE email = ?", "person1@company1.com")
    assert row[0][:4] == ("Zoë1", "Company 1, Inc.", "company1.com", "Europe/Paris")
    assert '"pain_point": "slow onboarding 1"' in row[0][4]
    note = sqlite_rows(config, "SELECT fields FROM prospects WHERE email = ?", imported.expected.multiline)
    assert "first line" in note[0][0] and "second line" in note[0][0]
    gmail = sqlite_rows(config, "SELECT company_domain FROM prospects WHERE email = ?", "person7@gmail.com")
    assert gmail == [(None,)]


def test_each_bad_row_is_reported_with_its_line(imported: Imported) -> None:
    with imported.errors.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(imported.expected.bad)
    for r in rows:
        code, reason = imported.expected.bad[int(r["line"])]
        assert r["code"] == code, r
        assert reason in r["reason"], r
    assert {int(r["line"]) for r in rows} == set(imported.expected.bad)
    # The first ten are printed too, with their lines, and the file is named.
    first_lines = sorted(imported.expected.bad)[:10]
    printed = [int(n) for n in re.findall(r"^  line (\d+): ", imported.first.out, re.M)]
    assert printed == first_lines
    assert str(imported.errors) in imported.first.out and "990 more" in imported.first.out
    # Without --errors the report goes beside the CSV.
    assert Path(str(imported.csv) + ".errors.csv").is_file()


def test_importing_again_changes_nothing(imported: Imported) -> None:
    good = len(imported.expected.good)
    assert _counts(imported.second) == {"rows": ROWS, "new": 0, "updated": 0, "unchanged": good, "skipped": ROWS // 100}


def test_a_changed_row_is_updated_and_a_missing_value_erases_nothing(imported: Imported, tmp_path: Path) -> None:
    changed = write_csv(tmp_path / "changed.csv", "email,title,first_name", [
        "person1@company1.com,CEO,", "PERSON2@company2.com,Head of Growth,Zoë2", "newperson@company9.com,CTO,New"])
    result = imported.cli("prospects", "import", str(changed)).ok()
    assert _counts(result) == {"rows": 3, "new": 1, "updated": 1, "unchanged": 1, "skipped": 0}
    assert imported.cli.config is not None
    row = sqlite_rows(imported.cli.config, "SELECT first_name, title, source FROM prospects WHERE email = ?",
                      "person1@company1.com")
    assert row == [("Zoë1", "CEO", "big-list")]
