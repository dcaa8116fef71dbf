"""Shared builders for the render tests: a sequence, a sending domain, prospects."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, MIMEPart
from typing import Any

from outbound.prospects.values import ProspectData
from outbound.render import RenderedMessage, TemplateSource, ThreadInfo, render_step
from outbound.render.step import DEFAULT_FOOTER, Footer
from outbound.spec.domain import SendingDomain
from outbound.spec.sequence import Sequence
from outbound.tokens import UnsubscribeLinks, unsubscribe_links
from tests.fixtures.common import DATA

TEMPLATES = DATA / "render" / "seq"
SECRET = b"unit-test-secret-0123456789abcdef"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
MESSAGE_ID = "<11111111-2222-3333-4444-555555555555@acme.io>"


def sequence(steps: list[dict[str, Any]], **extra: Any) -> Sequence:
    return Sequence.model_validate({"name": "demo", "senders": {"domains": ["acme.io"]}, "steps": steps, **extra})


def domain(display_name: str = "Alex Müller") -> SendingDomain:
    return SendingDomain.model_validate({
        "domain": "acme.io", "tracking_host": "t.acme.io", "smtp": {"host": "smtp.acme.io"},
        "mailboxes": [{"address": "alex@acme.io", "display_name": display_name}]})


def prospect(**fields: Any) -> ProspectData:
    custom = fields.pop("fields", {})
    base: dict[str, Any] = {"email": "bob@example.com", "first_name": "Bob", "company": "Example Ltd"}
    base.update(fields)
    return ProspectData(**base, fields=custom)


def links(address: str = "bob@example.com") -> UnsubscribeLinks:
    return unsubscribe_links(7, address, "t.acme.io", "alex@acme.io", SECRET)


def render(steps: list[dict[str, Any]], *, step: int = 0, who: ProspectData | None = None,
           thread: ThreadInfo | None = None, unsubscribe: UnsubscribeLinks | None = None,
           footer: Footer | None = DEFAULT_FOOTER, display_name: str = "Alex Müller", **extra: Any) -> RenderedMessage:
    seq = sequence(steps, **extra)
    dom = domain(display_name)
    return render_step(seq, seq.steps[step], who or prospect(), dom.mailboxes[0], dom,
                       templates=TemplateSource(TEMPLATES), thread=thread, message_id=MESSAGE_ID,
                       unsubscribe=unsubscribe, now=NOW, footer=footer)


def parsed(msg: RenderedMessage) -> EmailMessage:
    """The produced bytes parsed back, as a receiving MTA would see them."""
    out = message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert isinstance(out, EmailMessage)
    return out


def content(part: MIMEPart) -> str:
    """A text part's decoded content with the wire's CRLF line ends made LF."""
    text = part.get_content()
    assert isinstance(text, str)
    return text.replace("\r\n", "\n")
