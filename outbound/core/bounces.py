"""One bounce taxonomy: a failure's status code, reply text and place -> reason, hard or soft, and whose fault.

``read_failure`` is the single decision, used by the SMTP reading at send time
(``outbound.engine.smtp_outcome``) and by DSN and prose bounces (``outbound.inbox.bounce``), so the
same status and text give the same reason and hardness on both paths. It is pure and table-tested.

**Hard** means the address does not exist and must be suppressed for good (sisimai's definition):
``user_unknown``, ``host_unknown``, ``has_moved``, and ``not_accept`` with a 5xx. A refusal for
policy, content, reputation or relaying, or a suspended, disabled or full mailbox is **soft** even
under a 5.x.x code: the address is real. Under a temporary class (4xx, 4.x.x) only a receiver's
"user unknown" or "moved" is hard (a domain lookup may have failed for a while). The reply
text outranks a generic code (5.0.0, 5.1.0, 5.7.1 and the other x.y.0 codes); a few specific codes
outrank the text (5.1.1, 5.1.2, 5.1.6, 5.1.10, 5.2.2, 5.7.23-27, 5.7.509, 5.7.515, 4.4.7...).

**Fault** says who must act: ``recipient`` (the address or its receiver refused this send),
``mailbox`` (our sending mailbox or the server it sends through: its session, IP, PTR, quota),
``domain`` (our sending domain: SPF, DKIM, DMARC, its DNS) or ``transient`` (nobody's: the network,
a receiver's system, retries that ran out).

=====================  =========================================================  ==========  ===========
reason                 meaning                                                    hard?       fault
=====================  =========================================================  ==========  ===========
user_unknown           the mailbox does not exist                                 yes         recipient
host_unknown           the domain does not exist (5.1.2; 5.4.4 only with words)   yes         recipient
has_moved              the address moved, no forwarding (5.1.6)                   yes         recipient
not_accept             the domain accepts no mail (null MX, 5.1.10)               with a 5xx  recipient
mailbox_full           over quota (5.2.2)                                         no          recipient
suspended              the account exists but is disabled or locked (5.2.1)       no          recipient
filtered               a recipient-side filter refused it (an unknown-user        no          recipient
                       answer after RCPT was accepted)
spam                   the content was judged spam                                no          recipient
virus                  malware found                                              no          recipient
policy                 refused by the receiver's policy (5.7.1 with no cause)     no          recipient
message_too_big        the message exceeds a size limit (5.2.3, 5.3.4)            no          recipient
not_compliant_rfc      the message broke an RFC (headers, line length)            no          recipient
blocked                our IP or domain is refused (RBL, reputation,              no          mailbox [1]
                       "Client host rejected")
auth_failure           SPF, DKIM or DMARC failed (5.7.23-26, 5.7.509, 5.7.515)    no          domain
require_ptr            our sending IP has no reverse DNS (5.7.25)                 no          mailbox
no_relaying            the server refused to relay for us                         no          mailbox
security_error         authentication or TLS required                             no          mailbox [2]
rejected               our envelope sender was refused (5.1.7, 5.1.8, 5.7.27)     no          mailbox [3]
exceed_limit           a sending or receiving rate or quota was exceeded          no          mailbox [4]
expired                gave up after retrying (4.4.7, or a 4.x.x reported final  no          transient
                       with no other cause named)
too_many_connections   too many connections, messages or recipients at once       no          transient
network_error          connection, DNS lookup, routing or loop failure (5.4.x)    no          transient
system_error           the receiving system failed                                no          transient
mailer_error           a local delivery program failed                            no          transient
syntax_error           an SMTP command was malformed                              no          transient
on_hold / undefined    nothing recognised                                         no          recipient
=====================  =========================================================  ==========  ===========

[1] ``recipient`` when the wording says the recipient blocked us, or refuses the recipient
address with no word about our IP or server; ``domain`` when it names our domain or a domain list.
[2] ``recipient`` for a bare "not authorized" about the recipient address.
[3] ``domain`` when the sender's domain is the problem (5.1.8, 5.7.27, "domain" in the wording).
[4] ``transient`` unless the wording is about sending (a receiving rate is the receiver's matter).

Decisions made explicit: 5.4.4 (unable to route) is ``network_error`` (soft, transient) unless the
wording says the domain does not exist ("Host or domain name not found", "nonexistent domain"),
then ``host_unknown`` (hard); 5.1.2 is ``host_unknown`` (hard); 5.1.6 ``has_moved`` (hard);
5.2.1 ``suspended`` (soft) unless the wording says the user is unknown; 5.2.3 ``message_too_big``.
An unknown-user answer at DATA without an x.1.x code is ``filtered`` (the receiver accepted RCPT).

The reason ``auth_failure`` (SPF/DKIM/DMARC) is not the send outcome kind ``auth_failure`` (our
SMTP login failed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from outbound.core.bounce_words import (
    DECISIVE_STATUS,
    FIRST_GROUP,
    GENERIC_STATUS,
    USER_UNKNOWN,
    WEAK_USER_UNKNOWN,
    enhanced_status,
    status_detail,
    status_reason,
    text_reason,
)

__all__ = [
    "HARD_REASONS",
    "REASON_FAULT",
    "FailureVerdict",
    "Fault",
    "Where",
    "enhanced_status",
    "fault_of",
    "is_hard",
    "read_failure",
    "reason_for",
]

Fault = Literal["recipient", "mailbox", "domain", "transient"]
# Where the failure arose: an SMTP stage at send time, "local" (no server reply), or "dsn" (reported later).
Where = Literal["connect", "tls", "auth", "mail", "rcpt", "data", "message", "local", "dsn"]

HARD_REASONS = frozenset({"user_unknown", "host_unknown", "has_moved"})

# Whose fault a reason is when the wording adds nothing (see the notes of the table above).
REASON_FAULT: dict[str, Fault] = {
    "user_unknown": "recipient",
    "host_unknown": "recipient",
    "has_moved": "recipient",
    "not_accept": "recipient",
    "mailbox_full": "recipient",
    "suspended": "recipient",
    "filtered": "recipient",
    "spam": "recipient",
    "virus": "recipient",
    "policy": "recipient",
    "message_too_big": "recipient",
    "not_compliant_rfc": "recipient",
    "blocked": "mailbox",
    "auth_failure": "domain",
    "require_ptr": "mailbox",
    "no_relaying": "mailbox",
    "security_error": "mailbox",
    "rejected": "mailbox",
    "exceed_limit": "mailbox",
    "expired": "transient",
    "too_many_connections": "transient",
    "network_error": "transient",
    "system_error": "transient",
    "mailer_error": "transient",
    "syntax_error": "transient",
    "on_hold": "recipient",
    "undefined": "recipient",
}


@dataclass(frozen=True)
class FailureVerdict:
    """What one failure means: ``reason`` (the table above), ``hard`` (suppress the address), ``fault``."""

    reason: str
    hard: bool
    fault: Fault
    why: str = ""

    @property
    def sender_side(self) -> bool:
        """True when our mailbox or domain must change, not the recipient."""
        return self.fault in ("mailbox", "domain")


# Microsoft 365 directory-based edge blocking answers an unknown recipient "5.4.1 Recipient address rejected: Access denied".
_EDGE_BLOCKED_RECIPIENT = re.compile(r"recipient address rejected", re.I)
_DATA_STAGES = frozenset({"data", "message"})
# A final failure under a temporary code with no named cause: the retries ran out.
_GAVE_UP = frozenset({"undefined", "on_hold"})

_ABOUT_RECIPIENT = re.compile(
    r"recipient (address )?rejected|rejected recipient|delivery not authori[sz]ed|(to|for) (this|that|the) recipient", re.I
)
_RECIPIENT_BLOCKED_US = re.compile(
    r"(blocked|blacklisted|refused) by (the )?(recipient|user|addressee|owner)|recipient .{0,30}(has )?blocked"
    r"|on (the )?(recipient|user).{0,3}s? (block|black|deny) ?list",
    re.I,
)
_OUR_DOMAIN = re.compile(
    r"domain .{0,40}(black ?list|block ?list|deny ?list|listed|blocked|reputation)|\bdbl\b|uribl|surbl|(sender|sending|your|from) domain",
    re.I,
)
_OUR_SERVER = re.compile(
    r"client|\bip\b|ip address|\[\d{1,3}(\.\d{1,3}){3}\]|\d{1,3}(\.\d{1,3}){3}|your (server|host|mail server)|\brbl\b|dnsbl|spamhaus"
    r"|spamcop|sorbs|barracuda|reputation|black ?list|block ?list|deny ?list|listed|banned|relay|sender|sending",
    re.I,
)
_SESSION_AUTH = re.compile(
    r"authenticat|starttls|\btls\b|encrypt|authori[sz]ation (required|failed)|smtp auth", re.I
)
_SENDING = re.compile(r"\bsend|sender|outgoing|outbound|submission", re.I)


def read_failure(status: str | None, text: str, *, code: int | None = None, where: Where = "rcpt") -> FailureVerdict:
    """The single decision on one failed delivery: pure, the same on the SMTP path and the DSN path.

    ``status``: the RFC 3463 code when known (else read from ``text``); ``text``: the server's
    words (reply or Diagnostic-Code); ``code``: the SMTP reply code; ``where``: the SMTP stage it
    answered, or ``"dsn"`` when a report gives no stage.
    """
    status = status or enhanced_status(text)
    reason, why = _reason(status, text)
    if where in _DATA_STAGES and reason == "user_unknown" and not status_detail(status).startswith("1."):
        reason, why = "filtered", "an unknown-user answer after RCPT was accepted is a filter's"
    elif _temporary(status, code) and reason in _GAVE_UP:
        reason, why = "expired", f"a temporary {status or code} reported as final: the retries ran out"
    return FailureVerdict(reason, is_hard(reason, status, text, code=code), fault_of(reason, status, text), why)


def reason_for(status: str | None, text: str) -> str:
    """The most likely reason from an enhanced status code and the wording (without the stage rules)."""
    return _reason(status, text)[0]


def _reason(status: str | None, text: str) -> tuple[str, str]:
    detail = status_detail(status)
    by_status = status_reason(status)
    by_text = text_reason(text)
    if detail == "4.1" and _EDGE_BLOCKED_RECIPIENT.search(text):
        return "user_unknown", f"{status} with 'recipient address rejected' (directory-based edge blocking)"
    if by_status and detail in DECISIVE_STATUS:
        # A mailbox-full or moved wording still beats a generic x.1.1.
        if by_status == "user_unknown" and by_text in ("mailbox_full", "has_moved", "mailer_error"):
            return by_text, f"wording ({by_text}) over {status}"
        return by_status, f"status {status}"
    if by_text in FIRST_GROUP:
        return by_text, f"wording ({by_text})"
    if USER_UNKNOWN.search(text):
        return "user_unknown", "wording (unknown user)"
    if by_text:
        return by_text, f"wording ({by_text})"
    if by_status and detail not in GENERIC_STATUS:
        return by_status, f"status {status}"
    if WEAK_USER_UNKNOWN.search(text):
        return "user_unknown", "wording (recipient rejected, no other cause)"
    if by_status:
        return by_status, f"generic status {status}"
    return "undefined", "nothing recognised"


def is_hard(reason: str, status: str | None, text: str = "", *, code: int | None = None) -> bool:
    """Must the address be suppressed for good? Only when it does not exist.

    A receiver's "user unknown" stands even under a 4xx reported final (the retries ran out on
    that answer); a domain lookup under a temporary code may have been a DNS outage, so it is soft.
    """
    if reason in ("user_unknown", "has_moved"):
        return True
    if _temporary(status, code):
        return False
    if reason in HARD_REASONS:
        return True
    if reason == "not_accept":
        # A prose bounce without any code is a final failure: treat it as 5xx.
        if code is not None:
            return code >= 500
        return not status or status.startswith("5") or bool(re.search(r"\b5\d\d\b", text))
    return False


def fault_of(reason: str, status: str | None, text: str) -> Fault:
    """Whose fault a failure with this reason is; the wording settles the reasons that can go either way."""
    fault = REASON_FAULT.get(reason, "recipient")
    if reason == "blocked":
        if _RECIPIENT_BLOCKED_US.search(text):
            return "recipient"
        if _OUR_DOMAIN.search(text):
            return "domain"
        if _ABOUT_RECIPIENT.search(text) and not _OUR_SERVER.search(text):
            return "recipient"
    elif reason == "security_error":
        if _ABOUT_RECIPIENT.search(text) and not _SESSION_AUTH.search(text):
            return "recipient"
    elif reason == "rejected":
        if status_detail(status) in ("1.8", "7.27") or "domain" in text.lower() or "null mx" in text.lower():
            return "domain"
    elif reason == "exceed_limit" and not _SENDING.search(text):
        return "transient"
    return fault


def _temporary(status: str | None, code: int | None) -> bool:
    if status:
        return status.startswith("4")
    return code is not None and 400 <= code < 500
