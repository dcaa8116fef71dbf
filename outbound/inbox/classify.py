"""classify(raw) -> Classification: what an inbound message is, composed from the single-job modules.

Order matters: complaints (ARF, SES JSON) and bounces come first, because half of real bounces
also carry Auto-Submitted; then auto-reply headers and subjects; then unsubscribe wording in
the author's own text; then out-of-office wording; then a human reply if the message answers
something, else other. Never raises: anything unreadable is ``other``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from email.message import Message
from email.utils import parsedate_to_datetime

from outbound.core.bounces import read_failure
from outbound.inbox import arf, autoreply, bounce, intent, mime, ses_json
from outbound.inbox.addresses import header_addresses
from outbound.inbox.original import original_message_id
from outbound.inbox.reply_text import extract_reply
from outbound.inbox.result import Classification, Kind, RecipientResult
from outbound.inbox.return_date import find_return_date
from outbound.inbox.unsubscribe_words import is_unsubscribe_request

__all__ = ["Classification", "classify"]

_MSGID = re.compile(r"<[^<>\s]+>")
_REPLY_SUBJECT = re.compile(r"^\s*(re|aw|sv|vs|antw|r|rif|res|odp|ynt|回复|答复|tr|fwd?|wg)\s*(\[\d+\])?\s*[:：]", re.I)


def classify(raw: bytes, *, mailbox: str | None = None) -> Classification:
    """Classify one raw message. ``mailbox``: our own address; mail it sent is never a reply."""
    try:
        return _classify(raw, mailbox)
    except Exception as exc:  # the contract is "never raise": a bug here must not stop the poller
        return Classification(kind="other", reason="unparseable", why=f"classifier error: {type(exc).__name__}")


def _ids(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_MSGID.findall(value)))


def _sent_date(msg: Message) -> dt.date | None:
    value = mime.header(msg, "Date")
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).date()
    except Exception:
        return None


def _classify(raw: bytes, mailbox: str | None) -> Classification:
    if not isinstance(raw, (bytes, bytearray)):
        return Classification(kind="other", reason="unparseable", why="input is not bytes")
    msg = mime.parse(bytes(raw))
    if not msg.keys():
        return Classification(kind="other", reason="unparseable", why="no headers")
    in_reply_to = next(iter(_ids(mime.header(msg, "In-Reply-To"))), None)
    references = _ids(" ".join(mime.headers(msg, "References")))
    return replace(
        _decide(msg, mailbox, bool(in_reply_to or references)), in_reply_to=in_reply_to, references=references
    )


def _decide(msg: Message, mailbox: str | None, answers_something: bool) -> Classification:

    if mailbox and mailbox.strip().lower() in header_addresses(mime.headers(msg, "From")):
        return Classification(kind="other", reason="own_message", why="sent by this mailbox itself")

    complaint = arf.read_complaint(msg)
    if complaint is not None:
        reason = "opt_out" if complaint.feedback_type == "opt-out" else "feedback"
        return Classification(
            kind="complaint",
            recipients=complaint.recipients,
            reason=reason,
            original_message_id=original_message_id(msg, ""),
            why=complaint.why,
        )

    body = mime.body_text(msg)
    ses = ses_json.read_ses(body) if "notificationType" in body else None
    if ses is not None:
        return _from_ses(ses)

    report = bounce.analyse(msg)
    if report is not None:
        return _from_bounce(msg, report)

    subject = mime.header(msg, "Subject")
    own = extract_reply(body)
    sent = _sent_date(msg)
    author = next(iter(header_addresses(mime.headers(msg, "From"))), None)
    header_why = autoreply.header_signal(msg)
    # a person who says they are away and proposes a time is answering, not an auto-responder
    by_hand = not header_why and intent.proposes_meeting(own)
    if header_why or (autoreply.subject_signal(subject) and not by_hand):
        return _auto_reply(subject, own, sent, header_why or f"auto-reply subject: {subject[:60]}", author)

    if is_unsubscribe_request(own, subject) and not intent.keeps_in_touch(own):
        return Classification(
            kind="unsubscribe", reason="unsubscribe_request", reply_text=own, why="asks to be removed",
            intent="do_not_contact",
        )

    if not by_hand and (
        autoreply.body_signal(own) or (autoreply.bulk_precedence(msg) and autoreply.is_vacation(subject, own))
    ):
        return _auto_reply(subject, own, sent, "out-of-office wording in the message's own text", author)

    if answers_something or _REPLY_SUBJECT.match(subject):
        reading = intent.read_intent(own, kind="human_reply", sent=sent, own_address=author)
        return _read(Classification(kind="human_reply", reason="reply", reply_text=own, why="a person answering"),
                     reading)
    return Classification(
        kind="other", reason="unrecognised", reply_text=own or None, why="not a reply, bounce or report"
    )


def _read(c: Classification, reading: intent.Reading) -> Classification:
    return replace(c, intent=reading.intent, follow_up_on=reading.follow_up_on,
                   referral=reading.referral.as_json() if reading.referral else None)


def _auto_reply(subject: str, own: str, sent: dt.date | None, why: str, author: str | None = None) -> Classification:
    when = find_return_date(subject + "\n" + own, sent)
    vacation = autoreply.is_vacation(subject, own) or autoreply.body_signal(own)
    reason = "vacation" if autoreply.is_vacation(subject, own) or when else "auto_reply"
    reading = intent.read_intent(own, kind="auto_reply", sent=sent, vacation=vacation, own_address=author)
    return _read(Classification(kind="auto_reply", reason=reason, return_date=when, why=why),
                 reading)


def _from_bounce(msg: Message, report: bounce.BounceReport) -> Classification:
    kind: Kind = report.kind  # type: ignore[assignment]
    per = tuple(RecipientResult(v.address, v.status, v.reason, v.hard, v.fault) for v in report.recipients)
    lead = next((r for r in per if r.hard), per[0]) if kind == "hard_bounce" and per else (per[0] if per else None)
    return Classification(
        kind=kind,
        recipients=tuple(dict.fromkeys(r.address for r in per)),
        status=lead.status if lead else None,
        reason=lead.reason if lead else ("undefined" if kind != "delivery_report" else "delivered"),
        original_message_id=original_message_id(msg, mime.body_text(msg)),
        per_recipient=per,
        why=report.why,
        fault=lead.fault if lead else report.fault,
    )


def _from_ses(ses: ses_json.SesNotification) -> Classification:
    per = []
    for address, status, diagnostic in ses.recipients:
        if ses.kind in ("delivery_report", "complaint"):
            reason = "delivered" if ses.kind == "delivery_report" else "feedback"
            per.append(RecipientResult(address, status, reason, False))
            continue
        verdict = read_failure(status, diagnostic, where="dsn")
        # SES's "Permanent" covers policy refusals too: it decides only when the wording names no cause.
        hard = verdict.hard or (ses.kind == "hard_bounce" and verdict.reason in ("undefined", "on_hold"))
        per.append(RecipientResult(address, status, verdict.reason, hard, verdict.fault))
    kind: Kind = ses.kind  # type: ignore[assignment]
    if kind in ("hard_bounce", "soft_bounce") and per:
        kind = "hard_bounce" if any(r.hard for r in per) else "soft_bounce"
    return Classification(
        kind=kind,
        recipients=tuple(r.address for r in per),
        status=per[0].status if per else None,
        reason=per[0].reason if per else None,
        original_message_id=f"<{ses.message_id}>" if ses.message_id else None,
        per_recipient=tuple(per) if kind != "complaint" else (),
        why="Amazon SES notification",
        fault=per[0].fault if per else None,
    )
