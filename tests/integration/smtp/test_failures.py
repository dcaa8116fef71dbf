"""Connection failures against a scripted raw server: safe to retry before DATA, ambiguous after."""

from __future__ import annotations

import time

import pytest

from outbound.engine import smtp
from tests.integration.smtp.helpers import SENDER, message, transport
from tests.integration.smtp.servers import RawSmtp


async def test_drop_after_the_payload_without_reply_is_ambiguous() -> None:
    async with RawSmtp({"data_end": "close"}) as srv:
        tr = transport(srv.port)
        out = await tr.send(SENDER, "pat@remote.test", message())
        assert (out.kind, out.reason, out.stage) == ("ambiguous", "no_reply_after_data", "message")
        assert out.may_have_been_delivered
        assert len(srv.received) == 1  # the server did get the whole message
        srv.script.clear()
        again = await tr.send(SENDER, "other@remote.test", message())  # a fresh session for the next send
        await tr.close()
    assert again.kind == "delivered" and srv.connections == 2


@pytest.mark.parametrize(("step", "stage"), [("mail", "mail"), ("rcpt", "rcpt"), ("data", "data")])
async def test_drop_before_the_payload_is_temporary(step: str, stage: str) -> None:
    async with RawSmtp({step: "close"}) as srv:
        out = await transport(srv.port).send(SENDER, "pat@remote.test", message())
    assert (out.kind, out.reason, out.stage) == ("temporary", "disconnected", stage)
    assert not out.may_have_been_delivered and srv.received == []


async def test_421_at_rcpt_is_temporary_and_the_session_is_dropped() -> None:
    async with RawSmtp({"rcpt": "421 4.7.0 Too many connections, closing"}) as srv:
        tr = transport(srv.port)
        out = await tr.send(SENDER, "pat@remote.test", message())
        srv.script.clear()
        again = await tr.send(SENDER, "pat@remote.test", message())
    assert (out.kind, out.code, out.reason) == ("temporary", 421, "rate_limited")
    assert again.kind == "delivered" and srv.connections == 2


async def test_rset_health_check_failure_reconnects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smtp, "TRUSTED_IDLE", 0.0)  # every reused session is checked with RSET
    async with RawSmtp({"rset": "421 4.4.2 idle too long"}) as srv:
        tr = transport(srv.port)
        outs = [await tr.send(SENDER, f"p{i}@remote.test", message()) for i in range(3)]
        await tr.close()
    assert [o.kind for o in outs] == ["delivered"] * 3
    assert srv.connections == 3 and len(srv.received) == 3


async def test_a_cleanly_ended_session_is_reused_without_rset() -> None:
    async with RawSmtp() as srv:
        tr = transport(srv.port)
        outs = [await tr.send(SENDER, f"p{i}@remote.test", message()) for i in range(3)]
        await tr.close()
    assert [o.kind for o in outs] == ["delivered"] * 3
    assert srv.connections == 1 and "RSET" not in srv.commands
    assert srv.commands.count("MAIL") == 3


async def test_a_refused_recipient_leaves_an_envelope_that_rset_clears_before_the_next_send() -> None:
    async with RawSmtp({"rcpt": "550 5.1.1 no such user"}) as srv:
        tr = transport(srv.port)
        first = await tr.send(SENDER, "gone@remote.test", message())
        srv.script.clear()
        second = await tr.send(SENDER, "pat@remote.test", message())
        await tr.close()
    assert (first.kind, second.kind) == ("hard_bounce", "delivered")
    assert srv.connections == 1
    assert srv.commands[srv.commands.index("RCPT") + 1:][:2] == ["RSET", "MAIL"]


async def test_a_session_dropped_while_idle_is_reopened_and_nothing_is_lost_or_sent_twice() -> None:
    async with RawSmtp({"data_end": "250 2.0.0 queued +close"}) as srv:  # the server hangs up after each message
        tr = transport(srv.port)
        outs = [await tr.send(SENDER, f"p{i}@remote.test", message()) for i in range(3)]
        await tr.close()
    assert [o.kind for o in outs] == ["delivered"] * 3
    assert srv.connections == 3 and len(srv.received) == 3


async def test_a_reused_session_dropped_at_mail_is_retried_once_on_a_new_session() -> None:
    async with RawSmtp() as srv:
        tr = transport(srv.port)
        first = await tr.send(SENDER, "p0@remote.test", message())
        srv.script["mail"] = "close once"  # the idle session dies silently: MAIL gets no reply
        second = await tr.send(SENDER, "p1@remote.test", message())
        await tr.close()
    assert (first.kind, second.kind) == ("delivered", "delivered")
    assert srv.connections == 2 and len(srv.received) == 2
    assert srv.commands.count("MAIL") == 3  # one each, and the one the dropped session never answered


async def test_a_421_at_mail_on_a_reused_session_is_not_retried_at_once() -> None:
    async with RawSmtp() as srv:
        tr = transport(srv.port)
        await tr.send(SENDER, "p0@remote.test", message())
        srv.script["mail"] = "421 4.7.0 too many messages, go away"
        out = await tr.send(SENDER, "p1@remote.test", message())
        await tr.close()
    assert (out.kind, out.code, out.stage) == ("temporary", 421, "mail")
    assert srv.connections == 1 and len(srv.received) == 1


def test_envelope_addresses_refuse_what_could_break_the_command_line() -> None:
    assert smtp.envelope_address("pat@remote.test") == b"<pat@remote.test>"
    for bad in ("", "a b@x.test", "a@x.test>\r\nRCPT TO:<evil@x.test", "a\x00@x.test", "<a@x.test>"):
        with pytest.raises(ValueError):
            smtp.envelope_address(bad)


async def test_final_reply_after_data_is_definitive() -> None:
    async with RawSmtp({"data_end": "451 4.7.1 Greylisted, try again in 5 minutes"}) as srv:
        out = await transport(srv.port).send(SENDER, "pat@remote.test", message())
    assert (out.kind, out.reason, out.stage) == ("temporary", "greylisted", "message")


@pytest.mark.parametrize(("step", "kind", "stage"), [
    ("greeting", "temporary", "connect"), ("ehlo", "temporary", "connect"), ("rcpt", "temporary", "rcpt"),
    ("data_end", "ambiguous", "message"),
])
async def test_a_stalled_server_times_out(step: str, kind: str, stage: str) -> None:
    async with RawSmtp({step: "stall"}) as srv:
        started = time.monotonic()
        out = await transport(srv.port, timeout=0.3).send(SENDER, "pat@remote.test", message())
        took = time.monotonic() - started
    assert (out.kind, out.stage) == (kind, stage)
    assert kind == "ambiguous" or out.reason == "timeout"
    assert took < 1.5  # one 0.3 s command timeout, not aiosmtplib's 60 s default
