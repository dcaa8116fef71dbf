"""Tie an inbound message to the send it answers: pure rules over values the store looked up.

The store asks :func:`lookup_for` which Message-IDs and addresses to look for, fetches the
candidate sends (:class:`Found`), and :func:`match` decides. In order of trust:

* mail the mailbox sent itself (From is the mailbox), or a copy of one of our messages (its own
  Message-ID is one of ours), is never an answer: ``own``;
* bounces, delivery reports and complaints: the original Message-ID quoted inside, then the failed
  recipient (the latest send to it), then In-Reply-To/References;
* everything else: In-Reply-To, then References (newest first), then a quoted original
  Message-ID, and last the sender's address against prospects with an active or paused enrollment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from outbound.core.sends import Found, Lookup, SendRef
from outbound.inbox import mime
from outbound.inbox.addresses import header_addresses
from outbound.inbox.poller import FetchedMessage
from outbound.inbox.result import Classification

Via = Literal["own", "in_reply_to", "references", "original_message_id", "recipient", "sender", "none"]
REPORT_KINDS = frozenset({"hard_bounce", "soft_bounce", "delivery_report", "complaint"})


@dataclass(frozen=True)
class Inbound:
    """One fetched message as the matcher and the effects see it (no raw bytes kept)."""

    mailbox: str
    folder: str
    uidvalidity: int
    uid: int
    message_id: str | None
    sender: str | None
    subject: str
    classification: Classification
    digest: str = ""

    @property
    def imap_key(self) -> str:
        return f"imap:{self.mailbox}:{self.folder}:{self.uidvalidity}:{self.uid}"

    @property
    def dedupe_key(self) -> str:
        """Stable across folders, mailboxes and UIDVALIDITY rescans: the Message-ID, else the bytes."""
        return f"msg:{self.message_id}"[:500] if self.message_id else f"raw:{self.digest}"


def read_inbound(fetched: FetchedMessage, classification: Classification) -> Inbound:
    msg = mime.parse(fetched.raw)
    ids = mime.header(msg, "Message-ID").split()
    message_id = next((i for i in ids if i.startswith("<") and i.endswith(">")), None)
    senders = header_addresses(mime.headers(msg, "From"))
    return Inbound(mailbox=fetched.mailbox.lower(), folder=fetched.folder, uidvalidity=fetched.uidvalidity,
                   uid=fetched.uid, message_id=message_id, sender=senders[0] if senders else None,
                   subject=mime.header(msg, "Subject")[:300], classification=classification,
                   digest=hashlib.sha256(fetched.raw).hexdigest()[:40])


@dataclass(frozen=True)
class Match:
    via: Via
    send: SendRef | None
    reason: str

    @property
    def own(self) -> bool:
        return self.via == "own"


def lookup_for(inbound: Inbound) -> Lookup:
    c = inbound.classification
    ids = [i for i in (inbound.message_id, c.in_reply_to, *c.references, c.original_message_id) if i]
    return Lookup(message_ids=tuple(dict.fromkeys(ids)),
                  recipients=tuple(dict.fromkeys(r.lower() for r in c.recipients)),
                  sender=inbound.sender.lower() if inbound.sender else None)


def best(refs: Iterable[SendRef], mailbox: str) -> SendRef | None:
    """The send from this mailbox first (DSNs come back to the sender), then the latest."""
    ranked = sorted(refs, key=lambda r: (r.mailbox == mailbox, r.sent_at is not None,
                                         r.sent_at.timestamp() if r.sent_at else 0.0, r.send_id))
    return ranked[-1] if ranked else None


def match(inbound: Inbound, found: Found) -> Match:
    c = inbound.classification
    if inbound.sender and inbound.sender.lower() == inbound.mailbox.lower():
        return Match("own", None, f"sent by the mailbox {inbound.mailbox} itself")
    if inbound.message_id and inbound.message_id in found.by_message_id:
        copy = found.by_message_id[inbound.message_id]
        return Match("own", copy, f"a copy of our message {inbound.message_id} (send {copy.send_id})")

    def by_id(message_id: str | None, via: Via, what: str) -> Match | None:
        ref = found.by_message_id.get(message_id) if message_id else None
        return Match(via, ref, f"{what} {message_id} is our send {ref.send_id}") if ref else None

    def by_references() -> Match | None:
        for mid in reversed(c.references):
            hit = by_id(mid, "references", "References")
            if hit:
                return hit
        return None

    def by_recipient() -> Match | None:
        for address in (r.lower() for r in c.recipients):
            ref = best(found.by_recipient.get(address, ()), inbound.mailbox)
            if ref is not None:
                return Match("recipient", ref, f"failed recipient {address} was last mailed by send {ref.send_id}")
        return None

    def by_sender() -> Match | None:
        ref = best(found.by_sender, inbound.mailbox)
        if ref is None or not inbound.sender:
            return None
        return Match("sender", ref, f"sender {inbound.sender} is the prospect of send {ref.send_id} (active enrollment)")

    def original() -> Match | None:
        return by_id(c.original_message_id, "original_message_id", "quoted original Message-ID")

    def in_reply_to() -> Match | None:
        return by_id(c.in_reply_to, "in_reply_to", "In-Reply-To")

    if c.kind in REPORT_KINDS:
        rules = (original, by_recipient, in_reply_to, by_references)
    else:
        rules = (in_reply_to, by_references, original, by_sender)
    for rule in rules:
        hit = rule()
        if hit is not None:
            return hit
    return Match("none", None, _unmatched_reason(inbound))


def _unmatched_reason(inbound: Inbound) -> str:
    c = inbound.classification
    tried = []
    if c.in_reply_to or c.references:
        tried.append("its In-Reply-To/References name none of our messages")
    if c.original_message_id:
        tried.append(f"the quoted Message-ID {c.original_message_id} is not ours")
    if c.recipients:
        tried.append(f"we never mailed {', '.join(c.recipients[:3])}")
    if c.kind not in REPORT_KINDS:
        tried.append(f"the sender {inbound.sender or '(none)'} has no active or paused enrollment")
    return "; ".join(tried) or "nothing in it points at a send"


def effective_kind(inbound: Inbound, found: Match) -> tuple[str, str]:
    """The kind the effects act on, with why. A message the classifier could not place
    ("other") that comes from the very prospect we are mailing is treated as their reply:
    mailing on after someone wrote back is the worse mistake."""
    c = inbound.classification
    send = found.send
    if (c.kind == "other" and c.reason == "unrecognised" and send is not None and inbound.sender
            and inbound.sender.lower() == send.to_address.lower()):
        return "human_reply", f"written by the prospect {send.to_address} itself, though not recognisably a reply"
    return c.kind, c.why or c.kind
