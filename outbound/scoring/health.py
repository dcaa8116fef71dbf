"""Mailbox and domain health from the events: bounce rate, complaints, repeated auth failures.

Called before the send tick claims, so a mailbox that crossed a threshold sends nothing more.
A resume (``outbound mailboxes resume`` or ``resume_after``) forgives the evidence seen so far.
The engine pauses a mailbox on its first SMTP auth failure itself; auth failures on several
mailboxes of one domain within the window pause the whole domain (its server or credentials).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from outbound.scoring.settings import HealthSettings
from outbound.scoring.tables import MailboxHealth
from outbound.store import event_types as ev
from outbound.store import mailboxes as mailbox_store
from outbound.store.db import session_scope
from outbound.store.tables import Event, MailboxState, Send

_TYPES = (ev.SENT, ev.BOUNCED, ev.COMPLAINED, ev.MAILBOX_PAUSED, ev.SEND_FAILED)


@dataclass(frozen=True)
class HealthDecision:
    address: str
    action: str          # pause | resume
    kind: str            # bounce_rate | complaint | auth | domain_auth | timer
    reason: str


@dataclass
class _Evidence:
    sent: set[int] = field(default_factory=set)
    bounced: set[int] = field(default_factory=set)
    complaints: list[int] = field(default_factory=list)
    auth_failures: int = 0


def mailbox_health_pass(engine: Engine, now: datetime, settings: HealthSettings) -> list[HealthDecision]:
    with session_scope(engine) as session:
        boxes = {m.address: m for m in session.scalars(select(MailboxState).order_by(col(MailboxState.address)))}
        health = {h.address: h for h in session.scalars(select(MailboxHealth))}
        for address in boxes:
            if address not in health:
                health[address] = MailboxHealth(address=address)
                session.add(health[address])
        out = _resumes(session, boxes, health, now)
        evidence = _evidence(session, now, settings, health)
        for address, reason, kind in _verdicts(boxes, evidence, settings):
            if mailbox_store.pause(session, address, reason, now):
                h = health[address]
                h.paused_by_health, h.pause_kind, h.paused_at = True, kind, now
                h.resume_at = now + settings.resume_after if settings.resume_after else None
                session.add(Event(type=ev.MAILBOX_PAUSED, at=now, mailbox=address, data={"reason": reason, "by": "health"}))
                out.append(HealthDecision(address, "pause", kind, reason))
        for address, h in health.items():
            box = boxes.get(address)
            h.seen_paused = box is not None and box.state == "paused"
        return out


def _resumes(session: Session, boxes: dict[str, MailboxState], health: dict[str, MailboxHealth],
             now: datetime) -> list[HealthDecision]:
    out: list[HealthDecision] = []
    for address, box in boxes.items():
        h = health[address]
        timed = box.state == "paused" and h.paused_by_health and h.resume_at is not None and h.resume_at <= now
        if timed:
            reason = f"resumed automatically after the health pause ({box.pause_reason})"
            box.state, box.pause_reason, box.paused_at = "active", None, None
            session.add(Event(type=ev.MAILBOX_RESUMED, at=now, mailbox=address, data={"reason": reason, "by": "health"}))
            out.append(HealthDecision(address, "resume", "timer", reason))
        if box.state == "active" and (h.seen_paused or timed):
            h.ignore_before = now  # whoever resumed it fixed the cause (credentials, list quality)
            h.paused_by_health, h.pause_kind, h.resume_at = False, None, None
    return out


def _evidence(session: Session, now: datetime, settings: HealthSettings,
              health: dict[str, MailboxHealth]) -> dict[str, _Evidence]:
    rows = list(session.execute(select(col(Event.id), col(Event.type), col(Event.at), col(Event.mailbox), col(Event.send_id), col(Event.data)).where(
        col(Event.type).in_(_TYPES), col(Event.at) > now - settings.bounce_window, col(Event.at) <= now)))
    unknown = {s for _, _, _, m, s, _ in rows if m is None and s is not None}
    via_send: dict[int, str] = {}
    for i in range(0, len(unknown), 2000):
        chunk = sorted(unknown)[i:i + 2000]
        via_send.update((int(s), m) for s, m in session.execute(select(col(Send.id), col(Send.mailbox)).where(col(Send.id).in_(chunk))))
    out: dict[str, _Evidence] = defaultdict(_Evidence)
    for eid, kind, at, mailbox, send_id, data in rows:
        mailbox = mailbox or (via_send.get(send_id) if send_id is not None else None)
        if mailbox is None:
            continue
        h = health.get(mailbox)
        if h is not None and h.ignore_before is not None and at <= h.ignore_before:
            continue
        e = out[mailbox]
        if _is_auth_failure(kind, data or {}):
            e.auth_failures += 1
            continue
        key = send_id if send_id is not None else -eid  # a bounce we cannot tie to a send still counts once
        if kind == ev.SENT:
            e.sent.add(key)
        elif kind == ev.BOUNCED:
            e.bounced.add(key)
        elif kind == ev.COMPLAINED:
            e.complaints.append(eid)
    return out


def _is_auth_failure(kind: str, data: dict[str, object]) -> bool:
    if kind == ev.SEND_FAILED:
        return data.get("outcome") == "auth_failure"
    return kind == ev.MAILBOX_PAUSED and str(data.get("reason", "")).startswith("auth failure")


def _verdicts(boxes: dict[str, MailboxState], evidence: dict[str, _Evidence],
              s: HealthSettings) -> list[tuple[str, str, str]]:
    """(address, reason, kind) for every active mailbox that must be paused."""
    out: dict[str, tuple[str, str]] = {}
    window = f"{s.bounce_window.total_seconds() / 86400:g}d"
    failing_by_domain: dict[str, list[str]] = defaultdict(list)
    for address, e in sorted(evidence.items()):
        if e.auth_failures:
            domain = boxes[address].domain if address in boxes else address.rsplit("@", 1)[-1]
            failing_by_domain[domain].append(address)
        if address not in boxes or boxes[address].state != "active":
            continue
        attempts = len(e.sent | e.bounced)
        if s.pause_on_complaint and e.complaints:
            out[address] = (f"spam complaint received (event {e.complaints[-1]}; {len(e.complaints)} in the last {window})",
                            "complaint")
        elif attempts >= s.min_sends and len(e.bounced) / attempts > s.max_bounce_rate:
            out[address] = (f"bounce rate {len(e.bounced) / attempts:.1%} ({len(e.bounced)} of {attempts} sends in the "
                            f"last {window}) is above {s.max_bounce_rate:.1%}", "bounce_rate")
        elif e.auth_failures >= s.auth_failures:
            out[address] = (f"SMTP authentication failed {e.auth_failures} times in the last {window}", "auth")
    for domain, failing in failing_by_domain.items():
        if len(failing) < s.auth_failure_mailboxes:
            continue
        reason = (f"SMTP authentication failed on {len(failing)} mailboxes of {domain} in the last {window} "
                  f"({', '.join(failing)}): every mailbox of the domain is paused")
        for address, box in boxes.items():
            if box.domain == domain and box.state == "active" and address not in out:
                out[address] = (reason, "domain_auth")
    return [(a, r, k) for a, (r, k) in sorted(out.items())]
