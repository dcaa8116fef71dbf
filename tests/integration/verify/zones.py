"""Domains for the verification tests, the CLI test and the benchmark: one NSD zone each, so a name
outside them is REFUSED (the resolver's SERVFAIL path: every server failed) and names fronted by the
proxy's drop list time out."""

from __future__ import annotations

from tests.fixtures.dns_server import Record, txt

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
