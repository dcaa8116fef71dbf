"""Domains for the verification tests and the CLI test: one NSD zone each, so a name outside them is
REFUSED (the resolver's SERVFAIL path: every server failed) and names fronted by the proxy's drop
list time out; ``SlowForwarder`` answers slowly for some names and SERVFAIL for others."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import dns.message
import dns.rcode

from tests.fixtures.common import free_port
from tests.fixtures.dns_server import DnsServer, DnsServers, Record, txt

SLOW = [f"slow{i}.example" for i in range(8)]  # every query dropped: the lookup times out


def verify_zones() -> dict[str, list[Record]]:
    zones: dict[str, list[Record]] = {
        "mx.example": [("mx.example", "MX", "10 mail.mx.example."), ("mx.example", "MX", "20 backup.mx.example."),
                    ("mail.mx.example", "A", "127.0.0.1")],
        "nullmx.example": [("nullmx.example", "MX", "0 .")],
        "aonly.example": [("aonly.example", "A", "192.0.2.1")],
        "aaaaonly.example": [("aaaaonly.example", "AAAA", "2001:db8::1")],
        "nomail.example": [("nomail.example", "TXT", txt("v=spf1 -all"))],
        "probe.example": [("probe.example", "MX", "10 mx.probe.example."), ("mx.probe.example", "A", "127.0.0.1")],
        "mailinator.com": [("mailinator.com", "MX", "10 mail.mx.example.")],
        "gmail.com": [("gmail.com", "MX", "5 gmail-smtp-in.l.google.com.")],
        "xn--bcher-kva.example": [("xn--bcher-kva.example", "MX", "10 mail.mx.example.")],
    }
    for name in SLOW:
        zones[name] = [(name, "MX", f"10 mail.{name}.")]
    return zones


TIMEOUTS: dict[str, set[str]] = {name: set() for name in SLOW}


class SlowForwarder:
    """UDP forwarder to NSD that holds back the answers for some names by ``delay`` seconds (a slow
    server that does answer, within the resolver's timeout) and answers SERVFAIL for others."""

    def __init__(self, upstream: int, slow: set[str], delay: float, servfail: tuple[str, ...] = ()) -> None:
        self.upstream, self.slow, self.delay = upstream, {n.lower() for n in slow}, delay
        self.servfail = {n.lower() for n in servfail}
        self.port = free_port()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", self.port))
        self.running = True
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while self.running:
            try:
                data, client = self.sock.recvfrom(65535)
            except OSError:
                return
            threading.Thread(target=self._answer, args=(data, client), daemon=True).start()

    def _answer(self, data: bytes, client: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        name = query.question[0].name.to_text(omit_final_dot=True).lower()
        if name in self.servfail:
            failed = dns.message.make_response(query)
            failed.set_rcode(dns.rcode.SERVFAIL)
            with contextlib.suppress(OSError):
                self.sock.sendto(failed.to_wire(), client)
            return
        if name in self.slow:
            time.sleep(self.delay)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
            up.settimeout(3)
            up.sendto(data, ("127.0.0.1", self.upstream))
            try:
                reply = up.recv(65535)
            except OSError:
                return
        with contextlib.suppress(OSError):
            self.sock.sendto(reply, client)

    def stop(self) -> None:
        self.running = False
        self.sock.close()


@contextlib.contextmanager
def verify_nsd(dns_servers: DnsServers) -> Iterator[DnsServer]:
    """An NSD serving :func:`verify_zones` for one test module (the module's ``server`` fixture)."""
    srv = dns_servers.start(verify_zones(), timeouts=TIMEOUTS)
    try:
        yield srv
    finally:
        srv.stop()
        dns_servers.running.remove(srv)
