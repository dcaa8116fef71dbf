"""Telling machine fetches of tracking links from people, cheaply, from what one request shows.

Machines that open or click without a person: Apple Mail Privacy Protection (MPP) fetches every
image through Apple's proxies as soon as mail arrives, with the bare user agent ``Mozilla/5.0``
from Apple's 17.0.0.0/8 network; mail security gateways and link scanners fetch within seconds of
delivery, often with a library or vendor user agent, or with HEAD. Such events are still
recorded (flagged ``machine``) so the raw numbers stay auditable, but never count as engagement.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

SCANNER_WINDOW = timedelta(seconds=20)
APPLE_NETWORKS = (ipaddress.ip_network("17.0.0.0/8"),)
_BARE_MOZILLA = re.compile(r"^Mozilla/5\.0$")
_TOOLS = re.compile(
    r"bot\b|bot/|crawler|spider|scanner|python-|python/|aiohttp|httpx|curl/|wget/|go-http-client|java/|okhttp|"
    r"libwww|headlesschrome|phantomjs|barracuda|mimecast|proofpoint|symantec|trend ?micro|forcepoint|fireeye|"
    r"sophos|zscaler|ironport|cisco|fortinet|checkpoint|bitdefender|kaspersky|avast|paloalto|urlscan|"
    r"linkchecker|slurp",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class FetchVerdict:
    machine: bool
    reason: str


def classify_fetch(*, user_agent: str | None, ip: str | None, method: str = "GET", sent_at: datetime | None = None,
                   now: datetime, window: timedelta = SCANNER_WINDOW) -> FetchVerdict:
    """Whether a request for a click or open link was made by a machine, and why."""
    ua = (user_agent or "").strip()
    if method.upper() == "HEAD":
        return FetchVerdict(True, "HEAD request (link checker)")
    if _BARE_MOZILLA.match(ua):
        return FetchVerdict(True, "Apple Mail Privacy Protection proxy (bare 'Mozilla/5.0' user agent)")
    if _in_apple_network(ip):
        return FetchVerdict(True, "Apple Mail Privacy Protection proxy (Apple network 17.0.0.0/8)")
    if not ua:
        return FetchVerdict(True, "no user agent")
    tool = _TOOLS.search(ua)
    if tool:
        return FetchVerdict(True, f"automated client ({tool.group(0).strip().lower()} in the user agent)")
    if sent_at is not None:
        age = now - sent_at
        if timedelta(0) <= age < window:
            return FetchVerdict(True, f"fetched {age.total_seconds():.0f}s after delivery (security scanner)")
    return FetchVerdict(False, "looks like a person")


def _in_apple_network(ip: str | None) -> bool:
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in net for net in APPLE_NETWORKS if address.version == net.version)
