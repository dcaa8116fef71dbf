"""What one SMTP delivery attempt came to: the value the engine and the store act on.

The engine acts on ``SendOutcome.kind``: ``delivered`` and ``ambiguous`` must never be sent again
(ambiguous = the server may have accepted the message), ``temporary`` goes to the retry policy,
bounces mark the recipient, ``auth_failure`` and ``config_error`` pause the mailbox, and
``sender_rejected`` (a 5xx at RCPT or DATA caused by our mailbox or domain: relay denied, client
host rejected, SPF/DKIM/DMARC or PTR verdicts) is the sender's problem, never the prospect's.
``fault`` says who must act (see :mod:`outbound.core.bounces`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from outbound.core.bounces import Fault

OutcomeKind = Literal[
    "delivered", "temporary", "hard_bounce", "soft_bounce", "sender_rejected", "auth_failure", "ambiguous", "config_error"
]
# Where in the session the outcome arose: the same 5xx means a bounce at RCPT but a sender problem at MAIL.
Stage = Literal["connect", "tls", "auth", "mail", "rcpt", "data", "message", "local"]

KIND_FAULT: dict[OutcomeKind, Fault] = {
    "delivered": "transient",
    "ambiguous": "transient",
    "temporary": "transient",
    "hard_bounce": "recipient",
    "soft_bounce": "recipient",
    "sender_rejected": "mailbox",
    "auth_failure": "mailbox",
    "config_error": "mailbox",
}
_UNSET = cast(Fault, "")  # replaced in __post_init__ by the kind's fault


@dataclass(frozen=True)
class SendOutcome:
    kind: OutcomeKind
    reason: str
    code: int | None = None
    status: str | None = None  # RFC 3463 enhanced status such as "5.1.1", when the server gave one
    text: str = ""
    stage: Stage = "message"
    fault: Fault = _UNSET  # default: KIND_FAULT[kind]

    def __post_init__(self) -> None:
        if not self.fault:
            object.__setattr__(self, "fault", KIND_FAULT[self.kind])

    @property
    def may_have_been_delivered(self) -> bool:
        """True when resending could deliver twice (the never-double-send rule)."""
        return self.kind in ("delivered", "ambiguous")

    @property
    def is_bounce(self) -> bool:
        return self.kind in ("hard_bounce", "soft_bounce")

    def describe(self) -> str:
        reply = f"{self.code} {self.text}".strip() if self.code is not None else self.text
        why = f"{self.reason}, our {self.fault}" if self.kind == "sender_rejected" else self.reason
        return f"{self.kind} ({why}) at {self.stage}" + (f": {reply}" if reply else "")


def local_outcome(kind: OutcomeKind, reason: str, text: str, stage: Stage) -> SendOutcome:
    """An outcome decided without a server reply (connection refused, timeout, missing password...)."""
    return SendOutcome(kind, reason, None, None, text, stage)
