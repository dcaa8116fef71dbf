"""One inbound message: match it to our send, turn it into a rulebook fact, apply the decision.

What each kind does is decided in ``outbound.rulebook`` alone (the same effects as the same fact by
any other path); this module only says which fact a classified, matched message is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from outbound.core import events as ev
from outbound.inbox.addresses import is_system
from outbound.inbox.match import Inbound, Match, effective_kind, lookup_for, match
from outbound.rulebook.decide import decide
from outbound.rulebook.facts import (
    AutoReply,
    Complaint,
    Dsn,
    Fact,
    HumanReply,
    Observed,
    OptOut,
    Policy,
    return_pause,
)
from outbound.store import inbound as inbound_store
from outbound.store.effects import Subject, apply
from outbound.store.outcomes import send_facts, soft_bounces, subject_of_send

PolicyFor = Callable[[str], Policy]


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
    key: str = ""  # the message's dedupe key (its event's, when one was recorded)

    @property
    def matched(self) -> bool:
        return self.send_id is not None and self.via != "own"


def handle_inbound(engine: Engine, inbound: Inbound, policy_for: PolicyFor, now: datetime) -> Handled:
    """Match and apply one message in one transaction; a message already recorded is a no-op."""
    done = inbound_store.once(engine, inbound.dedupe_key, lambda s: _handle(s, inbound, policy_for, now))
    if done is None:
        done = Handled(inbound.classification.kind, "none", None, "already recorded (concurrently)", duplicate=True)
    return replace(done, key=inbound.dedupe_key)


def _handle(session: Session, inbound: Inbound, policy_for: PolicyFor, now: datetime) -> Handled:
    key = inbound.dedupe_key
    seen = inbound_store.seen(session, key)
    if seen is not None:
        return Handled(inbound.classification.kind, "none", seen[0], f"already recorded as {seen[0]}",
                       duplicate=True, send_id=seen[1])
    found = match(inbound, inbound_store.find_candidates(session, lookup_for(inbound)))
    if found.own:
        return Handled(inbound.classification.kind, "own", None, found.reason,
                       send_id=found.send.send_id if found.send else None)
    kind, why = effective_kind(inbound, found)
    fact, subject, extra = _fact(session, inbound, found, kind, policy_for, now)
    effects = decide(fact)
    applied = apply(session, effects, subject, now, key=key, extra={**_data(inbound, found, kind, why), **extra})
    event_type = effects.records[0].type if effects.records else None
    return Handled(kind, found.via, event_type, found.reason, send_id=found.send.send_id if found.send else None,
                   actions=tuple(applied.actions))


def _fact(session: Session, inbound: Inbound, found: Match, kind: str, policy_for: PolicyFor,
          now: datetime) -> tuple[Fact, Subject, dict[str, Any]]:
    """Which fact the message is, whom it is about, and what its record adds."""
    c = inbound.classification
    sender = inbound.sender.lower() if inbound.sender else None
    if found.send is None:
        extra: dict[str, Any] = {"classified_as": kind}
        if kind == "unsubscribe" and sender:  # an opt-out is honoured even when we cannot tell which send it answers
            return OptOut(sender, "reply", now, matched=False), Subject(mailbox=inbound.mailbox), extra
        if kind == "complaint" and c.recipients:
            return (Complaint(c.recipients[0], "arf", now, also=tuple(c.recipients[1:]), feedback=c.reason,
                              mailbox=inbound.mailbox, matched=False), Subject(mailbox=inbound.mailbox), extra)
        return Observed(ev.UNMATCHED_INBOUND), Subject(mailbox=inbound.mailbox), extra
    send = send_facts(session, found.send.send_id)
    policy = policy_for(send.sequence)
    subject = replace(subject_of_send(send), mailbox=inbound.mailbox)
    if kind in ("hard_bounce", "soft_bounce"):
        hard = kind == "hard_bounce"
        fault = c.fault or "recipient"
        others = soft_bounces(session, send.to_address, send.send_id)
        return Dsn(send, hard, c.status, c.reason, now, fault=fault, policy=policy, soft_bounces=others), subject, {
            "soft_bounces": others + (0 if hard or send.state == "bounced" else 1)}
    named = (c.referral or {}).get("email")
    referral = (named, (c.referral or {}).get("name")) if named else None
    if kind == "auto_reply":
        until, why = return_pause(c.return_date, now, policy.auto_reply_pause)
        who = inbound_store.prospect_of(session, send.prospect_id)
        return (AutoReply(send, now, until, why, c.reason or "auto_reply", policy, intent=c.intent, referral=referral,
                          company_domain=who[1] if who else None), subject,
                {"return_date": c.return_date.isoformat() if c.return_date else None, "intent": c.intent})
    if kind == "human_reply":
        who = inbound_store.prospect_of(session, send.prospect_id)
        return (HumanReply(now, send.prospect_id, send, who[1] if who else None, who[0] if who else send.to_address,
                           policy, intent=c.intent, follow_up_on=c.follow_up_on, referral=referral),
                subject, {"text": (c.reply_text or "")[:4000], "intent": c.intent})
    if kind == "unsubscribe":
        also: tuple[str, ...] = (sender,) if sender and not is_system(sender) and sender != inbound.mailbox else ()
        return (OptOut(send.to_address, "reply", now, send.prospect_id, send, also, mailbox=send.mailbox), subject,
                {"how": "reply", "intent": c.intent, "text": (c.reply_text or "")[:4000]})
    if kind == "complaint":
        also = tuple(r for r in c.recipients if r.lower() != inbound.mailbox)
        return (Complaint(send.to_address, "arf", now, send.prospect_id, send, also, c.reason, mailbox=send.mailbox),
                subject, {})
    if kind == "delivery_report":
        return Observed(ev.DELIVERY_REPORT), subject, {}
    return Observed(ev.INBOUND_OTHER), subject, {}


def _data(inbound: Inbound, found: Match, kind: str, why: str) -> dict[str, Any]:
    c, send = inbound.classification, found.send
    data: dict[str, Any] = {
        "kind": kind, "why": why, "via": found.via, "match": found.reason, "from": inbound.sender,
        "subject": inbound.subject, "message_id": inbound.message_id, "imap": inbound.imap_key,
        "folder": inbound.folder}
    if send is not None:
        data |= {"sequence": send.sequence_name, "step": send.step_id, "step_index": send.step_index}
    if c.kind in ("hard_bounce", "soft_bounce", "delivery_report"):
        data |= {"hard": c.kind == "hard_bounce", "status": c.status, "reason": c.reason,
                 "recipients": list(c.recipients), "source": "dsn"}
    return data
