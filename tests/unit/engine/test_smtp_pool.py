"""SmtpPool bookkeeping without sockets: one transport per mailbox, renewed when its settings change."""

from __future__ import annotations

import pytest

from outbound.engine.smtp import MailboxTransport, SmtpPool
from outbound.spec.domain import SendingDomain


def domain(port: int = 2525, username: str | None = None) -> SendingDomain:
    return SendingDomain.model_validate({
        "domain": "acme.test", "smtp": {"host": "mail.acme.test", "port": port},
        "mailboxes": [{"address": "alex@acme.test"},
                      {"address": "sam@acme.test", "smtp": {"host": "other.test", "username": username}}]})


async def test_one_transport_per_mailbox_with_its_own_server() -> None:
    pool, d = SmtpPool(), domain()
    alex, sam = d.mailboxes
    ta, ts = await pool.transport(d, alex), await pool.transport(d, sam)
    assert ta is await pool.transport(d, alex)
    assert (ta.server.host, ts.server.host) == ("mail.acme.test", "other.test")
    assert ta.username == "alex@acme.test"  # defaults to the mailbox address


async def test_changed_settings_give_a_new_transport() -> None:
    pool = SmtpPool()
    first = await pool.transport(domain(), domain().mailboxes[1])
    changed = await pool.transport(domain(username="sam-login"), domain(username="sam-login").mailboxes[1])
    assert changed is not first and changed.username == "sam-login"
    await pool.close_all()


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        MailboxTransport(domain().smtp_for(domain().mailboxes[0]), "alex@acme.test", max_connections=0)
