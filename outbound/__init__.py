"""outbound: cold email sequencing and deliverability engine.

Public entry points (imported lazily so the CLI starts fast):
``outbound.check_host`` (RFC 7208 SPF evaluation) and ``outbound.classify`` (inbound mail).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["check_host", "classify"]

_LAZY = {"check_host": "outbound.health.spf", "classify": "outbound.inbox.classify"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'outbound' has no attribute {name!r}")
