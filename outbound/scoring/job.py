"""One scoring pass for the daemon: new events -> scores -> rules -> moves -> webhooks -> mailbox health."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from outbound.config import HealthSettings
from outbound.core.logline import fields
from outbound.scoring.actions import carry_out, finish_moves
from outbound.scoring.apply import BatchHook, score_pass
from outbound.scoring.health import HealthDecision, mailbox_health_pass
from outbound.scoring.history import StoreHistory
from outbound.scoring.rules import Decision, ProspectChange, evaluate
from outbound.scoring.spec import ScoringSpec, load_scoring
from outbound.scoring.webhooks import DeliveryCounts, deliver_pending
from outbound.spec.sequence import Sequence
from outbound.spec.workspace import Workspace
from outbound.store.db import utcnow

log = logging.getLogger("outbound.scoring")


@dataclass
class ScoringSummary:
    events: int = 0
    changed_prospects: int = 0
    changed_accounts: int = 0
    actions: list[Decision] = field(default_factory=list)
    moves: int = 0
    webhooks: DeliveryCounts = field(default_factory=DeliveryCounts)
    health: list[HealthDecision] = field(default_factory=list)


def rules_hook(spec: ScoringSpec, now: datetime, steps: Mapping[str, int] | None = None) -> BatchHook:
    """``steps``: each sequence's number of steps (an enrollment whose steps are all done has completed)."""
    def hook(session: Session, changes: dict[int, ProspectChange]) -> list[Decision]:
        history = StoreHistory(session, steps or {})
        for c in changes.values():
            c.history = history
        decisions = [d for c in changes.values() for d in evaluate(spec.rules, c)]
        return carry_out(session, decisions, now)
    return hook


def run_scoring(engine: Engine, spec: ScoringSpec, sequences: Mapping[str, Sequence], now: datetime,
                health: HealthSettings | None = None) -> ScoringSummary:
    """The whole pass, synchronous (the daemon runs it in a thread)."""
    steps = {name: len(seq.steps) for name, seq in sequences.items()}
    result = score_pass(engine, spec, now, on_batch=rules_hook(spec, now, steps) if spec.rules else None)
    summary = ScoringSummary(events=result.events, changed_prospects=result.changed_prospects,
                             changed_accounts=result.changed_accounts, actions=result.decisions)
    summary.moves = finish_moves(engine, sequences, now)
    summary.webhooks = deliver_pending(engine, spec, now)
    if health is not None:
        summary.health = mailbox_health_pass(engine, now, health)
    return summary


async def scoring_job(engine: Engine, ws: Workspace, now: datetime | None = None) -> ScoringSummary:
    """The daemon's scoring job; scoring.yaml is read each pass so edits apply without a restart."""
    spec = load_scoring(ws.config.root, set(ws.sequences))
    sequences = {name: loaded.sequence for name, loaded in ws.sequences.items()}
    summary = await asyncio.to_thread(run_scoring, engine, spec, sequences, now or utcnow(), ws.config.settings.health)
    for d in summary.actions:
        log.info("rule %s: %s %s %s (%s)", d.rule, d.kind, d.subject_kind, d.subject, d.reason,
                 extra=fields(job="scoring", rule=d.rule, action=d.kind, subject_kind=d.subject_kind, subject=d.subject,
                              reason=d.reason))
    for h in summary.health:
        log.warning("mailbox %s %sd: %s", h.address, h.action, h.reason,
                    extra=fields(job="scoring", mailbox=h.address, outcome=f"{h.action}d", reason=h.reason))
    return summary
