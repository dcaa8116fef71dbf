"""The forward of a reply: whether it goes ([inbox] forward_to, forward_intents) and what it carries."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage

import pytest
from pydantic import ValidationError

from outbound.config import InboxSettings
from outbound.inbox.forward import forward_message, wanted
from outbound.store.replies import Reply

NOW = datetime(2026, 12, 2, 10, tzinfo=UTC)


def _reply(intent: str | None) -> Reply:
    return Reply(7, NOW, "ann@acme.test", "Ann Smith", "Acme", "m0@d0.test", "seq", "intro", 0, intent,
                 "Re: Hello", "Let's talk.", "<r1@acme.test>", None, 1, 1, {})


def test_only_the_listed_intents_are_forwarded_and_only_with_a_forward_address() -> None:
    on = InboxSettings(forward_to=" Sales@Ours.test ")
    assert on.forward_to == "sales@ours.test"
    assert [wanted(on, _reply(i)) for i in ("interested", "meeting_request", "information_request", "not_interested",
                                            None)] == [True, True, True, False, False]
    assert not wanted(InboxSettings(), _reply("interested"))
    assert wanted(InboxSettings(forward_to="a@b.test", forward_intents=["later"]), _reply("later"))
    with pytest.raises(ValidationError, match="is not an email address"):
        InboxSettings(forward_to="sales team")


def test_the_forward_has_the_facts_on_top_and_the_original_attached() -> None:
    original = EmailMessage()
    original["From"], original["Subject"], original["Message-ID"] = "ann@acme.test", "Re: Hello", "<r1@acme.test>"
    original.set_content("Let's talk.\n")
    raw = forward_message(_reply("interested"), original.as_bytes(), Address("Sender", addr_spec="m0@d0.test"),
                          "sales@ours.test", "<f1@d0.test>", NOW)
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    assert msg["Subject"] == "Fwd: Re: Hello [interested]" and msg["To"] == "sales@ours.test"
    top = msg.get_body(("plain",))
    assert top is not None and "Intent:   interested" in top.get_content()
    [part] = list(msg.iter_attachments())
    assert part.get_content_type() == "message/rfc822" and part.get_content()["Message-ID"] == "<r1@acme.test>"
