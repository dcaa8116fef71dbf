"""STARTTLS and implicit TLS against aiosmtpd with a self-signed certificate made at test time."""

from __future__ import annotations

from pathlib import Path

from tests.integration.smtp.helpers import SENDER, message, transport
from tests.integration.smtp.servers import counting_sink, self_signed


async def test_starttls_with_a_trusted_certificate(tmp_path: Path) -> None:
    server_ctx, client_ctx = self_signed(tmp_path)
    # require_starttls: the sink refuses MAIL on a plaintext session, so delivery proves the upgrade
    with counting_sink(tls_context=server_ctx, require_starttls=True) as (sink, _):
        sink.auth[SENDER] = "pw"
        tr = transport(sink.port, {"PW": "pw"}, tls="starttls", password_env="PW", tls_context=client_ctx)
        outs = [await tr.send(SENDER, f"p{i}@remote.test", message()) for i in range(2)]
        await tr.close()
    assert [o.kind for o in outs] == ["delivered", "delivered"]
    assert len(sink.messages) == 2 and tr.connections_opened == 1


async def test_plaintext_to_a_server_requiring_starttls_is_a_config_error(tmp_path: Path) -> None:
    server_ctx, _ = self_signed(tmp_path)
    with counting_sink(tls_context=server_ctx, require_starttls=True) as (sink, _):
        out = await transport(sink.port, tls="none").send(SENDER, "pat@remote.test", message())
    assert (out.kind, out.reason, out.code) == ("config_error", "tls_required", 530)
    assert sink.messages == []


async def test_untrusted_certificate_is_a_config_error(tmp_path: Path) -> None:
    server_ctx, _ = self_signed(tmp_path)
    with counting_sink(tls_context=server_ctx) as (sink, _):
        out = await transport(sink.port, tls="starttls").send(SENDER, "pat@remote.test", message())  # system CAs
    assert (out.kind, out.reason, out.stage) == ("config_error", "tls_certificate", "tls")
    assert sink.messages == []


async def test_implicit_tls(tmp_path: Path) -> None:
    server_ctx, client_ctx = self_signed(tmp_path)
    with counting_sink(ssl_context=server_ctx) as (sink, _):
        tr = transport(sink.port, tls="implicit", tls_context=client_ctx)
        out = await tr.send(SENDER, "pat@remote.test", message())
        await tr.close()
        plain = await transport(sink.port, tls="implicit").send(SENDER, "pat@remote.test", message())
    assert out.kind == "delivered" and len(sink.messages) == 1
    assert (plain.kind, plain.reason, plain.stage) == ("config_error", "tls_certificate", "connect")
