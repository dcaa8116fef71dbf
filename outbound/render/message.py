"""A rendered message and its MIME form (plain text, optional HTML alternative)."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage

from outbound.render.headers import SMTP_POLICY, SMTPUTF8_POLICY


@dataclass(frozen=True)
class ThreadInfo:
    """The message a threaded step replies to, as it was sent."""

    subject: str
    message_id: str
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class RenderedMessage:
    """Everything needed to send one step to one prospect.

    ``headers`` holds every header in sending order as text (From/To shown as ``Name <address>``);
    no X- header is ever added, since such headers mark mail as bulk-sent.
    """

    subject: str
    text: str
    html: str | None
    variant_id: str | None
    headers: dict[str, str]
    sender: Address
    recipient: Address
    message_id: str
    needs_smtputf8: bool = False
    references: tuple[str, ...] = field(default=())

    def to_email_message(self) -> EmailMessage:
        """The MIME message; RFC 2047 encoded-words for non-ASCII text, RFC 6532 UTF-8 only if the
        recipient's address needs it (the sender must then use SMTPUTF8)."""
        msg = EmailMessage(policy=SMTPUTF8_POLICY if self.needs_smtputf8 else SMTP_POLICY)
        for name, value in self.headers.items():
            if name == "From":
                msg[name] = self.sender
            elif name == "To":
                msg[name] = self.recipient
            else:
                msg[name] = value
        msg.set_content(self.text, cte=_transfer_encoding(self.text))
        if self.html is not None:
            msg.add_alternative(self.html, subtype="html", cte=_transfer_encoding(self.html))
        return msg

    def as_bytes(self) -> bytes:
        return self.to_email_message().as_bytes()


def _transfer_encoding(text: str) -> str:
    """7bit when plain ASCII with short lines, else quoted-printable: never raw 8bit, which a relay
    without 8BITMIME would have to re-encode, breaking the DKIM body hash."""
    if text.isascii() and all(len(line) <= 900 for line in text.splitlines()):
        return "7bit"
    return "quoted-printable"
