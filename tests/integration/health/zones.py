"""Test domains with known defects, served by NSD for the health tests, the CLI test and the benchmark."""

from __future__ import annotations

import json

from tests.fixtures.common import DATA
from tests.fixtures.dns_server import Record, txt

KEYS = json.loads((DATA / "health" / "dkim_keys.json").read_text())
GOOD_IP = "192.0.2.10"
LISTED_IP = "192.0.2.66"
IP_ZONE = "bl.test"  # test DNSBL: 66.2.0.192.bl.test is listed
DOMAIN_ZONE = "dbl.test"
REFUSING_ZONE = "refuse.test"  # answers 127.255.255.254 for every name, like a list refusing a public resolver


def _reverse(ip: str) -> str:
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"


def healthy(domain: str, ip: str = GOOD_IP, **override: list[Record] | None) -> list[Record]:
    """A domain with every record right; `override` replaces one part (spf, dkim, dmarc, mx) or drops it (None)."""
    parts: dict[str, list[Record] | None] = {
        "spf": [(domain, "TXT", txt(f"v=spf1 ip4:{ip} -all"))],
        "dkim": [(f"sel._domainkey.{domain}", "TXT", txt("v=DKIM1; k=rsa; p=", KEYS["rsa2048"]))],
        "dmarc": [(f"_dmarc.{domain}", "TXT", txt(f"v=DMARC1; p=reject; rua=mailto:dmarc@{domain}"))],
        "mx": [(domain, "MX", f"10 mx.{domain}."), (f"mx.{domain}", "A", ip)],
    }
    parts.update(override)
    out: list[Record] = []
    for records in parts.values():
        out += records or []
    return out


def defect_zone() -> list[Record]:
    records: list[Record] = [
        (_reverse(GOOD_IP), "PTR", "mail.good.test."),
        ("mail.good.test", "A", GOOD_IP),
        (_reverse(LISTED_IP), "PTR", "mail.listed.test."),
        ("mail.listed.test", "A", LISTED_IP),
        (f"66.2.0.192.{IP_ZONE}", "A", "127.0.0.2"),
        (f"66.2.0.192.{IP_ZONE}", "TXT", txt("listed for testing")),
        (f"*.{REFUSING_ZONE}", "A", "127.255.255.254"),
    ]
    records += healthy("good.test")
    records += healthy("twospf.test", spf=[("twospf.test", "TXT", txt(f"v=spf1 ip4:{GOOD_IP} -all")),
                                           ("twospf.test", "TXT", txt("v=spf1 include:_spf.google.com ~all"))])
    records += healthy("lookups.test", spf=[("lookups.test", "TXT", txt("v=spf1" + " a" * 11 + f" ip4:{GOOD_IP} -all")),
                                            ("lookups.test", "A", "198.51.100.1")])
    records += healthy("plusall.test", spf=[("plusall.test", "TXT", txt("v=spf1 +all"))])
    records += healthy("revoked.test", dkim=[("sel._domainkey.revoked.test", "TXT", txt("v=DKIM1; k=rsa; p="))])
    records += healthy("weak.test", dkim=[("sel._domainkey.weak.test", "TXT", txt("v=DKIM1; k=rsa; p=" + KEYS["rsa512"]))])
    records += healthy("nodmarc.test", dmarc=None)
    records += healthy("pnone.test", dmarc=[("_dmarc.pnone.test", "TXT", txt("v=DMARC1; p=none; rua=mailto:dmarc@pnone.test"))])
    records += healthy("cnamemx.test", mx=[("cnamemx.test", "MX", "10 alias.cnamemx.test."), ("alias.cnamemx.test", "CNAME", "mail.good.test.")])
    records += healthy("listed.test", ip=LISTED_IP)
    return records


DEFECTS = {
    # domain: (expected verdict, (check, severity, code) that must be present)
    "good.test": ("pass", None),
    "twospf.test": ("fail", ("spf", "error", "multiple")),
    "lookups.test": ("fail", ("spf", "error", "too_many_lookups")),
    "plusall.test": ("warn", ("spf", "warning", "plus_all")),  # our mail passes; others could spoof it
    "revoked.test": ("fail", ("dkim", "error", "revoked")),
    "weak.test": ("fail", ("dkim", "error", "key_too_short")),
    "nodmarc.test": ("fail", ("dmarc", "error", "missing")),
    "pnone.test": ("warn", ("dmarc", "warning", "p_none")),
    "cnamemx.test": ("warn", ("mx", "warning", "cname")),  # forbidden, yet every MTA follows it
    "listed.test": ("fail", ("dnsbl", "error", "listed_ip")),
}
