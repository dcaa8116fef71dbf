"""Which mailbox sends: pool resolution, daily caps with warm-up, gaps, per-domain hourly limits.

Pure functions of plain values and ``now``. A mailbox's "today" (for its daily cap and its
warm-up day count) is the UTC day unless a zone is passed (``mailbox_day``/``day_span``); the
caller counts ``sent_today`` and ``sending_day`` over that same day so both agree.

Stickiness: a thread keeps its mailbox. It moves only when that mailbox (or its domain) is paused
or has left the pool, preferring a healthy mailbox of the same domain; a mailbox that is merely at
its cap or inside its gap makes the thread wait instead. New enrollments go to the mailbox that
can send now with the most remaining capacity today (ties: fewer sent today, then address).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from outbound.core.mailbox import MailboxUsage
from outbound.spec.domain import Mailbox, SendingDomain
from outbound.spec.sequence import Senders

PoolMember = tuple[SendingDomain, Mailbox]
Blocker = Literal["paused", "domain_paused", "cap", "gap", "recipient_domain"]


@dataclass(frozen=True)
class Check:
    """Whether one mailbox can send now, and if not what blocks it and until when (if known)."""

    ok: bool
    reason: str
    blocker: Blocker | None = None
    retry_at: datetime | None = None


@dataclass(frozen=True)
class Pick:
    mailbox: Mailbox | None
    domain: SendingDomain | None
    reason: str
    retry_at: datetime | None = None
    moved_from: str | None = None  # the thread's previous mailbox when it had to move

    @property
    def address(self) -> str | None:
        return None if self.mailbox is None else self.mailbox.address


@dataclass(frozen=True)
class PoolError:
    unknown: tuple[str, ...]
    reason: str


def mailbox_day(now: datetime, timezone: str | None = None) -> date:
    """The day a mailbox's cap counts against: the UTC day, or the day in ``timezone``."""
    return now.astimezone(ZoneInfo(timezone) if timezone else UTC).date()


def day_span(day: date, timezone: str | None = None) -> tuple[datetime, datetime]:
    """[start, end) of a mailbox day in UTC, for counting its sends in the store."""
    tz = ZoneInfo(timezone) if timezone else UTC
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def sending_day_number(send_days: Iterable[date], today: date) -> int:
    """Warm-up day N: the number of distinct days before ``today`` on which the mailbox sent."""
    return len({d for d in send_days if d < today})


def daily_cap(mailbox: Mailbox, usage: MailboxUsage) -> int:
    return mailbox.cap_on_day(usage.sending_day)


def remaining_capacity(mailbox: Mailbox, usage: MailboxUsage) -> int:
    """Sends left today under the (warm-up) cap; pauses are not counted here, see ``check_mailbox``."""
    return max(0, daily_cap(mailbox, usage) - usage.sent_today)


def draw_next_allowed(mailbox: Mailbox, sent_at: datetime, rng: random.Random) -> datetime:
    """After a send at ``sent_at``: the earliest next send, sent_at + uniform(gap.min, gap.max)."""
    lo, hi = mailbox.gap.min.total_seconds(), mailbox.gap.max.total_seconds()
    return sent_at + timedelta(seconds=rng.uniform(lo, hi))


def _fmt(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def check_mailbox(mailbox: Mailbox, usage: MailboxUsage, recipient_domain: str, now: datetime,
                  paused_domains: Mapping[str, str] | None = None, day_timezone: str | None = None) -> Check:
    """Can this mailbox send to ``recipient_domain`` now? Checked in the order the CLI explains."""
    domain = mailbox.address.rsplit("@", 1)[1]
    paused_domains = paused_domains or {}
    if usage.paused:
        return Check(False, f"mailbox paused: {usage.pause_reason or 'no reason given'}", "paused")
    if domain in paused_domains:
        return Check(False, f"domain {domain} paused: {paused_domains[domain] or 'no reason given'}", "domain_paused")
    cap = daily_cap(mailbox, usage)
    if usage.sent_today >= cap:
        tomorrow = day_span(mailbox_day(now, day_timezone), day_timezone)[1]
        return Check(False, f"{mailbox.address} at its daily cap ({usage.sent_today} of {cap})", "cap", tomorrow)
    allowed = usage.next_allowed_at
    if allowed is None and usage.last_send_at is not None:
        allowed = usage.last_send_at + mailbox.gap.min
    if allowed is not None and now < allowed:
        return Check(False, f"{mailbox.address} waits for its gap until {_fmt(allowed)}", "gap", allowed)
    limit = mailbox.recipient_domain_hourly_limit
    rdom = recipient_domain.strip().lower()
    if limit is not None and usage.sent_last_hour_by_domain.get(rdom, 0) >= limit:
        return Check(False, f"{mailbox.address} reached its hourly limit for {rdom} ({limit})", "recipient_domain")
    return Check(True, f"{mailbox.address} can send ({cap - usage.sent_today} of {cap} left today)")


def _usage(mb: Mailbox, usage: Mapping[str, MailboxUsage]) -> MailboxUsage:
    # a mailbox the store has no row for has never sent
    return usage.get(mb.address) or MailboxUsage(mb.address, mb.address.rsplit("@", 1)[1])


def _rank(member: PoolMember, usage: Mapping[str, MailboxUsage]) -> tuple[int, int, str]:
    """Most remaining capacity first, then fewest sent today, then address (``remaining_capacity``
    written out: this runs for every mailbox of the pool at every new enrollment)."""
    mb = member[1]
    u = usage.get(mb.address) or _usage(mb, usage)
    left = mb.cap_on_day(u.sending_day) - u.sent_today
    return (-left if left > 0 else 0, u.sent_today, mb.address)


def _none_reason(checks: list[Check]) -> str:
    kinds = [c.blocker for c in checks]
    if all(k == "cap" for k in kinds):
        return "all mailboxes of the pool at their daily cap"
    if all(k in ("paused", "domain_paused") for k in kinds):
        return "all mailboxes of the pool are paused"
    if len(checks) == 1:
        return checks[0].reason
    words = {"paused": "paused", "domain_paused": "on a paused domain", "cap": "at their daily cap",
             "gap": "waiting for their gap", "recipient_domain": "at their hourly limit for the recipient's domain"}
    parts = [f"{kinds.count(k)} {w}" for k, w in words.items() if k in kinds]
    return "no mailbox of the pool can send now: " + ", ".join(parts)


def _earliest(checks: Iterable[Check]) -> datetime | None:
    times = [c.retry_at for c in checks if c.retry_at is not None]
    return min(times) if times else None


def pick_mailbox(pool: Sequence[PoolMember], usage: Mapping[str, MailboxUsage], current: str | None,
                 recipient_domain: str, now: datetime, *, paused_domains: Mapping[str, str] | None = None,
                 day_timezone: str | None = None) -> Pick:
    """The mailbox to send the next message of an enrollment from, or None with the reason.

    ``current`` is the thread's mailbox (None for a new enrollment); ``paused_domains`` maps a
    paused sending domain to its reason. ``retry_at`` is the earliest time a blocked send may work.
    """
    if now.tzinfo is None:
        raise ValueError("scheduling needs tz-aware datetimes")
    if current is not None:  # the common case, a follow-up whose mailbox can send: no need to rank the pool
        current = current.strip().lower()
        mine = next((m for m in pool if m[1].address == current), None)
        if mine is not None and check_mailbox(mine[1], _usage(mine[1], usage), recipient_domain, now,
                                              paused_domains, day_timezone).ok:
            return Pick(mine[1], mine[0], f"keeps its mailbox {current}")
    if current is None:  # a new enrollment: the best-ranked mailbox that can send, without checking them all
        for dom, mb in sorted(pool, key=lambda m: _rank(m, usage)):
            if check_mailbox(mb, _usage(mb, usage), recipient_domain, now, paused_domains, day_timezone).ok:
                return _most_room(dom, mb, usage)
    checks = {mb.address: check_mailbox(mb, _usage(mb, usage), recipient_domain, now, paused_domains, day_timezone)
              for _, mb in pool}
    ready = sorted((m for m in pool if checks[m[1].address].ok), key=lambda m: _rank(m, usage))
    moved_from: str | None = None
    why = ""
    if current is not None:
        if mine is not None:
            check = checks[current]
            if check.ok:
                return Pick(mine[1], mine[0], f"keeps its mailbox {current}")
            if check.blocker not in ("paused", "domain_paused"):
                return Pick(None, None, check.reason, check.retry_at)
            why = check.reason
        else:
            why = f"mailbox {current} is no longer in the pool"
        moved_from = current
        home = current.rsplit("@", 1)[-1]
        same = [m for m in ready if m[0].domain == home]
        if same:
            return Pick(same[0][1], same[0][0], f"{why}; moved to {same[0][1].address} (same domain)", moved_from=current)
        # wait for a healthy same-domain mailbox that still has room today rather than switch domains
        waiting = [checks[mb.address] for d, mb in pool if d.domain == home
                   and checks[mb.address].blocker in ("gap", "recipient_domain")]
        if waiting:
            return Pick(None, None, f"{why}; waiting for a mailbox of {home}: {waiting[0].reason}", _earliest(waiting),
                        moved_from=current)
    if ready:
        dom, mb = ready[0]
        if moved_from is None:
            return _most_room(dom, mb, usage)
        return Pick(mb, dom, f"{why}; moved to {mb.address} ({_left(mb, usage)})", moved_from=moved_from)
    blocked = list(checks.values())
    if not blocked:
        return Pick(None, None, "the pool has no mailboxes")
    reason = _none_reason(blocked)
    return Pick(None, None, f"{why}; {reason}" if why else reason, _earliest(blocked), moved_from=moved_from)


def _left(mb: Mailbox, usage: Mapping[str, MailboxUsage]) -> str:
    u = _usage(mb, usage)
    return f"{remaining_capacity(mb, u)} of {daily_cap(mb, u)} left today"


def _most_room(dom: SendingDomain, mb: Mailbox, usage: Mapping[str, MailboxUsage]) -> Pick:
    return Pick(mb, dom, f"{mb.address} has the most remaining capacity today ({_left(mb, usage)})")


def pool_mailboxes(senders: Senders, domains: Mapping[str, SendingDomain]) -> list[PoolMember] | PoolError:
    """A sequence's sender pool: every mailbox of each named domain plus each named mailbox, in order."""
    by_name = {d.domain: d for d in domains.values()}
    out: list[PoolMember] = []
    unknown: list[str] = []
    seen: set[str] = set()

    def add(dom: SendingDomain, mb: Mailbox) -> None:
        if mb.address not in seen:
            seen.add(mb.address)
            out.append((dom, mb))

    for name in senders.domains:
        dom = by_name.get(name.strip().lower().rstrip("."))
        if dom is None:
            unknown.append(name)
            continue
        for mb in dom.mailboxes:
            add(dom, mb)
    for address in senders.mailboxes:
        addr = address.strip().lower()
        dom = by_name.get(addr.rsplit("@", 1)[-1])
        found = None if dom is None else next((m for m in dom.mailboxes if m.address == addr), None)
        if dom is None or found is None:
            unknown.append(address)
            continue
        add(dom, found)
    if unknown:
        known = ", ".join(sorted(by_name)) or "none"
        return PoolError(tuple(unknown), f"unknown sender{'s' if len(unknown) > 1 else ''}: "
                         f"{', '.join(unknown)} (known domains: {known})")
    return out
