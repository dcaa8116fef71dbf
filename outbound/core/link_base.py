"""Where the link server is reached: a domain's ``tracking_host`` or ``[sending] tracking_base_url``.

A bare host (``go.acme-mail.com``, ``links.test:8443``) means ``https://host``; a URL keeps its
scheme, port and path (``http://127.0.0.1:8080/outbound``), so links work behind a proxy that
serves the link server under a path, or on loopback without TLS.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

_HOST = re.compile(r"[a-z0-9.-]+(:\d{1,5})?|\[[0-9a-f:.]+\](:\d{1,5})?")


@functools.lru_cache(maxsize=256)  # a handful of bases serve every send
def link_base(value: str) -> str:
    """``scheme://host[:port][/path]`` without a trailing slash; ValueError saying what is wrong."""
    text = value.strip()
    if "://" not in text:
        host = text.lower().rstrip(".")
        if not host or not _HOST.fullmatch(host):
            raise ValueError(f"{value!r} is not a host name")
        return f"https://{host}"
    parts = urlsplit(text)
    scheme, netloc = parts.scheme.lower(), parts.netloc.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"{value!r}: the link server is reached over https:// (or http:// on a test network)")
    if not netloc or "@" in netloc or not _HOST.fullmatch(netloc.rstrip(".")):
        raise ValueError(f"{value!r} has no usable host")
    if parts.query or parts.fragment or any(c in parts.path for c in " \t\r\n\"<>"):
        raise ValueError(f"{value!r}: a base URL takes no query, fragment or spaces")
    return f"{scheme}://{netloc.rstrip('.')}{parts.path.rstrip('/')}"


def base_path(value: str) -> str:
    """The path the link server's routes sit under for this base (``""`` at the root)."""
    return urlsplit(link_base(value)).path
