"""Working replies through the CLI (subprocesses, a real SMTP sink): `outbound replies` lists a reply
the poller recorded, `replies show` prints the thread, `replies answer` sends the answer in the
thread (Re: subject, In-Reply-To, References) and marks it handled, `replies done`; a reply of a
forwarded intent reaches `[inbox] forward_to` once, with the original attached, however often the
message is polled; `prospects show/list` show the person."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from sqlmodel import col, select

from outbound.core import events as ev
from outbound.inbox.job import forward_if_wanted, process_message, rules_for
from outbound.inbox.poller import FetchedMessage
from outbound.prospects.values import ProspectData
from outbound.store.db import session_scope
from outbound.store.enrollments import enroll
from outbound.store.operator import suppress_by_hand
from outbound.store.prospects import prospect_ids, upsert_prospects
from outbound.store.tables import Event
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.daemon_proc import ALWAYS_OPEN, cli_env, outbound_command
from tests.integration.engine.workspace import BuiltWorkspace, build, domain, three_step_sequence

ANN, TEAM, BOX = "ann@acme.test", "team@ours.test", "m0@d0.test"


def _cli(tw: BuiltWorkspace, *args: str, code: int = 0) -> str:
    proc = subprocess.run([*outbound_command(), "--config", str(tw.root / "config.toml"), *args], capture_output=True,
                          text=True, timeout=60, check=False, env={**cli_env(), "COLUMNS": "250"})
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stdout + (proc.stderr if code else "")


def _side_by_side(*calls: Callable[[], str]) -> list[str]:
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda call: call(), calls))


def _reply(in_reply_to: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Ann Smith <{ANN}>"
    msg["To"] = BOX
    msg["Subject"] = "Re: Hello Ann"
    msg["Message-ID"] = "<r1@acme.test>"
    msg["In-Reply-To"] = in_reply_to
    msg["References"] = in_reply_to
    msg.set_content("Sounds good, can we talk on Thursday?\nAnn\n\nOn Monday you wrote:\n> Hi Ann, intro.\n")
    return msg.as_bytes()


def test_a_reply_is_listed_shown_answered_in_its_thread_and_forwarded_once(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [three_step_sequence(window=ALWAYS_OPEN)],
               [domain("d0.test", smtp_sink.port, 1, gap={"min": 0, "max": 0})],
               settings=f'[daemon]\nhealth_checks = false\n[inbox]\nforward_to = "{TEAM}"\n')
    upsert_prospects(tw.engine, [ProspectData(email=ANN, first_name="Ann", last_name="Smith", company="Acme",
                                              company_domain="acme.test", source="fair")])
    enroll(tw.engine, tw.ctx.workspace.sequences["seq"].sequence, prospect_ids(tw.engine, emails=[ANN]))
    _cli(tw, "send", "--once")
    [first] = smtp_sink.messages
    sent_id = first.message["Message-ID"]

    fetched = FetchedMessage(BOX, "INBOX", 1, 1, _reply(sent_id))
    now = datetime.now(UTC)
    handled = process_message(tw.ctx, fetched, rules_for(tw.ctx), now)
    assert handled.event == ev.REPLIED
    with session_scope(tw.engine) as s:  # the intent the classifier recorded: one of the forwarded ones
        row = s.exec(select(Event).where(col(Event.type) == ev.REPLIED)).one()
        assert row.data["intent"] == "meeting_request"
        reply_id = row.id

    async def two_daemons() -> list[str | None]:  # the same message polled again by two daemons at once
        again = process_message(tw.ctx, fetched, rules_for(tw.ctx), now)
        assert again.duplicate and again.event == ev.REPLIED
        return list(await asyncio.gather(forward_if_wanted(tw.ctx, fetched, handled, now),
                                         forward_if_wanted(tw.ctx, fetched, again, now)))

    assert sorted(map(str, asyncio.run(two_daemons()))) == ["None", "sent"]
    assert asyncio.run(forward_if_wanted(tw.ctx, fetched, handled, now)) is None  # a later run: still once
    forwards = [m for m in smtp_sink.messages if m.rcpt_tos == [TEAM]]
    assert len(forwards) == 1
    fwd = forwards[0].message
    assert fwd["From"].addresses[0].addr_spec == BOX and fwd["Subject"] == "Fwd: Re: Hello Ann [meeting_request]"
    top = fwd.get_body(("plain",)).get_content()
    assert "Prospect: Ann Smith <ann@acme.test>" in top and "Account:  Acme" in top
    assert "Sequence: seq step 1 (intro)" in top and "Intent:   meeting_request" in top
    [attached] = [p for p in fwd.iter_attachments() if p.get_content_type() == "message/rfc822"]
    assert attached.get_content()["Message-ID"] == "<r1@acme.test>"

    body = tmp_path / "answer.txt"
    body.write_text("Thursday 3 pm works. I'll send an invite.\n", encoding="utf-8")
    listed, shown, missing = _side_by_side(lambda: _cli(tw, "replies", "--json"),
                                           lambda: _cli(tw, "replies", "show", str(reply_id)),
                                           lambda: _cli(tw, "replies", "show", "999", code=1))
    [row] = json.loads(listed)
    assert row | {"received": None} == row | {
        "received": None, "id": reply_id, "email": ANN, "name": "Ann Smith", "company": "Acme", "mailbox": BOX,
        "sequence": "seq", "step": "intro", "step_number": 1, "intent": "meeting_request", "state": "open",
        "message_id": "<r1@acme.test>"}
    assert row["text"].startswith("Sounds good, can we talk on Thursday?") and "> Hi Ann" not in row["text"]
    out, back = shown.index("→"), shown.index("←")
    assert out < back and "Subject: Hello Ann" in shown and "can we talk on Thursday?" in shown
    assert "no reply 999" in missing

    answered = _cli(tw, "replies", "answer", str(reply_id), "--body-file", str(body))
    assert f"sent to {ANN} from {BOX}" in answered and "no copy in Sent (no IMAP server)" in answered
    [answer] = [m for m in smtp_sink.messages if m.rcpt_tos == [ANN]][1:]
    msg = answer.message
    assert msg["Subject"] == "Re: Hello Ann" and msg["In-Reply-To"] == "<r1@acme.test>"
    assert msg["References"].split() == [sent_id, "<r1@acme.test>"]
    assert msg.get_content_type() == "text/plain" and "Thursday 3 pm works." in msg.get_content()
    assert answer.mail_from == BOX

    suppress_by_hand(tw.engine, [ANN], "asked by phone", now)
    refused = _cli(tw, "replies", "answer", str(reply_id), "--body-file", str(body), code=1)
    assert "suppressed (ann@acme.test): asked by phone: nothing sent" in refused
    assert len([m for m in smtp_sink.messages if m.rcpt_tos == [ANN]]) == 2
    opened, done, person, people, nobody = _side_by_side(lambda: _cli(tw, "replies", "--open", "--json"),
                                                 lambda: _cli(tw, "replies", "done", str(reply_id)),
                                                 lambda: _cli(tw, "prospects", "show", ANN, "--json"),
                                                 lambda: _cli(tw, "prospects", "list", "--state", "stopped", "--json"),
                                                 lambda: _cli(tw, "prospects", "show", "nobody@x.test", code=1))
    assert json.loads(opened) == [] and "already handled" in done
    view = json.loads(person)
    assert view["source"] == "fair" and view["account"]["domain"] == "acme.test" and view["hot"] is False
    assert [(e["sequence"], e["state"]) for e in view["enrollments"]] == [("seq", "stopped")]
    types = [i["type"] for i in view["timeline"]]
    assert types[:2] == ["sent", "replied"] and "reply_answered" in types
    assert view["timeline"][0]["subject"] == "Hello Ann" and view["timeline"][1]["intent"] == "meeting_request"
    assert [p["email"] for p in json.loads(people)] == [ANN]
    assert "no prospect nobody@x.test" in nobody
