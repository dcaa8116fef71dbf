"""What an inbound message does to the store: look up candidate sends, match, apply the effect.

One message is one transaction: the event (keyed by :attr:`Inbound.dedupe_key`, the Message-ID or
the bytes' hash) is inserted first, so a message seen again (a UIDVALIDITY rescan, the same mail in
INBOX and Junk, two mailboxes on one thread) records nothing twice and changes nothing twice.

Effects, each with a reason on what it changed:

* hard bounce: the address suppressed, every enrollment of its prospect stopped;
* soft bounce: the send marked bounced, the address suppressed after ``soft_bounce_limit``
  bounced sends to it, the enrollment stopped when the sequence stops on bounce (as at SMTP time);
* auto-reply: the enrollment paused until the return date (else for ``auto_reply_pause``), or
  stopped when the sequence's ``stop_on`` lists auto_reply;
* unsubscribe, complaint: the address (and the unsubscribing sender) suppressed, every
  enrollment of the prospect stopped;
* human reply: ``replied`` recorded, the enrollment stopped (``stop_on: reply``), and with
  ``stop_account_on_reply`` every enrollment at the prospect's company domain;
* delivery report, other: only an event; no send found: ``unmatched_inbound`` without a prospect.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from outbound.core import events as ev
from outbound.inbox.addresses import is_system
from outbound.inbox.match import Found, Inbound, Lookup, Match, SendRef, effective_kind, lookup_for, match
from outbound.store.db import session_scope
from outbound.store.prospects import suppress_in
from outbound.store.tables import Account, Enrollment, EnrollmentState, Event, Prospect, Send, SendState

DEFAULT_STOP_ON = frozenset({"reply", "bounce", "unsubscribe", "complaint"})
OPEN_STATES = (EnrollmentState.active, EnrollmentState.paused, EnrollmentState.blocked)
LONGEST_PAUSE = timedelta(days=90)  # a return date further out is more likely a misread than a sabbatical


@dataclass(frozen=True)
class Rules:
    """The settings an effect depends on: the send's sequence and the [inbox] config."""

    stop_on: frozenset[str] = DEFAULT_STOP_ON
    stop_account_on_reply: bool = False
    soft_bounce_limit: int = 3
    auto_reply_pause: timedelta = timedelta(days=7)


RulesFor = Callable[[str], Rules]


@dataclass(frozen=True)
class Handled:
    """What became of one message, for the poll summary."""

    kind: str
    via: str
    event: str | None
    reason: str
    duplicate: bool = False
    send_id: int | None = None
    actions: tuple[str, ...] = ()

    @property
    def matched(self) -> bool:
        return self.send_id is not None and self.via != "own"


# ---------------------------------------------------------------- lookups

def _ref(send: Send) -> SendRef:
    assert send.id is not None
    return SendRef(send.id, send.enrollment_id, send.prospect_id, send.mailbox, send.to_address, send.message_id,
                   send.sequence_name, send.step_id, send.step_index, send.sent_at)


def find_candidates(session: Session, lookup: Lookup, per_address: int = 20) -> Found:
    by_id: dict[str, SendRef] = {}
    if lookup.message_ids:
        for send in session.exec(select(Send).where(col(Send.message_id).in_(list(lookup.message_ids)))):
            by_id[send.message_id or ""] = _ref(send)
    by_recipient: dict[str, list[SendRef]] = defaultdict(list)
    for address in lookup.recipients[:20]:
        rows = session.exec(select(Send).where(col(Send.to_address) == address, col(Send.message_id).is_not(None))
                            .order_by(col(Send.id).desc()).limit(per_address))
        by_recipient[address] = [_ref(s) for s in rows]
    by_sender: list[SendRef] = []
    if lookup.sender:
        rows = session.exec(select(Send).join(Enrollment, col(Enrollment.id) == col(Send.enrollment_id))
                            .join(Prospect, col(Prospect.id) == col(Send.prospect_id))
                            .where(col(Prospect.email) == lookup.sender, col(Send.message_id).is_not(None),
                                   col(Enrollment.state).in_([EnrollmentState.active, EnrollmentState.paused]))
                            .order_by(col(Send.id).desc()).limit(per_address))
        by_sender = [_ref(s) for s in rows]
    return Found(by_id, dict(by_recipient), tuple(by_sender))


# ---------------------------------------------------------------- entry point

def handle_inbound(engine: Engine, inbound: Inbound, rules_for: RulesFor, now: datetime) -> Handled:
    """Match and apply one message in one transaction; a message already recorded is a no-op."""
    try:
        with session_scope(engine) as session:
            return _handle(session, inbound, rules_for, now)
    except IntegrityError:
        # another worker recorded the same message between our check and our insert; any other
        # conflict propagates, so the poller keeps its watermark and the message comes round again
        with session_scope(engine) as session:
            if session.exec(select(Event.id).where(col(Event.dedupe_key) == inbound.dedupe_key)).first() is None:
                raise
        return Handled(inbound.classification.kind, "none", None, "already recorded (concurrently)", duplicate=True)


def _handle(session: Session, inbound: Inbound, rules_for: RulesFor, now: datetime) -> Handled:
    key = inbound.dedupe_key
    seen = session.exec(select(Event.type, Event.send_id).where(col(Event.dedupe_key) == key)).first()
    if seen is not None:
        return Handled(inbound.classification.kind, "none", seen[0], f"already recorded as {seen[0]}",
                       duplicate=True, send_id=seen[1])
    found = match(inbound, find_candidates(session, lookup_for(inbound)))
    if found.own:
        return Handled(inbound.classification.kind, "own", None, found.reason,
                       send_id=found.send.send_id if found.send else None)
    kind, why = effective_kind(inbound, found)
    effects = _Effects(session, inbound, found, now)
    if found.send is None:
        event_type, actions = effects.unmatched(kind)
    else:
        event_type, actions = effects.apply(kind, rules_for(found.send.sequence_name))
    effects.record(event_type, kind, why)
    return Handled(kind, found.via, event_type, found.reason, send_id=found.send.send_id if found.send else None,
                   actions=tuple(actions))


# ---------------------------------------------------------------- effects

@dataclass
class _Effects:
    session: Session
    inbound: Inbound
    found: Match
    now: datetime
    actions: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def send(self) -> SendRef:
        assert self.found.send is not None
        return self.found.send

    def record(self, event_type: str, kind: str, why: str) -> None:
        c, send = self.inbound.classification, self.found.send
        data: dict[str, Any] = {
            "kind": kind, "why": why, "via": self.found.via, "match": self.found.reason, "from": self.inbound.sender,
            "subject": self.inbound.subject, "message_id": self.inbound.message_id, "imap": self.inbound.imap_key,
            "folder": self.inbound.folder, "actions": self.actions, **self.extra}
        if send is not None:
            data |= {"sequence": send.sequence_name, "step": send.step_id, "step_index": send.step_index}
        if c.kind in ("hard_bounce", "soft_bounce", "delivery_report"):
            data |= {"hard": c.kind == "hard_bounce", "status": c.status, "reason": c.reason,
                     "recipients": list(c.recipients), "source": "dsn"}
        self.session.add(Event(type=event_type, at=self.now, prospect_id=send.prospect_id if send else None,
                               enrollment_id=send.enrollment_id if send else None,
                               send_id=send.send_id if send else None, mailbox=self.inbound.mailbox,
                               dedupe_key=self.inbound.dedupe_key, data=data))
        self.session.flush()  # a duplicate key fails here, before the commit

    def apply(self, kind: str, rules: Rules) -> tuple[str, list[str]]:
        c = self.inbound.classification
        if kind in ("hard_bounce", "soft_bounce"):
            return ev.BOUNCED, self._bounce(kind == "hard_bounce", rules)
        if kind == "auto_reply":
            self.extra["return_date"] = c.return_date.isoformat() if c.return_date else None
            return ev.AUTO_REPLIED, self._auto_reply(rules)
        if kind in ("unsubscribe", "complaint"):
            return self._opt_out(kind)
        if kind == "human_reply":
            self.extra |= {"text": (c.reply_text or "")[:4000], "positive": None}
            return ev.REPLIED, self._reply(rules)
        if kind == "delivery_report":
            return ev.DELIVERY_REPORT, []
        return ev.INBOUND_OTHER, []

    def unmatched(self, kind: str) -> tuple[str, list[str]]:
        c = self.inbound.classification
        self.extra["classified_as"] = kind
        # an opt-out is honoured even when we cannot tell which send it answers
        if kind == "unsubscribe" and self.inbound.sender:
            self._suppress([self.inbound.sender], "asked to unsubscribe by reply (no matching send)")
        elif kind == "complaint" and c.recipients:
            self._suppress(list(c.recipients), "spam complaint (feedback report; no matching send)")
        return ev.UNMATCHED_INBOUND, self.actions

    # -- the single effects

    def _bounce(self, hard: bool, rules: Rules) -> list[str]:
        c, send = self.inbound.classification, self.send
        row = self.session.get(Send, send.send_id)
        what = f"{c.status or 'no status'} {c.reason or ''}".strip()
        if row is not None and row.state == SendState.sent:
            row.state, row.last_error = SendState.bounced, f"bounced after delivery (DSN): {what}"[:1000]
            self.session.flush()
        if hard:
            self._suppress([send.to_address], f"hard bounce: {what} (DSN)")
            self._stop_prospect(send.prospect_id, f"hard bounce {what} reported for {send.to_address}")
            return self.actions
        bounced = len(list(self.session.exec(select(Send.id).where(
            col(Send.to_address) == send.to_address, col(Send.state) == SendState.bounced))))
        self.extra["soft_bounces"] = bounced
        if bounced >= rules.soft_bounce_limit:
            self._suppress([send.to_address], f"repeated soft bounce: {bounced} bounced sends, last {what}")
        else:
            self.actions.append(f"soft bounce {bounced} of {rules.soft_bounce_limit} before {send.to_address} is suppressed")
        if "bounce" in rules.stop_on:
            self._stop_enrollment(send.enrollment_id, f"soft bounce {what} (stop_on: bounce)")
        return self.actions

    def _auto_reply(self, rules: Rules) -> list[str]:
        c, send = self.inbound.classification, self.send
        if "auto_reply" in rules.stop_on:
            self._stop_enrollment(send.enrollment_id, f"auto-reply ({c.reason}) (stop_on: auto_reply)")
            return self.actions
        until, why = pause_until(c.return_date, self.now, rules.auto_reply_pause)
        enr = self.session.get(Enrollment, send.enrollment_id)
        if enr is None:
            return self.actions
        if enr.state == EnrollmentState.active or (enr.state == EnrollmentState.paused and enr.paused_until is not None):
            # an earlier auto-reply's pause is only ever extended
            until = max(until, enr.paused_until) if enr.paused_until else until
            enr.state, enr.paused_until, enr.next_due_at, enr.updated_at = EnrollmentState.paused, until, None, self.now
            enr.reason = f"auto-reply: paused until {until:%Y-%m-%d %H:%M}Z ({why})"
            self.actions.append(f"enrollment {enr.id} {enr.reason}")
        else:
            self.actions.append(f"enrollment {enr.id} left {enr.state} ({enr.reason or 'no reason'})")
        return self.actions

    def _opt_out(self, kind: str) -> tuple[str, list[str]]:
        c, send = self.inbound.classification, self.send
        if kind == "unsubscribe":
            reason = "asked to unsubscribe by reply"
            extra = [self.inbound.sender] if self.inbound.sender and not is_system(self.inbound.sender) else []
            event_type = ev.UNSUBSCRIBED
            self.extra["how"] = "reply"
        else:
            reason = f"spam complaint ({c.reason or 'feedback'} report)"
            extra = list(c.recipients)
            event_type = ev.COMPLAINED
        self._suppress([send.to_address, *extra], reason)
        self._stop_prospect(send.prospect_id, f"{reason}: {send.to_address}")
        return event_type, self.actions

    def _reply(self, rules: Rules) -> list[str]:
        send = self.send
        if "reply" in rules.stop_on:
            self._stop_enrollment(send.enrollment_id, f"replied to step {send.step_index + 1} ({send.step_id}) "
                                                      f"on {self.now:%Y-%m-%d}")
        else:
            self.actions.append("enrollment continues: the sequence does not stop on reply")
        if rules.stop_account_on_reply:
            prospect = self.session.get(Prospect, send.prospect_id)
            domain = prospect.company_domain if prospect else None
            if domain:
                self._stop_account(domain, f"{prospect.email if prospect else send.to_address} at {domain} replied "
                                           "(stop_account_on_reply)")
        return self.actions

    # -- helpers

    def _suppress(self, addresses: Iterable[str], reason: str) -> None:
        wanted = sorted({a.strip().lower() for a in addresses if a and "@" in a and a.lower() != self.inbound.mailbox})
        added = suppress_in(self.session, wanted, reason, self.now)
        self.actions.append(f"suppressed {', '.join(wanted)} ({added} new): {reason}")

    def _stop_enrollment(self, enrollment_id: int, reason: str) -> None:
        enr = self.session.get(Enrollment, enrollment_id)
        if enr is not None:
            self._stop([enr], reason)

    def _stop_prospect(self, prospect_id: int, reason: str) -> None:
        self._stop(list(self.session.exec(select(Enrollment).where(col(Enrollment.prospect_id) == prospect_id))), reason)

    def _stop_account(self, domain: str, reason: str) -> None:
        rows = list(self.session.exec(select(Enrollment).join(Prospect, col(Prospect.id) == col(Enrollment.prospect_id))
                                      .where(col(Prospect.company_domain) == domain)))
        self._stop(rows, reason)
        account = self.session.exec(select(Account).where(col(Account.domain) == domain)).first()
        if account is not None and not account.stopped_reason:
            account.stopped_reason = reason

    def _stop(self, rows: list[Enrollment], reason: str) -> None:
        stopped = [r for r in rows if r.state in OPEN_STATES]
        for enr in stopped:
            enr.state, enr.reason, enr.next_due_at, enr.paused_until, enr.updated_at = (
                EnrollmentState.stopped, reason[:500], None, None, self.now)
        if stopped:
            self.actions.append(f"stopped {len(stopped)} enrollment(s): {reason}")


def pause_until(return_date: date | None, now: datetime, default: timedelta) -> tuple[datetime, str]:
    """When a paused enrollment may resume: the start of the stated return date (UTC), unless that
    is already past or implausibly far, then ``now + default``."""
    if return_date is not None:
        at = datetime.combine(return_date, time(0, 0), tzinfo=UTC)
        if now < at <= now + LONGEST_PAUSE:
            return at, f"back on {return_date.isoformat()}"
        return now + default, f"stated return {return_date.isoformat()} ignored (past or too far); default pause"
    return now + default, "no return date stated; default pause"
