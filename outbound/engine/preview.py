"""Preview: every step of a sequence rendered for one prospect, exactly as it would be sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from outbound.engine.claim import Claim
from outbound.engine.context import EngineContext
from outbound.engine.deliver import render_claim
from outbound.engine.planner import StepRng, due_at
from outbound.engine.rotation import PoolError, pool_mailboxes
from outbound.engine.window import place_in_window, resolve_zone
from outbound.errors import NotFoundError
from outbound.prospects.values import ProspectData
from outbound.render.errors import RenderError
from outbound.render.headers import make_message_id
from outbound.render.message import RenderedMessage, ThreadInfo
from outbound.spec.sequence import Sequence


@dataclass(frozen=True)
class PreviewedStep:
    step_id: str
    message: bytes | None  # the wire form
    error: str | None
    rendered: RenderedMessage | None = None  # the decoded form: subject, variant, body as read
    scheduled: str | None = None  # when the step would go, on the zone's clock, and why that zone


def _schedule(ctx: EngineContext, seq: Sequence, prospect: ProspectData, now: datetime) -> list[str]:
    """When each step would go for a prospect enrolled ``now``, each after the previous one, inside the
    window (a send moved into the window gets a random offset, as in the planner)."""
    zone = resolve_zone(seq.window, prospect.timezone, ctx.settings.sending.default_timezone)
    out: list[str] = []
    previous = now
    for step in seq.steps:
        due = due_at(step.wait, previous, zone.tz, seq.window.holidays)
        at = place_in_window(seq.window, zone.tz, due, StepRng(prospect.email, seq.name, step.id))
        moved = "" if at == due else " (moved into the sending window)"
        out.append(f"{at.astimezone(zone.tz):%a %Y-%m-%d %H:%M %Z}{moved}, {zone.reason}")
        previous = at
    return out


def preview(ctx: EngineContext, sequence_name: str, prospect: ProspectData, now: datetime,
            step_id: str | None = None, mailbox: str | None = None) -> list[PreviewedStep]:
    loaded = ctx.workspace.sequence(sequence_name)
    seq = loaded.sequence
    if step_id is not None and step_id not in [s.id for s in seq.steps]:
        raise NotFoundError(f"sequence {seq.name} has no step {step_id!r} (steps: {', '.join(s.id for s in seq.steps)})")
    pool = pool_mailboxes(seq.senders, ctx.workspace.domains)
    if isinstance(pool, PoolError):
        raise NotFoundError(pool.reason)
    sender = mailbox or pool[0][1].address
    domain = sender.rsplit("@", 1)[1]
    out: list[PreviewedStep] = []
    thread: ThreadInfo | None = None
    schedule = _schedule(ctx, seq, prospect, now)
    for index, step in enumerate(seq.steps):
        message_id = make_message_id(domain)
        claim = Claim(send_id=0, enrollment_id=0, prospect=prospect, sequence_name=seq.name, step_index=index,
                      mailbox=sender, message_id=message_id, thread=thread, lease_until=now)
        try:
            rendered = render_claim(ctx, claim, now)
        except RenderError as exc:
            out.append(PreviewedStep(step.id, None, exc.reason))
            thread = None
            continue
        thread = ThreadInfo(rendered.subject, message_id, rendered.references)
        if step_id is None or step.id == step_id:
            out.append(PreviewedStep(step.id, rendered.as_bytes(), None, rendered, schedule[index]))
    return [p for p in out if step_id is None or p.step_id == step_id]
