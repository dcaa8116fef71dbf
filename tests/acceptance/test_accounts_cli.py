"""`outbound accounts list/show/stop/resume` as subprocesses: contacts with seniority, coverage, state."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.conftest import Cli, sqlite_rows, write_csv

PEOPLE = ["ann@acme.test,Ann,CEO,acme.test", "bob@acme.test,Bob,VP Sales,acme.test",
          "cy@acme.test,Cy,Account Executive,acme.test", "di@beta.test,Di,Head of Growth,beta.test"]


def test_accounts_show_the_committee_and_stop_and_resume_through_the_rulebook(workspace: Cli, tmp_path: Path) -> None:
    people = write_csv(tmp_path / "people.csv", "email,first_name,title,company_domain", PEOPLE)
    workspace("prospects", "import", str(people), "--source", "list", "--enroll", "agencies-reengage").ok()
    listed, shown, missing = workspace.many(("accounts", "list", "--json"), ("accounts", "show", "ACME.test", "--json"),
                                            ("accounts", "show", "nowhere.test"))
    rows = {r["domain"]: r for r in json.loads(listed.ok().out)}
    assert {d: (r["contacts"], r["stopped_reason"]) for d, r in rows.items()} == {"acme.test": (3, None),
                                                                                 "beta.test": (1, None)}
    acme = json.loads(shown.ok().out)
    assert [(c["email"], c["title"], c["seniority"]) for c in acme["contacts"]] == [
        ("ann@acme.test", "CEO", "c-level"), ("bob@acme.test", "VP Sales", "vp"),
        ("cy@acme.test", "Account Executive", "individual")]
    assert acme["state"] == "active" and acme["coverage"]["vp"] == {"contacts": 1, "reached": 0, "engaged": 0,
                                                                  "replied": 0}
    assert {d: row["contacts"] for d, row in acme["departments"].items() if row["contacts"]} == {"sales": 2, "other": 1}
    assert "no account 'nowhere.test'" in missing.failed().text

    stopped = workspace("accounts", "stop", "acme.test", "--reason", "in a legal dispute").ok()
    assert "3 live enrollment(s) stopped" in stopped.out
    config = workspace.config
    assert config is not None
    states = sqlite_rows(config, "SELECT p.email, e.state, e.reason FROM enrollments e JOIN prospects p "
                                 "ON p.id = e.prospect_id ORDER BY p.email")
    assert [(e, s) for e, s, _ in states] == [("ann@acme.test", "stopped"), ("bob@acme.test", "stopped"),
                                              ("cy@acme.test", "stopped"), ("di@beta.test", "active")]
    assert states[0][2] == "account stopped by hand: in a legal dispute"
    after, table = workspace.many(("accounts", "show", "acme.test", "--json"), ("accounts", "list"))
    assert json.loads(after.ok().out)["stopped_reason"] == "account stopped by hand: in a legal dispute"
    assert "stopped:" in table.ok().out and "dispute" in table.out  # the reason wraps in its column
    workspace("accounts", "resume", "acme.test").ok()
    assert sqlite_rows(config, "SELECT stopped_reason FROM accounts WHERE domain = 'acme.test'") == [(None,)]
    again = workspace("enroll", "founders-q3", "--email", "ann@acme.test").ok()
    assert "skipped 0" in again.out, again.out  # no longer refused for the account's stop
