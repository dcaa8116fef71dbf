"""What a log line carries besides its message: named fields for ``--log-json``.

``log.info("sent ...", extra=fields(mailbox=..., send_id=...))`` keeps the text line readable and
gives the JSON line the same facts as keys, so a log pipeline filters on ``mailbox`` instead of
parsing sentences.
"""

from __future__ import annotations

from collections.abc import Mapping

FIELDS = "fields"  # the LogRecord attribute the JSON formatter reads


def fields(**values: object) -> dict[str, dict[str, object]]:
    """``extra=`` for a log call: the values that are not None."""
    return {FIELDS: {k: v for k, v in values.items() if v is not None}}


def counted(counts: Mapping[str, int]) -> str:
    """``{"sent": 3, "retry": 1}`` as ``sent 3, retry 1`` (``none`` when empty)."""
    return ", ".join(f"{k} {n}" for k, n in sorted(counts.items())) or "none"
