"""The providers' per-mailbox limits held by the SMTP pool, and what a refused token becomes."""

from __future__ import annotations

from datetime import UTC, datetime

from outbound.engine.smtp import SmtpPool
from outbound.rulebook.decide import decide
from outbound.rulebook.facts import TokenRefused
from outbound.spec.domain import SendingDomain


def _domain(provider: str, **auth: object) -> SendingDomain:
    return SendingDomain.model_validate({
        "domain": "acme.com", "smtp": {"host": "127.0.0.1", "port": 2525, "tls": "none"},
        "auth": {"type": "oauth2", "provider": provider, "client_id_env": "X", **auth},
        "mailboxes": [{"address": "a@acme.com"}]})


async def test_microsoft_mailboxes_hold_at_most_three_smtp_sessions() -> None:
    pool = SmtpPool(max_connections_per_mailbox=8)
    ms = _domain("microsoft")
    transport = await pool.transport(ms, ms.mailboxes[0])
    assert transport._slots._value == 3
    google = _domain("google")
    assert (await SmtpPool(max_connections_per_mailbox=8).transport(google, google.mailboxes[0]))._slots._value == 8
    tighter = _domain("microsoft", limits={"max_connections": 2})
    assert (await SmtpPool(max_connections_per_mailbox=8).transport(tighter, tighter.mailboxes[0]))._slots._value == 2


def test_a_refused_token_pauses_the_mailbox_with_how_to_reconnect_once_per_token() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    effects = decide(TokenRefused("a@acme.com", "invalid_grant: revoked", at, generation=4))
    [pause] = effects.senders
    assert (pause.action, pause.scope, pause.target) == ("pause", "mailbox", "a@acme.com")
    assert "outbound mailboxes connect a@acme.com" in pause.reason and "invalid_grant" in pause.reason
    assert effects.send is None and effects.enrollments == ()
    [record] = effects.records
    assert record.type == "token_refused" and record.key == "token_refused:a@acme.com:4"
