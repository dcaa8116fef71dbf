"""Wiring the dashboard: its users' passwords from the environment, the mailbox view from the engine's
status and the token store, and the actions that need the engine (answer) or the scoring spec (intent)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import Engine
from starlette.applications import Starlette

from outbound.app import replies
from outbound.app.mailbox_list import mailbox_rows
from outbound.config import DashboardSettings
from outbound.dashboard.app import create_dashboard
from outbound.dashboard.deps import ActionRefused, DashboardDeps, MailboxView
from outbound.dashboard.figures import SOURCE_STAGES, FiguresCache
from outbound.engine.context import EngineContext
from outbound.engine.status import shape_status
from outbound.errors import ConfigError, OutboundError
from outbound.scoring.intent_fix import IntentError, set_intent
from outbound.scoring.spec import REPLY_INTENTS, ScoringSpec
from outbound.store.db import session_scope, utcnow
from outbound.store.status_queries import StatusRows
from outbound.store.status_queries import mailbox_rows as state_rows

log = logging.getLogger("outbound.dashboard")


def dashboard_users(cfg: DashboardSettings, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """user -> password (or its scrypt hash) from each user's environment variable; ConfigError when none is set."""
    env = os.environ if env is None else env
    users = {user: env[var] for user, var in cfg.users.items() if env.get(var)}
    for user, var in cfg.users.items():
        if not env.get(var):
            log.warning("dashboard user %s cannot log in: %s is not set", user, var)
    if not cfg.users:
        raise ConfigError('[dashboard] users is empty: name each user\'s password variable, e.g. '
                          'users = { admin = "OUTBOUND_DASHBOARD_PASSWORD" }')
    if not users:
        names = ", ".join(sorted(set(cfg.users.values())))
        raise ConfigError(f"no dashboard user has a password: set {names} to a password, or to the hash "
                          "`outbound dashboard hash-password` prints")
    return users


class EngineActions:
    """The dashboard's actions that need more than the store: the same functions the CLI calls."""

    def __init__(self, ctx: EngineContext, spec: ScoringSpec, clock: Callable[[], datetime]) -> None:
        self.ctx, self.spec, self.clock = ctx, spec, clock

    def answer(self, reply_id: int, body: str, by: str) -> str:
        try:
            done = replies.answer(self.ctx, reply_id, body, self.clock(), by)
        except OutboundError as exc:  # AnswerRefused, NotFoundError: the message says why
            raise ActionRefused(str(exc)) from None
        return f"answer sent to {done.to} from {done.mailbox}" + (f"; {done.sent_copy}" if done.sent_copy else "")

    def set_intent(self, reply_id: int, intent: str, by: str) -> str:
        try:
            done = set_intent(self.ctx.engine, self.spec, reply_id, intent, self.clock(), by)
        except IntentError as exc:
            raise ActionRefused(str(exc)) from None
        return f"intent {done.was or 'none'} -> {done.now}" + "".join(f"; {a}" for a in done.actions)


def mailbox_views(ctx: EngineContext, now: datetime) -> list[MailboxView]:
    with session_scope(ctx.engine) as session:
        rows = StatusRows(state_rows(session), [], [], {}, {})
    status = shape_status(rows, ctx.workspace, now)
    auth = {r.address: r for r in mailbox_rows(ctx.workspace, ctx.engine, now)}
    out: list[MailboxView] = []
    for m in status.mailboxes:
        if not m.in_workspace:
            continue
        a = auth.get(m.address)
        out.append(MailboxView(m.address, m.domain, m.state, m.pause_reason, m.sent_today, m.cap_today, m.warmup_day,
                               m.next_send_at, a.auth if a else "none", a.token if a else "",
                               a.token_detail if a else "", m.provider_limits))
    return out


def build_dashboard(ctx: EngineContext, spec: ScoringSpec, *, clock: Callable[[], datetime] = utcnow,
                    env: Mapping[str, str] | None = None) -> Starlette:
    settings = ctx.settings
    if ctx.secret is None:
        raise ConfigError("the dashboard needs the signing secret")
    engine: Engine = ctx.engine
    costs = {k: v.cost_per_lead for k, v in spec.sources.items()}
    deps = DashboardDeps(
        engine=engine, secret=ctx.secret, users=dashboard_users(settings.dashboard, env),
        actions=EngineActions(ctx, spec, clock), mailboxes=lambda: mailbox_views(ctx, clock()), clock=clock,
        figures=FiguresCache(engine, clock, costs, SOURCE_STAGES), session_hours=settings.dashboard.session_hours,
        bounce_pause=settings.health.max_bounce_rate, sequences=tuple(sorted(ctx.workspace.sequences)),
        intents=tuple(REPLY_INTENTS), secure_cookies=settings.dashboard.secure_cookies)
    return create_dashboard(deps)
