"""A name server given as text (``--nameserver``, ``[health] nameserver``): HOST[:PORT], HOST an IP."""

from __future__ import annotations

import ipaddress


def parse_nameserver(text: str) -> tuple[str, int]:
    """'1.2.3.4', '1.2.3.4:5353', '[::1]:5353' or '::1' -> (host, port); ValueError with a reason."""
    text = text.strip()
    host, port = text, 53
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"{text!r}: missing ']'")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{text!r}: expected [HOST]:PORT")
            port = _port(rest[1:], text)
    elif text.count(":") == 1:
        host, p = text.split(":")
        port = _port(p, text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{text!r}: the name server must be an IP address") from None
    return host, port


def _port(p: str, text: str) -> int:
    if not p.isdigit() or not 0 < int(p) < 65536:
        raise ValueError(f"{text!r}: bad port {p!r}")
    return int(p)
