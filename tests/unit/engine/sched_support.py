"""Builders shared by the scheduling tests (window, planner, rotation)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from outbound.spec.domain import Mailbox, SendingDomain
from outbound.spec.sequence import SendingWindow, Sequence

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def local(tz: ZoneInfo, y: int, mo: int, d: int, h: int = 0, mi: int = 0, fold: int = 0) -> datetime:
    """A local wall time in ``tz`` (fold picks the repeated hour's occurrence), as UTC."""
    return datetime(y, mo, d, h, mi, tzinfo=tz, fold=fold).astimezone(UTC)


def window(**kw: Any) -> SendingWindow:
    return SendingWindow.model_validate(kw)


def sequence(steps: list[dict[str, Any]], **kw: Any) -> Sequence:
    data: dict[str, Any] = {"name": "s", "senders": {"domains": ["a.example"]}, "steps": steps}
    data.update(kw)
    return Sequence.model_validate(data)


def step(sid: str, **kw: Any) -> dict[str, Any]:
    return {"id": sid, "subject": "Hi", "body": "Hello", **kw}


def domain(name: str, *users: str, **mailbox_kw: Any) -> SendingDomain:
    return SendingDomain.model_validate({
        "domain": name,
        "smtp": {"host": f"smtp.{name}"},
        "mailboxes": [{"address": f"{u}@{name}", **mailbox_kw} for u in users],
    })


def mailbox(address: str, **kw: Any) -> Mailbox:
    return Mailbox.model_validate({"address": address, **kw})
