"""Delivery through the real in-process aiosmtpd sink: bytes, reuse, replies, AUTH."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest

from outbound.engine.smtp import NotStarted, SmtpPool
from outbound.rulebook.retry import Retry, retry_decision
from outbound.spec.domain import Mailbox, SendingDomain
from tests.fixtures.common import free_port
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.smtp.helpers import SENDER, message, transport
from tests.integration.smtp.servers import counting_sink


async def test_delivered_message_arrives_intact(smtp_sink: SmtpSink) -> None:
    tr = transport(smtp_sink.port)
    raw = message()
    out = await tr.send(SENDER, "pat@remote.test", raw)
    await tr.close()
    assert out.kind == "delivered" and out.code == 250 and out.status == "2.0.0"
    [got] = smtp_sink.messages
    assert got.data == raw  # dot-stuffing undone by the server, CRLF kept: the very same bytes
    assert (got.mail_from, got.rcpt_tos) == (SENDER, ["pat@remote.test"])


async def test_connection_is_reused_across_messages() -> None:
    with counting_sink() as (sink, ctl):
        tr = transport(sink.port)
        outs = [await tr.send(SENDER, f"p{i}@remote.test", message(f"p{i}@remote.test")) for i in range(4)]
        await tr.close()
    assert [o.kind for o in outs] == ["delivered"] * 4
    assert [m.rcpt_tos for m in sink.messages] == [[f"p{i}@remote.test"] for i in range(4)]
    assert ctl.sessions == 1 and tr.connections_opened == 1


async def test_session_is_renewed_after_max_messages() -> None:
    with counting_sink() as (sink, ctl):
        tr = transport(sink.port, max_messages_per_connection=2)
        outs = [await tr.send(SENDER, f"p{i}@remote.test", message()) for i in range(5)]
        await tr.close()
    assert [o.kind for o in outs] == ["delivered"] * 5 and ctl.sessions == 3


async def test_reconnects_when_the_server_dropped_the_idle_session() -> None:
    with counting_sink(timeout=0.3) as (sink, ctl):  # aiosmtpd closes sessions idle for 0.3 s
        tr = transport(sink.port)
        first = await tr.send(SENDER, "a@remote.test", message())
        await asyncio.sleep(0.6)
        second = await tr.send(SENDER, "b@remote.test", message())
        await tr.close()
    assert (first.kind, second.kind) == ("delivered", "delivered")
    assert ctl.sessions == 2 and len(sink.messages) == 2


async def test_451_then_success_delivers_once(smtp_sink: SmtpSink) -> None:
    smtp_sink.script.append("451 4.3.0 <{a}>: Temporary local problem")
    tr = transport(smtp_sink.port)
    first = await tr.send(SENDER, "pat@remote.test", message())
    assert (first.kind, first.code, first.status, first.stage) == ("temporary", 451, "4.3.0", "rcpt")
    decision = retry_decision(1, first, random.Random(7))
    assert isinstance(decision, Retry) and decision.delay > 0
    second = await tr.send(SENDER, "pat@remote.test", message())  # the engine would wait decision.delay
    await tr.close()
    assert second.kind == "delivered"
    assert len(smtp_sink.messages) == 1 and tr.connections_opened == 1


async def test_550_user_unknown_at_rcpt_is_a_hard_bounce(smtp_sink: SmtpSink) -> None:
    tr = transport(smtp_sink.port)
    out = await tr.send(SENDER, "reject550@remote.test", message())
    after = await tr.send(SENDER, "ok@remote.test", message())  # the session stays usable
    await tr.close()
    assert (out.kind, out.reason, out.code, out.status, out.stage) == ("hard_bounce", "user_unknown", 550, "5.1.1", "rcpt")
    assert "User unknown" in out.text
    assert after.kind == "delivered" and [m.rcpt_tos for m in smtp_sink.messages] == [["ok@remote.test"]]


async def test_552_mailbox_full_and_554_spam_are_soft(smtp_sink: SmtpSink) -> None:
    tr = transport(smtp_sink.port)
    full = await tr.send(SENDER, "reject552@remote.test", message())
    spam = await tr.send(SENDER, "reject554@remote.test", message())
    await tr.close()
    assert (full.kind, full.reason, full.status) == ("soft_bounce", "mailbox_full", "5.2.2")
    assert (spam.kind, spam.reason, spam.status) == ("soft_bounce", "spam", "5.7.1")
    assert smtp_sink.messages == []


async def test_auth_success(smtp_sink: SmtpSink) -> None:
    smtp_sink.auth[SENDER] = "correct horse"
    tr = transport(smtp_sink.port, {"ACME_PW": "correct horse"}, password_env="ACME_PW")
    out = await tr.send(SENDER, "pat@remote.test", message())
    await tr.close()
    assert out.kind == "delivered" and len(smtp_sink.messages) == 1


async def test_auth_failure_is_its_own_kind_and_hides_the_password() -> None:
    with counting_sink() as (sink, _):  # answers a refused AUTH with 535 (see servers._authenticator)
        sink.auth[SENDER] = "correct horse"
        tr = transport(sink.port, {"ACME_PW": "wrong-battery-staple"}, password_env="ACME_PW")
        out = await tr.send(SENDER, "pat@remote.test", message())
        await tr.close()
    assert (out.kind, out.reason, out.code, out.status, out.stage) == ("auth_failure", "auth_rejected", 535, "5.7.8", "auth")
    assert "wrong-battery-staple" not in repr(out) and "wrong-battery-staple" not in out.describe()
    assert sink.messages == []


async def test_missing_password_variable_is_an_auth_failure(smtp_sink: SmtpSink) -> None:
    tr = transport(smtp_sink.port, {}, password_env="ACME_PW")
    out = await tr.send(SENDER, "pat@remote.test", message())
    assert (out.kind, out.reason) == ("auth_failure", "password_missing")
    assert "ACME_PW" in out.text and tr.connections_opened == 0


async def test_server_not_listening_is_temporary() -> None:
    tr = transport(free_port())
    out = await tr.send(SENDER, "pat@remote.test", message())
    assert (out.kind, out.reason, out.stage) == ("temporary", "connection_refused", "connect")


async def test_starttls_required_but_not_offered_is_a_config_error(smtp_sink: SmtpSink) -> None:
    tr = transport(smtp_sink.port, tls="starttls")
    out = await tr.send(SENDER, "pat@remote.test", message())
    assert (out.kind, out.reason) == ("config_error", "starttls_unsupported")
    assert smtp_sink.messages == []


async def test_pool_serialises_each_mailbox_by_default() -> None:
    with counting_sink() as (sink, ctl):
        domain = SendingDomain.model_validate({
            "domain": "acme.test",
            "smtp": {"host": "127.0.0.1", "port": sink.port, "tls": "none", "timeout": 5},
            "mailboxes": [{"address": SENDER}, {"address": "sam@acme.test"}]})
        alex, sam = domain.mailboxes
        pool = SmtpPool(secrets=dict[str, str]().get)
        jobs = [pool.send(domain, mb, mb.address, f"r{i}@remote.test", message()) for i in range(4) for mb in (alex, sam)]
        outs = await asyncio.gather(*jobs)
        await pool.close_all()
    assert all(o.kind == "delivered" for o in outs) and len(sink.messages) == 8
    assert ctl.sessions == 2  # one session per mailbox, although 4 sends each ran at once


async def test_pool_limit_is_configurable() -> None:
    with counting_sink() as (sink, ctl):
        domain = SendingDomain.model_validate({
            "domain": "acme.test", "smtp": {"host": "127.0.0.1", "port": sink.port, "tls": "none"},
            "mailboxes": [{"address": SENDER}]})
        pool = SmtpPool(secrets=dict[str, str]().get, max_connections_per_mailbox=3)
        mb: Mailbox = domain.mailboxes[0]
        outs = await asyncio.gather(*(pool.send(domain, mb, SENDER, f"r{i}@remote.test", message()) for i in range(9)))
        await pool.close_all()
    assert all(o.kind == "delivered" for o in outs) and len(sink.messages) == 9
    assert ctl.sessions == 3


async def _until(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    for _ in range(int(seconds / 0.01)):
        if check():
            return True
        await asyncio.sleep(0.01)
    return check()


async def test_the_mark_overlaps_mail_and_rcpt_and_data_waits_for_it(smtp_sink: SmtpSink) -> None:
    """``begin`` (the durable ``sending`` mark) runs while MAIL and RCPT go out; nothing can be
    accepted before it returns True."""
    seen: dict[str, object] = {}

    async def begin() -> bool:
        seen["rcpt_during_mark"] = await _until(lambda: smtp_sink.rcpts_seen == 1)
        seen["accepted_during_mark"] = len(smtp_sink.messages)
        return True

    tr = transport(smtp_sink.port)
    out = await tr.send(SENDER, "pat@remote.test", message(), begin=begin)
    await tr.close()
    assert seen == {"rcpt_during_mark": True, "accepted_during_mark": 0}
    assert out.kind == "delivered" and len(smtp_sink.messages) == 1


async def test_a_declined_mark_sends_nothing_even_after_rcpt(smtp_sink: SmtpSink) -> None:
    async def decline() -> bool:
        await _until(lambda: smtp_sink.rcpts_seen == 1)
        return False

    tr = transport(smtp_sink.port)
    with pytest.raises(NotStarted):
        await tr.send(SENDER, "pat@remote.test", message(), begin=decline)
    smtp_sink.script.append("550")  # a refused RCPT is not reported either while the mark declines
    with pytest.raises(NotStarted):
        await tr.send(SENDER, "reject550@remote.test", message(), begin=decline)
    after = await tr.send(SENDER, "sam@remote.test", message())  # the transport goes on, on a new session
    await tr.close()
    assert after.kind == "delivered"
    assert [m.rcpt_tos for m in smtp_sink.messages] == [["sam@remote.test"]]


async def test_a_failing_mark_propagates_and_sends_nothing(smtp_sink: SmtpSink) -> None:
    async def broken() -> bool:
        raise RuntimeError("database is locked")

    tr = transport(smtp_sink.port)
    with pytest.raises(RuntimeError, match="database is locked"):
        await tr.send(SENDER, "pat@remote.test", message(), begin=broken)
    await tr.close()
    assert smtp_sink.messages == []
