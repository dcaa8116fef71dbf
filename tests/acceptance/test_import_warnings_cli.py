"""Imports say what they changed: rows imported with a warning are listed with their line, the warning
and what was used instead, on screen and in the errors file; misspelt time zones and config keys get a
"did you mean", and config errors name their line."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from tests.acceptance.conftest import Cli, sqlite_rows, write_csv

NO_ZONE = "no time zone (sends follow the sequence window's zone or its fallback_timezone, else default_timezone " \
          "America/New_York)"


def test_rows_imported_with_a_warning_are_listed_with_line_warning_and_replacement(workspace: Cli,
                                                                                   tmp_path: Path) -> None:
    people = write_csv(tmp_path / "people.csv", "email,first_name,timezone", [
        "ann@acme.com,Ann,Europe/Berln",
        "bob@beta.io,Bob,America/Los_Angles",
        "carl@gamma.io,Carl,+05:30",
        "dora@delta.io,Dora,Europe/Paris",
        "not-an-address,Eve,UTC",
    ])
    result = workspace("prospects", "import", str(people)).ok()
    assert "imported 4 new" in result.out and "skipped 1 (3 with warnings)" in result.out
    listed = re.findall(r"^  line (\d+) imported with a warning: (.+); used instead: (.+)$", result.out, re.M)
    assert listed == [
        ("2", "timezone dropped: 'Europe/Berln' is not an IANA time zone name (did you mean Europe/Berlin?)", NO_ZONE),
        ("3", "timezone dropped: 'America/Los_Angles' is not an IANA time zone name "
              "(did you mean America/Los_Angeles?)", NO_ZONE),
        ("4", "timezone dropped: '+05:30' is not an IANA time zone name (a UTC offset, not a zone; zones at +05:30 "
              "now: Asia/Colombo, Asia/Kolkata)", NO_ZONE),
    ], result.out
    assert "  line 6: email 'not-an-address' has no @" in result.out
    report = Path(str(people) + ".errors.csv")
    assert f"every skipped row and every warning on an imported row, with its line and reason: {report}" in result.out
    with report.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["line"], r["code"], r["used_instead"], r["raw"]) for r in rows] == [
        ("2", "timezone", NO_ZONE, "ann@acme.com,Ann,Europe/Berln"),
        ("3", "timezone", NO_ZONE, "bob@beta.io,Bob,America/Los_Angles"),
        ("4", "timezone", NO_ZONE, "carl@gamma.io,Carl,+05:30"),
        ("6", "email", "skipped (not imported)", "not-an-address,Eve,UTC"),
    ]
    assert "did you mean Europe/Berlin?" in rows[0]["reason"]
    assert workspace.config is not None
    zones = dict(sqlite_rows(workspace.config, "SELECT email, timezone FROM prospects"))
    assert zones == {"ann@acme.com": None, "bob@beta.io": None, "carl@gamma.io": None, "dora@delta.io": "Europe/Paris"}
    # a clean file lists nothing and writes no report
    clean = write_csv(tmp_path / "clean.csv", "email,timezone", ["eve@acme.com,Europe/Berlin"])
    quiet = workspace("prospects", "import", str(clean)).ok()
    assert "with warnings" not in quiet.out and "imported with a warning" not in quiet.out
    assert not Path(str(clean) + ".errors.csv").exists()


def _line(config: Path, text: str) -> int:
    return next(n for n, line in enumerate(config.read_text().splitlines(), 1) if line.startswith(text))


def test_config_errors_carry_their_line_and_a_did_you_mean(workspace: Cli) -> None:
    config = workspace.config
    assert config is not None
    config.write_text(config.read_text().replace('send_interval = "30s"', 'send_intervall = "30s"')
                      .replace('default_timezone = "America/New_York"', 'default_timezone = "Europe/Berln"'))
    result = workspace("validate").failed()
    assert (f"{config}:{_line(config, 'send_intervall')}:1: [daemon.send_intervall] unknown setting; "
            "did you mean send_interval?") in result.err, result.err
    assert (f"{config}:{_line(config, 'default_timezone')}:1: [sending.default_timezone] unknown time zone "
            "'Europe/Berln'; did you mean Europe/Berlin?") in result.err, result.err
    # a command that reads the config refuses with the same lines
    assert "[daemon.send_intervall] unknown setting; did you mean send_interval?" in \
        workspace("suppress", "list").failed().err
