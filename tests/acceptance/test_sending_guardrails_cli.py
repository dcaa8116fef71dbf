"""Guardrails of sending, through the CLI on temporary workspaces: mailbox server settings merged
with their domain's, missing secrets, replies no mailbox reads, first touches per company."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.acceptance.conftest import Cli, write_csv
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.daemon_proc import ALWAYS_OPEN
from tests.integration.engine.workspace import add_prospects, build, domain, three_step_sequence

NOW = "2026-11-24T10:00:00Z"  # a Tuesday
LATER = "2026-11-24T11:00:00Z"


def _workspace(tmp_path: Path, domains: list[dict[str, Any]], *, prospects: int = 2, env: dict[str, str] | None = None,
               **seq: Any) -> Cli:
    tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [three_step_sequence(window=ALWAYS_OPEN, **seq)],
               domains, settings="[daemon]\nhealth_checks = false\n")
    if prospects:
        add_prospects(tw, prospects, "seq")
    return Cli(config=tw.root / "config.toml", cwd=tmp_path, env=env or {})


def test_a_mailbox_smtp_key_overrides_only_that_key_of_the_domain(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    d0 = domain("d0.test", smtp_sink.port, 1, gap={"min": 0, "max": 0}, smtp={"password_env": "M0_PASSWORD"})
    smtp_sink.auth["m0@d0.test"] = "s3cret"
    cli = _workspace(tmp_path, [d0], env={"M0_PASSWORD": "s3cret"})
    cli("validate").ok()
    assert "delivered" in cli("send", "--once", "--now", NOW).ok().out
    assert len(smtp_sink.messages) == 2  # the domain's host and port, the mailbox's password
    wrong = cli("send", "--once", "--now", "2026-11-30T10:00:00Z", env={"M0_PASSWORD": "wrong"})
    assert "auth" in wrong.text.lower() and len(smtp_sink.messages) == 2, wrong.text
    # an error in the mailbox's own keys still names the file, the line and the field
    path = tmp_path / "ws" / "domains" / "d0.test.yaml"
    data = json.loads(path.read_text())
    data["mailboxes"][0]["smtp"]["port"] = "twenty-five"
    path.write_text(json.dumps(data, indent=1))
    bad = cli("validate").failed(1)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "twenty-five" in text)
    assert f"d0.test.yaml:{line}:" in bad.err and "mailboxes[0].smtp.port" in bad.err, bad.err


def test_validate_warns_when_replies_stop_a_sequence_but_no_mailbox_reads_them(tmp_path: Path) -> None:
    d0 = domain("d0.test", 2525, 2)
    cli = _workspace(tmp_path, [d0], prospects=0, stop_on=["reply", "bounce"])
    text = cli("validate").ok().out
    assert "seq.yaml:" in text and "stop_on has reply, but m0@d0.test, m1@d0.test have no imap server" in text, text
    assert "follow-ups would go to people who replied" in text
    # one mailbox reading its replies leaves the other named
    path = tmp_path / "ws" / "domains" / "d0.test.yaml"
    data = json.loads(path.read_text())
    data["mailboxes"][0]["imap"] = {"host": "127.0.0.1", "password_env": "M0_PASSWORD"}
    path.write_text(json.dumps(data, indent=1))
    text = cli("validate", env={"M0_PASSWORD": "x"}).ok().out
    [line] = [line for line in text.splitlines() if "stop_on has reply" in line]
    assert "but m1@d0.test has no imap server" in line and "m0@d0.test" not in line, text
    data["imap"] = {"host": "127.0.0.1"}  # the domain's server reads every mailbox's replies
    path.write_text(json.dumps(data, indent=1))
    assert "imap server" not in cli("validate", env={"M0_PASSWORD": "x"}).ok().out


def _mailbox_row(tmp_path: Path, address: str) -> tuple[str, str | None]:
    with sqlite3.connect(tmp_path / "db.sqlite") as conn:
        row = conn.execute("SELECT state, pause_reason FROM mailboxes WHERE address = ?", (address,)).fetchone()
    return row[0], row[1]


def test_a_missing_password_is_a_warning_a_dry_run_answer_and_a_pause_before_claiming(smtp_sink: SmtpSink,
                                                                                      tmp_path: Path) -> None:
    d0 = domain("d0.test", smtp_sink.port, 1, gap={"min": 0, "max": 0}, smtp={"password_env": "M0_PASSWORD"})
    smtp_sink.auth["m0@d0.test"] = "s3cret"
    cli = _workspace(tmp_path, [d0])
    (tmp_path / "ws" / "scoring.yaml").write_text("webhooks:\n  crm:\n    url: https://crm.example/hook\n"
                                                  "    secret_env: CRM_HOOK_SECRET\n")
    text = cli("validate").ok().out
    assert "mailbox m0@d0.test: smtp.password_env names M0_PASSWORD, which is not set" in text, text
    assert "scoring.yaml:4:" in text and "webhook 'crm': secret_env names CRM_HOOK_SECRET, which is not set" in text
    dry = cli("send", "--once", "--dry-run", "--now", NOW, env={"COLUMNS": "160"}).ok().out
    assert dry.count("would not send: password missing (M0_PASSWORD not set)") == 2, dry
    assert "would send" not in dry.replace("would not send", "")
    tick = cli("send", "--once", "--now", NOW).failed(1)
    assert "paused this tick: m0@d0.test (password missing (M0_PASSWORD not set))" in tick.err, tick.text
    assert "claimed 0" in tick.out and smtp_sink.messages == []
    with sqlite3.connect(tmp_path / "db.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM sends").fetchone()[0] == 0  # nothing claimed, no slot taken
    assert _mailbox_row(tmp_path, "m0@d0.test") == ("paused", "password missing (M0_PASSWORD not set)")
    # set again: resumed on the next tick, and the mail goes
    again = cli("send", "--once", "--now", LATER, env={"M0_PASSWORD": "s3cret"}).ok()
    assert "delivered" in again.out and len(smtp_sink.messages) == 2, again.text
    assert _mailbox_row(tmp_path, "m0@d0.test") == ("active", None)


def test_setting_the_password_never_lifts_another_pause(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    d0 = domain("d0.test", smtp_sink.port, 1, gap={"min": 0, "max": 0}, smtp={"password_env": "M0_PASSWORD"})
    cli = _workspace(tmp_path, [d0])
    cli("send", "--once", "--now", NOW).failed(1)
    with sqlite3.connect(tmp_path / "db.sqlite") as conn:  # as if a person or the health check had paused it
        conn.execute("UPDATE mailboxes SET pause_reason = 'bounce rate 9.0% is above 5.0%'")
    held = cli("send", "--once", "--now", LATER, env={"M0_PASSWORD": "s3cret"})
    assert "claimed 0" in held.out and "waiting (2)" in held.out and smtp_sink.messages == [], held.text
    assert _mailbox_row(tmp_path, "m0@d0.test") == ("paused", "bounce rate 9.0% is above 5.0%")


def _first_touches(sink: SmtpSink, at: str) -> int:
    return sum(m.rcpt_tos[0].endswith(at) and not str(m.message["Subject"]).startswith("Re:") for m in sink.messages)


def _days_ahead(n: int, hour: int = 10) -> str:
    """A time ``n`` days after today (prospects imported now are enrolled now; the window is always open)."""
    day = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0) + timedelta(days=n)
    return day.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_at_most_account_daily_limit_first_touches_per_company_a_day_the_rest_wait(smtp_sink: SmtpSink,
                                                                                   tmp_path: Path) -> None:
    d0 = domain("d0.test", smtp_sink.port, 2, gap={"min": 0, "max": 0})
    cli = _workspace(tmp_path, [d0], prospects=0)
    people = write_csv(tmp_path / "people.csv", "email,first_name",
                       [f"{name}@bigco.example,{name.title()}" for name in ("ann", "bob", "cy", "dee", "eve")]
                       + ["zed@smallco.example,Zed"])
    cli("prospects", "import", str(people), "--enroll", "seq").ok()
    first = cli("send", "--once", "--now", _days_ahead(1), env={"COLUMNS": "160"}).ok()
    to = sorted(m.rcpt_tos[0] for m in smtp_sink.messages)
    assert len(to) == 3 and to[-1] == "zed@smallco.example", first.text  # the default: 2 a day at bigco.example
    assert sum(t.endswith("@bigco.example") for t in to) == 2
    assert "waiting (3): account_daily_limit: 2 first touches per company per day" in first.out, first.out
    later = cli("send", "--once", "--now", _days_ahead(1, hour=11)).ok()  # the same day: they are not due again before tomorrow
    assert "claimed 0" in later.out and len(smtp_sink.messages) == 3
    with sqlite3.connect(tmp_path / "db.sqlite") as conn:
        waiting = conn.execute("SELECT state, reason FROM enrollments WHERE reason LIKE 'waiting: account%'").fetchall()
    assert len(waiting) == 3 and {s for s, _ in waiting} == {"active"}, waiting  # waiting, not blocked nor dropped
    assert all("bigco.example reached it today" in r for _, r in waiting)
    cli("send", "--once", "--now", _days_ahead(2)).ok()
    assert _first_touches(smtp_sink, "@bigco.example") == 4
    cli("send", "--once", "--now", _days_ahead(3)).ok()  # the last one, beside day one's three follow-ups
    assert _first_touches(smtp_sink, "@bigco.example") == 5 and len(smtp_sink.messages) == 9  # follow-ups never wait


def test_account_daily_limit_is_set_per_sequence_and_a_mailbox_without_warmup_is_a_warning(smtp_sink: SmtpSink,
                                                                                          tmp_path: Path) -> None:
    d0 = domain("d0.test", smtp_sink.port, 1, gap={"min": 0, "max": 0})
    cli = _workspace(tmp_path, [d0], prospects=0, account_daily_limit=4)
    text = cli("validate").ok().out
    assert "d0.test.yaml:" in text and "mailbox m0@d0.test has no warmup: it sends its full cap (20 a day) " \
                                       "from day one" in text, text
    people = write_csv(tmp_path / "people.csv", "email,first_name",
                       [f"{name}@bigco.example,{name.title()}" for name in ("ann", "bob", "cy", "dee", "eve")])
    cli("prospects", "import", str(people), "--enroll", "seq").ok()
    cli("send", "--once", "--now", _days_ahead(1)).ok()
    assert len(smtp_sink.messages) == 4


def test_account_daily_limit_holds_across_ticks_running_at_once(smtp_sink: SmtpSink, tmp_path: Path,
                                                                backend: str | None) -> None:
    url = backend or f"sqlite:///{tmp_path / 'db.sqlite'}"
    tw = build(tmp_path / "ws", url, [three_step_sequence(window=ALWAYS_OPEN)],
               [domain("d0.test", smtp_sink.port, 4, gap={"min": 0, "max": 0})],
               settings="[daemon]\nhealth_checks = false\nbatch_size = 3\n")
    tw.engine.dispose()
    cli = Cli(config=tw.root / "config.toml", cwd=tmp_path)
    people = write_csv(tmp_path / "people.csv", "email,first_name", [f"p{i}@bigco.example,P{i}" for i in range(12)])
    cli("prospects", "import", str(people), "--enroll", "seq").ok()
    at = _days_ahead(1)
    for result in cli.many(*[("send", "--once", "--now", at)] * 4):
        result.ok()
    assert _first_touches(smtp_sink, "@bigco.example") == 2, [m.rcpt_tos for m in smtp_sink.messages]
