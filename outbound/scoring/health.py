"""Mailbox and domain health from the events: bounce rate, complaints, repeated auth failures.

Called before the send tick claims, so a mailbox that crossed a threshold sends nothing more.
A resume (``outbound mailboxes resume``, ``resume_after``, a domain check that passes again) forgives
the evidence recorded before it. The queries live in ``outbound.store.mailbox_health``.
The engine pauses a mailbox on its first SMTP auth failure itself; auth failures on several
mailboxes of one domain within the window pause the whole domain (its server or credentials).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from outbound.config import HealthSettings
from outbound.store import mailbox_health as rows
from outbound.store.db import session_scope
from outbound.store.mailbox_health import Evidence
from outbound.store.tables import MailboxState


@dataclass(frozen=True)
class HealthDecision:
    address: str
    action: str          # pause | resume
    kind: str            # bounce_rate | complaint | auth | domain_auth | timer
    reason: str


def mailbox_health_pass(engine: Engine, now: datetime, settings: HealthSettings) -> list[HealthDecision]:
    with session_scope(engine) as session:
        boxes, health = rows.health_rows(session)
        out: list[HealthDecision] = []
        for address, box in boxes.items():
            h = health[address]
            timed = box.state == "paused" and h.paused_by_health and h.resume_at is not None and h.resume_at <= now
            if timed:
                reason = f"resumed automatically after the health pause ({box.pause_reason})"
                rows.resume_by_timer(session, box, reason, now)
                out.append(HealthDecision(address, "resume", "timer", reason))
            if box.state == "active" and (h.seen_paused or timed):
                rows.forgive(h, now)
        evidence = rows.evidence(session, now, settings.bounce_window)
        resume_at = now + settings.resume_after if settings.resume_after else None
        for address, reason, kind in _verdicts(boxes, evidence, settings):
            if rows.pause_for_health(session, health[address], reason, kind, now, resume_at):
                out.append(HealthDecision(address, "pause", kind, reason))
        rows.remember_states(boxes, health)
        return out


def _verdicts(boxes: dict[str, MailboxState], evidence: dict[str, Evidence],
              s: HealthSettings) -> list[tuple[str, str, str]]:
    """(address, reason, kind) for every active mailbox that must be paused."""
    out: dict[str, tuple[str, str]] = {}
    window = f"{s.bounce_window.total_seconds() / 86400:g}d"
    failing_by_domain: dict[str, list[str]] = defaultdict(list)
    for address, e in sorted(evidence.items()):
        if e.auth_failures:
            domain = boxes[address].domain if address in boxes else address.rsplit("@", 1)[-1]
            failing_by_domain[domain].append(address)
        if address not in boxes or boxes[address].state != "active":
            continue
        if s.pause_on_complaint and e.complaints:
            out[address] = (f"spam complaint received (event {e.last_complaint}; {e.complaints} in the last {window})",
                            "complaint")
        elif e.attempts >= s.min_sends and e.bounced / e.attempts > s.max_bounce_rate:
            out[address] = (f"bounce rate {e.bounced / e.attempts:.1%} ({e.bounced} of {e.attempts} sends in the "
                            f"last {window}) is above {s.max_bounce_rate:.1%}", "bounce_rate")
        elif e.auth_failures >= s.auth_failures:
            out[address] = (f"SMTP authentication failed {e.auth_failures} times in the last {window}", "auth")
    for domain, failing in failing_by_domain.items():
        if len(failing) < s.auth_failure_mailboxes:
            continue
        reason = (f"SMTP authentication failed on {len(failing)} mailboxes of {domain} in the last {window} "
                  f"({', '.join(failing)}): every mailbox of the domain is paused")
        for address, box in boxes.items():
            if box.domain == domain and box.state == "active" and address not in out:
                out[address] = (reason, "domain_auth")
    return [(a, r, k) for a, (r, k) in sorted(out.items())]
