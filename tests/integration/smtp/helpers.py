"""Message, server settings and transport builders for the SMTP edge tests."""

from __future__ import annotations

from email.message import EmailMessage

from outbound.engine.smtp import MailboxTransport
from outbound.spec.domain import SmtpServer

SENDER = "alex@acme.test"


def message(to: str = "pat@remote.test", body: str = "Hi Pat,\n.leading dot line\nbye\n") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = SENDER, to, "Quick question"
    msg["Message-ID"] = "<t1@acme.test>"
    msg.set_content(body)
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def server(port: int, **kw: object) -> SmtpServer:
    return SmtpServer.model_validate({"host": "127.0.0.1", "port": port, "tls": "none", "timeout": 5, **kw})


def transport(port: int, secrets: dict[str, str] | None = None, **kw: object) -> MailboxTransport:
    srv_kw = {k: v for k, v in kw.items() if k in SmtpServer.model_fields}
    tr_kw = {k: v for k, v in kw.items() if k not in SmtpServer.model_fields}
    return MailboxTransport(server(port, **srv_kw), SENDER, secrets=(secrets or {}).get, **tr_kw)  # type: ignore[arg-type]
