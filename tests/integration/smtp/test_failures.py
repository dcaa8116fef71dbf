"""Connection failures against a scripted raw server: safe to retry before DATA, ambiguous after."""

from __future__ import annotations

import time

import pytest

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


async def test_rset_health_check_failure_reconnects() -> None:
    async with RawSmtp({"rset": "421 4.4.2 idle too long"}) as srv:
        tr = transport(srv.port)
        outs = [await tr.send(SENDER, f"p{i}@remote.test", message()) for i in range(3)]
        await tr.close()
    assert [o.kind for o in outs] == ["delivered"] * 3
    assert srv.connections == 3 and len(srv.received) == 3


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
