"""Every `outbound` command on both databases: the workspace's SQLite file, and PostgreSQL named by
$OUTBOUND_DATABASE_URL (a fresh database), as a user runs them (subprocesses of the console script).

One workspace per database (``outbound init``'s, its mailboxes sending to a loopback sink) is shared
by the module: ``world`` imports, enrolls and sends once, and runs the commands that only read side
by side (those that do not touch the database meanwhile); the tests after it change the database
and run in file order.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from sqlalchemy import Engine, update
from sqlmodel import col, select

from outbound.core import events as ev
from outbound.rulebook.effects import SenderChange
from outbound.store.db import open_store, session_scope, utcnow
from outbound.store.effects import change_senders
from outbound.store.tables import Event, Send, SendState
from tests.acceptance.conftest import OUTBOUND, Cli, Result, copy_workspace, spawn, stop, write_csv
from tests.fixtures.common import DATA, free_port, wait_for_port
from tests.fixtures.oauth_server import CLIENT_ID, CLIENT_SECRET, OAuthServer
from tests.fixtures.smtp_sink import SmtpSink, _Handler

# founders-q3 holidays (workspace_template/sequences/founders-q3.yaml): no sends on these days
HOLIDAYS = {date(2026, 11, 26), date(2026, 12, 24), date(2026, 12, 25), date(2027, 1, 1)}
ADA, GRACE, LINUS = "ada@analytical.io", "grace@navy.example.org", "linus@gmail.com"


def _send_time() -> str:
    """14:00Z on the next Monday to Thursday after today (prospects are enrolled now): founders-q3's
    window is open for Ada in London and Grace in New York, agencies-reengage's is closed."""
    day = datetime.now(UTC).date() + timedelta(days=1)
    while day.weekday() > 3 or day in HOLIDAYS:
        day += timedelta(days=1)
    return f"{day.isoformat()}T14:00:00Z"


NOW = _send_time()


@pytest.fixture(scope="module")
def sink(backend: str | None) -> Iterator[SmtpSink]:
    """One loopback SMTP sink per database (the shared workspace's mailboxes send to it)."""
    from aiosmtpd.controller import Controller

    server = SmtpSink("127.0.0.1", free_port())
    ctl = Controller(_Handler(server), hostname=server.host, port=server.port, server_hostname="sink.test")
    ctl.start()
    try:
        yield server
    finally:
        ctl.stop()


@dataclass
class World:
    cli: Cli
    root: Path
    url: str
    sink: SmtpSink
    done: dict[str, Result]   # what ``world`` ran, by name
    delivered_after_dry_run: int

    def engine(self) -> Engine:
        return open_store(self.url)


def _point_at_sink(workspace: Path, port: int) -> None:
    """Every mailbox of the shipped domains sends to the sink (plain SMTP, no password); IMAP is kept."""
    yaml = YAML()
    for path in (workspace / "domains").glob("*.yaml"):
        doc = yaml.load(path.read_text(encoding="utf-8"))
        local = {"host": "127.0.0.1", "port": port, "tls": "none"}
        doc["smtp"] = dict(local)
        for box in doc["mailboxes"]:
            box["smtp"] = dict(local)
        with path.open("w", encoding="utf-8") as out:
            yaml.dump(doc, out)
    config = workspace / "config.toml"  # `run` must not pause the mailboxes for their (unreachable) DNS
    config.write_text(config.read_text().replace("health_checks = true", "health_checks = false"))


def _apart(w: Path) -> dict[str, tuple[str, ...]]:
    """Commands that do not read the database's rows: run while the mail is being sent."""
    return {
        "init": ("init", str(w / "new")),
        "validate": ("validate",),
        "validate broken": ("--config", str(DATA / "workspaces" / "broken" / "config.toml"), "validate"),
        "schema domain": ("schema", "domain"),
        "schema out": ("schema", "--out", str(w / "schemas-out")),
        "classify": ("classify", "--json", str(DATA / "inbox" / "ooo_fr.eml"), str(DATA / "inbox" / "unsub_en_plain.eml")),
        "domains check": ("domains", "check", "example.invalid", "--json", "--nameserver", f"127.0.0.1:{free_port()}",
                          "--timeout", "0.2"),
        "demo": ("demo", "--days", "1", "--prospects", "8"),
    }


def _readers(w: Path) -> dict[str, tuple[str, ...]]:
    """Commands that read what was sent and change nothing the others read: run side by side after it."""
    return {
        "status json": ("status", "--json", "--now", NOW),
        "status": ("status", "--now", NOW),
        "preview": ("preview", "founders-q3", "--prospect", ADA, "--step", "intro", "--now", NOW),
        "preview unknown": ("preview", "founders-q3", "--prospect", "nobody@nowhere.test"),
        "report": ("report",),
        "report json": ("report", "--json", "--by", "mailbox"),
        "report html": ("report", "--html", str(w / "report.html")),
        "db upgrade": ("db", "upgrade"),
        "poll": ("poll", "--once"),
    }


@pytest.fixture(scope="module")
def world(backend: str | None, sink: SmtpSink, initialised: Path, tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("sqlite" if backend is None else "postgresql")
    config = copy_workspace(initialised, root / "ws")
    _point_at_sink(config.parent, sink.port)
    env = {"COLUMNS": "250"} | ({"OUTBOUND_DATABASE_URL": backend} if backend else {})
    cli = Cli(config=config, cwd=root, env=env)
    people = write_csv(root / "people.csv", "email,first_name,last_name,company,timezone",
                       [f"{ADA},Ada,Lovelace,Analytical Engines,Europe/London",
                        f"{GRACE},Grace,Hopper,US Navy,America/New_York", f"{LINUS},Linus,,,"])
    apart = _apart(root)
    background = ThreadPoolExecutor(1)  # the setup below runs one command at a time: the other core is free
    apart_done = background.submit(cli.many, *apart.values())
    done = {"import": cli("prospects", "import", str(people), "--source", "conference", "--enroll", "founders-q3"),
            "enroll": cli("enroll", "agencies-reengage", "--email", ADA, "--email", LINUS),
            "enroll again": cli("enroll", "agencies-reengage", "--email", ADA, "--email", "stranger@nowhere.test"),
            "dry run": cli("send", "--once", "--dry-run", "--now", NOW)}
    delivered_after_dry_run = len(sink.messages)
    done["send"] = cli("send", "--once", "--now", NOW)
    done["send again"] = cli("send", "--once", "--now", NOW)
    readers = _readers(root)
    done.update(zip(readers, cli.many(*readers.values()), strict=True))
    done.update(zip(apart, apart_done.result(), strict=True))
    background.shutdown()
    url = backend or f"sqlite:///{config.parent / 'outbound.db'}"
    return World(cli, root, url, sink, done, delivered_after_dry_run)


def test_init_creates_a_workspace(world: World) -> None:
    assert "created workspace in" in world.done["init"].ok().out
    made = world.root / "new"
    assert (made / "config.toml").is_file() and list((made / "sequences").glob("*.yaml"))
    assert sorted(p.name for p in (made / "schemas").iterdir()) == ["domain.schema.json", "sequence.schema.json"]


def test_validate_passes_the_workspace_and_points_at_each_problem(world: World) -> None:
    assert "2 sequence(s), 2 domain(s), 5 mailbox(es): ok" in world.done["validate"].ok().out
    broken = world.done["validate broken"].failed(1).err
    assert re.search(r"bad-wait\.yaml:\d+:\d+: steps\[1\]\.wait: cannot read 'three days'", broken), broken
    assert "7 error(s)" in broken


def test_schema_prints_or_writes_the_json_schemas(world: World) -> None:
    assert json.loads(world.done["schema domain"].ok().out)["type"] == "object"
    assert world.done["schema out"].ok().out.count("wrote ") == 2
    assert json.loads((world.root / "schemas-out" / "sequence.schema.json").read_text())["type"] == "object"


def test_prospects_import_enrolls_and_blocks_whom_a_field_is_missing_for(world: World) -> None:
    out = world.done["import"].ok().out
    assert "3 rows; imported 3 new, updated 0, unchanged 0, skipped 0" in out
    assert "founders-q3: enrolled 2, blocked 1 (missing fields), already enrolled 0" in out


def test_enroll_adds_once_and_names_strangers(world: World) -> None:
    assert "agencies-reengage: enrolled 2, blocked 0 (missing fields), already enrolled 0" in world.done["enroll"].ok().out
    again = world.done["enroll again"].ok()
    assert "enrolled 0," in again.out and "already enrolled 1" in again.out
    assert "not prospects (import them first): stranger@nowhere.test" in again.err


def test_send_dry_run_shows_the_sends_and_sends_nothing(world: World) -> None:
    out = world.done["dry run"].ok().out
    assert "claimed 2," in out and ADA in out and GRACE in out and LINUS not in out
    assert world.delivered_after_dry_run == 0


def test_send_once_delivers_to_the_sink_and_nothing_twice(world: World) -> None:
    out = world.done["send"].ok().out
    assert out.count("delivered") == 2 and "claimed 2," in out
    assert sorted(m.rcpt_tos[0] for m in world.sink.messages) == [ADA, GRACE]
    assert "claimed 0," in world.done["send again"].ok().out
    assert len(world.sink.messages) == 2


def test_status_reports_caps_queue_and_blocked(world: World) -> None:
    st = json.loads(world.done["status json"].ok().out)
    boxes = {m["address"]: m for m in st["mailboxes"]}
    assert len(boxes) == 5 and all(m["in_workspace"] and m["state"] == "active" for m in boxes.values())
    senders = [m.message["From"].addresses[0].addr_spec for m in world.sink.messages]
    assert {a: m["sent_today"] for a, m in boxes.items() if m["sent_today"]} == {a: senders.count(a) for a in senders}
    assert st["sends"] == {"sent": 2}
    assert st["enrollments"] == {"active": 4, "blocked": 1}
    queue = {(q["sequence"], q["step"]): q["due_now"] + q["scheduled"] for q in st["queue"]}
    assert queue == {("founders-q3", "bump"): 2, ("agencies-reengage", "hello"): 2}
    assert st["stuck"] == [{"state": "blocked", "reason": "missing required field(s): company", "count": 1}]
    table = world.done["status"].ok().out
    assert "missing required field(s): company" in table and "sends: sent 2" in table


def test_preview_renders_a_step_for_a_prospect(world: World) -> None:
    out = world.done["preview"].ok().out
    assert "Subject: Analytical Engines + outbound" in out and "To: Ada Lovelace <ada@analytical.io>" in out
    assert "no prospect nobody@nowhere.test" in world.done["preview unknown"].failed(1).err


def test_report_tables_json_and_html(world: World) -> None:
    table = world.done["report"].ok().out
    assert re.search(r"founders-q3\s*│\s*2\s*│\s*2\s*│", table), table
    assert re.search(r"conference\s*│\s*3\s*│\s*2\s*│", table), table
    by_mailbox = json.loads(world.done["report json"].ok().out)
    assert by_mailbox["by"] == "mailbox"
    assert sum(g["delivered"] for g in by_mailbox["groups"].values()) == 2
    assert by_mailbox["sources"][0] | {"cost_per_qualified": None} == {
        "source": "conference", "prospects": 3, "contacted": 2, "qualified": 0, "qualified_share": 0.0,
        "cost_per_lead": 4.0, "cost_per_qualified": None, "verified": 0, "invalid": 0, "risky": 0,
        "invalid_share": None, "risky_share": None}
    assert "wrote " in world.done["report html"].ok().out
    page = (world.root / "report.html").read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html") and "founders-q3" in page


def test_db_upgrade_names_the_database_and_revision(world: World) -> None:
    out = world.done["db upgrade"].ok().out
    scheme = "postgresql+psycopg://" if world.url.startswith("postgresql") else "sqlite:///"
    assert re.match(re.escape(scheme) + r"\S+: schema at revision \w+$", out.strip()), out


def test_classify_reads_message_files(world: World) -> None:
    lines = [json.loads(line) for line in world.done["classify"].ok().out.splitlines()]
    assert [(r["kind"], r["reason"]) for r in lines] == [("auto_reply", "vacation"), ("unsubscribe", "unsubscribe_request")]


def test_domains_check_reports_unanswered_dns(world: World) -> None:
    checked = world.done["domains check"].failed(1)  # exit 1: warnings (the name server never answers)
    [report] = json.loads(checked.out)
    assert report["domain"] == "example.invalid" and report["verdict"] == "warn"


def test_poll_once_without_imap_passwords_says_which(world: World) -> None:
    polled = world.done["poll"].failed(1)
    assert "ACME_ALEX_PASSWORD is empty or unset" in polled.text and "Inbox poll" in polled.out


def test_demo_runs_in_simulated_time(world: World) -> None:
    out = world.done["demo"].ok().out
    assert re.search(r"emails delivered to the sink\s*│\s*[1-9]", out), out


def test_suppress_add_import_list_remove(world: World) -> None:
    listed = world.root / "suppress.txt"
    listed.write_text("x@y.test\n@z.test\nnot an address\n", encoding="utf-8")
    added, imported = world.cli.many(("suppress", "@spam.test", LINUS, "--reason", "asked by phone"),
                                     ("suppress", "import", str(listed)))
    assert "suppressed 2 new entries (0 already there)" in added.ok().out
    assert "suppressed 2 new (0 already there), skipped 1" in imported.ok().out
    repeated, listing, removed = world.cli.many(("suppress", LINUS), ("suppress", "list"),
                                                ("suppress", "remove", "@z.test"))
    assert "suppressed 0 new entries (1 already there)" in repeated.ok().out
    table = listing.ok().out  # listed while @z.test is being removed: it may or may not be there
    assert all(v in table for v in ("@spam.test", LINUS, "asked by phone", "x@y.test")), table
    assert "@z.test may be mailed again" in removed.ok().out
    assert "is not suppressed" in world.cli("suppress", "remove", "@z.test").failed(1).err


def test_mailboxes_resume_lifts_pauses_of_a_domain(world: World) -> None:
    engine = world.engine()
    with session_scope(engine) as s:
        for address in ("alex@tryacme.io", "maria@tryacme.io"):
            change_senders(s, SenderChange("pause", "mailbox", address, "testing resume"), utcnow())
    engine.dispose()
    resumed = world.cli("mailboxes", "resume", "@tryacme.io").ok()
    assert "resumed: alex@tryacme.io, maria@tryacme.io" in resumed.out
    assert "no paused mailbox matches @tryacme.io" in world.cli("mailboxes", "resume", "@tryacme.io").failed(1).err


def test_mailboxes_connect_and_list(world: World, oauth_server: OAuthServer) -> None:
    """The workspace plus a domain whose mailbox logs in with OAuth2, on the same database."""
    ws = world.root / "ws-oauth"
    if not ws.exists():
        shutil.copytree(world.cli.config.parent, ws, ignore=shutil.ignore_patterns("outbound.db*"))  # type: ignore[union-attr]
        (ws / "domains" / "oauth.test.yaml").write_text(json.dumps({
            "domain": "oauth.test", "auth": oauth_server.auth_yaml(), "tracking_host": "t.oauth.test",
            "smtp": {"host": "127.0.0.1", "port": world.sink.port, "tls": "none"},
            "mailboxes": [{"address": "kim@oauth.test"}]}))
    env = {"OUTBOUND_DATABASE_URL": world.url, "OUTBOUND_TOKEN_KEY": "backends-token-key-0001",
           "TEST_OAUTH_CLIENT_ID": CLIENT_ID, "TEST_OAUTH_CLIENT_SECRET": CLIENT_SECRET, "COLUMNS": "250"}
    cli = Cli(config=ws / "config.toml", cwd=world.root, env=env)
    token = oauth_server.issue_refresh("kim@oauth.test")
    connected = cli("mailboxes", "connect", "kim@oauth.test", "--refresh-token-env", "KIM_RT", env={"KIM_RT": token})
    assert "connected kim@oauth.test" in connected.ok().out
    listed = cli("mailboxes", "list", "--json").ok()
    rows = {r["address"]: r for r in json.loads(listed.out)}
    assert rows["kim@oauth.test"]["token"] == "connected" and rows["alex@acme-mail.com"]["auth"] == "none"
    assert token not in listed.text and token not in connected.text
    assert "oauth2 (custom)" in cli("mailboxes", "list").ok().out


def test_reconcile_counts_unknown_sends(world: World) -> None:
    engine = world.engine()
    try:
        with session_scope(engine) as s:  # an interrupted transaction left one send unknown
            s.execute(update(Send).where(Send.to_address == ADA).values(state=SendState.unknown))  # type: ignore[arg-type]
        out = world.cli("reconcile").ok().out
        # sent at NOW, still ahead of the real clock: too recent to look for in the Sent folder
        assert "unknown sends: 0 checked, 0 found in Sent (now sent), 0 not found (queued again), 1 too recent to judge" in out
    finally:
        with session_scope(engine) as s:
            s.execute(update(Send).where(Send.to_address == ADA).values(state=SendState.sent))  # type: ignore[arg-type]
        engine.dispose()


def test_events_add_and_import_record_outcomes_once(world: World) -> None:
    outcomes = write_csv(world.root / "outcomes.csv", "email,type,at,note",
                         [f"{GRACE},qualified,2026-11-30T10:00:00Z,good call", "nobody@nowhere.test,won,2026-11-30,",
                          f"{GRACE},promoted,2026-11-30,"])
    added, imported = world.cli.many(("events", "add", ADA, "qualified", "--at", "2026-11-30T09:00:00Z"),
                                     ("events", "import", str(outcomes)))
    assert added.ok().out.strip() == "recorded"
    assert "recorded 1, already known 0, skipped 2" in imported.ok().out
    assert "no prospect with the address nobody@nowhere.test" in imported.err
    again = world.cli("events", "add", ADA, "qualified", "--at", "2026-11-30T09:00:00Z").ok()
    assert "already recorded" in again.out


def test_score_applies_events_and_rebuilds(world: World) -> None:
    scored = world.cli("score").ok().out
    match = re.match(r"(\d+) new event\(s\); (\d+) prospect\(s\)", scored)
    assert match and int(match[1]) >= 2 and int(match[2]) >= 2, scored  # both qualified prospects
    rebuilt = re.match(r"rebuilt from (\d+) events: (\d+) prospect\(s\) scored", world.cli("score", "--rebuild").ok().out)
    assert rebuilt and int(rebuilt[1]) >= 2 and int(rebuilt[2]) >= 2


def _record_reply(engine: Engine, email: str) -> tuple[int, str]:
    """A human reply to the prospect's first send, as the poller records it; its id and our Message-ID."""
    with session_scope(engine) as s:
        send = s.exec(select(Send).where(col(Send.to_address) == email)).first()
        assert send is not None and send.message_id is not None
        event = Event(type=ev.REPLIED, at=utcnow(), prospect_id=send.prospect_id, enrollment_id=send.enrollment_id,
                      send_id=send.id, mailbox=send.mailbox, dedupe_key=f"msg:<reply-{send.id}@analytical.io>",
                      data={"kind": "human_reply", "from": email, "subject": f"Re: {send.subject}",
                            "message_id": f"<reply-{send.id}@analytical.io>", "sequence": send.sequence_name,
                            "step": send.step_id, "step_index": send.step_index, "text": "Tell me more.",
                            "intent": "information_request"})
        s.add(event)
        s.flush()
        assert event.id is not None
        return event.id, send.message_id


def test_replies_list_show_answer_done_and_the_person_view(world: World) -> None:
    engine = world.engine()
    try:
        reply_id, ours = _record_reply(engine, ADA)
    finally:
        engine.dispose()
    body = world.root / "answer.txt"
    body.write_text("Here is more.\n", encoding="utf-8")
    listed, shown, person, people = world.cli.many(("replies", "--json", "--intent", "information_request"),
                                                   ("replies", "show", str(reply_id)),
                                                   ("prospects", "show", ADA, "--json"), ("prospects", "list"))
    [row] = json.loads(listed.ok().out)
    assert (row["id"], row["email"], row["intent"], row["state"]) == (reply_id, ADA, "information_request", "open")
    assert "Tell me more." in shown.ok().out
    view = json.loads(person.ok().out)
    assert view["source"] == "conference" and {e["sequence"] for e in view["enrollments"]} == {"founders-q3",
                                                                                               "agencies-reengage"}
    assert {"sent", "replied"} <= {i["type"] for i in view["timeline"]}
    assert ADA in people.ok().out and GRACE in people.out
    before = len(world.sink.messages)
    assert f"sent to {ADA}" in world.cli("replies", "answer", str(reply_id), "--body-file", str(body)).ok().out
    [answer] = world.sink.messages[before:]
    assert answer.message["In-Reply-To"] == row["message_id"] and answer.rcpt_tos == [ADA]
    assert answer.message["References"].split()[-1] == row["message_id"] and ours in answer.message["References"]
    done, opened = world.cli.many(("replies", "done", str(reply_id)), ("replies", "--open", "--json"))
    assert "already handled" in done.ok().out and json.loads(opened.ok().out) == []


def _log_has(log: Path, text: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return True
        time.sleep(0.05)
    return False


def test_serve_and_run_start_and_stop_on_sigterm(world: World) -> None:
    port, serve_log, run_log = free_port(), world.root / "serve.log", world.root / "run.log"
    server = spawn(world.cli, "serve", "--port", str(port), log=serve_log)
    daemon = spawn(world.cli, "run", log=run_log)
    try:
        assert wait_for_port(port, 30), serve_log.read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as answer:
            assert answer.status == 200
        assert _log_has(run_log, " started: 2 sequence(s), 5 mailbox(es)", 30), run_log.read_text()
    finally:
        codes = stop(server), stop(daemon)
    served, ran = serve_log.read_text(), run_log.read_text()
    assert codes == (0, 0), served + ran
    assert "link server on" in served and "outbound daemon" in ran and "stopped" in ran
    assert "Traceback" not in served + ran, served + ran


def test_mailboxes_pause_and_people_changed_by_hand(world: World) -> None:
    paused, typo = world.cli.many(("mailboxes", "pause", "maria@tryacme.io", "--reason", "list cleanup"),
                                  ("mailboxes", "pause", "mara@tryacme.io"))
    assert "paused: maria@tryacme.io" in paused.ok().out
    assert "no mailbox 'mara@tryacme.io' in domains/" in typo.failed(1).err
    assert "is paused already" in world.cli("mailboxes", "pause", "maria@tryacme.io").failed(1).err
    st = {m["address"]: m for m in json.loads(world.cli("status", "--json").ok().out)["mailboxes"]}
    assert (st["maria@tryacme.io"]["state"], st["maria@tryacme.io"]["pause_reason"]) == ("paused",
                                                                                        "paused by hand: list cleanup")
    assert "resumed: maria@tryacme.io" in world.cli("mailboxes", "resume", "maria@tryacme.io").ok().out

    held = world.cli("prospects", "pause", GRACE, "--reason", "on leave").ok().out
    assert f"{GRACE}: paused (1 enrollment(s) changed)" in held, held
    assert "(1 enrollment(s) changed)" in world.cli("prospects", "resume", GRACE).ok().out
    assert "(1 enrollment(s) changed)" in world.cli("prospects", "stop", GRACE, "--reason", "asked by phone").ok().out
    gone = world.cli("prospects", "unsubscribe", ADA).ok().out
    assert f"{ADA}: unsubscribed" in gone and "suppressed" in gone, gone
    assert "no prospect 'nobody@nowhere.test'" in world.cli("prospects", "stop", "nobody@nowhere.test").failed(1).err
    engine = world.engine()
    try:
        with session_scope(engine) as s:
            rows = s.exec(select(Event.type, Event.data).where(
                col(Event.type).in_([ev.OPERATOR_ACTION, ev.MAILBOX_PAUSED, ev.UNSUBSCRIBED]))).all()
    finally:
        engine.dispose()
    by_hand = [(kind, data.get("action") or data.get("how"), data.get("by")) for kind, data in rows
               if (data or {}).get("by") == "cli"]
    assert sorted(by_hand) == [(ev.MAILBOX_PAUSED, None, "cli"), (ev.OPERATOR_ACTION, "pause", "cli"),
                               (ev.OPERATOR_ACTION, "resume", "cli"), (ev.OPERATOR_ACTION, "stop", "cli"),
                               (ev.UNSUBSCRIBED, "hand", "cli")], rows


def test_dashboard_serves_its_login_and_stops_on_sigterm(world: World) -> None:
    missing = world.cli("dashboard", "--port", str(free_port())).failed(1)
    assert "no dashboard user has a password: set OUTBOUND_DASHBOARD_PASSWORD" in missing.err
    hashed = subprocess.run([str(OUTBOUND), "dashboard", "hash-password"], input="a long password here\n",
                            capture_output=True, text=True, timeout=60, check=False)
    assert hashed.returncode == 0 and hashed.stdout.startswith("scrypt$"), hashed.stderr
    assert "at least 10 characters" in subprocess.run([str(OUTBOUND), "dashboard", "hash-password"], input="short\n",
                                                      capture_output=True, text=True, timeout=60).stderr
    port, log = free_port(), world.root / "dashboard.log"
    server = spawn(replace(world.cli, env={**world.cli.env, "OUTBOUND_DASHBOARD_PASSWORD": hashed.stdout.strip()}),
                   "dashboard", "--port", str(port), log=log)
    try:
        assert wait_for_port(port, 30), log.read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as answer:
            assert answer.status == 200 and b"Log in" in answer.read()
        form = urllib.parse.urlencode({"user": "admin", "password": "a long password here", "next": "/"}).encode()
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            opener.open(urllib.request.Request(f"http://127.0.0.1:{port}/login", data=form), timeout=10)
            raise AssertionError("a login answers with a redirect")
        except urllib.error.HTTPError as redirect:
            assert redirect.code == 303 and "outbound_session=" in (redirect.headers["set-cookie"] or "")
    finally:
        code = stop(server)
    served = log.read_text()
    assert code == 0 and "dashboard on http://127.0.0.1:" in served and "Traceback" not in served, served


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
