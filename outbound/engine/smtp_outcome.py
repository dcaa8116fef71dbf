"""The pure reading of one SMTP reply into a ``SendOutcome`` (the value types are in ``outbound.core.outcome``).

Every 5xx at RCPT, DATA or after the message goes through ``outbound.core.bounces.read_failure``,
the decision DSNs use too, so a status and a text give the same reason and hardness at send time
as in a later bounce report. What only the session can tell is decided here: success, 4xx
(retry), our login or TLS failing, and a refusal at connect, AUTH or MAIL (the sender's problem).
"""

from __future__ import annotations

from outbound.core.bounces import enhanced_status, read_failure
from outbound.core.outcome import OutcomeKind, SendOutcome, Stage

_FULL_TEXT = ("mailbox full", "mailbox is full", "over quota", "quota exceeded", "exceeded storage", "insufficient storage")
_GREY_TEXT = ("greylist", "graylist", "grey-list", "gray-list", "greylisted")
_RATE_TEXT = ("rate limit", "too many", "throttl", "limit exceeded", "exceeded the rate", "slow down", "try again in")


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
    verdict = read_failure(status, text, code=code, where=stage)
    if verdict.sender_side:
        return SendOutcome("sender_rejected", verdict.reason, code, status, text, stage, verdict.fault)
    kind: OutcomeKind = "hard_bounce" if verdict.hard else "soft_bounce"
    return SendOutcome(kind, verdict.reason, code, status, text, stage, verdict.fault)


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
