"""What one SMTP delivery attempt came to, and the pure reading of an SMTP reply.

The engine acts on ``SendOutcome.kind``: ``delivered`` and ``ambiguous`` must never be sent again
(ambiguous = the server may have accepted the message), ``temporary`` goes to the retry policy,
bounces mark the recipient, ``auth_failure`` and ``config_error`` pause the mailbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

OutcomeKind = Literal["delivered", "temporary", "hard_bounce", "soft_bounce", "auth_failure", "ambiguous", "config_error"]
# Where in the session the outcome arose: the same 5xx means a bounce at RCPT but a sender problem at MAIL.
Stage = Literal["connect", "tls", "auth", "mail", "rcpt", "data", "message", "local"]


@dataclass(frozen=True)
class SendOutcome:
    kind: OutcomeKind
    reason: str
    code: int | None = None
    status: str | None = None  # RFC 3463 enhanced status such as "5.1.1", when the server gave one
    text: str = ""
    stage: Stage = "message"

    @property
    def may_have_been_delivered(self) -> bool:
        """True when resending could deliver twice (the never-double-send rule)."""
        return self.kind in ("delivered", "ambiguous")

    @property
    def is_bounce(self) -> bool:
        return self.kind in ("hard_bounce", "soft_bounce")

    def describe(self) -> str:
        reply = f"{self.code} {self.text}".strip() if self.code is not None else self.text
        return f"{self.kind} ({self.reason}) at {self.stage}" + (f": {reply}" if reply else "")


_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")


def enhanced_status(text: str) -> str | None:
    """The first RFC 3463 status code in a reply text ("5.1.1"), or None."""
    m = _STATUS.search(text[:200])
    return ".".join(m.groups()) if m else None


# "The address does not exist": the only evidence that makes a bounce hard.
_HARD_STATUS = {"5.1.1": "user_unknown", "5.1.2": "domain_unknown", "5.1.3": "invalid_address",
                "5.1.6": "mailbox_moved", "5.1.10": "null_mx"}
_HARD_TEXT = ("user unknown", "unknown user", "no such user", "does not exist", "doesn't exist", "no such mailbox",
              "mailbox not found", "recipient not found", "unknown recipient", "invalid recipient",
              "no such recipient", "not a valid mailbox", "has moved", "no longer available", "user not found",
              "address not found", "unknown address", "account disabled permanently")
_FULL_TEXT = ("mailbox full", "mailbox is full", "over quota", "quota exceeded", "exceeded storage", "insufficient storage")
_SPAM_TEXT = ("spam", "junk", "bulk mail", "unsolicited", "content rejected", "message content")
_BLOCK_TEXT = ("blocked", "blacklist", "blocklist", "block list", "listed at", "listed in", "spamhaus", " rbl",
               "reputation", "banned", "denylist")
_SENDER_AUTH_TEXT = ("spf", "dkim", "dmarc", "unauthenticated", "not authenticated")
_GREY_TEXT = ("greylist", "graylist", "grey-list", "gray-list", "greylisted")
_RATE_TEXT = ("rate limit", "too many", "throttl", "limit exceeded", "exceeded the rate", "slow down", "try again in")
_SENDER_AUTH_STATUS = {"5.7.23", "5.7.25", "5.7.26", "5.7.27"}


def _has(text: str, needles: tuple[str, ...]) -> bool:
    return any(n in text for n in needles)


def classify_smtp_reply(code: int, text: str, *, stage: Stage = "rcpt") -> SendOutcome:
    """Read one SMTP reply into an outcome; pure, so the hard/soft decision is table-tested."""
    status = enhanced_status(text)
    low = text.lower()
    if 200 <= code < 300:
        return SendOutcome("delivered", "accepted", code, status, text, stage)
    if code == 530 and "starttls" in low:
        return SendOutcome("config_error", "tls_required", code, status, text, stage)
    if code in (530, 534, 535, 538) or status == "5.7.8":
        return SendOutcome("auth_failure", "auth_required" if code == 530 else "auth_rejected", code, status, text, stage)
    if 400 <= code < 500:
        return SendOutcome("temporary", _temporary_reason(code, status, low), code, status, text, stage)
    if stage in ("connect", "tls"):
        return SendOutcome("config_error", "server_refused_session", code, status, text, stage)
    if stage == "auth":
        return SendOutcome("auth_failure", "auth_rejected", code, status, text, stage)
    if stage == "mail":
        # A refused sender is this mailbox's problem, not the recipient's: never a bounce.
        return SendOutcome("config_error", "sender_refused", code, status, text, stage)
    kind, reason = _bounce(status, low)
    return SendOutcome(kind, reason, code, status, text, stage)


def _temporary_reason(code: int, status: str | None, low: str) -> str:
    if status == "4.2.2" or _has(low, _FULL_TEXT):
        return "mailbox_full"
    if _has(low, _GREY_TEXT):
        return "greylisted"
    if status in ("4.7.28", "4.4.5") or _has(low, _RATE_TEXT):
        return "rate_limited"
    if code == 421:
        return "service_unavailable"
    return "temporary_failure"


def _bounce(status: str | None, low: str) -> tuple[OutcomeKind, str]:
    """Hard only when the address does not exist; everything else is soft (may work later or elsewhere)."""
    if status in _HARD_STATUS:
        return "hard_bounce", _HARD_STATUS[status]
    # Microsoft 365 directory-based edge blocking answers unknown recipients this way.
    if status == "5.4.1" and "recipient address rejected" in low:
        return "hard_bounce", "user_unknown"
    if status == "5.2.2":
        return "soft_bounce", "mailbox_full"
    if status == "5.2.1":
        return "soft_bounce", "mailbox_disabled"
    if status in ("5.2.3", "5.3.4"):
        return "soft_bounce", "message_too_large"
    if status is not None and status.startswith("5.7."):
        return "soft_bounce", _policy_reason(status, low)
    if status is not None and status.startswith("5.4."):
        return "soft_bounce", "routing"
    if status is not None and status.startswith("5.6."):
        return "soft_bounce", "content"
    if status in ("5.1.7", "5.1.8"):
        return "soft_bounce", "sender_rejected"
    # Generic or missing status (5.0.0, 5.1.0, 5.5.x, none): the text decides.
    if _has(low, _HARD_TEXT):
        return "hard_bounce", "user_unknown"
    if _has(low, _FULL_TEXT):
        return "soft_bounce", "mailbox_full"
    if _has(low, _SPAM_TEXT) or _has(low, _BLOCK_TEXT) or _has(low, _SENDER_AUTH_TEXT):
        return "soft_bounce", _policy_reason(status, low)
    return "soft_bounce", "rejected"


def _policy_reason(status: str | None, low: str) -> str:
    if status in _SENDER_AUTH_STATUS or _has(low, _SENDER_AUTH_TEXT):
        return "sender_authentication"
    if _has(low, _BLOCK_TEXT):  # first: "spamhaus" would read as spam
        return "blocked"
    if _has(low, _SPAM_TEXT):
        return "spam"
    return "policy"


def local_outcome(kind: OutcomeKind, reason: str, text: str, stage: Stage) -> SendOutcome:
    """An outcome decided without a server reply (connection refused, timeout, missing password...)."""
    return SendOutcome(kind, reason, None, None, text, stage)
